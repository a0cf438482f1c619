//! The JSON line each run prints.

use serde::{Deserialize, Serialize};

use crate::checksum::format_checksum;
use crate::run::Implementation;
use crate::workload::Workload;

/// What one run measured, before it is rounded for the report.
///
/// # Examples
///
/// ```
/// use baton_bench::report::{Measurement, RunReport};
/// use baton_bench::run::Implementation;
/// use baton_bench::workload::Workload;
///
/// let measurement = Measurement {
///     workload: Workload::W1,
///     implementation: Implementation::Sequential,
///     items: 1_000,
///     cores: 1,
///     t_iter_ns: 1.0,
///     seconds: 0.5,
///     peak_rss_mb: 3.0,
///     checksum: 255,
/// };
/// assert_eq!(RunReport::from_measurement(&measurement).items_per_s, 2_000);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// The workload that ran.
    pub workload: Workload,
    /// The implementation that ran it.
    pub implementation: Implementation,
    /// Number of items the source emitted.
    pub items: u64,
    /// Cores the run was given (`--threads`); the ideal throughput uses it.
    pub cores: usize,
    /// Nanoseconds per spin iteration, measured at the start of the run.
    pub t_iter_ns: f64,
    /// Wall-clock seconds from building the pipeline to its checksum.
    pub seconds: f64,
    /// Peak resident set size of the run's process, in MiB.
    pub peak_rss_mb: f64,
    /// The sink's checksum.
    pub checksum: u64,
}

/// One run's report line, with exactly the fields of WORKLOADS.md in its
/// order.
///
/// # Examples
///
/// ```
/// use baton_bench::report::{Measurement, RunReport};
/// use baton_bench::run::Implementation;
/// use baton_bench::workload::Workload;
///
/// let report = RunReport::from_measurement(&Measurement {
///     workload: Workload::W5,
///     implementation: Implementation::Baton,
///     items: 10,
///     cores: 2,
///     t_iter_ns: 1.0,
///     seconds: 1.0,
///     peak_rss_mb: 3.0,
///     checksum: 255,
/// });
/// assert_eq!(report.n, 10);
/// assert_eq!(report.checksum, "0x00000000000000ff");
/// assert_eq!(report.efficiency, None); // W5 has no ideal throughput
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunReport {
    /// The workload's id, `"W1"` … `"W7"`.
    pub workload: Workload,
    /// The implementation, `"baton"` or `"sequential"`.
    #[serde(rename = "impl")]
    pub implementation: Implementation,
    /// Number of items.
    pub n: u64,
    /// Cores the run was given.
    pub p: usize,
    /// Nanoseconds per spin iteration.
    pub t_iter_ns: f64,
    /// Wall-clock seconds of the run.
    pub seconds: f64,
    /// Measured throughput.
    pub items_per_s: u64,
    /// Ideal throughput with `p` cores; `null` for W1 and W5.
    pub ideal_items_per_s: Option<u64>,
    /// Measured over ideal throughput; `null` where there is no ideal.
    pub efficiency: Option<f64>,
    /// Peak RSS of the run's process, in MiB.
    pub peak_rss_mb: f64,
    /// The sink's checksum: `0x` and 16 lowercase hex digits.
    pub checksum: String,
}

impl RunReport {
    /// Derives the report from a measurement: throughputs, efficiency, and
    /// figures rounded to what is worth printing.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_bench::report::{Measurement, RunReport};
    /// use baton_bench::run::Implementation;
    /// use baton_bench::workload::Workload;
    ///
    /// let report = RunReport::from_measurement(&Measurement {
    ///     workload: Workload::W2,
    ///     implementation: Implementation::Baton,
    ///     items: 1_000,
    ///     cores: 2,
    ///     t_iter_ns: 1.0,
    ///     seconds: 0.01,
    ///     peak_rss_mb: 3.04,
    ///     checksum: 0,
    /// });
    /// // 100,000 items/s against an ideal of 2 / (6,000 ns) = 333,333 items/s.
    /// assert_eq!(report.items_per_s, 100_000);
    /// assert_eq!(report.ideal_items_per_s, Some(333_333));
    /// assert_eq!(report.efficiency, Some(0.3));
    /// assert_eq!(report.peak_rss_mb, 3.0);
    /// ```
    pub fn from_measurement(measurement: &Measurement) -> Self {
        let items_per_s = measurement.items as f64 / measurement.seconds;
        let ideal = measurement
            .workload
            .ideal_items_per_s(measurement.cores, measurement.t_iter_ns);
        RunReport {
            workload: measurement.workload,
            implementation: measurement.implementation,
            n: measurement.items,
            p: measurement.cores,
            t_iter_ns: round_to(measurement.t_iter_ns, 4),
            seconds: round_to(measurement.seconds, 9),
            items_per_s: items_per_s.round() as u64,
            ideal_items_per_s: ideal.map(|ideal| ideal.round() as u64),
            efficiency: ideal.map(|ideal| round_to(items_per_s / ideal, 4)),
            peak_rss_mb: round_to(measurement.peak_rss_mb, 1),
            checksum: format_checksum(measurement.checksum),
        }
    }

