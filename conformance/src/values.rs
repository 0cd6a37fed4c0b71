//! The suite's JSON values as spanlog's: ids, tag values, attributes.

use serde_json::Value;

/// A tag value as text: strings as they are, numbers and booleans printed, `null`
/// nothing.
pub(crate) fn text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

/// Attributes (of a link or an event) as flat string pairs, as Datadog's tracers send
/// them: an array's items become `key.0`, `key.1`, ...
pub(crate) fn attributes(value: Option<&Value>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(Value::Object(map)) = value {
        for (key, value) in map {
            flatten(key, value, &mut out);
        }
    }
    out
}

fn flatten(key: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten(&format!("{key}.{i}"), item, out);
            }
        }
        value => out.extend(text(value).map(|v| (key.to_owned(), v))),
    }
}

/// An id the suite sent: a number, or a number as a string; `None` for `null`, zero
/// or anything else.
pub(crate) fn id(value: Option<&Value>) -> Option<u64> {
    let id = match value? {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    (id != 0).then_some(id)
}

/// `{"span_id": ..., "trace_id": ...}`, written by hand: a 128-bit trace id is one
/// JSON number, which `serde_json` values cannot hold.
pub(crate) fn ids_json(span_id: u64, trace_id: u128) -> String {
    format!(r#"{{"span_id":{span_id},"trace_id":{trace_id}}}"#)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_become_text() {
        assert_eq!(text(&json!("a")).as_deref(), Some("a"));
        assert_eq!(text(&json!(true)).as_deref(), Some("true"));
        assert_eq!(text(&json!(1.5)).as_deref(), Some("1.5"));
        assert_eq!(text(&json!(null)), None);
        let attrs = attributes(Some(&json!({"a": [1, ["x", "y"]], "b": "c", "n": null})));
        assert_eq!(
            attrs,
            [
                ("a.0".to_owned(), "1".to_owned()),
                ("a.1.0".to_owned(), "x".to_owned()),
                ("a.1.1".to_owned(), "y".to_owned()),
                ("b".to_owned(), "c".to_owned()),
            ]
        );
        assert_eq!(id(Some(&json!(12))), Some(12));
        assert_eq!(id(Some(&json!("18446744073709551615"))), Some(u64::MAX));
        assert_eq!(id(Some(&json!(0))), None);
        assert_eq!(id(Some(&json!(null))), None);
        assert_eq!(id(None), None);
        let parsed: serde_json::Value = serde_json::from_str(&ids_json(1, u128::MAX)).unwrap();
        assert_eq!(parsed["span_id"], 1);
    }
}
