//! Partial responses: the `fields` query parameter that LumApps' discovery document lists
//! for every method ("Selector specifying which fields to include in a partial response"),
//! in the syntax of Google's APIs: `more,cursor,items(email,apiProfile/organizations/title)`.
//! Names are separated by commas, `a/b` is `b` inside `a`, and `a(b,c)` is `b` and `c`
//! inside `a`; inside an array, a selection applies to each element.

use std::collections::BTreeMap;

use serde_json::Value;

/// What a selector keeps: by name, the whole value (`None`) or a part of it.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Selection(BTreeMap<String, Option<Selection>>);

impl Selection {
    /// Parses a selector; `None` when it is not one.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let mut parser = Parser {
            text: text.as_bytes(),
            at: 0,
        };
        let selection = parser.list()?;
        (parser.at == parser.text.len()).then_some(selection)
    }

    /// Adds `path` (with `inner`, if any, under its last name).
    fn add(&mut self, path: &[String], inner: Option<Selection>) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        let below = if rest.is_empty() {
            inner
        } else {
            let mut below = Selection::default();
            below.add(rest, inner);
            Some(below)
        };
        let merged = match (self.0.remove(first), below) {
            // Once whole, always whole.
            (Some(None), _) | (_, None) => None,
            (Some(Some(mut known)), Some(more)) => {
                for (name, part) in more.0 {
                    known.add(std::slice::from_ref(&name), part);
                }
                Some(known)
            }
            (None, below) => below,
        };
        self.0.insert(first.clone(), merged);
    }

    /// Whether this selection keeps anything of `name`.
    pub(crate) fn keeps(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// What this selection keeps inside `name`: `None` when it keeps nothing of it,
    /// `Some(None)` when it keeps it whole.
    pub(crate) fn inside(&self, name: &str) -> Option<Option<&Selection>> {
        self.0.get(name).map(Option::as_ref)
    }

    /// `value` cut down to this selection: an object keeps only the names selected (those
    /// it has, in its own order), an array each element cut down, anything else is kept.
    pub(crate) fn apply(&self, mut value: Value) -> Value {
        self.cut(&mut value);
        value
    }

    fn cut(&self, value: &mut Value) {
        match value {
            Value::Object(object) => object.retain(|name, value| match self.0.get(name) {
                None => false,
                Some(None) => true,
                Some(Some(part)) => {
                    part.cut(value);
                    true
                }
            }),
            Value::Array(items) => items.iter_mut().for_each(|item| self.cut(item)),
            _ => {}
        }
    }
}

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    /// `item (',' item)*`
    fn list(&mut self) -> Option<Selection> {
        let mut selection = Selection::default();
        loop {
            let path = self.path()?;
            let inner = if self.eat(b'(') {
                let inner = self.list()?;
                self.eat(b')').then_some(())?;
                Some(inner)
            } else {
                None
            };
            selection.add(&path, inner);
            if !self.eat(b',') {
                return Some(selection);
            }
        }
    }

    /// `name ('/' name)*`
    fn path(&mut self) -> Option<Vec<String>> {
        let mut path = vec![self.name()?];
        while self.eat(b'/') {
            path.push(self.name()?);
        }
        Some(path)
    }

    fn name(&mut self) -> Option<String> {
        let start = self.at;
        while self
            .text
            .get(self.at)
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-'))
        {
            self.at += 1;
        }
        (self.at > start).then(|| String::from_utf8_lossy(&self.text[start..self.at]).into_owned())
    }

    fn eat(&mut self, c: u8) -> bool {
        let found = self.text.get(self.at) == Some(&c);
        if found {
            self.at += 1;
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cut(selector: &str, value: Value) -> Value {
        Selection::parse(selector)
            .unwrap_or_else(|| panic!("{selector:?} parses"))
            .apply(value)
    }

    #[test]
    fn a_selector_keeps_the_names_paths_and_parts_it_names() {
        let page = json!({
            "items": [
                {"email": "a@x", "uid": "1", "firstName": "A",
                 "apiProfile": {"name": {"givenName": "A"}, "organizations": {"title": "CEO", "department": "Board"}},
                 "customProfile": {"f1": "x"}},
                {"email": "b@x", "uid": "2", "customProfile": {}},
            ],
            "more": true,
            "cursor": "pos-2",
        });
        assert_eq!(
            cut(
                "more,cursor,items(email,uid,customProfile,apiProfile/organizations/title)",
                page.clone()
            ),
            json!({
                "items": [
                    {"email": "a@x", "uid": "1", "apiProfile": {"organizations": {"title": "CEO"}}, "customProfile": {"f1": "x"}},
                    {"email": "b@x", "uid": "2", "customProfile": {}},
                ],
                "more": true,
                "cursor": "pos-2",
            })
        );
        // Two paths into one object are both kept; a whole one wins over a part.
        assert_eq!(
            cut(
                "items/apiProfile/name,items/apiProfile/organizations(department)",
                page.clone()
            ),
            json!({"items": [
                {"apiProfile": {"name": {"givenName": "A"}, "organizations": {"department": "Board"}}},
                {},
            ]})
        );
        assert_eq!(
            cut("items(apiProfile/name),items(apiProfile)", page.clone())["items"][0],
            page["items"][0]
                .as_object()
                .map(|u| json!({"apiProfile": u["apiProfile"]}))
                .unwrap()
        );
    }

    #[test]
    fn a_cut_object_keeps_its_own_order_and_says_what_it_keeps() {
        let user = json!({"uid": "1", "email": "a@x", "apiProfile": {"title": "CEO"}, "id": "1"});
        let cut = cut("email,uid,apiProfile", user);
        let names: Vec<&str> = cut
            .as_object()
            .map(|user| user.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(names, ["uid", "email", "apiProfile"]);
        let selection = Selection::parse("more,items(email,apiProfile/organizations)").unwrap();
        assert_eq!(selection.inside("more"), Some(None));
        assert_eq!(selection.inside("cursor"), None);
        let items = selection.inside("items").flatten().unwrap();
        assert!(items.keeps("email") && items.keeps("apiProfile") && !items.keeps("uid"));
    }

    #[test]
    fn what_is_not_a_selector_is_refused() {
        for bad in [
            "",
            ",",
            "items(",
            "items()",
            "a//b",
            "a,(b)",
            "items(email))",
            "a b",
        ] {
            assert_eq!(Selection::parse(bad), None, "{bad:?}");
        }
    }
}
