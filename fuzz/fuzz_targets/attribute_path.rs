//! See `profile_fuzz::targets::attribute_path`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| profile_fuzz::targets::attribute_path(text));