    /// The report as one line of JSON, without a trailing newline.
    ///
    /// # Errors
    ///
    /// Fails only if serde_json cannot serialise the report.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_bench::report::{Measurement, RunReport};
    /// use baton_bench::run::Implementation;
    /// use baton_bench::workload::Workload;
    ///
    /// let report = RunReport::from_measurement(&Measurement {
    ///     workload: Workload::W1,
    ///     implementation: Implementation::Sequential,
    ///     items: 10,
    ///     cores: 1,
    ///     t_iter_ns: 1.0,
    ///     seconds: 1.0,
    ///     peak_rss_mb: 3.0,
    ///     checksum: 0,
    /// });
    /// let line = report.to_json_line().unwrap();
    /// assert!(line.starts_with(r#"{"workload":"W1","impl":"sequential","n":10,"#));
    /// assert!(!line.ends_with('\n'));
    /// ```
    pub fn to_json_line(&self) -> serde_json::Result<String> {
        serde_json::to_string(self)
    }
}

/// `value` rounded to `decimals` decimal places.
fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: [&str; 11] = [
        "workload",
        "impl",
        "n",
        "p",
        "t_iter_ns",
        "seconds",
        "items_per_s",
        "ideal_items_per_s",
        "efficiency",
        "peak_rss_mb",
        "checksum",
    ];

    fn measurement(workload: Workload) -> Measurement {
        Measurement {
            workload,
            implementation: Implementation::Baton,
            items: 200_000,
            cores: 2,
            t_iter_ns: 1.02,
            seconds: 2.61,
            peak_rss_mb: 12.5,
            checksum: 0xDEAD_BEEF,
        }
    }

    fn json_line(workload: Workload) -> String {
        RunReport::from_measurement(&measurement(workload))
            .to_json_line()
            .unwrap()
    }

    /// The line's keys in order; serde_json's map keeps insertion order only
    /// with a feature, so the keys are read off the text itself.
    fn keys_in_order(line: &str) -> Vec<String> {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let object = value.as_object().unwrap();
        let mut keys: Vec<(usize, String)> = object
            .keys()
            .map(|key| (line.find(&format!("\"{key}\":")).unwrap(), key.clone()))
            .collect();
        keys.sort();
        keys.into_iter().map(|(_, key)| key).collect()
    }

    #[test]
    fn line_has_exactly_the_fields_in_order() {
        for workload in Workload::ALL {
            let line = json_line(workload);
            assert!(!line.contains('\n'));
            assert_eq!(keys_in_order(&line), FIELDS, "{line}");
        }
    }

    #[test]
    fn line_carries_the_values() {
        let line = json_line(Workload::W2);
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["workload"], "W2");
        assert_eq!(value["impl"], "baton");
        assert_eq!(value["n"], 200_000);
        assert_eq!(value["p"], 2);
        assert_eq!(value["t_iter_ns"], 1.02);
        assert_eq!(value["seconds"], 2.61);
        assert_eq!(value["items_per_s"], 76_628);
        // 2 / (6,000 · 1.02 ns)
        assert_eq!(value["ideal_items_per_s"], 326_797);
        assert_eq!(value["efficiency"], 0.2345);
        assert_eq!(value["peak_rss_mb"], 12.5);
        assert_eq!(value["checksum"], "0x00000000deadbeef");
    }

    #[test]
    fn workloads_without_an_ideal_report_null() {
        for workload in [Workload::W1, Workload::W5] {
            let value: serde_json::Value = serde_json::from_str(&json_line(workload)).unwrap();
            assert!(value["ideal_items_per_s"].is_null());
            assert!(value["efficiency"].is_null());
        }
    }

    #[test]
    fn line_parses_back_into_a_report() {
        let report = RunReport::from_measurement(&measurement(Workload::W6));
        let parsed: RunReport = serde_json::from_str(&report.to_json_line().unwrap()).unwrap();
        assert_eq!(parsed, report);
    }
}
