//! A single-pass check that a body is one well-formed JSON document (RFC 8259), without
//! building anything.
//!
//! The retry layer asks this of every JSON success, to tell an answer cut short on the way
//! (which is resent when that is safe) from one that arrived whole. It runs on every
//! response, so it allocates only for nesting deeper than 128 and reads each byte once;
//! parsing into `serde_json::de::IgnoredAny` did the same job at about four times the cost.
//!
//! It accepts what `serde_json` accepts except in two corners where `serde_json` refuses a
//! document that is well formed: nesting deeper than 128 levels and numbers beyond the range
//! of an `f64`. Both are then refused by the decoder that reads the body, as they were.
//! Like `serde_json` skipping a string, it does not check that the bytes inside strings are
//! UTF-8; the decoder does.

/// Whether `input` is exactly one JSON value, with optional whitespace around it.
pub(crate) fn is_well_formed(input: &[u8]) -> bool {
    Checker {
        input,
        at: 0,
        depth: 0,
        deep: Vec::new(),
        kinds: [0; 2],
    }
    .document()
}

const WORD_BITS: usize = 64;
/// Nesting kept in the two words of `kinds`; deeper levels go to `deep`.
const SHALLOW: usize = 2 * WORD_BITS;

struct Checker<'a> {
    input: &'a [u8],
    at: usize,
    /// How many containers are open.
    depth: usize,
    /// Whether each open container beyond the first [`SHALLOW`] is an object.
    deep: Vec<bool>,
    /// Whether each of the first [`SHALLOW`] open containers is an object, one bit each.
    kinds: [u64; 2],
}

