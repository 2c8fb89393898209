//! Computed fields and the scope filter: Jinja templates over a row's columns, through
//! [minijinja](https://docs.rs/minijinja) (sandboxed: no file, no network, no environment;
//! a fuel limit ends a runaway template).
//!
//! ```
//! use profile_sync::compute::{Compute, ComputeSpec, Place};
//!
//! let mut spec = ComputeSpec::default();
//! spec.field(Place::flag("--compute"), "name", "{{ first_name }} {{ last_name | upper }}");
//! spec.field(Place::flag("--compute"), "attributes.hired", "{{ hired | date(from='%d/%m/%Y', to='%Y-%m-%d') }}");
//! spec.scope(Place::flag("--where"), "status == 'active'");
//! let compute = Compute::new(spec)?;
//! let row = serde_json::json!({"first_name": "Zoé", "last_name": "Lefèvre", "hired": "03/02/2021", "status": "active"});
//! let row = row.as_object().unwrap();
//! let values = compute.apply(row)?.expect("in the scope");
//! assert_eq!(values[0].1, "Zoé LEFÈVRE");
//! assert_eq!(values[1].1, "2021-02-03");
//! let left = serde_json::json!({"first_name": "A", "last_name": "B", "hired": "01/01/2020", "status": "terminated"});
//! assert!(compute.apply(left.as_object().unwrap())?.is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Filters, beside Jinja's `~` (concatenation): `lower`, `upper`, `trim`, `title`,
//! `capitalize`, `replace(from, to)`, `default(value)` (for a value that is empty or
//! missing, or a code its lookup table does not have), `ascii` (diacritics stripped: `é` →
//! `e`, `ß` → `ss`), `date(from='%d/%m/%Y', to='%Y-%m-%d')` (both formats explicit, in
//! strftime's notation), `lookup('table')` (the mapping's `[V.lookups.table]`), `string` and
//! `int`. Any other filter is refused before the first request, and so are what could make a
//! render cost more than its size: loops and other blocks than `if`/`elif`/`else`, function
//! and method calls, and the `*` and `**` operators (a list repeated a billion times is one
//! step for the fuel limit).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::sync::Arc;

use minijinja::value::{Kwargs, Object, Value};
use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use serde_json::Map;

use profile_core::FieldPath;

/// The fuel a render may burn (about one unit per instruction): a real mapping's template
/// takes tens; a loop that runs away stops at this.
pub const FUEL: u64 = 20_000;

/// The filters a template may use.
pub const FILTERS: &[&str] = &[
    "lower",
    "upper",
    "trim",
    "title",
    "capitalize",
    "replace",
    "default",
    "d",
    "ascii",
    "date",
    "lookup",
    "string",
    "int",
];

/// The longest text a `replace` may make: a template cannot grow a value without bound.
const MAX_TEXT: usize = 1 << 20;

/// Where a template was written, for messages: a mapping file's table, or a flag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place(String);

impl Place {
    /// A flag (`--compute`).
    pub fn flag(name: &str) -> Self {
        Self(name.to_owned())
    }

    /// A table of a mapping file (`nightly.toml [sunshine.computed]`).
    pub fn file(path: &str, table: &str) -> Self {
        Self(format!("{path} [{table}]"))
    }

