//! See `profile_fuzz::targets::identifier_query`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| profile_fuzz::targets::identifier_query(text));
