//! See `profile_fuzz::targets::rate_limit_headers`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| profile_fuzz::targets::rate_limit_headers(text));
