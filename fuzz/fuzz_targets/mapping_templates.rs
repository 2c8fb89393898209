//! See `profile_fuzz::targets::mapping_templates`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| profile_fuzz::targets::mapping_templates(text));
