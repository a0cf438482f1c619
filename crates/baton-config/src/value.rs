//! Values as the file holds them (TOML with spans) turned into plain values.
//!
//! TOML integers are 64-bit and its floats are finite unless written `inf`:
//! a literal beyond either is no value at all, so it is handed back with
//! its place to be reported, never read as 0 or as infinity.

use std::ops::Range;

use toml::de::DeValue;
use toml::Spanned;

/// A number literal that does not fit in 64 bits.
#[derive(Debug)]
pub(crate) struct Unfit {
    /// Where it is.
    pub(crate) span: Range<usize>,
    /// Whether it is an integer (else a float).
    pub(crate) integer: bool,
}

impl Unfit {
    /// What a number of its kind must be.
    pub(crate) fn expected(&self) -> String {
        if self.integer {
            format!("an integer from {} to {}", i64::MIN, i64::MAX)
        } else {
            format!("a number from {:e} to {:e}", f64::MIN, f64::MAX)
        }
    }
}

/// The plain value of `value`, and every number in it that does not fit
/// (each of which stands as 0 in the plain value, to be reported).
pub(crate) fn plain(value: &Spanned<DeValue<'_>>) -> (toml::Value, Vec<Unfit>) {
    let mut unfit = Vec::new();
    let value = convert(value, &mut unfit);
    (value, unfit)
}

fn convert(value: &Spanned<DeValue<'_>>, unfit: &mut Vec<Unfit>) -> toml::Value {
    let mut refuse = |integer| {
        unfit.push(Unfit {
            span: value.span(),
            integer,
        })
    };
    match value.get_ref() {
        DeValue::String(s) => toml::Value::String(s.to_string()),
        // `as_str` is the digits alone, ready for `from_str_radix`.
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => toml::Value::Integer(n),
            Err(_) => {
                refuse(true);
                toml::Value::Integer(0)
            }
        },
        DeValue::Float(f) => match f.as_str().parse::<f64>() {
            // Only a literal `inf` may be infinite; `1e400` overflows.
            Ok(x) if x.is_finite() || f.as_str().contains("inf") => toml::Value::Float(x),
            _ => {
                refuse(false);
                toml::Value::Float(0.0)
            }
        },
        DeValue::Boolean(b) => toml::Value::Boolean(*b),
        DeValue::Datetime(d) => toml::Value::Datetime(*d),
        DeValue::Array(items) => {
            toml::Value::Array(items.iter().map(|v| convert(v, unfit)).collect())
        }
        DeValue::Table(table) => toml::Value::Table(
            table
                .iter()
                .map(|(k, v)| (k.get_ref().to_string(), convert(v, unfit)))
                .collect(),
        ),
    }
}

/// How a value's type is named in messages.
pub(crate) fn type_name(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a number",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (toml::Value, Vec<Unfit>) {
        let root = toml::de::DeTable::parse(text).unwrap();
        let (_, value) = root.get_ref().iter().next().unwrap();
        plain(value)
    }

    #[test]
    fn integers_in_every_radix_are_read() {
        assert_eq!(read("v = 0x0b1").0, toml::Value::Integer(0xb1));
        assert_eq!(read("v = -1_000").0, toml::Value::Integer(-1000));
        assert_eq!(read("v = 0o17").0, toml::Value::Integer(0o17));
        assert_eq!(
            read("v = -9223372036854775808").0,
            toml::Value::Integer(i64::MIN)
        );
    }

    #[test]
    fn numbers_beyond_64_bits_are_handed_back_with_their_place() {
        let (_, unfit) = read("v = 9223372036854775808");
        assert_eq!((unfit[0].span.clone(), unfit[0].integer), (4..23, true));
        let (_, unfit) = read("v = [1, 1e400]");
        assert_eq!((unfit[0].span.clone(), unfit[0].integer), (8..13, false));
        assert!(read("v = -inf").1.is_empty());
    }
}
