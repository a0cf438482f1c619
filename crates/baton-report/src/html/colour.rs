//! Colours: one per item in the pipeline diagram, one per stage in the charts.

/// Degrees between the hues of consecutive items: the golden angle, so that
/// neighbours (item k in one stage, item k − 1 in the next) always differ
/// clearly and hues never repeat in a short run.
const GOLDEN_ANGLE: f64 = 137.507_764_050_037_85;

/// Saturation and lightness of item colours: light enough for dark labels.
const ITEM_SATURATION: f64 = 0.68;
const ITEM_LIGHTNESS: f64 = 0.62;

/// The colour of the bars of item `seq` (a chunk takes the colour of its
/// first item) in the pipeline diagram of [`render_html`](crate::render_html),
/// as red, green, blue.
///
/// The bars are filled with exactly this colour, so a test (or a person with
/// a colour picker) can find an item on a screenshot.
///
/// # Examples
///
/// ```
/// use baton_report::item_colour;
/// assert_ne!(item_colour(7), item_colour(8));
/// assert_eq!(item_colour(7), item_colour(7));
/// ```
pub fn item_colour(seq: u64) -> [u8; 3] {
    // Reduce first so the product keeps its precision for huge sequence numbers.
    let hue = ((seq % 1_000_000) as f64 * GOLDEN_ANGLE) % 360.0;
    hsl_to_rgb(hue, ITEM_SATURATION, ITEM_LIGHTNESS)
}

/// `#rrggbb` for a colour.
pub(crate) fn hex([r, g, b]: [u8; 3]) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// Line colours for the stages in the charts, dark enough for thin lines and
/// unlike the item colours.
const STAGE_PALETTE: [&str; 8] = [
    "#2f5d8a", "#b2541a", "#2e7d4f", "#8a2f6b", "#6b5a1e", "#1f6f78", "#7a3b2e", "#4a4a8a",
];

/// The line colour of stage `index` in the charts.
pub(crate) fn stage_colour(index: usize) -> &'static str {
    STAGE_PALETTE[index % STAGE_PALETTE.len()]
}

/// HSL (hue in degrees, saturation and lightness 0 to 1) to RGB.
fn hsl_to_rgb(hue: f64, saturation: f64, lightness: f64) -> [u8; 3] {
    let chroma = (1.0 - (2.0 * lightness - 1.0).abs()) * saturation;
    let sector = hue / 60.0;
    let x = chroma * (1.0 - (sector % 2.0 - 1.0).abs());
    let (r, g, b) = match sector as u32 {
        0 => (chroma, x, 0.0),
        1 => (x, chroma, 0.0),
        2 => (0.0, chroma, x),
        3 => (0.0, x, chroma),
        4 => (x, 0.0, chroma),
        _ => (chroma, 0.0, x),
    };
    let m = lightness - chroma / 2.0;
    let byte = |v: f64| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    [byte(r), byte(g), byte(b)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsl_primaries() {
        assert_eq!(hsl_to_rgb(0.0, 1.0, 0.5), [255, 0, 0]);
        assert_eq!(hsl_to_rgb(120.0, 1.0, 0.5), [0, 255, 0]);
        assert_eq!(hsl_to_rgb(240.0, 1.0, 0.5), [0, 0, 255]);
    }

    #[test]
    fn neighbouring_items_differ_clearly() {
        for seq in 0..1_000u64 {
            let [a, b] = [item_colour(seq), item_colour(seq + 1)];
            let distance: i32 = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (*x as i32 - *y as i32).abs())
                .sum();
            assert!(
                distance > 60,
                "items {seq} and {} look alike: {a:?} {b:?}",
                seq + 1
            );
        }
    }

    #[test]
    fn hex_is_css() {
        assert_eq!(hex([255, 8, 0]), "#ff0800");
    }
}
