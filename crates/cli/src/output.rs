//! What `get` and `update` print, and how they read `--set`.

use profile_core::ApiRequest;
use serde_json::Value;

/// How to print what comes back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Output {
    /// One `field  value` line per leaf.
    #[default]
    Table,
    /// The JSON as the vendor returned it.
    Json,
}

/// The flags every `get` and `update` takes.
#[derive(Debug, clap::Args)]
pub(crate) struct OutputArgs {
    /// Print the request that would be sent (credentials redacted) and send nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// How to print the result.
    #[arg(long, value_enum, default_value = "table")]
    pub(crate) output: Output,
}

/// `FIELD=VALUE`, the value parsed as JSON when it is JSON, else taken as a string.
pub(crate) fn parse_set(text: &str) -> Result<(String, Value), String> {
    let (field, value) = text
        .split_once('=')
        .ok_or_else(|| format!("--set takes FIELD=VALUE, not `{text}`"))?;
    if field.trim().is_empty() {
        return Err(format!("--set `{text}` names no field"));
    }
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    Ok((field.trim().to_owned(), value))
}

fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&path, v, out);
            }
        }
        other => out.push((prefix.to_owned(), plain(other))),
    }
}

/// A value as a table shows it: a string without JSON quotes, nothing as `(none)`, the
/// rest as JSON.
pub(crate) fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "(none)".to_owned(),
        other => other.to_string(),
    }
}

/// Prints what a vendor returned.
pub(crate) fn print(value: &Value, output: Output) {
    print_labelled(value, output, &|_| None);
}

/// Prints what a vendor returned; in a table, a field `label` names (a LumApps field's
/// title beside its uuid) gets its name in parentheses after the path.
pub(crate) fn print_labelled(
    value: &Value,
    output: Output,
    label: &dyn Fn(&str) -> Option<String>,
) {
    match output {
        Output::Json => say!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        ),
        Output::Table => {
            let mut rows = Vec::new();
            flatten("", value, &mut rows);
            let rows: Vec<(String, String)> = rows
                .into_iter()
                .map(|(key, value)| match label(&key) {
                    Some(name) => (format!("{key} ({name})"), value),
                    None => (key, value),
                })
                .collect();
            let width = rows
                .iter()
                .map(|(k, _)| k.chars().count())
                .max()
                .unwrap_or(0);
            for (key, value) in rows {
                say!("{key:<width$}  {value}");
            }
        }
    }
}

/// Prints the request a dry run would have sent.
pub(crate) fn dry(request: &ApiRequest) {
    say!("{}", request.render().trim_end());
    say!("(dry run: nothing was sent)");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_shows_strings_without_quotes_and_nothing_as_none() {
        let mut rows = Vec::new();
        flatten(
            "",
            &serde_json::json!({"givenName": "Gary", "age": 42, "middle": null, "a": {"b": true}}),
            &mut rows,
        );
        assert_eq!(
            rows,
            [
                ("givenName".to_owned(), "Gary".to_owned()),
                ("age".to_owned(), "42".to_owned()),
                ("middle".to_owned(), "(none)".to_owned()),
                ("a.b".to_owned(), "true".to_owned()),
            ]
        );
    }

    #[test]
    fn set_values_are_json_when_they_parse_as_json() {
        assert_eq!(
            parse_set("a=1").unwrap(),
            ("a".into(), serde_json::json!(1))
        );
        assert_eq!(
            parse_set("a=87cm").unwrap(),
            ("a".into(), serde_json::json!("87cm"))
        );
        assert_eq!(
            parse_set("a=\"2018\"").unwrap(),
            ("a".into(), serde_json::json!("2018"))
        );
        assert_eq!(
            parse_set("a=x=y").unwrap(),
            ("a".into(), serde_json::json!("x=y"))
        );
        assert!(parse_set("novalue").is_err());
        assert!(parse_set("=v").is_err());
    }
}
