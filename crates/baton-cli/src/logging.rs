//! Logging: the libraries' `tracing` events (an `exec` worker's stderr,
//! what a Rhai script prints, warnings) on stderr, above the live view's
//! bars so that a redraw does not overwrite them. `-v` shows more, `-vv`
//! everything; `RUST_LOG` (as `tracing-subscriber` reads it) decides
//! instead when it is set.

use std::io::Write;

use tracing_subscriber::EnvFilter;

/// Starts showing log events, as `-v` was given `verbose` times.
pub(crate) fn init(verbose: u8) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(match verbose {
            0 => "warn,baton=info",
            1 => "info,baton=debug",
            _ => "debug,baton=trace",
        })
    });
    let detailed = verbose > 0 || std::env::var_os("RUST_LOG").is_some();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| NoticeWriter(Vec::new()))
        .without_time()
        .with_target(detailed)
        .with_level(detailed)
        .with_ansi(false)
        .try_init();
}

/// Collects one event's text and shows it, line by line, as a notice.
struct NoticeWriter(Vec<u8>);

impl Write for NoticeWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for NoticeWriter {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.0);
        for line in text.lines() {
            crate::commands::notices().print(line);
        }
    }
}
