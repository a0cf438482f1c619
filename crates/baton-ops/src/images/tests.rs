//! The image stages together, as a pipeline file chains them.

use std::thread;

use image::ImageFormat;

use super::fixtures::{build, encode, gradient, item, run};
use super::{crop, decode, flip, normalize, resize};
use crate::item::{Item, Payload, Tensor};
use crate::registry::BuiltOp;

/// decode → resize → crop → flip → normalize, on one encoded image.
fn chain(bytes: Vec<u8>, flip_params: &str) -> Item {
    let mut item = item("cat.png", Payload::Bytes(bytes));
    for (def, params) in [
        (&decode::DEF, ""),
        (&resize::DEF, "width = 16\nheight = 12"),
        (
            &crop::DEF,
            "width = 8\nheight = 6\nposition = \"random\"\nseed = 9",
        ),
        (&flip::DEF, flip_params),
        (
            &normalize::DEF,
            "mean = [0.5, 0.5, 0.5]\nstd = [0.25, 0.25, 0.25]",
        ),
    ] {
        item = run(def, params, item).unwrap_or_else(|e| panic!("{}: {e}", def.name));
    }
    item
}

fn tensor(item: &Item) -> &Tensor {
    match &item.payload {
        Payload::Tensor(tensor) => tensor,
        other => panic!("expected a tensor, found {}", other.kind()),
    }
}

#[test]
fn a_png_goes_from_bytes_to_a_normalised_tensor() {
    let png = encode(&gradient(24, 18), ImageFormat::Png);
    let plain = chain(png.clone(), "horizontal = 0");
    let flipped = chain(png, "horizontal = 1");
    assert_eq!(plain.get("width").unwrap(), 8);
    assert_eq!(plain.get("height").unwrap(), 6);
    assert_eq!(plain.get("path").unwrap(), "cat.png");
    let (plain, flipped) = (tensor(&plain), tensor(&flipped));
    assert_eq!(plain.shape, vec![3, 6, 8]);
    assert_eq!(flipped.shape, vec![3, 6, 8]);
    let at = |t: &Tensor, c: usize, y: usize, x: usize| t.data[(c * 6 + y) * 8 + x];
    for c in 0..3 {
        for y in 0..6 {
            for x in 0..8 {
                // The same crop (same seed, same record) mirrored: the left
                // pixel is the former right one.
                assert_eq!(at(flipped, c, y, x), at(plain, c, y, 7 - x));
            }
        }
    }
    // Blue is 200 everywhere, whatever the resampling: (200/255 - 0.5) / 0.25.
    let blue = ((200.0 / 255.0 - 0.5) / 0.25) as f32;
    assert!((at(plain, 2, 3, 4) - blue).abs() < 1e-6);
    // Red grows to the right, so after the flip it falls.
    assert!(at(plain, 0, 0, 0) < at(plain, 0, 0, 7));
    assert!(at(flipped, 0, 0, 0) > at(flipped, 0, 0, 7));
}

#[test]
fn a_jpeg_goes_through_the_same_chain() {
    let jpeg = encode(&gradient(24, 18), ImageFormat::Jpeg);
    let out = chain(jpeg, "horizontal = 0.5");
    assert_eq!(tensor(&out).shape, vec![3, 6, 8]);
}

#[test]
fn random_crops_do_not_depend_on_the_replica_or_the_order() {
    let BuiltOp::Stage(factory) = build(
        &crop::DEF,
        "width = 4\nheight = 4\nposition = \"random\"\nseed = 11",
    )
    .unwrap() else {
        panic!("crop is a stage")
    };
    let items: Vec<Item> = (0..16)
        .map(|i| item(&format!("{i}.png"), Payload::Image(gradient(20, 10))))
        .collect();
    let crop_all = |items: Vec<Item>| -> Vec<Item> {
        let mut stage = factory.replica().unwrap();
        let mut out = Vec::new();
        for item in items {
            stage.process(item, &mut out).unwrap();
        }
        out
    };
    let in_order = crop_all(items.clone());
    // Two replicas on two threads, each with half the items, backwards.
    let (evens, odds): (Vec<_>, Vec<_>) = items.into_iter().rev().partition(|item| {
        item.get("path")
            .unwrap()
            .as_str()
            .unwrap()
            .trim_end_matches(".png")
            .parse::<u32>()
            .unwrap()
            % 2
            == 0
    });
    let (mut spread, more) = thread::scope(|s| {
        let a = s.spawn(|| crop_all(evens));
        let b = s.spawn(|| crop_all(odds));
        (a.join().unwrap(), b.join().unwrap())
    });
    spread.extend(more);
    let path = |item: &Item| item.get("path").unwrap().as_str().unwrap().to_string();
    spread.sort_by_key(|item| path(item));
    let mut in_order = in_order;
    in_order.sort_by_key(|item| path(item));
    assert_eq!(spread, in_order);
}
