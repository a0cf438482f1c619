//! The page as a person sees it: Chromium renders it headless to a PNG, and
//! the test looks at the pixels.
//!
//! Needs Debian's Chromium (`apt-get install -y chromium`); without it the
//! test fails, unless `BATON_SKIP_BROWSER_TESTS=1` is set. `BATON_CHROMIUM`
//! may name another binary.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use baton_report::{item_colour, render_html};
use common::{bottling_trace, output_dir, watchdog, BOTTLES, LIMIT};
use image::RgbImage;

const WIDTH: u32 = 1400;
const HEIGHT: u32 = 1000;

/// How long Chromium may take to start, render and save.
const BROWSER_LIMIT: Duration = Duration::from_secs(90);

/// The browser to use, or `None` when the browser tests are to be skipped.
///
/// # Panics
///
/// When there is no Chromium and skipping was not asked for.
fn chromium() -> Option<PathBuf> {
    if std::env::var("BATON_SKIP_BROWSER_TESTS").as_deref() == Ok("1") {
        eprintln!("BATON_SKIP_BROWSER_TESTS=1: skipping the headless-browser test");
        return None;
    }
    if let Some(path) = std::env::var_os("BATON_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    panic!(
        "Chromium is not installed, and this test needs it to look at the report as a person would. \
         Install it with `apt-get update && apt-get install -y chromium` (Debian), point BATON_CHROMIUM at \
         a Chromium binary, or set BATON_SKIP_BROWSER_TESTS=1 to skip this test."
    );
}

