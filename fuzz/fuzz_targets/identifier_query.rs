//! The Sunshine identifier query parser: never panics; what parses prints back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use profile_sunshine::IdentifierQuery;

fuzz_target!(|text: &str| {
    if let Ok(query) = text.parse::<IdentifierQuery>() {
        let again: IdentifierQuery = query.to_string().parse().expect("a printed query parses");
        assert_eq!(again, query);
    }
});
