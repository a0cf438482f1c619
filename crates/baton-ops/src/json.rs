//! JSON values and text: what kind a value is, a parse error without
//! serde_json's own position (the item's line or field is what a user
//! needs; the column is kept), and text read as the value it looks like.

use serde_json::Value;

/// What kind of value `value` is, with its article: "a number", "an object".
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A parse error's message and column, for one line of text.
pub(crate) fn error_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let message = text
        .rfind(" at line ")
        .map_or(text.as_str(), |at| &text[..at]);
    format!("{message} (column {})", error.column())
}

/// Text (a CSV value, a captured group) as the JSON value it looks like: `true`/`false`, an
/// integer, a decimal, or else the text. Numbers with a leading zero
/// (`007`, codes, zip codes) and integers too large for 64 bits stay text.
#[cfg(feature = "regex")]
pub(crate) fn infer(text: &str) -> Value {
    match text {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let numeric = digits.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && digits.chars().any(|c| c.is_ascii_digit())
        && digits
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        && !(digits.len() > 1 && digits.starts_with('0') && digits.as_bytes()[1].is_ascii_digit());
    if numeric {
        if digits.contains(['.', 'e', 'E']) {
            if let Some(number) = text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
            {
                return Value::Number(number);
            }
        } else if let Ok(n) = text.parse::<i64>() {
            return Value::from(n);
        }
    }
    Value::String(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(feature = "regex")]
    use serde_json::json;

    #[test]
    fn a_parse_error_keeps_its_column_only() {
        let error = serde_json::from_str::<Value>("{\"a\": x}").unwrap_err();
        assert_eq!(error_message(&error), "expected value (column 7)");
        assert_eq!(kind(&serde_json::json!([1])), "an array");
    }

    #[test]
    #[cfg(feature = "regex")]
    fn infers_what_looks_like_numbers_and_keeps_the_rest() {
        assert_eq!(infer("12"), json!(12));
        assert_eq!(infer("-3"), json!(-3));
        assert_eq!(infer("0"), json!(0));
        assert_eq!(infer("0.25"), json!(0.25));
        assert_eq!(infer("1e3"), json!(1000.0));
        assert_eq!(infer("false"), json!(false));
        for text in [
            "",
            "007",
            "inf",
            "NaN",
            "1-2",
            "12345678901234567890",
            "True",
            "e5",
            "-",
        ] {
            assert_eq!(infer(text), json!(text), "{text:?}");
        }
    }
}