/// Renders `page` with headless Chromium into a `WIDTH` x `HEIGHT` PNG at `png`.
fn screenshot(browser: &Path, page: &Path, png: &Path) {
    let profile = tempfile::tempdir().expect("cannot make a browser profile folder");
    let _ = std::fs::remove_file(png);
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--window-size={WIDTH},{HEIGHT}"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", browser.display()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("cannot wait for Chromium") {
            break status;
        }
        if started.elapsed() > BROWSER_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("Chromium did not finish the screenshot within {BROWSER_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = child
        .wait_with_output()
        .expect("cannot read Chromium's output");
    assert!(
        status.success() && png.is_file(),
        "Chromium failed ({status}) to screenshot {}:\n{}",
        page.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Where one item's colour shows up in one stripe of rows: a bar, as seen.
#[derive(Debug, Clone, Copy)]
struct Patch {
    top: u32,
    bottom: u32,
    left: u32,
    right: u32,
    pixels: u32,
}

impl Patch {
    fn overlaps_in_x(&self, other: &Patch) -> bool {
        self.left < other.right && other.left < self.right
    }
}

fn close(pixel: &image::Rgb<u8>, colour: [u8; 3]) -> bool {
    pixel.0.iter().zip(colour).all(|(a, b)| a.abs_diff(b) <= 2)
}

/// The patches of `colour`: stripes of consecutive rows that each hold at
/// least a few pixels of it. Thin slivers (the source and sink, which take
/// no time) are left out by `min_pixels`.
fn patches(shot: &RgbImage, colour: [u8; 3], min_pixels: u32) -> Vec<Patch> {
    let mut found = Vec::new();
    let mut current: Option<Patch> = None;
    for y in 0..shot.height() {
        let xs: Vec<u32> = (0..shot.width())
            .filter(|&x| close(shot.get_pixel(x, y), colour))
            .collect();
        if xs.len() >= 3 {
            let (left, right) = (xs[0], xs[xs.len() - 1] + 1);
            current = Some(match current {
                Some(p) => Patch {
                    bottom: y + 1,
                    left: p.left.min(left),
                    right: p.right.max(right),
                    pixels: p.pixels + xs.len() as u32,
                    ..p
                },
                None => Patch {
                    top: y,
                    bottom: y + 1,
                    left,
                    right,
                    pixels: xs.len() as u32,
                },
            });
        } else if let Some(p) = current.take() {
            found.push(p);
        }
    }
    found.extend(current);
    found.retain(|p| p.pixels >= min_pixels);
    found
}

#[test]
fn a_person_sees_the_stages_overlap() {
    let Some(browser) = chromium() else { return };
    watchdog(LIMIT, move || {
        let dir = output_dir();
        let page = dir.join("bottling.html");
        let png = dir.join("bottling.png");
        let trace = bottling_trace();
        // Kept beside the page and the screenshot, for a person to open in Perfetto.
        trace.write(dir.join("bottling.trace.json")).unwrap();
        std::fs::write(&page, render_html(&trace)).unwrap();
        screenshot(&browser, &page, &png);
        eprintln!(
            "screenshot of the bottling line's report: {}",
            png.display()
        );

        let shot = image::open(&png)
            .expect("cannot decode the screenshot")
            .to_rgb8();
        assert_eq!(
            (shot.width(), shot.height()),
            (WIDTH, HEIGHT),
            "unexpected screenshot size"
        );

        // Not blank: a fair share of the page is ink, in many colours.
        let inked = shot
            .pixels()
            .filter(|p| p.0.iter().any(|&c| c < 200))
            .count();
        let share = inked as f64 / (WIDTH * HEIGHT) as f64;
        assert!(
            share > 0.03,
            "the page looks blank: {:.1}% inked",
            share * 100.0
        );

        // The verdict box, pink with a red edge, near the top.
        let verdict = (0..350)
            .flat_map(|y| (0..WIDTH).map(move |x| (x, y)))
            .filter(|&(x, y)| close(shot.get_pixel(x, y), [0xfd, 0xf0, 0xee]))
            .count();
        assert!(
            verdict > 20_000,
            "no verdict box in the top of the page ({verdict} pixels)"
        );

        // Every bottle's bars, found by their colour: one at the filler, one at
        // the sealer below it (the source and sink take no time: slivers).
        let mut fill = Vec::new();
        let mut seal = Vec::new();
        let mut bar_pixels = 0;
        for bottle in 0..BOTTLES {
            let mut seen = patches(&shot, item_colour(bottle), 60);
            bar_pixels += seen.iter().map(|p| p.pixels).sum::<u32>();
            seen.sort_by_key(|p| p.top);
            assert!(
                seen.len() >= 2,
                "bottle {bottle}: expected a bar at the filler and one at the sealer, saw {seen:?}"
            );
            fill.push(seen[0]);
            seal.push(seen[1]);
        }
        assert!(
            bar_pixels > 20_000,
            "the bars are hardly visible: {bar_pixels} pixels"
        );

        // Two rows, one above the other, with each bottle at the same height as the others.
        let fill_row = fill[0].top;
        let seal_row = seal[0].top;
        assert!(
            seal_row >= fill[0].bottom,
            "the sealer's row is not below the filler's"
        );
        assert!(
            fill.iter().all(|p| p.top.abs_diff(fill_row) <= 2),
            "filler bars are not in one row: {fill:?}"
        );
        assert!(
            seal.iter().all(|p| p.top.abs_diff(seal_row) <= 2),
            "sealer bars are not in one row: {seal:?}"
        );
        // Each bottle is filled before it is sealed.
        for (bottle, (f, s)) in fill.iter().zip(&seal).enumerate() {
            assert!(
                f.left < s.left,
                "bottle {bottle} is sealed before it is filled: {f:?} {s:?}"
            );
        }
        // And the overlap a person should see: bottle k at the filler while an
        // earlier bottle is at the sealer, in the same columns of the picture.
        let overlapping = (1..BOTTLES as usize)
            .filter(|&k| seal[..k].iter().any(|s| fill[k].overlaps_in_x(s)))
            .count();
        assert!(
            overlapping >= (BOTTLES as usize - 1) / 2,
            "only {overlapping} of {} bottles are seen being filled while an earlier one is sealed",
            BOTTLES - 1
        );
    });
}
