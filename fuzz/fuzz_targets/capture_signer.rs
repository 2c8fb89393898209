//! The Capture request signer: never panics, and the same input signs the same, whatever
//! the order of the parameters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use profile_capture::sign;
use profile_core::secrecy::SecretString;
use profile_fuzz::pairs;

fuzz_target!(|text: &str| {
    let (head, rest) = text.split_once('\0').unwrap_or((text, ""));
    let (path, secret) = head.split_once('\n').unwrap_or((head, "secret"));
    let secret = SecretString::from(secret.to_owned());
    let params = pairs(rest);
    let signature = sign(path, "2016-03-13 19:39:17", &params, &secret);
    let mut reversed = params.clone();
    reversed.reverse();
    assert_eq!(sign(path, "2016-03-13 19:39:17", &reversed, &secret), signature);
});
