//! Capture's filter language, the part a sync uses: `id > 1000`,
//! `email = 'a@b.c' and givenName is not null`, with `and`, `or` and parentheses.

use std::cmp::Ordering;

use serde_json::{Map, Value};

/// A parsed filter.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Filter {
    /// `path op value`.
    Compare {
        path: Vec<String>,
        op: Op,
        value: Value,
    },
    /// `path is null` (`negated`: `is not null`).
    IsNull {
        path: Vec<String>,
        negated: bool,
    },
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Number(serde_json::Number),
    Op(Op),
    Open,
    Close,
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                out.push(Token::Open);
                i += 1;
            }
            ')' => {
                out.push(Token::Close);
                i += 1;
            }
            '\'' => {
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("a string is not closed".to_owned()),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            text.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(c) => {
                            text.push(*c);
                            i += 1;
                        }
                    }
                }
                out.push(Token::Text(text));
            }
            '=' => {
                out.push(Token::Op(Op::Eq));
                i += 1;
            }
            '!' | '<' | '>' => {
                let next = chars.get(i + 1) == Some(&'=');
                let op = match (c, next) {
                    ('!', true) => Op::Ne,
                    ('<', true) => Op::Le,
                    ('>', true) => Op::Ge,
                    ('<', false) if chars.get(i + 1) == Some(&'>') => {
                        i += 1;
                        Op::Ne
                    }
                    ('<', false) => Op::Lt,
                    ('>', false) => Op::Gt,
                    _ => return Err(format!("`{c}` is not an operator")),
                };
                out.push(Token::Op(op));
                i += if next { 2 } else { 1 };
            }
            c if c.is_ascii_digit() || c == '-' => {
                let start = i;
                i += 1;
                while chars
                    .get(i)
                    .is_some_and(|c| c.is_ascii_digit() || *c == '.')
                {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let number = serde_json::from_str::<serde_json::Number>(&text)
                    .map_err(|_| format!("`{text}` is not a number"))?;
                out.push(Token::Number(number));
            }
            c if c.is_alphanumeric() || c == '_' => {
                let start = i;
                while chars
                    .get(i)
                    .is_some_and(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
                {
                    i += 1;
                }
                out.push(Token::Word(chars[start..i].iter().collect()));
            }
            other => return Err(format!("`{other}` is not expected in a filter")),
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut left = self.and()?;
        while self.peek_word("or") {
            self.at += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut left = self.atom()?;
        while self.peek_word("and") {
            self.at += 1;
            left = Filter::And(Box::new(left), Box::new(self.atom()?));
        }
        Ok(left)
    }

    fn atom(&mut self) -> Result<Filter, String> {
        match self.tokens.get(self.at).cloned() {
            Some(Token::Open) => {
                self.at += 1;
                let inner = self.or()?;
                if self.tokens.get(self.at) != Some(&Token::Close) {
                    return Err("a `(` is not closed".to_owned());
                }
                self.at += 1;
                Ok(inner)
            }
            Some(Token::Word(name)) => {
                self.at += 1;
                let path = name.split('.').map(str::to_owned).collect();
                if self.peek_word("is") {
                    self.at += 1;
                    let negated = self.peek_word("not");
                    if negated {
                        self.at += 1;
                    }
                    if !self.peek_word("null") {
                        return Err("`is` takes `null` or `not null`".to_owned());
                    }
                    self.at += 1;
                    return Ok(Filter::IsNull { path, negated });
                }
                let Some(Token::Op(op)) = self.tokens.get(self.at).cloned() else {
                    return Err(format!("`{name}` needs an operator"));
                };
                self.at += 1;
                let value = match self.tokens.get(self.at).cloned() {
                    Some(Token::Text(text)) => Value::String(text),
                    Some(Token::Number(n)) => Value::Number(n),
                    Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => Value::Bool(true),
                    Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => Value::Bool(false),
                    Some(Token::Word(w)) if w.eq_ignore_ascii_case("null") => Value::Null,
                    _ => return Err(format!("`{name}` needs a value after its operator")),
                };
                self.at += 1;
                Ok(Filter::Compare { path, op, value })
            }
            _ => Err("a filter is `attribute operator value`".to_owned()),
        }
    }
}

impl Filter {
    /// Parses a filter.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut parser = Parser {
            tokens: tokens(text)?,
            at: 0,
        };
        let filter = parser.or()?;
        if parser.at != parser.tokens.len() {
            return Err("the filter goes on after its end".to_owned());
        }
        Ok(filter)
    }

    /// The attribute paths it names.
    pub(crate) fn paths(&self) -> Vec<&[String]> {
        match self {
            Filter::Compare { path, .. } | Filter::IsNull { path, .. } => vec![path.as_slice()],
            Filter::And(a, b) | Filter::Or(a, b) => {
                let mut paths = a.paths();
                paths.extend(b.paths());
                paths
            }
        }
    }

    /// The lowest record id the filter lets through, where it bounds it (`id > 1000`,
    /// alone or joined by `and`): the records below it need not be looked at.
    pub(crate) fn id_floor(&self) -> Option<u64> {
        match self {
            Filter::Compare {
                path,
                op,
                value: Value::Number(number),
            } if path.len() == 1 && path[0] == "id" => {
                let number = number.as_f64()?;
                if number.is_nan() {
                    return None;
                }
                match op {
                    Op::Gt if number < 0.0 => Some(0),
                    // Saturating: no id passes `id > 18446744073709551615`.
                    Op::Gt => Some((number.floor() as u64).saturating_add(1)),
                    Op::Ge | Op::Eq if number <= 0.0 => Some(0),
                    Op::Ge | Op::Eq => Some(number.ceil() as u64),
                    _ => None,
                }
            }
            Filter::And(a, b) => match (a.id_floor(), b.id_floor()) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            },
            _ => None,
        }
    }

    /// Whether `record` passes.
    pub(crate) fn accepts(&self, record: &Map<String, Value>) -> bool {
        match self {
            Filter::And(a, b) => a.accepts(record) && b.accepts(record),
            Filter::Or(a, b) => a.accepts(record) || b.accepts(record),
            Filter::IsNull { path, negated } => {
                let null = lookup(record, path).is_none_or(Value::is_null);
                null != *negated
            }
            Filter::Compare { path, op, value } => {
                let Some(found) = lookup(record, path) else {
                    return *op == Op::Ne && !value.is_null();
                };
                let ordering = compare(found, value);
                match op {
                    Op::Eq => ordering == Some(Ordering::Equal),
                    Op::Ne => ordering != Some(Ordering::Equal),
                    Op::Gt => ordering == Some(Ordering::Greater),
                    Op::Ge => matches!(ordering, Some(Ordering::Greater | Ordering::Equal)),
                    Op::Lt => ordering == Some(Ordering::Less),
                    Op::Le => matches!(ordering, Some(Ordering::Less | Ordering::Equal)),
                }
            }
        }
    }
}