    /// A place written out whole (`nightly.toml [sunshine] where`).
    pub fn file_table(text: &str) -> Self {
        Self(text.to_owned())
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The templates of a mapping, as written: computed fields, lookup tables, the scope.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ComputeSpec {
    fields: Vec<(Place, String, String)>,
    lookups: BTreeMap<String, BTreeMap<String, String>>,
    scope: Option<(Place, String)>,
}

impl ComputeSpec {
    /// A computed field: `field` gets what `template` renders for each row (a later one of
    /// the same field replaces an earlier one: a flag overrides the file).
    pub fn field(&mut self, place: Place, field: &str, template: &str) -> &mut Self {
        self.fields.retain(|(_, f, _)| f != field);
        self.fields
            .push((place, field.to_owned(), template.to_owned()));
        self
    }

    /// A lookup table: code → value.
    pub fn lookup(&mut self, name: &str, table: BTreeMap<String, String>) -> &mut Self {
        self.lookups.insert(name.to_owned(), table);
        self
    }

    /// The scope: an expression over the row (`status == 'active'`); rows where it is
    /// false are not synced.
    pub fn scope(&mut self, place: Place, expression: &str) -> &mut Self {
        self.scope = Some((place, expression.to_owned()));
        self
    }

    /// Whether there is anything to compute or filter.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.scope.is_none()
    }

    /// The computed fields' names, in order.
    pub fn field_names(&self) -> impl Iterator<Item = (&Place, &str)> {
        self.fields
            .iter()
            .map(|(place, field, _)| (place, field.as_str()))
    }
}

/// Why a template cannot be used: said with its place, its field and the filter at fault.
#[derive(Debug, thiserror::Error)]
#[error("{place}: `{field}`: {reason}")]
pub struct TemplateError {
    /// The file's table, or the flag.
    pub place: String,
    /// The field (or `where`).
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

/// Why a row's template failed: the row is malformed, and never sent.
#[derive(Debug, thiserror::Error)]
#[error("`{field}`: {reason}")]
pub struct RowTemplateError {
    /// The field (or `where`).
    pub field: String,
    /// What failed.
    pub reason: String,
}

/// The compiled templates of a mapping.
pub struct Compute {
    env: Environment<'static>,
    spec: ComputeSpec,
    fields: Vec<FieldPath>,
    columns: BTreeSet<String>,
}

impl fmt::Debug for Compute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compute").field("spec", &self.spec).finish()
    }
}

impl PartialEq for Compute {
    fn eq(&self, other: &Self) -> bool {
        self.spec == other.spec
    }
}

const SCOPE: &str = "where";

thread_local! {
    /// The last code a `lookup` did not find (with its table), for the message of a row
    /// whose template then failed.
    static UNKNOWN_CODE: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}

