//! The seven reference workloads: their names, default sizes and ideal
//! throughputs.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One of the reference workloads of WORKLOADS.md.
///
/// Every workload has a serial source emitting items `0..n`, its own
/// stages (see [`crate::stages`]), and a serial in-order sink folding the
/// values into a checksum.
///
/// # Examples
///
/// ```
/// use baton_bench::workload::Workload;
///
/// assert_eq!(Workload::W3.to_string(), "W3");
/// assert_eq!(serde_json::to_string(&Workload::W4).unwrap(), "\"W4\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Workload {
    /// Engine overhead: parallel `v+1` → parallel `v*2`.
    W1,
    /// Balanced: three parallel stages spinning 2,000 each.
    W2,
    /// Serial bottleneck: serial in-order spin 5,000 → parallel spin 3,000.
    W3,
    /// Latency overlap: blocking fetch (1 ms sleep, spin 500) → parallel
    /// spin 50,000.
    W4,
    /// Memory bound: the source emits 1 MiB buffers → parallel byte sum.
    W5,
    /// Stragglers: parallel spin 2,000, but 100,000 for every 100th item.
    W6,
    /// Phase change: parallel "work" spinning 4,000 on the first half of
    /// the items, sleeping 200 µs then spinning 200 on the second half →
    /// parallel spin 2,000.
    W7,
}

impl Workload {
    /// Every workload, in report order.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_bench::workload::Workload;
    ///
    /// assert_eq!(Workload::ALL.len(), 7);
    /// assert_eq!(Workload::ALL[0], Workload::W1);
    /// ```
    pub const ALL: [Workload; 7] = [
        Workload::W1,
        Workload::W2,
        Workload::W3,
        Workload::W4,
        Workload::W5,
        Workload::W6,
        Workload::W7,
    ];

    /// The workload's id as reports show it (`"W1"` … `"W7"`).
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_bench::workload::Workload;
    ///
    /// assert_eq!(Workload::W6.id(), "W6");
    /// ```
    pub fn id(self) -> &'static str {
        match self {
            Workload::W1 => "W1",
            Workload::W2 => "W2",
            Workload::W3 => "W3",
            Workload::W4 => "W4",
            Workload::W5 => "W5",
            Workload::W6 => "W6",
            Workload::W7 => "W7",
        }
    }

    /// The number of items `N` the workload's source emits unless told
    /// otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_bench::workload::Workload;
    ///
    /// assert_eq!(Workload::W4.default_items(), 40_000);
    /// ```
    pub fn default_items(self) -> u64 {
        match self {
            Workload::W1 => 10_000_000,
            Workload::W2 | Workload::W3 | Workload::W6 => 200_000,
            Workload::W4 => 40_000,
            Workload::W5 => 5_000,
            Workload::W7 => 100_000,
        }
    }

    /// The throughput (items/s) a perfect engine would reach with `cores`
    /// cores when one spin iteration takes `t_iter_ns` nanoseconds, or
    /// `None` for the workloads that have no ideal (W1 and W5).
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_bench::workload::Workload;
    ///
    /// // W2: P / (6,000 · t_iter)
    /// let ideal = Workload::W2.ideal_items_per_s(2, 1.0).unwrap();
    /// assert!((ideal - 2.0 / 6_000e-9).abs() < 1e-6);
    /// assert_eq!(Workload::W1.ideal_items_per_s(2, 1.0), None);
    /// ```
    pub fn ideal_items_per_s(self, cores: usize, t_iter_ns: f64) -> Option<f64> {
        let cores = cores as f64;
        let t_iter = t_iter_ns * 1e-9;
        match self {
            Workload::W1 | Workload::W5 => None,
            Workload::W2 => Some(cores / (6_000.0 * t_iter)),
            Workload::W3 => Some((1.0 / (5_000.0 * t_iter)).min(cores / (8_000.0 * t_iter))),
            Workload::W4 => Some(cores / (50_500.0 * t_iter)),
            Workload::W6 => Some(cores / (2_980.0 * t_iter)),
            // Half the items at 4,000 + 2,000, half at 200 + 2,000 (the
            // sleep costs no CPU).
            Workload::W7 => Some(cores / (4_100.0 * t_iter)),
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs()
    }

    #[test]
    fn ideal_throughputs_follow_the_formulas() {
        let t_iter_ns = 2.0;
        let t = 2e-9;
        let ideal = |w: Workload, p| w.ideal_items_per_s(p, t_iter_ns);
        assert_eq!(ideal(Workload::W1, 4), None);
        assert_eq!(ideal(Workload::W5, 4), None);
        assert!(close(ideal(Workload::W2, 4).unwrap(), 4.0 / (6_000.0 * t)));
        assert!(close(ideal(Workload::W4, 4).unwrap(), 4.0 / (50_500.0 * t)));
        assert!(close(ideal(Workload::W6, 4).unwrap(), 4.0 / (2_980.0 * t)));
        // W7: N / ((N/2)·6,000·t/P + (N/2)·2,200·t/P).
        let n = 100_000.0;
        let w7 = n / ((n / 2.0) * 6_000.0 * t / 4.0 + (n / 2.0) * 2_200.0 * t / 4.0);
        assert!(close(ideal(Workload::W7, 4).unwrap(), w7));
        // W3 is bound by its serial stage from P = 2 on (8,000 / 5,000 < 2).
        assert!(close(ideal(Workload::W3, 1).unwrap(), 1.0 / (8_000.0 * t)));
        assert!(close(ideal(Workload::W3, 2).unwrap(), 1.0 / (5_000.0 * t)));
        assert!(close(ideal(Workload::W3, 8).unwrap(), 1.0 / (5_000.0 * t)));
    }

    #[test]
    fn default_sizes_match_the_table() {
        let sizes: Vec<u64> = Workload::ALL.iter().map(|w| w.default_items()).collect();
        assert_eq!(
            sizes,
            [10_000_000, 200_000, 200_000, 40_000, 5_000, 200_000, 100_000]
        );
    }

    #[test]
    fn ids_are_the_variant_names() {
        for w in Workload::ALL {
            assert_eq!(w.to_string(), format!("{w:?}"));
            assert_eq!(serde_json::to_string(&w).unwrap(), format!("\"{w:?}\""));
        }
    }
}
