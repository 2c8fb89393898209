//! See `profile_fuzz::targets::form_encoder`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| profile_fuzz::targets::form_encoder(text));