pub(crate) fn lookup<'a>(record: &'a Map<String, Value>, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let mut value = record.get(first)?;
    for name in rest {
        value = value.get(name)?;
    }
    Some(value)
}

/// Numbers by value, strings as text, booleans and nulls by equality.
pub(crate) fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Number(x), Value::String(y)) | (Value::String(y), Value::Number(x)) => {
            let parsed: f64 = y.parse().ok()?;
            let ordering = x.as_f64()?.partial_cmp(&parsed)?;
            Some(if matches!(a, Value::Number(_)) {
                ordering
            } else {
                ordering.reverse()
            })
        }
        (x, y) => (x == y).then_some(Ordering::Equal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record() -> Map<String, Value> {
        json!({"id": 5250, "email": "mpark@example.com", "givenName": null,
               "primaryAddress": {"city": "Portland"}})
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn filters_parse_and_pass_as_capture_reads_them() {
        let cases = [
            ("id > 1000", true),
            ("id > 5250", false),
            ("id >= 5250", true),
            ("email = 'mpark@example.com'", true),
            ("email = 'MPARK@example.com'", false),
            ("givenName is null", true),
            ("givenName is not null", false),
            ("primaryAddress.city = 'Portland' and id < 6000", true),
            ("id > 9000 or email != 'x'", true),
            (
                "(id > 9000 or id < 10) and email = 'mpark@example.com'",
                false,
            ),
            ("email = 'it''s'", false),
        ];
        for (text, passes) in cases {
            let filter = Filter::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(filter.accepts(&record()), passes, "{text}");
        }
        for bad in ["", "id >", "id 5", "(id > 1", "email = 'open", "id > 1 and"] {
            assert!(Filter::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_lowest_id_a_filter_passes_is_never_above_one_it_passes() {
        let cases = [
            ("id > 1000", Some(1001)),
            ("id > 1000.5", Some(1001)),
            ("id >= 1000", Some(1000)),
            ("id >= 999.5", Some(1000)),
            ("id = 7", Some(7)),
            ("id > -3", Some(0)),
            ("id > 10 and id > 20", Some(21)),
            ("email = 'a' and id > 20", Some(21)),
            ("id > 10 or id > 20", None),
            ("id < 10", None),
            ("id > '10'", None),
            ("email = 'a'", None),
        ];
        for (text, floor) in cases {
            let filter = Filter::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(filter.id_floor(), floor, "{text}");
            // No id below the floor passes, and the floor itself does where anything does.
            if let Some(floor) = floor {
                let with_id = |id: u64| {
                    let mut record = record();
                    record.insert("id".into(), json!(id));
                    record.insert("email".into(), json!("a"));
                    record
                };
                if floor > 0 {
                    assert!(!filter.accepts(&with_id(floor - 1)), "{text}");
                }
                assert!(filter.accepts(&with_id(floor)), "{text}");
            }
        }
    }
}
