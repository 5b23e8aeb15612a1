//! Drawing boxes and labels onto images (the course's `show_bboxes`), for
//! PNG output with the `image` crate: rectangles two pixels wide, a filled
//! label tag in the box's colour with 8x8 bitmap glyphs (font8x8, public
//! domain).

use std::path::Path;

use image::{Rgb, RgbImage};

use crate::DetectError;

/// A box to draw: `xyxy` pixels, a label, a colour.
#[derive(Clone, Debug, PartialEq)]
pub struct DrawBox {
    /// `[x1, y1, x2, y2]` in pixels.
    pub bbox: [f32; 4],
    /// Text drawn at the top-left corner (may be empty).
    pub label: String,
    /// Outline and tag colour.
    pub colour: Rgb<u8>,
}

/// Colours the course cycles through (`b`, `g`, `r`, `m`, `c`).
pub const COLOURS: [Rgb<u8>; 5] = [
    Rgb([31, 119, 180]),
    Rgb([44, 160, 44]),
    Rgb([214, 39, 40]),
    Rgb([148, 103, 189]),
    Rgb([23, 190, 207]),
];

/// `text` in 8x8 glyphs with its top-left corner at `(x, y)`; pixels outside
/// the image are skipped.
pub fn draw_text(img: &mut RgbImage, x: i64, y: i64, text: &str, colour: Rgb<u8>) {
    for (k, ch) in text.chars().enumerate() {
        let glyph = font8x8::legacy::BASIC_LEGACY
            .get(ch as usize)
            .copied()
            .unwrap_or([0; 8]);
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                if bits >> col & 1 == 1 {
                    put(img, x + 8 * k as i64 + col, y + row as i64, colour);
                }
            }
        }
    }
}

fn put(img: &mut RgbImage, x: i64, y: i64, colour: Rgb<u8>) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, colour);
    }
}

/// Each box's outline and, when it has one, its label on a filled tag above
/// the box's top-left corner (inside the box when there is no room above).
pub fn draw_boxes(img: &mut RgbImage, boxes: &[DrawBox]) {
    for b in boxes {
        let [x1, y1, x2, y2] = b.bbox.map(|v| v.round() as i64);
        for t in 0..2 {
            for x in x1..=x2 {
                put(img, x, y1 + t, b.colour);
                put(img, x, y2 - t, b.colour);
            }
            for y in y1..=y2 {
                put(img, x1 + t, y, b.colour);
                put(img, x2 - t, y, b.colour);
            }
        }
        if !b.label.is_empty() {
            let w = 8 * b.label.chars().count() as i64 + 2;
            let top = if y1 >= 10 { y1 - 10 } else { y1 + 2 };
            for y in top..top + 10 {
                for x in x1..x1 + w {
                    put(img, x, y, b.colour);
                }
            }
            draw_text(img, x1 + 1, top + 1, &b.label, Rgb([255, 255, 255]));
        }
    }
}

/// Checks that [`save_png`] may write to `path`: it must end in `.png` (PNG
/// bytes under another image extension would mislead every viewer) and
/// must not be a directory. Programs call it before their work, so a bad
/// path fails first.
pub fn check_png_path(path: &Path) -> Result<(), DetectError> {
    let bad = |reason: String| DetectError::new("save_png", reason);
    if !path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
    {
        return Err(bad(format!(
            "{}: the image is written as PNG, so the file name must end in .png",
            path.display()
        )));
    }
    if path.is_dir() {
        return Err(bad(format!(
            "{} is a directory, expected a file name ending in .png",
            path.display()
        )));
    }
    Ok(())
}

/// Writes `img` as PNG to `path` through a temporary file renamed when
/// complete; the path as [`check_png_path`] wants it. Nothing is left behind
/// when the write fails.
pub fn save_png(img: &RgbImage, path: &Path) -> Result<(), DetectError> {
    check_png_path(path)?;
    let bad = |reason: String| DetectError::new("save_png", reason);
    let tmp = path.with_extension("png.partial");
    let written = img
        .save_with_format(&tmp, image::ImageFormat::Png)
        .map_err(|e| bad(format!("cannot write {}: {e}", tmp.display())))
        .and_then(|()| {
            std::fs::rename(&tmp, path).map_err(|e| {
                bad(format!(
                    "cannot rename {} to {}: {e}",
                    tmp.display(),
                    path.display()
                ))
            })
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_png_goes_only_to_a_png_name_and_leaves_nothing_behind() {
        let dir = std::env::temp_dir().join(format!("zoo-save-png-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("taken.png")).unwrap();
        let img = RgbImage::from_pixel(4, 3, Rgb([10, 20, 30]));
        let e = save_png(&img, &dir.join("x.jpg")).unwrap_err().to_string();
        assert!(e.contains("x.jpg") && e.contains(".png"), "{e}");
        let e = save_png(&img, &dir.join("taken.png"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a directory"), "{e}");
        save_png(&img, &dir.join("ok.png")).unwrap();
        let back = image::open(dir.join("ok.png")).unwrap().to_rgb8();
        assert_eq!(back.get_pixel(3, 2), &Rgb([10, 20, 30]));
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["ok.png", "taken.png"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn outlines_land_on_the_box_edges_and_labels_above() {
        let mut img = RgbImage::from_pixel(40, 40, Rgb([0, 0, 0]));
        let red = Rgb([255, 0, 0]);
        draw_boxes(
            &mut img,
            &[DrawBox {
                bbox: [10.0, 15.0, 30.0, 35.0],
                label: "A".into(),
                colour: red,
            }],
        );
        // Edges two pixels wide, the inside untouched.
        for (x, y) in [
            (10, 20),
            (11, 20),
            (30, 20),
            (29, 20),
            (20, 15),
            (20, 16),
            (20, 35),
        ] {
            assert_eq!(img.get_pixel(x, y), &red, "({x}, {y})");
        }
        assert_eq!(img.get_pixel(20, 25), &Rgb([0, 0, 0]));
        // The tag spans y 5..15 above the box, x 10..20, with white glyph pixels.
        assert_eq!(img.get_pixel(19, 5), &red);
        let white = (5..15)
            .flat_map(|y| (10..20).map(move |x| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y) == &Rgb([255, 255, 255]))
            .count();
        assert!(white > 10, "{white}");
    }
}
