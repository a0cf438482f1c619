//! `hash`: a hex digest of some fields, or of the payload, into a field.
//!
//! # Examples
//!
//! ```
//! use baton_engine::Stage;
//! use baton_ops::{BuiltOp, Item, Params};
//!
//! let params = Params::new(toml::from_str(r#"fields = ["url"]"#).unwrap(), ".");
//! let op = baton_ops::find("hash").unwrap();
//! let BuiltOp::Stage(built) = (op.build)(&params).unwrap() else { unreachable!() };
//! let mut out = Vec::new();
//! built.replica().unwrap().process(Item::with_field("url", "hello world"), &mut out).unwrap();
//! // The same as `printf 'hello world' | sha256sum`.
//! assert_eq!(
//!     out[0].get("hash").unwrap(),
//!     "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
//! );
//! ```

use std::fmt::Write as _;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::RecordError;
use super::record_replicas;
use crate::item::{Item, Payload};
use crate::registry::{
    build_from, BuildContext, BuiltOp, Modes, OpConfig, OpDef, OpError, OpKind, ParamDef, ParamType,
};
use baton_engine::{BoxError, Stage};

pub(crate) const DEF: OpDef = OpDef {
    name: "hash",
    kind: OpKind::Transform,
    summary: "a hex digest of fields (or of the bytes payload) into a field: a single string field hashes its \
              text, otherwise the fields' compact JSON object in the order listed is hashed",
    params: &[
        ParamDef::optional(
            "fields",
            ParamType::StrList,
            "the fields hashed (default: all but `into`, by name)",
        ),
        ParamDef::with_default(
            "payload",
            ParamType::Bool,
            "false",
            "hash the bytes payload instead of fields",
        ),
        ParamDef::with_default(
            "algorithm",
            ParamType::Str,
            "\"sha256\"",
            "\"sha256\" (64 hex digits) or \"xxh3\" (64-bit, 16 hex digits, much faster)",
        ),
        ParamDef::with_default("into", ParamType::Str, "\"hash\"", "the field for the digest"),
    ],
    modes: Modes::ANY,
    build: build_from::<HashConfig>,
};

/// The parameters of `hash`: a hex digest of `fields` (all but `into` when
/// not given) or of the bytes payload (`payload = true`) into the field
/// `into`. A single string field hashes its text, otherwise the fields'
/// compact JSON object in the order listed is hashed.
///
/// # Examples
///
/// ```
/// use baton_ops::config::{BuildContext, HashAlgorithm, HashConfig, OpConfig};
/// use baton_ops::{BuiltOp, Item};
///
/// let config = HashConfig {
///     fields: Some(vec!["url".into()]),
///     payload: false,
///     algorithm: HashAlgorithm::Sha256,
///     into: "digest".into(),
/// };
/// let BuiltOp::Stage(built) = config.build(&BuildContext::default()).unwrap() else { unreachable!() };
/// let mut out = Vec::new();
/// built.replica().unwrap().process(Item::with_field("url", "hello world"), &mut out).unwrap();
/// // The same as `printf 'hello world' | sha256sum`.
/// assert_eq!(
///     out[0].get("digest").unwrap(),
///     "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
/// );
///
/// let both = HashConfig { payload: true, ..config };
/// let error = both.build(&BuildContext::default()).unwrap_err();
/// assert_eq!(error.to_string(), "`fields`: give `fields` or `payload = true`, not both");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashConfig {
    /// The fields hashed (default: all but `into`, by name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
    /// Hash the bytes payload instead of fields.
    #[serde(default)]
    pub payload: bool,
    /// "sha256" (64 hex digits) or "xxh3" (64-bit, 16 hex digits, much
    /// faster).
    #[serde(default)]
    pub algorithm: HashAlgorithm,
    /// The field for the digest.
    #[serde(default = "hash_field")]
    pub into: String,
}

fn hash_field() -> String {
    "hash".to_string()
}

impl OpConfig for HashConfig {
    const DEF: &'static OpDef = &DEF;

    fn build(&self, _: &BuildContext) -> Result<BuiltOp, OpError> {
        let input = match (&self.fields, self.payload) {
            (Some(_), true) => {
                return Err(OpError::param(
                    "fields",
                    "give `fields` or `payload = true`, not both",
                ))
            }
            (Some(fields), false) if fields.is_empty() => {
                return Err(OpError::param("fields", "name at least one field"))
            }
            (Some(fields), false) => Input::Fields(fields.clone()),
            (None, true) => Input::Payload,
            (None, false) => Input::AllFields,
        };
        Ok(record_replicas(Hash {
            input,
            algorithm: self.algorithm,
            into: self.into.clone(),
        }))
    }
}

