//! Trace times: whole nanoseconds in memory, microseconds in the file.
//!
//! Chrome's trace event format wants `ts` and `dur` as numbers of
//! microseconds. A time is written as the `f64` nearest its nanoseconds over
//! 1000, which prints as that decimal (`123456789.123`, `0.001`, `250.0`),
//! and read back as the whole nanoseconds that decimal was written from.
//!
//! The decimal has at most three fractional digits, and its digits read as
//! one integer (the nanoseconds) stay below 2^53, so any JSON reader turns it
//! back into the very same `f64`: serde_json's fast default float parser too,
//! without the `float_roundtrip` feature (which cargo would turn on for every
//! crate in the build, slowing all their float parsing).
//!
//! Exact below [`EXACT_BELOW_NS`] (2^43 µs, about 101 days); past it an
//! `f64` of microseconds has no room for every nanosecond, and a time reads
//! back as the nearest one it has.

use serde::de::{Error, Unexpected};
use serde::{Deserialize, Deserializer, Serializer};

/// Times below this many nanoseconds read back exactly: up to 2^43 µs an
/// `f64` of microseconds is finer than a nanosecond.
pub(super) const EXACT_BELOW_NS: u64 = 1_000 << 43;

/// `nanos` in microseconds: the `f64` nearest `nanos / 1000`.
pub(super) fn micros_from_nanos(nanos: u64) -> f64 {
    nanos as f64 / 1_000.0
}

/// The whole nanoseconds that `micros` microseconds were written from: the
/// `nanos` with `micros_from_nanos(nanos) == micros` (there is one for every
/// time written below [`EXACT_BELOW_NS`]), else the nearest.
///
/// `None` for a negative, infinite or NaN time, or one past `u64::MAX`
/// nanoseconds.
fn nanos_from_micros(micros: f64) -> Option<u64> {
    let nearest = (micros * 1_000.0).round();
    // `u64::MAX as f64` is 2^64: the range holds every u64 and no NaN.
    if !(0.0..u64::MAX as f64).contains(&nearest) {
        return None;
    }
    let nearest = nearest as u64;
    if nearest >= EXACT_BELOW_NS {
        return Some(nearest);
    }
    // The multiplication rounds as well: between 2^42 µs and 2^52 ns it can
    // land a nanosecond off, so take the neighbour that writes back as `micros`.
    let written_from = [nearest, nearest.saturating_sub(1), nearest + 1]
        .into_iter()
        .find(|&nanos| micros_from_nanos(nanos) == micros);
    Some(written_from.unwrap_or(nearest))
}

/// What a time in the file must be.
const EXPECTED: &str = "a time in microseconds, at least 0 and below 2^64 ns";

/// Writes nanoseconds as microseconds (`#[serde(with = "micros")]`).
pub(super) fn serialize<S: Serializer>(nanos: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(micros_from_nanos(*nanos))
}

/// Reads microseconds back into whole nanoseconds.
pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let micros = f64::deserialize(deserializer)?;
    nanos_from_micros(micros)
        .ok_or_else(|| D::Error::invalid_value(Unexpected::Float(micros), &EXPECTED))
}

/// The same for an optional time (`#[serde(with = "micros::option")]`).
pub(super) mod option {
    use super::*;

    /// Writes `Some` nanoseconds as microseconds, `None` as `null`.
    pub(in crate::trace) fn serialize<S: Serializer>(
        nanos: &Option<u64>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match nanos {
            Some(nanos) => serializer.serialize_some(&micros_from_nanos(*nanos)),
            None => serializer.serialize_none(),
        }
    }

