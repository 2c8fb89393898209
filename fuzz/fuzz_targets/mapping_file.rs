//! See `profile_fuzz::targets::mapping_file`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| profile_fuzz::targets::mapping_file(text));