/// The digest function of `hash`.
///
/// # Examples
///
/// ```
/// use baton_ops::config::HashAlgorithm;
/// assert_eq!(HashAlgorithm::default(), HashAlgorithm::Sha256);
/// let xxh3: HashAlgorithm = serde_json::from_str(r#""xxh3""#).unwrap();
/// assert_eq!(xxh3, HashAlgorithm::Xxh3);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HashAlgorithm {
    /// SHA-256: 64 hex digits.
    #[default]
    Sha256,
    /// XXH3, 64-bit: 16 hex digits, much faster.
    Xxh3,
}

impl HashAlgorithm {
    /// The digest of `bytes`, in lowercase hex.
    fn hex(self, bytes: &[u8]) -> String {
        match self {
            HashAlgorithm::Sha256 => {
                Sha256::digest(bytes)
                    .iter()
                    .fold(String::new(), |mut hex, b| {
                        let _ = write!(hex, "{b:02x}");
                        hex
                    })
            }
            HashAlgorithm::Xxh3 => format!("{:016x}", xxhash_rust::xxh3::xxh3_64(bytes)),
        }
    }
}

/// What is hashed.
#[derive(Clone, Debug)]
enum Input {
    /// Every field but the digest's own, by name.
    AllFields,
    /// These fields, in this order.
    Fields(Vec<String>),
    /// The bytes payload.
    Payload,
}

/// The stage.
#[derive(Clone, Debug)]
struct Hash {
    input: Input,
    algorithm: HashAlgorithm,
    into: String,
}

/// `{"name":value,...}` in the order given, whatever order the item's map keeps.
fn json_object<'a>(fields: impl Iterator<Item = (&'a str, &'a Value)>) -> String {
    let mut text = String::from("{");
    for (i, (name, value)) in fields.enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&Value::from(name).to_string());
        text.push(':');
        text.push_str(&value.to_string());
    }
    text.push('}');
    text
}

