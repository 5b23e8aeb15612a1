//! Loss and accuracy curves as a PNG, drawn with the `image` crate (no
//! font or plotting dependency): two panels, training in blue and
//! validation in orange, with a small built-in bitmap font for the labels.

use std::io::Cursor;

use image::{ImageFormat, Rgb, RgbImage};

use crate::trainer::EpochRecord;

const W: u32 = 900;
const H: u32 = 380;
const PANEL: u32 = W / 2;
const LEFT: i64 = 56;
const RIGHT: i64 = 16;
const TOP: i64 = 34;
const BOTTOM: i64 = 34;
const TRAIN: Rgb<u8> = Rgb([31, 119, 180]);
const VALID: Rgb<u8> = Rgb([255, 127, 14]);
const INK: Rgb<u8> = Rgb([40, 40, 40]);
const GRID: Rgb<u8> = Rgb([225, 225, 225]);

/// 3x5 glyphs, one row per entry, bit 2 the left pixel.
fn glyph(c: char) -> [u8; 5] {
    match c {
        '0' | 'o' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' | 's' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 1, 1],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        '.' => [0, 0, 0, 0, 2],
        '-' => [0, 0, 7, 0, 0],
        'a' => [2, 5, 7, 5, 5],
        'c' => [7, 4, 4, 4, 7],
        'd' => [6, 5, 5, 5, 6],
        'e' => [7, 4, 6, 4, 7],
        'h' => [5, 5, 7, 5, 5],
        'i' => [7, 2, 2, 2, 7],
        'l' => [4, 4, 4, 4, 7],
        'n' => [6, 5, 5, 5, 5],
        'p' => [7, 5, 7, 4, 4],
        'r' => [6, 5, 6, 5, 5],
        't' => [7, 2, 2, 2, 2],
        'u' => [5, 5, 5, 5, 7],
        'v' => [5, 5, 5, 5, 2],
        'y' => [5, 5, 2, 2, 2],
        _ => [0; 5],
    }
}

fn put(img: &mut RgbImage, x: i64, y: i64, c: Rgb<u8>) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, c);
    }
}

/// Text at scale 2 (6x10 pixels a glyph, 8 apart), top-left at `(x, y)`.
fn text(img: &mut RgbImage, x: i64, y: i64, s: &str, c: Rgb<u8>) {
    for (k, ch) in s.chars().enumerate() {
        for (row, bits) in glyph(ch).iter().enumerate() {
            for col in 0..3 {
                if bits >> (2 - col) & 1 == 1 {
                    for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                        put(
                            img,
                            x + k as i64 * 8 + col * 2 + dx,
                            y + row as i64 * 2 + dy,
                            c,
                        );
                    }
                }
            }
        }
    }
}

fn line(img: &mut RgbImage, (x0, y0): (i64, i64), (x1, y1): (i64, i64), c: Rgb<u8>, thick: bool) {
    let steps = (x1 - x0).abs().max((y1 - y0).abs()).max(1);
    for s in 0..=steps {
        let x = x0 + (x1 - x0) * s / steps;
        let y = y0 + (y1 - y0) * s / steps;
        put(img, x, y, c);
        if thick {
            put(img, x + 1, y, c);
            put(img, x, y + 1, c);
        }
    }
}

/// One panel: `series` (colour, values by epoch) in `[lo, hi]`.
fn panel(
    img: &mut RgbImage,
    x0: i64,
    title: &str,
    series: &[(Rgb<u8>, Vec<f64>)],
    lo: f64,
    hi: f64,
) {
    let (l, r) = (x0 + LEFT, x0 + PANEL as i64 - RIGHT);
    let (t, b) = (TOP, H as i64 - BOTTOM);
    let n = series
        .iter()
        .map(|(_, v)| v.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let px = |i: usize| {
        if n == 1 {
            (l + r) / 2
        } else {
            l + (r - l) * i as i64 / (n as i64 - 1)
        }
    };
    let py = |v: f64| b - ((v - lo) / span * (b - t) as f64).round() as i64;
    for k in 0..=4 {
        let v = lo + span * k as f64 / 4.0;
        let y = py(v);
        line(img, (l, y), (r, y), GRID, false);
        text(img, x0 + 4, y - 5, &format!("{v:.3}"), INK);
    }
    line(img, (l, t), (l, b), INK, false);
    line(img, (l, b), (r, b), INK, false);
    text(img, l, 10, title, INK);
    text(img, r - 110, 10, "train", TRAIN);
    text(img, r - 56, 10, "valid", VALID);
    text(img, l, b + 10, "1", INK);
    let last = n.to_string();
    text(img, r - 8 * last.len() as i64, b + 10, &last, INK);
    text(img, (l + r) / 2 - 20, b + 10, "epoch", INK);
    for (c, values) in series {
        let pts: Vec<(i64, i64)> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| (px(i), py(v)))
            .collect();
        for w in pts.windows(2) {
            line(img, w[0], w[1], *c, true);
        }
        for &(x, y) in &pts {
            for dx in -2..=2 {
                for dy in -2..=2 {
                    put(img, x + dx, y + dy, *c);
                }
            }
        }
    }
}

