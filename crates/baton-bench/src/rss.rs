//! Peak resident set size of this process, from Linux's `/proc`.
//!
//! The kernel's high-water mark (`VmHWM`) covers the whole life of the
//! process, which is why the binary runs each benchmark run in a process of
//! its own.

use std::fs;
use std::io;

/// Where Linux reports this process's memory figures.
const STATUS_PATH: &str = "/proc/self/status";

/// This process's peak resident set size so far, in MiB.
///
/// # Errors
///
/// Fails when `/proc/self/status` cannot be read (not Linux, or no procfs)
/// or holds no readable `VmHWM` line.
///
/// # Examples
///
/// ```
/// use baton_bench::rss::peak_rss_mb;
///
/// if cfg!(target_os = "linux") {
///     assert!(peak_rss_mb().unwrap() > 0.0);
/// }
/// ```
pub fn peak_rss_mb() -> io::Result<f64> {
    let status = fs::read_to_string(STATUS_PATH)?;
    let kib = parse_vm_hwm_kib(&status).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("no readable VmHWM line in {STATUS_PATH}"),
        )
    })?;
    Ok(kib as f64 / 1024.0)
}

/// The `VmHWM` figure (in KiB) of a `/proc/<pid>/status` text, if present.
///
/// # Examples
///
/// ```
/// use baton_bench::rss::parse_vm_hwm_kib;
///
/// let status = "Name:\tbaton-bench\nVmHWM:\t   12800 kB\nVmRSS:\t 12000 kB\n";
/// assert_eq!(parse_vm_hwm_kib(status), Some(12_800));
/// ```
pub fn parse_vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?;
    let figure = line.trim().strip_suffix("kB")?;
    figure.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_malformed_lines_give_none() {
        assert_eq!(parse_vm_hwm_kib("VmRSS:\t 10 kB\n"), None);
        assert_eq!(parse_vm_hwm_kib("VmHWM:\t lots kB\n"), None);
        assert_eq!(parse_vm_hwm_kib(""), None);
    }

    #[test]
    fn this_process_has_a_positive_peak() {
        let peak = peak_rss_mb().expect("tests run on Linux with /proc");
        assert!(peak > 0.0);
    }
}