impl Compute {
    /// Compiles every template and checks each filter, lookup table and date format, with
    /// no row read: a mistake is found before the first request.
    pub fn new(spec: ComputeSpec) -> Result<Self, TemplateError> {
        let lookups = Arc::new(spec.lookups.clone());
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(FUEL));
        // No HTML escaping: values go to profiles, not pages.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.add_filter("default", default);
        env.add_filter("d", default);
        env.add_filter("ascii", ascii);
        env.add_filter("replace", replace);
        env.add_filter("date", date);
        let tables = lookups.clone();
        env.add_filter("lookup", move |value: Value, table: &str| {
            lookup(&tables, value, table)
        });
        let mut fields = Vec::with_capacity(spec.fields.len());
        let mut columns = BTreeSet::new();
        let mut add = |env: &mut Environment<'static>,
                       place: &Place,
                       name: &str,
                       field: &str,
                       source: String|
         -> Result<(), TemplateError> {
            let error = |reason: String| TemplateError {
                place: place.to_string(),
                field: field.to_owned(),
                reason,
            };
            check_filters(&source, &spec.lookups).map_err(error)?;
            env.add_template_owned(name.to_owned(), source)
                .map_err(|e| error(describe(&e)))?;
            let template = env.get_template(name).map_err(|e| error(describe(&e)))?;
            columns.extend(template.undeclared_variables(false));
            Ok(())
        };
        for (place, field, source) in &spec.fields {
            let path = FieldPath::parse(field).map_err(|e| TemplateError {
                place: place.to_string(),
                field: field.clone(),
                reason: e.to_string(),
            })?;
            add(&mut env, place, field, field, source.clone())?;
            fields.push(path);
        }
        if let Some((place, expression)) = &spec.scope {
            // An expression, rendered as a condition (a template holds it: it lives as long
            // as the environment).
            check_filters(&format!("{{{{ {expression} }}}}"), &spec.lookups).map_err(|reason| {
                TemplateError {
                    place: place.to_string(),
                    field: SCOPE.into(),
                    reason,
                }
            })?;
            let source = format!("{{% if {expression} %}}1{{% endif %}}");
            add(&mut env, place, SCOPE_TEMPLATE, SCOPE, source)?;
        }
        // Names Jinja gives itself are not columns.
        for builtin in [
            "range",
            "loop",
            "true",
            "false",
            "none",
            "namespace",
            "dict",
        ] {
            columns.remove(builtin);
        }
        Ok(Self {
            env,
            spec,
            fields,
            columns,
        })
    }

    /// The columns the templates read: each must be in the input.
    pub fn columns(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(String::as_str)
    }

    /// The computed fields, in order.
    pub fn fields(&self) -> &[FieldPath] {
        &self.fields
    }

    /// The templates as written.
    pub fn spec(&self) -> &ComputeSpec {
        &self.spec
    }

    /// Whether the scope takes the row in (every row, without a scope).
    pub fn in_scope(&self, row: &Map<String, serde_json::Value>) -> Result<bool, RowTemplateError> {
        if self.spec.scope.is_none() {
            return Ok(true);
        }
        Ok(!self.render(SCOPE_TEMPLATE, SCOPE, &vars(row))?.is_empty())
    }

    /// What the row gets: `None` when the scope leaves it out, else each computed field
    /// with what it renders (an empty text is an empty cell).
    pub fn apply(
        &self,
        row: &Map<String, serde_json::Value>,
    ) -> Result<Option<Vec<(FieldPath, String)>>, RowTemplateError> {
        let context = vars(row);
        if self.spec.scope.is_some() && self.render(SCOPE_TEMPLATE, SCOPE, &context)?.is_empty() {
            return Ok(None);
        }
        let mut values = Vec::with_capacity(self.fields.len());
        for ((_, field, _), path) in self.spec.fields.iter().zip(&self.fields) {
            values.push((path.clone(), self.render(field, field, &context)?));
        }
        Ok(Some(values))
    }

    fn render(&self, name: &str, field: &str, context: &Value) -> Result<String, RowTemplateError> {
        let failed = |reason: String| RowTemplateError {
            field: field.to_owned(),
            reason,
        };
        UNKNOWN_CODE.with(|code| code.borrow_mut().take());
        let template = self
            .env
            .get_template(name)
            .map_err(|e| failed(describe(&e)))?;
        template.render(context).map_err(|error| {
            let unknown = UNKNOWN_CODE.with(|code| code.borrow_mut().take());
            match (error.kind(), unknown) {
                (ErrorKind::UndefinedError, Some((code, table))) => {
                    failed(format!("`{code}` is not in the lookup table `{table}`"))
                }
                _ => failed(describe(&error)),
            }
        })
    }
}

const SCOPE_TEMPLATE: &str = "\u{0}where";

/// A minijinja error in a sentence: its kind and detail, without the template's name.
fn describe(error: &minijinja::Error) -> String {
    let mut text = match error.detail() {
        Some(detail) => format!("{}: {detail}", error.kind()),
        None => error.kind().to_string(),
    };
    if error.kind() == ErrorKind::OutOfFuel {
        let _ = write!(text, " (more than {FUEL} steps: a loop that does not end?)");
    }
    text
}

