//! The random generator of one item in `crop` and `flip`.
//!
//! A replica sees an arbitrary subset of the items, in an arbitrary order,
//! so a generator per replica would make results depend on scheduling.
//! Instead each item gets its own generator, seeded from three things:
//!
//! - the stage's `seed` parameter,
//! - the stage's name (`crop`, `flip`), so two stages with the same seed do
//!   not make correlated choices,
//! - the item's record: its fields as JSON (which include `path` when the
//!   source is files, `width`/`height` after `image_decode`, and so on).
//!
//! The same seed and the same record give the same choice on any machine,
//! replica or thread. Items with identical records get identical choices;
//! to vary the choices between epochs, change `seed` (or add a field such as
//! `epoch` upstream).

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::item::Item;

/// The generator for `item` in the stage `stage` with seed `seed`.
pub(super) fn item_rng(seed: u64, stage: &str, item: &Item) -> ChaCha8Rng {
    // Serialising a map of JSON values cannot fail.
    let record = serde_json::to_vec(&item.fields).unwrap_or_default();
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&fnv1a(stage.as_bytes()).to_le_bytes());
    key[16..24].copy_from_slice(&fnv1a(&record).to_le_bytes());
    key[24..].copy_from_slice(&(record.len() as u64).to_le_bytes());
    ChaCha8Rng::from_seed(key)
}

/// FNV-1a, 64 bits: fixed by its specification, so the same on every
/// platform and release (std's `DefaultHasher` promises neither).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn the_same_record_and_seed_give_the_same_numbers() {
        let item = Item::with_field("path", "a.png");
        let a: u64 = item_rng(7, "crop", &item).gen();
        let b: u64 = item_rng(7, "crop", &item.clone()).gen();
        assert_eq!(a, b);
    }

    #[test]
    fn seed_stage_and_record_each_change_the_numbers() {
        let item = Item::with_field("path", "a.png");
        let base: u64 = item_rng(7, "crop", &item).gen();
        assert_ne!(base, item_rng(8, "crop", &item).gen::<u64>());
        assert_ne!(base, item_rng(7, "flip", &item).gen::<u64>());
        let other = Item::with_field("path", "b.png");
        assert_ne!(base, item_rng(7, "crop", &other).gen::<u64>());
    }

    #[test]
    fn fnv1a_matches_its_specification() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