impl Checker<'_> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn push(&mut self, object: bool) {
        if self.depth < SHALLOW {
            let (word, bit) = (self.depth / WORD_BITS, self.depth % WORD_BITS);
            if object {
                self.kinds[word] |= 1 << bit;
            } else {
                self.kinds[word] &= !(1 << bit);
            }
        } else {
            self.deep.push(object);
        }
        self.depth += 1;
    }

    /// Whether the innermost open container is an object; `None` at the top level.
    fn innermost_is_object(&self) -> Option<bool> {
        let top = self.depth.checked_sub(1)?;
        if top < SHALLOW {
            Some(self.kinds[top / WORD_BITS] & (1 << (top % WORD_BITS)) != 0)
        } else {
            self.deep.last().copied()
        }
    }

    fn pop(&mut self) {
        if self.depth > SHALLOW {
            self.deep.pop();
        }
        self.depth -= 1;
    }

    fn document(mut self) -> bool {
        self.skip_whitespace();
        loop {
            // A value starts here.
            match self.peek() {
                Some(b'{') => {
                    self.at += 1;
                    self.skip_whitespace();
                    if self.peek() == Some(b'}') {
                        self.at += 1;
                    } else {
                        self.push(true);
                        if !self.key() {
                            return false;
                        }
                        continue;
                    }
                }
                Some(b'[') => {
                    self.at += 1;
                    self.skip_whitespace();
                    if self.peek() == Some(b']') {
                        self.at += 1;
                    } else {
                        self.push(false);
                        continue;
                    }
                }
                Some(b'"') => {
                    if !self.string() {
                        return false;
                    }
                }
                Some(b't') => {
                    if !self.literal(b"true") {
                        return false;
                    }
                }
                Some(b'f') => {
                    if !self.literal(b"false") {
                        return false;
                    }
                }
                Some(b'n') => {
                    if !self.literal(b"null") {
                        return false;
                    }
                }
                Some(b'-' | b'0'..=b'9') => {
                    if !self.number() {
                        return false;
                    }
                }
                _ => return false,
            }
            // A value ended: close what it ends, until a comma asks for the next value.
            loop {
                self.skip_whitespace();
                let Some(object) = self.innermost_is_object() else {
                    return self.at == self.input.len();
                };
                match (self.peek(), object) {
                    (Some(b','), _) => {
                        self.at += 1;
                        self.skip_whitespace();
                        if object && !self.key() {
                            return false;
                        }
                        break;
                    }
                    (Some(b'}'), true) | (Some(b']'), false) => {
                        self.at += 1;
                        self.pop();
                    }
                    _ => return false,
                }
            }
        }
    }

    /// A member's name and the colon after it; whitespace after the colon is skipped.
    fn key(&mut self) -> bool {
        if self.peek() != Some(b'"') || !self.string() {
            return false;
        }
        self.skip_whitespace();
        if self.peek() != Some(b':') {
            return false;
        }
        self.at += 1;
        self.skip_whitespace();
        true
    }

    /// Moves to the next byte that ends or escapes a string, or that a string may not hold
    /// (a control character); `false` if there is none.
    fn skip_plain_string_bytes(&mut self) -> bool {
        // Eight bytes at a time (little-endian, so the lowest flagged byte comes first).
        // `flags(word, n)` sets the high bit of the bytes below `n`; the lowest set bit is
        // always a true match (higher ones may be false, after a borrow), which is all
        // that is read of it.
        const ONES: u64 = u64::from_le_bytes([0x01; 8]);
        const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
        let flags = |word: u64, n: u64| word.wrapping_sub(ONES * n) & !word & HIGHS;
        while let Some(chunk) = self.input.get(self.at..self.at + 8) {
            let mut bytes = [0; 8];
            bytes.copy_from_slice(chunk);
            let word = u64::from_le_bytes(bytes);
            let special = flags(word ^ (ONES * u64::from(b'"')), 1)
                | flags(word ^ (ONES * u64::from(b'\\')), 1)
                | flags(word, 0x20);
            if special != 0 {
                self.at += special.trailing_zeros() as usize / 8;
                return true;
            }
            self.at += 8;
        }
        match self.input[self.at..]
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        {
            Some(found) => {
                self.at += found;
                true
            }
            None => false,
        }
    }

    /// A string, from its opening quote past its closing one.
    fn string(&mut self) -> bool {
        self.at += 1;
        loop {
            if !self.skip_plain_string_bytes() {
                return false;
            }
            match self.input[self.at] {
                b'"' => {
                    self.at += 1;
                    return true;
                }
                b'\\' => {
                    self.at += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.at += 1;
                        }
                        Some(b'u') => {
                            let hex = self.input.get(self.at + 1..self.at + 5);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return false;
                            }
                            self.at += 5;
                        }
                        _ => return false,
                    }
                }
                // A control character, which must be escaped.
                _ => return false,
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        if self.input[self.at..].starts_with(word) {
            self.at += word.len();
            true
        } else {
            false
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        self.at - start
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> bool {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return false,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return false;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if self.digits() == 0 {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::is_well_formed;
    use proptest::prelude::*;
    use serde_json::Value;

    fn serde_accepts(input: &[u8]) -> Result<bool, String> {
        match serde_json::from_slice::<serde::de::IgnoredAny>(input) {
            Ok(_) => Ok(true),
            Err(e) => {
                let message = e.to_string();
                // The two corners where serde_json refuses well-formed JSON.
                if message.contains("recursion limit") || message.contains("out of range") {
                    Err(message)
                } else {
                    Ok(false)
                }
            }
        }
    }

    #[test]
    fn well_formed_documents_pass() {
        for ok in [
            "{}",
            " [ ] ",
            "0",
            "-0.5e+10",
            "1E3",
            "\"a\\u00e9\\n\\\"\"",
            "true",
            "null",
            r#"{"a": [1, {"b": null}, "c"], "d": {"e": false}}"#,
            "\n{\"profile\":{\"id\":\"01H\",\"attributes\":{}}}\r\n",
            "\"é 😀\"",
        ] {
            assert!(is_well_formed(ok.as_bytes()), "{ok}");
            assert_eq!(serde_accepts(ok.as_bytes()), Ok(true), "{ok}");
        }
    }

    #[test]
    fn broken_documents_fail() {
        for bad in [
            "",
            " ",
            "{",
            r#"{"a""#,
            r#"{"a":"#,
            r#"{"a":1"#,
            r#"{"a":1,"#,
            r#"{"a":1,}"#,
            "[1,]",
            "[1 2]",
            r#"{"a" 1}"#,
            r#"{1:2}"#,
            "[}",
            "{]",
            "01",
            "1.",
            "-",
            ".5",
            "1e",
            "tru",
            "nul",
            "\"abc",
            "\"\\x\"",
            "\"\\u12\"",
            "\"a\u{1}b\"",
            "{} {}",
            "[1]]",
            "{\"a\":1}x",
        ] {
            assert!(!is_well_formed(bad.as_bytes()), "{bad:?}");
            assert_eq!(serde_accepts(bad.as_bytes()), Ok(false), "{bad:?}");
        }
    }

    #[test]
    fn a_special_byte_is_found_at_any_offset_of_a_long_string() {
        for offset in 0..24 {
            for special in ["\\n", "\\u00e9", "\u{1}", "\u{1f}", "\"", "é", "\u{7f}"] {
                let text = format!(
                    "[\"{}{special}{}\"]",
                    "a".repeat(offset),
                    "b".repeat(offset % 9)
                );
                assert_eq!(
                    serde_accepts(text.as_bytes()),
                    Ok(is_well_formed(text.as_bytes())),
                    "{text:?}"
                );
            }
        }
    }

    #[test]
    fn deep_nesting_is_followed_past_the_bit_stack() {
        let deep = format!("{}1{}", "[{\"a\":".repeat(200), "}]".repeat(200));
        assert!(is_well_formed(deep.as_bytes()));
        let unbalanced = format!("{}1{}", "[{\"a\":".repeat(200), "]}".repeat(200));
        assert!(!is_well_formed(unbalanced.as_bytes()));
        let mixed = format!("{}1{}", "[".repeat(300), "]".repeat(299));
        assert!(!is_well_formed(mixed.as_bytes()));
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-1e12f64..1e12).prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::String),
            proptest::string::string_regex("[\\x00-\\x1f\"\\\\/é😀]{0,4}")
                .unwrap_or_else(|e| panic!("{e}"))
                .prop_map(Value::String),
        ];
        leaf.prop_recursive(6, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec(("\\PC{0,6}", inner), 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Everything serde_json writes passes, compact or pretty; every strict prefix of a
        /// container (an answer cut short) fails; and a document with one byte changed,
        /// dropped or added is judged as serde_json judges it.
        #[test]
        fn agrees_with_serde_json(
            value in json_value(),
            pretty in any::<bool>(),
            cut in any::<prop::sample::Index>(),
            edit in any::<prop::sample::Index>(),
            byte in prop_oneof![Just(b'"'), Just(b'\\'), Just(b','), Just(b'}'), Just(b']'), Just(b':'), Just(b'0'), Just(b'e'), Just(b'-'), Just(b' '), Just(0x01u8), any::<u8>()],
            how in 0..3u8,
        ) {
            let text = if pretty {
                serde_json::to_vec_pretty(&value)
            } else {
                serde_json::to_vec(&value)
            }
            .unwrap_or_else(|e| panic!("{e}"));
            prop_assert!(is_well_formed(&text));
            if matches!(value, Value::Object(_) | Value::Array(_)) {
                let trimmed = text.trim_ascii_end();
                let prefix = &trimmed[..cut.index(trimmed.len())];
                prop_assert!(!is_well_formed(prefix));
            }
            let mut edited = text.clone();
            let at = edit.index(edited.len() + 1);
            match how {
                0 if at < edited.len() => edited[at] = byte,
                1 if at < edited.len() => { edited.remove(at); }
                _ => edited.insert(at, byte),
            }
            if let Ok(expected) = serde_accepts(&edited) {
                prop_assert_eq!(is_well_formed(&edited), expected, "{:?}", String::from_utf8_lossy(&edited));
            }
        }
    }
}
