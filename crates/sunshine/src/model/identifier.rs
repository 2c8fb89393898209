//! Identifier queries: `source:type:identifier_type:identifier_value`.

use std::fmt;
use std::str::FromStr;

/// Source and type names are at most this long (Zendesk's limit).
pub const MAX_NAME_LEN: usize = 40;

/// Why an identifier query was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentifierQueryError {
    /// Fewer than four `:`-separated parts.
    #[error(
        "identifier query `{0}` must have four parts, source:type:identifier_type:identifier_value"
    )]
    MissingParts(String),
    /// One of the parts is empty.
    #[error("identifier query part `{part}` is empty")]
    EmptyPart {
        /// Which part.
        part: &'static str,
    },
    /// Source, type or identifier type contains a `:`.
    #[error("identifier query part `{part}` cannot contain `:` (only the value may)")]
    ColonInName {
        /// Which part.
        part: &'static str,
    },
    /// The source `zendesk` is reserved by Zendesk.
    #[error("the source `zendesk` is reserved by Zendesk; use your application's name")]
    ReservedSource,
    /// Source or type is longer than [`MAX_NAME_LEN`] characters.
    #[error(
        "identifier query part `{part}` is {len} characters long; at most {MAX_NAME_LEN} are allowed"
    )]
    NameTooLong {
        /// Which part.
        part: &'static str,
        /// Its length in characters.
        len: usize,
    },
}

/// Selects one profile: its source and type, and one of its identifiers.
///
/// Parsed and validated before anything is sent. The value may itself contain colons:
/// the first three colons separate the parts (Zendesk does not document this; it is the
/// only reading under which every value can be addressed). Sent percent-encoded as a whole,
/// `coolbikes%3Arider%3Aemail%3Ajdoe%40example.com`, as Zendesk's own samples do.
///
/// ```
/// use profile_sunshine::IdentifierQuery;
/// let query: IdentifierQuery = "coolbikes:rider:email:jdoe@example.com".parse()?;
/// assert_eq!(query.source(), "coolbikes");
/// assert_eq!(query.identifier_value(), "jdoe@example.com");
/// assert!("zendesk:user:email:a@b.c".parse::<IdentifierQuery>().is_err());
/// # Ok::<(), profile_sunshine::IdentifierQueryError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdentifierQuery {
    source: String,
    kind: String,
    identifier_type: String,
    identifier_value: String,
}

impl IdentifierQuery {
    /// A query from its four parts, validated.
    pub fn new(
        source: impl Into<String>,
        profile_type: impl Into<String>,
        identifier_type: impl Into<String>,
        identifier_value: impl Into<String>,
    ) -> Result<Self, IdentifierQueryError> {
        let query = Self {
            source: source.into(),
            kind: profile_type.into(),
            identifier_type: identifier_type.into(),
            identifier_value: identifier_value.into(),
        };
        query.validate()?;
        Ok(query)
    }

    /// Parses `source:type:identifier_type:identifier_value`.
    pub fn parse(text: &str) -> Result<Self, IdentifierQueryError> {
        let mut parts = text.splitn(4, ':');
        let (Some(source), Some(kind), Some(identifier_type), Some(identifier_value)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(IdentifierQueryError::MissingParts(text.to_owned()));
        };
        Self::new(source, kind, identifier_type, identifier_value)
    }

    fn validate(&self) -> Result<(), IdentifierQueryError> {
        let named = [
            ("source", &self.source),
            ("type", &self.kind),
            ("identifier_type", &self.identifier_type),
        ];
        for (part, value) in named {
            if value.trim().is_empty() {
                return Err(IdentifierQueryError::EmptyPart { part });
            }
            if value.contains(':') {
                return Err(IdentifierQueryError::ColonInName { part });
            }
        }
        if self.identifier_value.trim().is_empty() {
            return Err(IdentifierQueryError::EmptyPart {
                part: "identifier_value",
            });
        }
        if self.source.eq_ignore_ascii_case("zendesk") {
            return Err(IdentifierQueryError::ReservedSource);
        }
        for (part, value) in [("source", &self.source), ("type", &self.kind)] {
            let len = value.chars().count();
            if len > MAX_NAME_LEN {
                return Err(IdentifierQueryError::NameTooLong { part, len });
            }
        }
        Ok(())
    }

