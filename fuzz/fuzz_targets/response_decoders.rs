//! Every vendor's response decoding: see `profile_fuzz::targets::response_decoders`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| profile_fuzz::targets::response_decoders(data));
