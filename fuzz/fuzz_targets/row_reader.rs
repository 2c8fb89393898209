//! See `profile_fuzz::targets::row_reader`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| profile_fuzz::targets::row_reader(data));