    /// Reads optional microseconds back into whole nanoseconds.
    pub(in crate::trace) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<u64>, D::Error> {
        Option::<f64>::deserialize(deserializer)?
            .map(|micros| {
                nanos_from_micros(micros)
                    .ok_or_else(|| D::Error::invalid_value(Unexpected::Float(micros), &EXPECTED))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Awkward times: the smallest, ones whose microseconds have no exact
    /// `f64`, ones that `(micros * 1000.0) as u64` truncates a nanosecond
    /// short, ones that `(micros * 1000.0).round()` lands a nanosecond off
    /// (between 2^42 µs and 2^52 ns), and the edge of the exact range.
    const AWKWARD_NS: [u64; 12] = [
        0,
        1,
        999,
        1_001,
        123_456_789_123,
        1_000_000_001,
        4_499_530_803_393_276,
        4_452_082_885_084_444,
        (1_000 << 42) + 1,
        (1 << 52) - 1,
        EXACT_BELOW_NS - 1,
        EXACT_BELOW_NS - 999,
    ];

    /// A small, fixed pseudo-random sequence (xorshift64), so a failure
    /// repeats.
    fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// `nanos` as the decimal it should be written as: its microseconds with
    /// at most three fractional digits (and `.0` for a whole number, as
    /// serde_json prints a whole `f64`).
    fn decimal(nanos: u64) -> String {
        let fraction = format!("{:03}", nanos % 1_000);
        match fraction.trim_end_matches('0') {
            "" => format!("{}.0", nanos / 1_000),
            digits => format!("{}.{digits}", nanos / 1_000),
        }
    }

    /// Writes `nanos` through serde_json and reads it back, checking the text
    /// on the way.
    fn through_json(nanos: u64) -> u64 {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct Time(#[serde(with = "super")] u64);
        let json = serde_json::to_string(&Time(nanos)).unwrap();
        assert_eq!(json, decimal(nanos), "{nanos} ns");
        serde_json::from_str::<Time>(&json).unwrap().0
    }

    #[test]
    fn awkward_times_are_written_as_their_decimal_and_read_back_exactly() {
        for nanos in AWKWARD_NS {
            assert_eq!(through_json(nanos), nanos);
        }
    }

    #[test]
    fn times_across_the_exact_range_read_back_exactly() {
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
        // Every scale from nanoseconds to the edge of the range, and many in
        // the window where the multiplication alone rounds wrong.
        for _ in 0..200_000 {
            let bits = 1 + next() % 63;
            let nanos = (next() >> (64 - bits)) % EXACT_BELOW_NS;
            assert_eq!(through_json(nanos), nanos);
        }
        let window = (1_000 << 42)..(1 << 52);
        for _ in 0..200_000 {
            let nanos = window.start + next() % (window.end - window.start);
            assert_eq!(through_json(nanos), nanos);
        }
    }

    #[test]
    fn times_past_the_exact_range_read_back_nearly() {
        for nanos in [EXACT_BELOW_NS, EXACT_BELOW_NS * 3 + 7, u64::MAX / 3] {
            let back = nanos_from_micros(micros_from_nanos(nanos)).unwrap();
            let error = back.abs_diff(nanos) as f64 / nanos as f64;
            assert!(error < 1e-15, "{nanos} ns read back as {back}");
        }
    }

    #[test]
    fn times_written_by_other_tools_are_read_to_the_nearest_nanosecond() {
        #[derive(serde::Deserialize)]
        struct Times {
            #[serde(with = "super")]
            ts: u64,
            #[serde(default, with = "option")]
            dur: Option<u64>,
        }
        let read = |json: &str| serde_json::from_str::<Times>(json).map(|t| (t.ts, t.dur));
        assert_eq!(
            read(r#"{"ts": 250, "dur": 2000}"#).unwrap(),
            (250_000, Some(2_000_000))
        );
        assert_eq!(read(r#"{"ts": 1.2346}"#).unwrap(), (1_235, None));
        assert_eq!(read(r#"{"ts": 0, "dur": null}"#).unwrap(), (0, None));
        for bad in [r#"{"ts": -1}"#, r#"{"ts": 1e300}"#, r#"{"ts": "5"}"#] {
            assert!(read(bad).is_err(), "{bad} was read");
        }
        let message = read(r#"{"ts": -1.5}"#).unwrap_err().to_string();
        assert!(message.contains("at least 0"), "{message}");
    }
}
