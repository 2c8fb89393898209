//! The form encoder: whatever the fields, decoding the body gives them back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use profile_core::Body;
use profile_fuzz::pairs;

fuzz_target!(|text: &str| {
    let fields = pairs(text);
    let encoded = Body::Form(fields.clone()).encode();
    let decoded: Vec<(String, String)> = url::form_urlencoded::parse(&encoded).into_owned().collect();
    assert_eq!(decoded, fields);
});
