//! The wire format gives back exactly what it was given: random items of
//! every payload kind, chunks of records included, packed into messages of
//! random sizes.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use baton_nats::wire::{decode, encode_entry, pack, Entry, Failure, Outcome};
use baton_ops::{Item, Payload, Tensor};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        "[a-zé ]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,5}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn fields() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map("[a-z_]{1,6}", json_value(), 0..5)
        .prop_map(|m| m.into_iter().collect())
}

fn records() -> impl Strategy<Value = RecordBatch> {
    prop::collection::vec(
        (
            prop::option::of(any::<i64>()),
            prop::option::of("[a-z]{0,8}"),
            -1e6f64..1e6,
        ),
        0..40,
    )
    .prop_map(|rows| {
        let ints: Int64Array = rows.iter().map(|r| r.0).collect();
        let texts: StringArray = rows.iter().map(|r| r.1.clone()).collect();
        let floats: Float64Array = rows.iter().map(|r| Some(r.2)).collect();
        RecordBatch::try_from_iter([
            ("n", Arc::new(ints) as ArrayRef),
            ("text", Arc::new(texts) as ArrayRef),
            ("x", Arc::new(floats) as ArrayRef),
        ])
        .expect("a record batch")
    })
}

fn plain_item() -> impl Strategy<Value = Item> {
    fields().prop_map(|fields| Item {
        fields,
        payload: Payload::None,
    })
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        Just(Payload::None),
        prop::collection::vec(any::<u8>(), 0..200).prop_map(Payload::Bytes),
        (1usize..5, 1usize..5).prop_flat_map(|(a, b)| {
            prop::collection::vec(-1e6f32..1e6, a * b).prop_map(move |data| {
                Payload::Tensor(Tensor {
                    shape: vec![a, b],
                    data,
                })
            })
        }),
        records().prop_map(Payload::Records),
        (1u32..6, 1u32..6).prop_flat_map(|(w, h)| {
            prop::collection::vec(any::<u8>(), (w * h * 3) as usize).prop_map(move |pixels| {
                Payload::Image(image::DynamicImage::ImageRgb8(
                    image::RgbImage::from_raw(w, h, pixels).expect("pixels fit"),
                ))
            })
        }),
        (1u32..4, 1u32..4).prop_flat_map(|(w, h)| {
            prop::collection::vec(any::<u16>(), (w * h) as usize).prop_map(move |pixels| {
                Payload::Image(image::DynamicImage::ImageLuma16(
                    image::ImageBuffer::from_raw(w, h, pixels).expect("pixels fit"),
                ))
            })
        }),
        prop::collection::vec(plain_item(), 0..3).prop_map(Payload::Batch),
    ]
}

fn item() -> impl Strategy<Value = Item> {
    (fields(), payload()).prop_map(|(fields, payload)| Item { fields, payload })
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        4 => prop::collection::vec(item(), 0..3).prop_map(Outcome::Items),
        1 => ("[a-z]{1,8}", ".{0,30}").prop_map(|(stage, error)| Outcome::Failed(Failure { stage, error })),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn entries_come_back_as_they_went(
        outcomes in prop::collection::vec(outcome(), 0..12),
        start in 0u64..1 << 40,
        max_bytes in 4096usize..65536,
    ) {
        let entries: Vec<Entry> = outcomes
            .into_iter()
            .enumerate()
            .map(|(i, outcome)| Entry { seq: start + i as u64, outcome })
            .collect();
        let encoded: Vec<_> = entries.iter().map(|e| encode_entry(e).unwrap()).collect();
        let fits = encoded.iter().all(|e| e.len() + 11 <= max_bytes);
        match pack(encoded, max_bytes) {
            Ok(chunks) => {
                prop_assert!(fits);
                let mut back = Vec::new();
                for chunk in &chunks {
                    prop_assert!(chunk.body.len() <= max_bytes);
                    let decoded = decode(&chunk.body).unwrap();
                    prop_assert_eq!(decoded.len(), chunk.entries);
                    prop_assert_eq!(decoded.first().map(|e| e.seq), Some(chunk.first_seq));
                    prop_assert_eq!(decoded.last().map(|e| e.seq), Some(chunk.last_seq));
                    back.extend(decoded);
                }
                prop_assert_eq!(back, entries);
            }
            Err(_) => prop_assert!(!fits),
        }
    }
}

#[test]
fn an_item_of_several_megabytes_travels_in_one_message() {
    let big = Item {
        fields: Map::new(),
        payload: Payload::Bytes((0..6_000_000u32).map(|i| (i % 251) as u8).collect()),
    };
    let entry = Entry::items(1, vec![big]);
    let chunks = pack(vec![encode_entry(&entry).unwrap()], 64 << 20).unwrap();
    assert_eq!(chunks.len(), 1);
    assert!(
        chunks[0].body.len() < 6_000_100,
        "raw bytes, not an array of numbers"
    );
    assert_eq!(decode(&chunks[0].body).unwrap(), [entry]);
}

#[test]
fn records_travel_as_arrow_ipc() {
    let batch = RecordBatch::try_from_iter([(
        "n",
        Arc::new(Int64Array::from_iter_values(0..10_000)) as ArrayRef,
    )])
    .unwrap();
    let entry = Entry::items(0, vec![Item::records(batch)]);
    let encoded = encode_entry(&entry).unwrap();
    // 8 bytes a value plus Arrow's framing, nothing like JSON's size.
    assert!(encoded.len() < 90_000, "{} bytes", encoded.len());
    let chunks = pack(vec![encoded], 1 << 20).unwrap();
    assert_eq!(decode(&chunks[0].body).unwrap(), [entry]);
}