/// Refuses a filter that is not one of [`FILTERS`], a lookup of a table the mapping does
/// not have, a `date` without both formats or with one that is not a format; and whatever
/// could make a render cost more than its size: a block other than `if`, a call that is not
/// a filter's, `*` and `**`.
fn check_filters(
    source: &str,
    lookups: &BTreeMap<String, BTreeMap<String, String>>,
) -> Result<(), String> {
    use minijinja::machinery::Token;
    let tokens: Vec<Token<'_>> = minijinja::machinery::tokenize(source, false, Default::default())
        .map(|t| t.map(|(token, _)| token))
        .collect::<Result<_, _>>()
        .map_err(|e| describe(&e))?;
    for (at, token) in tokens.iter().enumerate() {
        let before = at.checked_sub(1).and_then(|b| tokens.get(b));
        match (before, token, tokens.get(at + 1)) {
            (_, Token::Mul | Token::Pow, _) => {
                return Err("`*` and `**` are not available in a mapping template".into());
            }
            (Some(Token::BlockStart), Token::Ident(block), _)
                if !matches!(*block, "if" | "elif" | "else" | "endif") =>
            {
                return Err(format!(
                    "`{{% {block} %}}`: a mapping template takes `if`, `elif` and `else` blocks only"
                ));
            }
            (Some(Token::BlockStart), other, _) if !matches!(other, Token::Ident(_)) => {
                return Err("a block must start with if, elif or else".into());
            }
            (before, Token::Ident(name), Some(Token::ParenOpen))
                if !matches!(before, Some(Token::Pipe) | Some(Token::Ident("is"))) =>
            {
                return Err(format!(
                    "`{name}(…)`: functions and methods are not available in a mapping template; filters are (`value | {name}(…)`)"
                ));
            }
            _ => {}
        }
        let (Token::Pipe, Some(Token::Ident(name))) = (token, tokens.get(at + 1)) else {
            continue;
        };
        if !FILTERS.contains(name) {
            return Err(format!(
                "unknown filter `{name}` (filters: {})",
                FILTERS.join(", ")
            ));
        }
        // The arguments: `(` … `)` after the name.
        let mut args: Vec<&Token<'_>> = Vec::new();
        if let Some(Token::ParenOpen) = tokens.get(at + 2) {
            for token in &tokens[at + 3..] {
                if matches!(token, Token::ParenClose) {
                    break;
                }
                args.push(token);
            }
        }
        let text = |token: &&Token<'_>| match token {
            Token::Str(text) => Some(text.to_string()),
            Token::String(text) => Some(text.to_string()),
            _ => None,
        };
        match *name {
            "lookup" => {
                let table = args.first().and_then(text).ok_or_else(|| {
                    "lookup takes the name of a lookup table: lookup('departments')".to_owned()
                })?;
                if !lookups.contains_key(&table) {
                    return Err(format!(
                        "lookup('{table}'): the mapping has no lookup table `{table}` (add a [VENDOR.lookups.{table}] table)"
                    ));
                }
            }
            "date" => {
                let named = |key: &str| {
                    args.windows(3).find_map(|w| match (w[0], w[1], w[2]) {
                        (Token::Ident(k), Token::Assign, Token::Str(v)) if *k == key => {
                            Some(v.to_string())
                        }
                        (Token::Ident(k), Token::Assign, Token::String(v)) if *k == key => {
                            Some(v.to_string())
                        }
                        _ => None,
                    })
                };
                for key in ["from", "to"] {
                    let Some(format) = named(key) else {
                        return Err(
                            "date takes both formats: date(from='%d/%m/%Y', to='%Y-%m-%d')".into(),
                        );
                    };
                    if chrono::format::StrftimeItems::new(&format)
                        .any(|item| matches!(item, chrono::format::Item::Error))
                    {
                        return Err(format!("date({key}='{format}'): not a date format"));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The row's columns as the templates see them: an empty cell (or a JSON `null`) is an empty
/// text; numbers and booleans stay what they are.
fn vars(row: &Map<String, serde_json::Value>) -> Value {
    Value::from_object(Row(row
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()))
}

#[derive(Debug)]
struct Row(Map<String, serde_json::Value>);

impl Object for Row {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        use serde_json::Value as Json;
        Some(match self.0.get(key.as_str()?)? {
            Json::Null => Value::from(""),
            Json::String(text) => Value::from(text.as_str()),
            Json::Bool(b) => Value::from(*b),
            Json::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => Value::from(i),
                (None, Some(f)) => Value::from(f),
                _ => Value::from(n.to_string()),
            },
            other => Value::from(other.to_string()),
        })
    }
}

/// `default(value)`: `value` for a value that is missing, none or empty (or a code its
/// lookup table does not have); the value itself otherwise.
fn default(value: Value, other: Option<Value>) -> Value {
    let empty =
        value.is_undefined() || value.is_none() || value.as_str().is_some_and(str::is_empty);
    if empty {
        UNKNOWN_CODE.with(|code| code.borrow_mut().take());
        other.unwrap_or_else(|| Value::from(""))
    } else {
        value
    }
}

/// `replace(from, to)`: every `from` replaced by `to`, refused past [`MAX_TEXT`].
fn replace(value: &str, from: &str, to: &str) -> Result<String, minijinja::Error> {
    let grows = to.len().saturating_sub(from.len());
    let count = if from.is_empty() {
        value.chars().count() + 1
    } else {
        value.matches(from).count()
    };
    if value.len().saturating_add(count.saturating_mul(grows)) > MAX_TEXT {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!("replace would make a text of more than {MAX_TEXT} bytes"),
        ));
    }
    Ok(value.replace(from, to))
}

/// `ascii`: the text with its diacritics stripped, as ASCII.
fn ascii(value: &str) -> String {
    deunicode::deunicode(value)
}

/// `date(from=…, to=…)`: a date (or date and time) read in one format, written in another.
fn date(value: &str, kwargs: Kwargs) -> Result<String, minijinja::Error> {
    let from: &str = kwargs.get("from")?;
    let to: &str = kwargs.get("to")?;
    kwargs.assert_all_used()?;
    let invalid = |reason: String| minijinja::Error::new(ErrorKind::InvalidOperation, reason);
    let mut text = String::new();
    let written = if let Ok(at) = chrono::NaiveDateTime::parse_from_str(value, from) {
        write!(text, "{}", at.format(to))
    } else {
        let day = chrono::NaiveDate::parse_from_str(value, from).map_err(|e| {
            invalid(format!(
                "`{value}` is not a date in the format `{from}` ({e})"
            ))
        })?;
        write!(text, "{}", day.format(to))
    };
    written.map_err(|_| invalid(format!("`{to}` cannot write that date")))?;
    Ok(text)
}

/// `lookup('table')`: the table's value for the code; a code it does not have is
/// undefined (the row fails, unless `default` follows).
fn lookup(
    tables: &BTreeMap<String, BTreeMap<String, String>>,
    value: Value,
    table: &str,
) -> Result<Value, minijinja::Error> {
    let Some(entries) = tables.get(table) else {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!("no lookup table `{table}`"),
        ));
    };
    let code = value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned);
    Ok(match entries.get(&code) {
        Some(found) => Value::from(found.as_str()),
        None => {
            UNKNOWN_CODE.with(|unknown| *unknown.borrow_mut() = Some((code, table.to_owned())));
            Value::UNDEFINED
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compute(fields: &[(&str, &str)]) -> Result<Compute, TemplateError> {
        let mut spec = ComputeSpec::default();
        for (field, template) in fields {
            spec.field(Place::flag("--compute"), field, template);
        }
        spec.lookup(
            "departments",
            [("FIN".to_owned(), "Finance".to_owned())]
                .into_iter()
                .collect(),
        );
        Compute::new(spec)
    }

    fn one(template: &str, row: serde_json::Value) -> Result<String, RowTemplateError> {
        let compute = compute(&[("name", template)]).map_err(|e| RowTemplateError {
            field: "name".into(),
            reason: e.to_string(),
        })?;
        let row = row.as_object().cloned().unwrap_or_default();
        Ok(compute.apply(&row)?.unwrap_or_default().remove(0).1)
    }

    #[test]
    fn each_filter_does_what_its_name_says() {
        let row = json!({"a": "  Zoé Lefèvre ", "code": "FIN", "other": "XX", "day": "03/02/2021", "empty": null, "n": 42});
        let cases = [
            ("{{ a | trim | lower }}", "zoé lefèvre"),
            ("{{ a | trim | upper }}", "ZOÉ LEFÈVRE"),
            ("{{ 'jean dupont' | title }}", "Jean Dupont"),
            ("{{ a | trim | replace('Zoé', 'Zoe') }}", "Zoe Lefèvre"),
            ("{{ empty | default('none given') }}", "none given"),
            ("{{ a | trim | ascii }}", "Zoe Lefevre"),
            ("{{ 'Straße' | ascii }}", "Strasse"),
            (
                "{{ day | date(from='%d/%m/%Y', to='%Y-%m-%d') }}",
                "2021-02-03",
            ),
            ("{{ code | lookup('departments') }}", "Finance"),
            (
                "{{ other | lookup('departments') | default('Other') }}",
                "Other",
            ),
            ("{{ code ~ '-' ~ n }}", "FIN-42"),
        ];
        for (template, wanted) in cases {
            assert_eq!(one(template, row.clone()).unwrap(), wanted, "{template}");
        }
    }

    #[test]
    fn a_row_whose_template_fails_says_why() {
        let row = json!({"day": "2021-02-03", "code": "ZZ"});
        let error = one(
            "{{ day | date(from='%d/%m/%Y', to='%Y-%m-%d') }}",
            row.clone(),
        )
        .unwrap_err();
        assert!(
            error
                .reason
                .contains("`2021-02-03` is not a date in the format `%d/%m/%Y`"),
            "{error}"
        );
        let error = one("{{ code | lookup('departments') }}", row.clone()).unwrap_err();
        assert_eq!(
            error.reason,
            "`ZZ` is not in the lookup table `departments`"
        );
        let error = one("{{ missing }}", row).unwrap_err();
        assert!(error.reason.contains("undefined value"), "{error}");
    }

    #[test]
    fn mistakes_are_found_before_any_row() {
        let cases = [
            ("{{ a | shout }}", "unknown filter `shout`"),
            (
                "{% if x %}{{ a | shout }}{% endif %}",
                "unknown filter `shout`",
            ),
            ("{{ a | lookup('teams') }}", "no lookup table `teams`"),
            ("{{ a | date(from='%d/%m/%Y') }}", "date takes both formats"),
            (
                "{{ a | date(from='%Q', to='%Y') }}",
                "date(from='%Q'): not a date format",
            ),
            ("{{ a ", "syntax error"),
            ("{{ ['x'] * 100000000 }}", "`*` and `**` are not available"),
            (
                "{% for i in x %}{{ i }}{% endfor %}",
                "takes `if`, `elif` and `else` blocks only",
            ),
            (
                "{% set x = 1 %}",
                "takes `if`, `elif` and `else` blocks only",
            ),
            (
                "{{ range(10) }}",
                "`range(…)`: functions and methods are not available",
            ),
            ("{{ a.upper() }}", "`upper(…)`: functions and methods"),
        ];
        for (template, wanted) in cases {
            let error = compute(&[("name", template)]).unwrap_err();
            assert!(error.to_string().contains(wanted), "{template}: {error}");
            assert!(
                error.to_string().starts_with("--compute: `name`: "),
                "{error}"
            );
        }
    }

    #[test]
    fn a_template_cannot_grow_a_value_without_bound() {
        let row = json!({"a": "a".repeat(100_000)});
        let error = one("{{ a | replace('a', 'aaaaaaaaaaaaaaaaaaaa') }}", row).unwrap_err();
        assert!(error.reason.contains("more than 1048576 bytes"), "{error}");
    }

    #[test]
    fn the_scope_and_the_columns_read() {
        let mut spec = ComputeSpec::default();
        spec.field(Place::flag("--compute"), "name", "{{ first }} {{ last }}");
        spec.scope(Place::flag("--where"), "status == 'active'");
        let compute = Compute::new(spec).unwrap();
        let columns: Vec<&str> = compute.columns().collect();
        assert_eq!(columns, ["first", "last", "status"]);
        let row = |status: &str| {
            json!({"first": "A", "last": "B", "status": status})
                .as_object()
                .cloned()
                .unwrap()
        };
        assert!(compute.apply(&row("active")).unwrap().is_some());
        assert!(compute.apply(&row("terminated")).unwrap().is_none());
    }
}
