//! The Capture attribute path parser: never panics; what parses keeps its text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use profile_capture::AttributePath;

fuzz_target!(|text: &str| {
    if let Ok(path) = AttributePath::parse(text) {
        let again = AttributePath::parse(path.as_str()).expect("a parsed path parses again");
        assert_eq!(again, path);
    }
});