impl Hash {
    fn digest(&self, item: &Item) -> Result<String, RecordError> {
        let hex = match &self.input {
            Input::Payload => match &item.payload {
                Payload::Bytes(bytes) => self.algorithm.hex(bytes),
                other => {
                    return Err(RecordError::NotBytes {
                        found: other.kind(),
                    })
                }
            },
            Input::Fields(names) => {
                let values = names
                    .iter()
                    .map(|name| {
                        item.get(name)
                            .map(|value| (name.as_str(), value))
                            .ok_or_else(|| RecordError::MissingField {
                                field: name.clone(),
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                match values.as_slice() {
                    [(_, Value::String(text))] => self.algorithm.hex(text.as_bytes()),
                    _ => self
                        .algorithm
                        .hex(json_object(values.into_iter()).as_bytes()),
                }
            }
            Input::AllFields => {
                let mut values: Vec<(&str, &Value)> = item
                    .fields
                    .iter()
                    .filter(|(name, _)| **name != self.into)
                    .map(|(name, value)| (name.as_str(), value))
                    .collect();
                values.sort_by_key(|(name, _)| *name);
                self.algorithm
                    .hex(json_object(values.into_iter()).as_bytes())
            }
        };
        Ok(hex)
    }
}

impl Hash {
    /// The digests of a chunk of records, a column at a time, as a column
    /// `into` (replacing one of that name, else added): `None` when the
    /// rows must go one by one (the payload, a missing field: their
    /// errors are per row).
    fn digest_columns(&self, batch: &RecordBatch) -> Option<RecordBatch> {
        let schema = batch.schema();
        let names: Vec<&str> = match &self.input {
            Input::Payload => return None,
            Input::Fields(names) => names.iter().map(String::as_str).collect(),
            Input::AllFields => {
                let mut names: Vec<&str> = schema
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .filter(|name| *name != self.into)
                    .collect();
                names.sort_unstable();
                names.dedup();
                names
            }
        };
        let columns: Vec<&ArrayRef> = names
            .iter()
            .map(|name| batch.column_by_name(name))
            .collect::<Option<_>>()?;
        let digests: Vec<String> = match columns.as_slice() {
            // One text column without nulls: its text, as it is.
            [column] if column.data_type() == &DataType::Utf8 && column.null_count() == 0 => column
                .as_string::<i32>()
                .iter()
                .map(|text| self.algorithm.hex(text.unwrap_or_default().as_bytes()))
                .collect(),
            _ => {
                let values: Vec<Vec<Value>> = columns
                    .iter()
                    .map(|column| baton_records::rows::column_values(column.as_ref()))
                    .collect();
                (0..batch.num_rows())
                    .map(|row| match values.as_slice() {
                        [column] if column[row].is_string() => {
                            let text = column[row].as_str().unwrap_or_default();
                            self.algorithm.hex(text.as_bytes())
                        }
                        _ => {
                            let fields = names
                                .iter()
                                .zip(&values)
                                .map(|(name, column)| (*name, &column[row]));
                            self.algorithm.hex(json_object(fields).as_bytes())
                        }
                    })
                    .collect()
            }
        };
        let digests: ArrayRef = Arc::new(StringArray::from(digests));
        let field = Field::new(&self.into, DataType::Utf8, false);
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        let mut columns = batch.columns().to_vec();
        match schema.index_of(&self.into) {
            Ok(at) => {
                fields[at] = field;
                columns[at] = digests;
            }
            Err(_) => {
                fields.push(field);
                columns.push(digests);
            }
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).ok()
    }
}

impl Stage<Item, Item> for Hash {
    fn process(&mut self, mut item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        if let Payload::Records(batch) = &item.payload {
            match self.digest_columns(batch) {
                Some(hashed) => out.push(Item::records(hashed)),
                None => {
                    for row in crate::item::rows_of(batch) {
                        self.process(row, out)?;
                    }
                }
            }
            return Ok(());
        }
        let hex = self.digest(&item)?;
        item.set(&self.into, hex);
        out.push(item);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{build_error, params, run_stage};
    use serde_json::json;

    fn hashes(toml: &str, items: Vec<Item>) -> Vec<Result<String, String>> {
        let (outputs, _) = run_stage(&DEF, &params(&DEF, toml, ".".as_ref()), items);
        outputs
            .into_iter()
            .map(|out| {
                out.map(|items| {
                    let into = if toml.contains("into") {
                        "digest"
                    } else {
                        "hash"
                    };
                    items[0].get(into).unwrap().as_str().unwrap().to_string()
                })
            })
            .collect()
    }

    #[test]
    fn one_string_field_hashes_its_text_like_sha256sum() {
        // printf 'hello world' | sha256sum
        let out = hashes(
            "fields = [\"url\"]",
            vec![Item::with_field("url", "hello world")],
        );
        assert_eq!(
            out,
            vec![Ok(
                "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9".into()
            )]
        );
        // printf '' | sha256sum
        let out = hashes(
            "fields = [\"url\"]\ninto = \"digest\"",
            vec![Item::with_field("url", "")],
        );
        assert_eq!(
            out,
            vec![Ok(
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into()
            )]
        );
    }

    #[test]
    fn the_payload_hashes_its_bytes_with_either_algorithm() {
        let item = Item {
            payload: Payload::Bytes(b"abc".to_vec()),
            ..Item::default()
        };
        let sha = hashes("payload = true", vec![item.clone()]);
        assert_eq!(
            sha,
            vec![Ok(
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into()
            )]
        );
        let xxh3 = hashes("payload = true\nalgorithm = \"xxh3\"", vec![item]);
        assert_eq!(
            xxh3,
            vec![Ok(format!("{:016x}", xxhash_rust::xxh3::xxh3_64(b"abc")))]
        );
        // xxh3 of no bytes, from the reference implementation.
        assert_eq!(HashAlgorithm::Xxh3.hex(b""), "2d06800538d394c2");

        let out = hashes("payload = true", vec![Item::with_field("a", 1)]);
        assert_eq!(
            out,
            vec![Err("the item's payload is `none`, not bytes".into())]
        );
    }

    #[test]
    fn several_fields_hash_their_json_in_the_order_listed() {
        let item = Item::record(json!({"b": "x", "a": 1, "c": [true]}));
        let listed = hashes("fields = [\"b\", \"a\"]", vec![item.clone()]);
        assert_eq!(
            listed,
            vec![Ok(HashAlgorithm::Sha256.hex(br#"{"b":"x","a":1}"#))]
        );
        let all = hashes("", vec![item.clone()]);
        assert_eq!(
            all,
            vec![Ok(
                HashAlgorithm::Sha256.hex(br#"{"a":1,"b":"x","c":[true]}"#)
            )]
        );
        // The digest's own field is left out, so hashing twice changes nothing.
        let mut hashed = item;
        hashed.set("hash", "old");
        assert_eq!(hashes("", vec![hashed]), all);
        let missing = hashes("fields = [\"a\", \"zz\"]", vec![Item::with_field("a", 1)]);
        assert_eq!(missing, vec![Err("no field `zz`".into())]);
    }

    #[test]
    fn bad_parameters_are_named() {
        for (toml, param) in [
            ("algorithm = \"md5\"", "algorithm"),
            ("fields = [\"a\"]\npayload = true", "fields"),
            ("fields = []", "fields"),
        ] {
            let error = build_error(&DEF, &params(&DEF, toml, ".".as_ref()));
            assert_eq!(error.param.as_deref(), Some(param), "{toml}");
        }
    }

    #[test]
    fn a_chunk_of_records_is_hashed_a_column_at_a_time_like_its_rows_one_by_one() {
        use proptest::prelude::*;
        let row = (
            proptest::option::of(-5i64..5),
            proptest::option::of("[a-z\"é]{0,4}"),
            proptest::option::of(-2.0f64..2.0),
        );
        let mut runner = proptest::test_runner::TestRunner::default();
        for toml in [
            "fields = [\"s\"]",
            "fields = [\"s\", \"n\"]",
            "fields = [\"x\"]\nalgorithm = \"xxh3\"",
            "",
            "into = \"n\"",
            "fields = [\"missing\"]",
        ] {
            runner
                .run(&proptest::collection::vec(row.clone(), 1..20), |rows| {
                    let rows: Vec<serde_json::Map<String, Value>> = rows
                        .iter()
                        .map(|(n, s, x)| {
                            json!({"n": n, "s": s, "x": x}).as_object().unwrap().clone()
                        })
                        .collect();
                    let batch = baton_records::rows::from_rows(rows).unwrap();
                    let one_by_one: Vec<Result<Vec<Value>, String>> = crate::item::rows_of(&batch)
                        .map(|row| {
                            let (out, _) =
                                run_stage(&DEF, &params(&DEF, toml, ".".as_ref()), vec![row]);
                            out.into_iter().next().unwrap().map(|items| {
                                items.into_iter().map(|i| Value::Object(i.fields)).collect()
                            })
                        })
                        .collect();
                    let (out, _) = run_stage(
                        &DEF,
                        &params(&DEF, toml, ".".as_ref()),
                        vec![Item::records(batch)],
                    );
                    match one_by_one.iter().find(|r| r.is_err()) {
                        // A row that fails fails the chunk with its error.
                        Some(Err(error)) => prop_assert_eq!(out[0].as_ref().unwrap_err(), error),
                        _ => {
                            let by_columns: Vec<Value> = out[0]
                                .as_ref()
                                .unwrap()
                                .iter()
                                .flat_map(Item::rows)
                                .map(|row| Value::Object(row.fields))
                                .collect();
                            let by_rows: Vec<Value> =
                                one_by_one.into_iter().flat_map(Result::unwrap).collect();
                            prop_assert_eq!(by_columns, by_rows);
                        }
                    }
                    Ok(())
                })
                .unwrap();
        }
    }

    #[test]
    fn fields_of_a_chunk_are_hashed_by_column_and_the_payload_by_row() {
        let batch = baton_records::rows::from_rows(vec![
            json!({"n": 1, "s": "a"}).as_object().unwrap().clone(),
            json!({"n": null, "s": null}).as_object().unwrap().clone(),
        ])
        .unwrap();
        let hash = |input| Hash {
            input,
            algorithm: HashAlgorithm::Sha256,
            into: "hash".into(),
        };
        for input in [
            Input::AllFields,
            Input::Fields(vec!["s".into()]),
            Input::Fields(vec!["n".into(), "s".into()]),
        ] {
            let hashed = hash(input.clone()).digest_columns(&batch);
            assert_eq!(hashed.map(|b| b.num_columns()), Some(3), "{input:?}");
        }
        assert!(hash(Input::Payload).digest_columns(&batch).is_none());
        assert!(hash(Input::Fields(vec!["zz".into()]))
            .digest_columns(&batch)
            .is_none());
    }
}