    /// The profile's source (`coolbikes`).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The profile's type (`rider`).
    pub fn profile_type(&self) -> &str {
        &self.kind
    }

    /// The identifier's type (`email`).
    pub fn identifier_type(&self) -> &str {
        &self.identifier_type
    }

    /// The identifier's value (`jdoe@example.com`).
    pub fn identifier_value(&self) -> &str {
        &self.identifier_value
    }

    /// The four parts joined, `source:type:identifier_type:identifier_value` (what
    /// `to_string` gives), without going through the formatting machinery: every request
    /// by identifier builds it.
    pub(crate) fn joined(&self) -> String {
        let parts = [
            &self.source,
            &self.kind,
            &self.identifier_type,
            &self.identifier_value,
        ];
        let mut text = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
        for (i, part) in parts.into_iter().enumerate() {
            if i > 0 {
                text.push(':');
            }
            text.push_str(part);
        }
        text
    }
}

impl fmt::Display for IdentifierQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.joined())
    }
}

impl FromStr for IdentifierQuery {
    type Err = IdentifierQueryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_written_as_it_was_parsed() {
        for text in [
            "coolbikes:rider:email:jdoe@example.com",
            "a:b:c:d:e",
            "s:t:external_id:x y",
        ] {
            let query = IdentifierQuery::parse(text).unwrap();
            assert_eq!(query.joined(), text);
            assert_eq!(query.to_string(), text);
        }
    }

    #[test]
    fn the_seed_query_parses_into_its_four_parts() {
        let q = IdentifierQuery::parse("coolbikes:rider:email:jdoe@example.com").unwrap();
        assert_eq!(
            (
                q.source(),
                q.profile_type(),
                q.identifier_type(),
                q.identifier_value()
            ),
            ("coolbikes", "rider", "email", "jdoe@example.com")
        );
        assert_eq!(q.to_string(), "coolbikes:rider:email:jdoe@example.com");
    }

    #[test]
    fn the_value_may_hold_colons() {
        let q = IdentifierQuery::parse("crm:contact:external_id:urn:crm:42").unwrap();
        assert_eq!(q.identifier_value(), "urn:crm:42");
    }

    #[test]
    fn malformed_queries_are_refused_with_the_reason() {
        use IdentifierQueryError::*;
        let cases = [
            ("", MissingParts(String::new())),
            (
                "coolbikes:rider:email",
                MissingParts("coolbikes:rider:email".into()),
            ),
            (":rider:email:x", EmptyPart { part: "source" }),
            ("coolbikes::email:x", EmptyPart { part: "type" }),
            (
                "coolbikes:rider: :x",
                EmptyPart {
                    part: "identifier_type",
                },
            ),
            (
                "coolbikes:rider:email:",
                EmptyPart {
                    part: "identifier_value",
                },
            ),
            ("zendesk:rider:email:x", ReservedSource),
            ("Zendesk:rider:email:x", ReservedSource),
        ];
        for (text, expected) in cases {
            assert_eq!(IdentifierQuery::parse(text), Err(expected), "{text:?}");
        }
        let long = "s".repeat(41);
        assert_eq!(
            IdentifierQuery::new(long, "rider", "email", "x"),
            Err(NameTooLong {
                part: "source",
                len: 41
            })
        );
        assert_eq!(
            IdentifierQuery::new("a", "b:c", "email", "x"),
            Err(ColonInName { part: "type" })
        );
        assert!(IdentifierQuery::new("s".repeat(40), "t".repeat(40), "email", "x").is_ok());
    }
}
