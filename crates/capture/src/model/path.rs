//! Attribute paths: `displayName`, `/primaryAddress/city`, `/statuses#5253`.

use std::fmt;
use std::str::FromStr;

use crate::CaptureInputError;

/// One step of an [`AttributePath`]: an attribute, and for a plural the id of one element.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PathSegment {
    /// The attribute's name.
    pub name: String,
    /// The plural element's id (`#5253`).
    pub element_id: Option<u64>,
}

/// A path into a record, as `attribute_name` takes it: segments separated by `/` (a
/// leading `/` optional), each an attribute name of letters, digits and `_`, a plural's
/// followed by `#{element id}`. The empty path (or `/`) is the whole record.
///
/// ```
/// use profile_capture::AttributePath;
/// let path: AttributePath = "/statuses#5253".parse()?;
/// assert_eq!(path.segments()[0].name, "statuses");
/// assert_eq!(path.segments()[0].element_id, Some(5253));
/// assert!("/statuses#".parse::<AttributePath>().is_err());
/// # Ok::<(), profile_capture::CaptureInputError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AttributePath {
    text: String,
    segments: Vec<PathSegment>,
}

/// Whether `name` can be a Capture attribute (or entity type) name.
pub(crate) fn is_attribute_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl AttributePath {
    /// The whole record.
    pub fn root() -> Self {
        Self {
            text: String::new(),
            segments: Vec::new(),
        }
    }

    /// Parses a path; the text is sent as written.
    pub fn parse(text: &str) -> Result<Self, CaptureInputError> {
        let bad = |reason: &'static str| CaptureInputError::InvalidAttributePath {
            path: text.to_owned(),
            reason,
        };
        let body = text.strip_prefix('/').unwrap_or(text);
        if body.is_empty() {
            return Ok(Self {
                text: text.to_owned(),
                segments: Vec::new(),
            });
        }
        let mut segments = Vec::new();
        for part in body.split('/') {
            if part.is_empty() {
                return Err(bad("it has an empty segment"));
            }
            let (name, element_id) = match part.split_once('#') {
                None => (part, None),
                Some((name, id)) => {
                    let id = id
                        .parse::<u64>()
                        .ok()
                        .filter(|_| id.chars().all(|c| c.is_ascii_digit()))
                        .ok_or_else(|| bad("a plural element id after `#` must be a number"))?;
                    (name, Some(id))
                }
            };
            if !is_attribute_name(name) {
                return Err(bad("attribute names are letters, digits and `_`"));
            }
            segments.push(PathSegment {
                name: name.to_owned(),
                element_id,
            });
        }
        Ok(Self {
            text: text.to_owned(),
            segments,
        })
    }

    /// The segments, outermost first; empty for the whole record.
    pub fn segments(&self) -> &[PathSegment] {
        &self.segments
    }

    /// Whether the path is the whole record.
    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// Whether the path ends at one element of a plural (`/statuses#5253`).
    pub fn ends_at_plural_element(&self) -> bool {
        self.segments.last().is_some_and(|s| s.element_id.is_some())
    }

    /// The path as sent.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for AttributePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for AttributePath {
    type Err = CaptureInputError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_the_seed_parse() {
        let plural = AttributePath::parse("/statuses#5253").unwrap();
        assert!(plural.ends_at_plural_element());
        assert_eq!(plural.as_str(), "/statuses#5253");
        let plain = AttributePath::parse("displayName").unwrap();
        assert_eq!(plain.segments().len(), 1);
        assert!(!plain.ends_at_plural_element());
        let deep = AttributePath::parse("/statuses#5253/status").unwrap();
        assert_eq!(deep.segments().len(), 2);
        assert!(AttributePath::parse("/").unwrap().is_root());
        assert!(AttributePath::parse("").unwrap().is_root());
    }

    #[test]
    fn malformed_paths_are_refused_with_a_reason() {
        for bad in [
            "//x",
            "/a/",
            "/statuses#",
            "/statuses#x",
            "/statuses#-1",
            "/a b",
            "/a.b",
            "#5",
        ] {
            let err = AttributePath::parse(bad).unwrap_err();
            assert!(
                matches!(err, CaptureInputError::InvalidAttributePath { .. }),
                "{bad}"
            );
        }
    }
}
