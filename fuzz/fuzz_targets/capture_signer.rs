//! See `profile_fuzz::targets::capture_signer`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| profile_fuzz::targets::capture_signer(text));
