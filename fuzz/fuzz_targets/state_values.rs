//! See `profile_fuzz::targets::state_values`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| profile_fuzz::targets::state_values(text));