/// Colours after the first two (training, validation).
const MORE: [Rgb<u8>; 3] = [Rgb([44, 160, 44]), Rgb([214, 39, 40]), Rgb([148, 103, 189])];

/// The series of the measures named by `keep`, in the record's order
/// (`train_*` before `valid_*`): training in blue and validation in orange
/// when there is one of each, further ones in other colours.
fn series(history: &[EpochRecord], keep: impl Fn(&str) -> bool) -> Vec<(Rgb<u8>, Vec<f64>)> {
    let mut names: Vec<&String> = history
        .iter()
        .flat_map(|r| r.metrics.keys())
        .filter(|k| keep(k))
        .collect();
    names.sort_by_key(|k| (!k.starts_with("train_"), k.to_string()));
    names.dedup();
    names
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let colour = match (names.len(), i) {
                (1, _) if !k.starts_with("train_") => VALID,
                (_, 0) => TRAIN,
                (2, _) => VALID,
                (_, i) => MORE[(i - 1).min(MORE.len() - 1)],
            };
            (colour, history.iter().map(|r| r.get(k)).collect())
        })
        .collect()
}

/// The curves of `history` as PNG bytes: the losses (left) and the
/// accuracies (right), or the task's other measures when it has no accuracy.
pub fn curves_png(history: &[EpochRecord]) -> Vec<u8> {
    let mut img = RgbImage::from_pixel(W, H, Rgb([255, 255, 255]));
    let range = |s: &[(Rgb<u8>, Vec<f64>)]| {
        let v: Vec<f64> = s
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .filter(|v| v.is_finite())
            .collect();
        let lo = v.iter().copied().fold(f64::MAX, f64::min).min(0.0);
        let hi = v.iter().copied().fold(f64::MIN, f64::max).max(0.0);
        (
            if lo.is_finite() { lo } else { 0.0 },
            if hi > lo { hi } else { lo + 1.0 },
        )
    };
    let losses = series(history, |k| k.contains("loss"));
    let (lo, hi) = range(&losses);
    panel(&mut img, 0, "loss", &losses, lo.min(0.0), hi);
    let accs = series(history, |k| k.contains("acc"));
    if accs.is_empty() {
        let other = series(history, |k| !k.contains("loss"));
        let (lo, hi) = range(&other);
        panel(&mut img, PANEL as i64, "metrics", &other, lo, hi);
    } else {
        panel(&mut img, PANEL as i64, "accuracy", &accs, 0.0, 1.0);
    }
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)
        .expect("encoding an in-memory PNG");
    out.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_both_curves_in_their_colours() {
        let rec = |epoch, loss: f64, acc: f64| EpochRecord {
            epoch,
            lr: 0.1,
            metrics: [
                ("train_loss", loss),
                ("train_acc", acc),
                ("valid_loss", loss * 0.8),
                ("valid_acc", acc * 0.9),
                ("valid_macro_f1", acc),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            items_per_sec: 1.0,
            seconds: 1.0,
        };
        let png = curves_png(&[rec(1, 2.0, 0.3), rec(2, 1.0, 0.6), rec(3, 0.5, 0.8)]);
        let img = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (W, H));
        let count = |c: Rgb<u8>| img.pixels().filter(|&&p| p == c).count();
        assert!(count(TRAIN) > 300 && count(VALID) > 300);
        // The first training loss (2.0, the maximum) is at the top of the
        // loss panel, in the first epoch's column.
        assert_eq!(*img.get_pixel(LEFT as u32, TOP as u32), TRAIN);
    }
}
