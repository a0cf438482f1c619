//! The sink's checksum: every workload folds its items, in source order,
//! into `c = c.rotate_left(5) ^ v`, starting from 0.
//!
//! The fold is order-sensitive, so a missing, duplicated or reordered item
//! changes the result.

/// The checksum before any item has been folded in.
///
/// # Examples
///
/// ```
/// use baton_bench::checksum::{checksum_of, INITIAL_CHECKSUM};
///
/// assert_eq!(checksum_of([]), INITIAL_CHECKSUM);
/// ```
pub const INITIAL_CHECKSUM: u64 = 0;

/// Folds one item's value into the running checksum.
///
/// # Examples
///
/// ```
/// use baton_bench::checksum::fold_checksum;
///
/// assert_eq!(fold_checksum(0, 7), 7);
/// assert_eq!(fold_checksum(1, 2), 32 ^ 2);
/// ```
#[inline]
pub fn fold_checksum(checksum: u64, value: u64) -> u64 {
    checksum.rotate_left(5) ^ value
}

/// The checksum of a whole sequence of item values, in the order given.
///
/// # Examples
///
/// ```
/// use baton_bench::checksum::checksum_of;
///
/// // ((1 rotl 5) ^ 2) rotl 5 ^ 3 = (34 << 5) ^ 3
/// assert_eq!(checksum_of([1, 2, 3]), 1091);
/// ```
pub fn checksum_of(values: impl IntoIterator<Item = u64>) -> u64 {
    values.into_iter().fold(INITIAL_CHECKSUM, fold_checksum)
}

/// Formats a checksum as the report shows it: `0x` and 16 lowercase hex
/// digits.
///
/// # Examples
///
/// ```
/// use baton_bench::checksum::format_checksum;
///
/// assert_eq!(format_checksum(255), "0x00000000000000ff");
/// ```
pub fn format_checksum(checksum: u64) -> String {
    format!("0x{checksum:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_sequence_has_the_initial_checksum() {
        assert_eq!(checksum_of([]), 0);
    }

    #[test]
    fn small_sequences_match_hand_computation() {
        assert_eq!(checksum_of([1]), 1);
        // (1 rotl 5) ^ 2 = 32 ^ 2 = 34
        assert_eq!(checksum_of([1, 2]), 34);
        // (34 rotl 5) ^ 3 = 1088 ^ 3 = 1091
        assert_eq!(checksum_of([1, 2, 3]), 1091);
    }

    #[test]
    fn rotation_wraps_the_high_bits_around() {
        // The top bit rotated left by 5 lands on bit 4.
        assert_eq!(fold_checksum(1 << 63, 0), 1 << 4);
        assert_eq!(fold_checksum(u64::MAX, 0), u64::MAX);
    }

    #[test]
    fn order_matters() {
        assert_ne!(checksum_of([1, 2, 3]), checksum_of([1, 3, 2]));
    }

    #[test]
    fn formats_as_sixteen_lowercase_hex_digits() {
        assert_eq!(format_checksum(0), "0x0000000000000000");
        assert_eq!(format_checksum(u64::MAX), "0xffffffffffffffff");
        assert_eq!(format_checksum(0xABCDEF), "0x0000000000abcdef");
    }
}
