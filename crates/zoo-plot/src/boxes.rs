//! Boxes and labels drawn onto an image (the course's `show_bboxes`):
//! outlines two pixels wide, each label on a filled tag in its box's
//! colour, in the bundled font.

use image::{Rgb, RgbImage};
use plotters::prelude::*;

use crate::font::{FAMILY, ensure};
use crate::{PlotError, draw_error};

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

/// The label size in pixels.
pub const LABEL_PX: f64 = 12.0;

/// Width and height in pixels of `text` at `size` pixels.
pub fn text_size(text: &str, size: f64) -> Result<(u32, u32), PlotError> {
    ensure();
    (FAMILY, size)
        .into_font()
        .box_size(text)
        .map_err(|e| draw_error("a text's size", e))
}

/// The coverage of each pixel of `text` drawn with its pen at `(0, 0)`.
fn coverage(text: &str, size: f64) -> Result<Vec<(i32, i32, f32)>, PlotError> {
    ensure();
    let mut pts = Vec::new();
    (FAMILY, size)
        .into_font()
        .draw(text, (0, 0), |x, y, a| {
            pts.push((x, y, a));
            Ok::<(), ()>(())
        })
        .map_err(|e| draw_error(&format!("the text {text:?}"), e))?
        .map_err(|()| draw_error(&format!("the text {text:?}"), "a pixel"))?;
    Ok(pts)
}

/// `text` at `size` pixels with the top of its capitals at row `y` and its
/// first glyph from column `x`, anti-aliased onto the image; what falls
/// outside the image is clipped.
pub fn draw_text(
    img: &mut RgbImage,
    (x, y): (i32, i32),
    text: &str,
    size: f64,
    colour: Rgb<u8>,
) -> Result<(), PlotError> {
    // Every label shares one baseline: the cap height of `H` places it.
    let cap_top = coverage("H", size)?
        .iter()
        .filter(|p| p.2 > 0.5)
        .map(|p| p.1)
        .min()
        .unwrap_or(0);
    for (px, py, a) in coverage(text, size)? {
        let (cx, cy) = (x + px, y + py - cap_top);
        if cx < 0 || cy < 0 || cx as u32 >= img.width() || cy as u32 >= img.height() {
            continue;
        }
        let a = a.clamp(0.0, 1.0);
        let p = img.get_pixel_mut(cx as u32, cy as u32);
        for k in 0..3 {
            p[k] = (p[k] as f32 * (1.0 - a) + colour[k] as f32 * a).round() as u8;
        }
    }
    Ok(())
}

fn put(img: &mut RgbImage, x: i64, y: i64, colour: Rgb<u8>) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, colour);
    }
}

/// Each box's outline and, when it has one, its label in white on a filled
/// tag above the box's top-left corner (inside the box when there is no
/// room above).
pub fn draw_boxes(img: &mut RgbImage, boxes: &[DrawBox]) -> Result<(), PlotError> {
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
        if b.label.is_empty() {
            continue;
        }
        let (tw, _) = text_size(&b.label, LABEL_PX)?;
        let tag_h = LABEL_PX as i64 + 4;
        let top = if y1 >= tag_h { y1 - tag_h } else { y1 + 2 };
        for y in top..top + tag_h {
            for x in x1..x1 + tw as i64 + 4 {
                put(img, x, y, b.colour);
            }
        }
        draw_text(
            img,
            (x1 as i32 + 2, top as i32 + 2),
            &b.label,
            LABEL_PX,
            Rgb([255, 255, 255]),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outlines_land_on_the_box_edges_and_labels_above() {
        let mut img = RgbImage::from_pixel(60, 60, Rgb([0, 0, 0]));
        let red = Rgb([255, 0, 0]);
        draw_boxes(
            &mut img,
            &[DrawBox {
                bbox: [10.0, 25.0, 40.0, 55.0],
                label: "cat".into(),
                colour: red,
            }],
        )
        .unwrap();
        // Edges two pixels wide, the inside untouched.
        for (x, y) in [
            (10, 30),
            (11, 30),
            (40, 30),
            (39, 30),
            (20, 25),
            (20, 26),
            (20, 55),
        ] {
            assert_eq!(img.get_pixel(x, y), &red, "({x}, {y})");
        }
        assert_eq!(img.get_pixel(25, 40), &Rgb([0, 0, 0]));
        // The tag spans the 16 rows above the box, from its left edge, with
        // light glyph pixels on it and nothing drawn beside it.
        assert_eq!(img.get_pixel(11, 11), &red);
        let light = (10..25)
            .flat_map(|y| (10..40).map(move |x| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y)[1] > 128)
            .count();
        assert!(light > 15, "{light}");
        assert_eq!(img.get_pixel(55, 12), &Rgb([0, 0, 0]));
    }

    #[test]
    fn wider_text_measures_wider_and_draws_where_asked() {
        let (w1, h1) = text_size("i", 14.0).unwrap();
        let (w2, h2) = text_size("iiiiiiii", 14.0).unwrap();
        assert!(
            w2 > 4 * w1 && h1 > 5 && h1 <= 20 && h2 == h1,
            "{w1}x{h1} {w2}x{h2}"
        );
        let mut img = RgbImage::from_pixel(80, 30, Rgb([255, 255, 255]));
        draw_text(&mut img, (40, 5), "Wx", 14.0, Rgb([0, 0, 0])).unwrap();
        let ink: Vec<(u32, u32)> = img
            .enumerate_pixels()
            .filter(|(_, _, p)| p[0] < 128)
            .map(|(x, y, _)| (x, y))
            .collect();
        assert!(ink.len() > 20);
        assert!(
            ink.iter().all(|&(x, y)| x >= 40 && (5..25).contains(&y)),
            "{ink:?}"
        );
    }
}
