//! Quantities as people read them: durations, rates, counts, shares.

/// A duration given in seconds: `87.2 ms`, `1.52 s`, `340 µs`.
pub(crate) fn duration(seconds: f64) -> String {
    let s = seconds.abs();
    if s == 0.0 {
        "0 s".to_string()
    } else if s >= 100.0 {
        format!("{seconds:.0} s")
    } else if s >= 1.0 {
        format!("{seconds:.2} s")
    } else if s >= 1e-3 {
        format!("{} ms", three_digits(seconds * 1e3))
    } else if s >= 1e-6 {
        format!("{} µs", three_digits(seconds * 1e6))
    } else {
        format!("{:.0} ns", seconds * 1e9)
    }
}

/// A rate in items per second, with a unit prefix: `473.8`, `12.3 k`, `1.20 M`,
/// or `unbounded`.
pub(crate) fn rate(items_per_s: Option<f64>) -> String {
    match items_per_s {
        None => "unbounded".to_string(),
        Some(r) if !r.is_finite() => "unbounded".to_string(),
        Some(0.0) => "0".to_string(),
        Some(r) if r >= 1e9 => format!("{:.2} G", r / 1e9),
        Some(r) if r >= 1e6 => format!("{:.2} M", r / 1e6),
        Some(r) if r >= 1e3 => format!("{:.1} k", r / 1e3),
        Some(r) => format!("{r:.1}"),
    }
}

/// A count with thousands separators: `100,000`.
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A share, 0 to 1, as a whole percentage: `95%`.
pub(crate) fn percent(share: f64) -> String {
    if share > 0.0 && share < 0.005 {
        "<1%".to_string()
    } else {
        format!("{:.0}%", share * 100.0)
    }
}

/// A number with three significant digits, at most two decimals.
fn three_digits(value: f64) -> String {
    let v = value.abs();
    if v >= 100.0 {
        format!("{value:.0}")
    } else if v >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// A round step (1, 2 or 5 times a power of ten) that cuts `span` into
/// about `ticks` parts.
pub(crate) fn nice_step(span: f64, ticks: usize) -> f64 {
    if span <= 0.0 || !span.is_finite() {
        return 1.0;
    }
    let raw = span / ticks.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    // The round number closest to the raw step (on a log scale, roughly).
    let nice = if fraction < 1.5 {
        1.0
    } else if fraction < 3.0 {
        2.0
    } else if fraction < 7.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// A time-axis label for `seconds` on an axis that reaches `axis_end`
/// seconds with ticks `step` apart: the unit suits the axis's end, the
/// decimals suit the step (`77.580 ms`, not `77580 µs`).
pub(crate) fn tick_label(seconds: f64, step: f64, axis_end: f64) -> String {
    let end = axis_end.abs();
    let (scale, unit) = if end >= 1.0 {
        (1.0, "s")
    } else if end >= 1e-3 {
        (1e3, "ms")
    } else if end >= 1e-6 {
        (1e6, "µs")
    } else {
        (1e9, "ns")
    };
    let scaled_step = step * scale;
    let decimals = if scaled_step >= 1.0 {
        0
    } else {
        (-scaled_step.log10() - 1e-9).ceil() as usize
    };
    format!("{:.*} {unit}", decimals, seconds * scale)
}

/// Bytes as people read them: `977 KiB`, `163 MiB`, `4.0 GiB`.
pub(crate) fn bytes(bytes: f64) -> String {
    const KIB: f64 = 1024.0;
    match bytes {
        b if b >= KIB * KIB * KIB => format!("{:.1} GiB", b / (KIB * KIB * KIB)),
        b if b >= KIB * KIB => format!("{:.0} MiB", b / (KIB * KIB)),
        b if b >= KIB => format!("{:.0} KiB", b / KIB),
        b => format!("{b:.0} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_pick_their_unit() {
        assert_eq!(duration(0.0872), "87.2 ms");
        assert_eq!(duration(1.523), "1.52 s");
        assert_eq!(duration(340e-6), "340 µs");
        assert_eq!(duration(120e-9), "120 ns");
    }

    #[test]
    fn rates_and_counts() {
        assert_eq!(rate(Some(473.84)), "473.8");
        assert_eq!(rate(Some(12_345.0)), "12.3 k");
        assert_eq!(rate(None), "unbounded");
        assert_eq!(count(100_000), "100,000");
        assert_eq!(count(999), "999");
        assert_eq!(percent(0.951), "95%");
        assert_eq!(percent(0.001), "<1%");
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(nice_step(0.087, 8), 0.01);
        assert_eq!(nice_step(3.0, 8), 0.5);
        assert_eq!(tick_label(0.02, 0.01, 0.087), "20 ms");
        assert_eq!(tick_label(1.5, 0.5, 3.0), "1.5 s");
        assert_eq!(tick_label(0.0005, 0.0001, 0.001), "0.5 ms");
        assert_eq!(tick_label(0.00002, 0.00001, 0.0001), "20 µs");
        assert_eq!(tick_label(0.07758, 0.000005, 0.0776), "77.580 ms");
    }
}
