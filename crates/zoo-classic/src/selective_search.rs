//! Selective search (Uijlings, van de Sande, Gevers and Smeulders,
//! "Selective Search for Object Recognition", IJCV 2013), R-CNN's region
//! proposals, as OpenCV's `cv2.ximgproc.segmentation.
//! createSelectiveSearchSegmentation` computes them
//! (`modules/ximgproc/src/selectivesearchsegmentation.cpp`):
//!
//! - the image is converted to each of the strategy's colour spaces
//!   ([`ColourSpace`], OpenCV's 8-bit conventions);
//! - each converted image is over-segmented by Felzenszwalb's graph
//!   segmentation for each `k` (pixel values in `[0, 255]`, `sigma` 0.8,
//!   OpenCV's `min_size` 100), here the scikit-image algorithm of
//!   [`crate::segment`] where OpenCV has its own (4-connected, `<=`
//!   thresholds, a `reflect-101` blur);
//! - for each [`Similarity`] the regions are grouped hierarchically: the
//!   two neighbouring regions of highest similarity are merged, their
//!   histograms averaged by size and their boxes joined, until one region
//!   is left. Similarities: colour (histogram intersection of 25 bins per
//!   channel over `[0, 256)`), texture (intersection of 10-bin histograms of
//!   8 gradient maps per channel: the positive and negative parts of the
//!   Scharr derivatives along x, y and the two diagonals, each map scaled to
//!   `[0, 255]` by its minimum and maximum), size (`1 - (|a| + |b|) /
//!   |image|`) and fill (`1 - (|box(a, b)| - |a| - |b|) / |image|`),
//!   combined with OpenCV's weights and in float32 as OpenCV sums them;
//! - every region of every grouping (the initial ones at level 1, a merge
//!   one above the higher of its two parts) gets the rank `u * level` with
//!   `u` uniform in `[0, 1)` (OpenCV: `rand() / RAND_MAX`; here
//!   [`zoo_rng::Rng`] seeded), all are sorted by rank (ascending: small
//!   regions of a grouping's first merges come first, shuffled between the
//!   groupings) and repeated boxes dropped.
//!
//! Proposals are boxes `[x, y, w, h]` in pixels, OpenCV's `Rect`: the box
//! covers columns `x..x + w` and rows `y..y + h`, i.e. `[x, y, x + w, y + h]`
//! in continuous corner coordinates ([`corners`]).
//!
//! Where this differs from OpenCV: the graph segmentation (above); the
//! diagonal derivatives are `gx + gy` and `gx - gy` of the Scharr
//! derivatives (OpenCV rotates the image by 45 degrees, takes Scharr's x and y
//! derivatives and rotates them back, two bilinear resamplings of the same
//! directional derivatives); Lab is computed in floating point (OpenCV's
//! 8-bit conversion goes through a fixed-point lookup table: up to 3 levels
//! apart); among equally similar pairs the one found first is merged
//! (OpenCV's `std::sort` leaves their order to the library); the random
//! ranks are another generator's. HSV (hue in `[0, 180)`) and grey are
//! OpenCV's integer conversions exactly. Neighbours are OpenCV's: each
//! pixel `(y, x)` with `y, x >= 1` joins its region to those of `(y, x-1)`,
//! `(y-1, x)` and `(y-1, x-1)`.
//!
//! ```
//! use zoo_classic::selective_search::{SelectiveSearch, corners};
//! // A bright square on a dark 32 x 32 background.
//! let (h, w) = (32, 32);
//! let mut rgb = vec![20u8; h * w * 3];
//! for y in 8..20 {
//!     for x in 10..24 {
//!         rgb[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&[230, 200, 40]);
//!     }
//! }
//! let boxes = SelectiveSearch::fast(150, 150, 0.8).process(&rgb, h, w, 0).unwrap();
//! assert!(boxes.iter().any(|b| corners(*b) == [10.0, 8.0, 24.0, 20.0]));
//! ```

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};

use zoo_rng::Rng;

use crate::segment::graph_segmentation;
use crate::{ClassicError, invalid};

/// The colour spaces of OpenCV's strategies, 8 bits per channel as
/// OpenCV's `cvtColor` gives them for an 8-bit image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColourSpace {
    /// `COLOR_BGR2HSV`: hue in `[0, 180)` (degrees / 2), saturation and
    /// value in `[0, 255]`, OpenCV's fixed-point arithmetic exactly.
    Hsv,
    /// `COLOR_BGR2Lab`: `L * 255 / 100`, `a + 128`, `b + 128` (sRGB, D65),
    /// computed in floating point and rounded.
    Lab,
    /// `COLOR_BGR2GRAY`: `(9798 R + 19235 G + 3735 B + 2^14) >> 15`, one
    /// channel.
    Grey,
    /// The hue channel of [`ColourSpace::Hsv`] alone.
    Hue,
    /// Red, green and grey (the quality strategy's `rgI`).
    RgI,
}

impl ColourSpace {
    /// Channels of the converted image.
    pub fn channels(self) -> usize {
        match self {
            ColourSpace::Hsv | ColourSpace::Lab | ColourSpace::RgI => 3,
            ColourSpace::Grey | ColourSpace::Hue => 1,
        }
    }

    /// `rgb` (interleaved `[H, W, 3]`, any number of pixels) converted:
    /// interleaved `[H, W, C]` with `C` [`ColourSpace::channels`].
    pub fn convert(self, rgb: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(rgb.len() / 3 * self.channels());
        for p in rgb.chunks_exact(3) {
            let (r, g, b) = (p[0], p[1], p[2]);
            match self {
                ColourSpace::Hsv => out.extend(hsv(r, g, b)),
                ColourSpace::Lab => out.extend(lab(r, g, b)),
                ColourSpace::Grey => out.push(grey(r, g, b)),
                ColourSpace::Hue => out.push(hsv(r, g, b)[0]),
                ColourSpace::RgI => out.extend([r, g, grey(r, g, b)]),
            }
        }
        out
    }
}

/// OpenCV's `RGB2HSV_b` (hue range 180, 12-bit fixed point).
fn hsv(r: u8, g: u8, b: u8) -> [u8; 3] {
    const SHIFT: i32 = 12;
    let (r, g, b) = (r as i32, g as i32, b as i32);
    let v = r.max(g).max(b);
    let diff = v - r.min(g).min(b);
    // sdiv_table[v] = round((255 << 12) / v), hdiv_table[d] = round((180 << 12) / (6 d)).
    let div = |num: f64, den: f64| {
        if den == 0.0 {
            0
        } else {
            (num / den).round_ties_even() as i32
        }
    };
    let sdiv = div((255 << SHIFT) as f64, v as f64);
    let hdiv = div((180 << SHIFT) as f64, 6.0 * diff as f64);
    let s = (diff * sdiv + (1 << (SHIFT - 1))) >> SHIFT;
    let h = if v == r {
        g - b
    } else if v == g {
        b - r + 2 * diff
    } else {
        r - g + 4 * diff
    };
    let mut h = (h * hdiv + (1 << (SHIFT - 1))) >> SHIFT;
    if h < 0 {
        h += 180;
    }
    [h.clamp(0, 255) as u8, s as u8, v as u8]
}

/// OpenCV's `RGB2Gray` for 8 bits (15-bit fixed point).
fn grey(r: u8, g: u8, b: u8) -> u8 {
    ((r as u32 * 9798 + g as u32 * 19235 + b as u32 * 3735 + (1 << 14)) >> 15) as u8
}

/// CIE Lab (sRGB, D65 white) scaled to 8 bits as OpenCV scales it.
fn lab(r: u8, g: u8, b: u8) -> [u8; 3] {
    let lin = |c: u8| {
        let c = c as f64 / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let (r, g, b) = (lin(r), lin(g), lin(b));
    let x = (0.412453 * r + 0.357580 * g + 0.180423 * b) / 0.950456;
    let y = 0.212671 * r + 0.715160 * g + 0.072169 * b;
    let z = (0.019334 * r + 0.119193 * g + 0.950227 * b) / 1.088754;
    let f = |t: f64| {
        if t > 0.008856 {
            t.cbrt()
        } else {
            7.787 * t + 16.0 / 116.0
        }
    };
    let l = if y > 0.008856 {
        116.0 * y.cbrt() - 16.0
    } else {
        903.3 * y
    };
    let a = 500.0 * (f(x) - f(y));
    let bb = 200.0 * (f(y) - f(z));
    let q = |v: f64| v.round_ties_even().clamp(0.0, 255.0) as u8;
    [q(l * 255.0 / 100.0), q(a + 128.0), q(bb + 128.0)]
}

/// How two regions' similarity is measured: the weights of OpenCV's four
/// strategies (`SelectiveSearchSegmentationStrategyColor`, `...Fill`,
/// `...Texture`, `...Size`), combined as its `...StrategyMultiple`:
/// `sum(weight_i * s_i) / sum(weight_i)` in float32, in the order colour,
/// fill, texture, size. A zero weight leaves a measure out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Similarity {
    /// Weight of the colour histograms' intersection.
    pub colour: f32,
    /// Weight of the fill measure.
    pub fill: f32,
    /// Weight of the texture histograms' intersection.
    pub texture: f32,
    /// Weight of the size measure.
    pub size: f32,
}

impl Similarity {
    /// OpenCV's `createSelectiveSearchSegmentationStrategyMultiple(color,
    /// fill, texture, size)`: 0.25 each.
    pub const COLOUR_FILL_TEXTURE_SIZE: Similarity = Similarity {
        colour: 0.25,
        fill: 0.25,
        texture: 0.25,
        size: 0.25,
    };
    /// `...Multiple(fill, texture, size)`: 0.3333 each (OpenCV's constant).
    pub const FILL_TEXTURE_SIZE: Similarity = Similarity {
        colour: 0.0,
        fill: 0.3333,
        texture: 0.3333,
        size: 0.3333,
    };
    /// Fill alone.
    pub const FILL: Similarity = Similarity {
        colour: 0.0,
        fill: 1.0,
        texture: 0.0,
        size: 0.0,
    };
    /// Size alone.
    pub const SIZE: Similarity = Similarity {
        colour: 0.0,
        fill: 0.0,
        texture: 0.0,
        size: 1.0,
    };
}

/// A selective search: which colour spaces, which graph segmentations and
/// which similarities, every combination of the three grouped (OpenCV's
/// `addImage`, `addGraphSegmentation`, `addStrategy`). The constructors are
/// OpenCV's three presets.
#[derive(Clone, Debug, PartialEq)]
pub struct SelectiveSearch {
    /// The colour spaces the image is converted to.
    pub colour_spaces: Vec<ColourSpace>,
    /// The graph segmentations' `k` (pixel values in `[0, 255]`).
    pub ks: Vec<f32>,
    /// The graph segmentations' Gaussian sigma.
    pub sigma: f64,
    /// The graph segmentations' smallest segment (OpenCV's default 100).
    pub min_size: usize,
    /// The similarities, one hierarchical grouping each.
    pub strategies: Vec<Similarity>,
}

impl SelectiveSearch {
    /// `switchToSingleStrategy(k, sigma)` (OpenCV's defaults 200, 0.8): HSV,
    /// one segmentation, colour + fill + texture + size.
    pub fn single(k: u32, sigma: f64) -> Self {
        Self {
            colour_spaces: vec![ColourSpace::Hsv],
            ks: vec![k as f32],
            sigma,
            min_size: 100,
            strategies: vec![Similarity::COLOUR_FILL_TEXTURE_SIZE],
        }
    }

    /// `switchToSelectiveSearchFast(base_k, inc_k, sigma)` (OpenCV's
    /// defaults 150, 150, 0.8): HSV and Lab, `k` in `base_k + {0, 1, 2} *
    /// inc_k`, colour + fill + texture + size and fill + texture + size.
    pub fn fast(base_k: u32, inc_k: u32, sigma: f64) -> Self {
        Self {
            colour_spaces: vec![ColourSpace::Hsv, ColourSpace::Lab],
            ks: (0..3).map(|i| (base_k + i * inc_k) as f32).collect(),
            sigma,
            min_size: 100,
            strategies: vec![
                Similarity::COLOUR_FILL_TEXTURE_SIZE,
                Similarity::FILL_TEXTURE_SIZE,
            ],
        }
    }

    /// `switchToSelectiveSearchQuality(base_k, inc_k, sigma)` (OpenCV's
    /// defaults 150, 150, 0.8): HSV, Lab, grey, hue and rgI, `k` in `base_k +
    /// {0, .., 4} * inc_k`, colour + fill + texture + size, fill + texture +
    /// size, fill, size.
    pub fn quality(base_k: u32, inc_k: u32, sigma: f64) -> Self {
        Self {
            colour_spaces: vec![
                ColourSpace::Hsv,
                ColourSpace::Lab,
                ColourSpace::Grey,
                ColourSpace::Hue,
                ColourSpace::RgI,
            ],
            ks: (0..5).map(|i| (base_k + i * inc_k) as f32).collect(),
            sigma,
            min_size: 100,
            strategies: vec![
                Similarity::COLOUR_FILL_TEXTURE_SIZE,
                Similarity::FILL_TEXTURE_SIZE,
                Similarity::FILL,
                Similarity::SIZE,
            ],
        }
    }

    /// The proposals for `rgb` (8-bit RGB, interleaved `[H, W, 3]` as
    /// `image::RgbImage` holds it): boxes `[x, y, w, h]`, best ranked first,
    /// each box once. `seed` draws the ranks' random factors.
    ///
    /// # Errors
    /// An empty image, `rgb` not `h * w * 3` long, or a search without a
    /// colour space, a `k` or a strategy, or with a strategy whose weights
    /// do not sum to a positive number.
    pub fn process(
        &self,
        rgb: &[u8],
        h: usize,
        w: usize,
        seed: u64,
    ) -> Result<Vec<[u32; 4]>, ClassicError> {
        const F: &str = "selective_search";
        if h == 0 || w == 0 || rgb.len() != h * w * 3 {
            return invalid(
                F,
                format!(
                    "{} bytes for a {h} x {w} image; expected a non-empty [H, W, 3]",
                    rgb.len()
                ),
            );
        }
        if self.colour_spaces.is_empty() || self.ks.is_empty() || self.strategies.is_empty() {
            return invalid(
                F,
                format!(
                    "{} colour spaces, {} k, {} strategies; expected at least one of each",
                    self.colour_spaces.len(),
                    self.ks.len(),
                    self.strategies.len()
                ),
            );
        }
        for s in &self.strategies {
            let total = s.colour + s.fill + s.texture + s.size;
            let weights = [s.colour, s.fill, s.texture, s.size];
            if weights.iter().any(|&x| !(x >= 0.0 && x.is_finite())) || total <= 0.0 {
                return invalid(
                    F,
                    format!("strategy {s:?}: expected weights >= 0 summing to > 0"),
                );
            }
        }
        let need_colour = self.strategies.iter().any(|s| s.colour != 0.0);
        let need_texture = self.strategies.iter().any(|s| s.texture != 0.0);
        let mut rng = Rng::new(seed);
        let mut ranked: Vec<(f64, [u32; 4])> = Vec::new();
        for &space in &self.colour_spaces {
            let c = space.channels();
            let image = space.convert(rgb);
            let mut planes = vec![0.0f64; c * h * w];
            for (p, px) in image.chunks_exact(c).enumerate() {
                for (ch, &v) in px.iter().enumerate() {
                    planes[ch * h * w + p] = v as f64;
                }
            }
            let texture_maps = need_texture.then(|| texture_maps(&image, c, h, w));
            for &k in &self.ks {
                let labels = graph_segmentation(
                    F,
                    planes.clone(),
                    h,
                    w,
                    k as f64,
                    self.sigma,
                    self.min_size,
                )?;
                let base = Regions::new(
                    &labels,
                    h,
                    w,
                    need_colour.then_some((&image[..], c)),
                    texture_maps.as_deref(),
                );
                for strategy in &self.strategies {
                    for (level, b) in base.group(strategy) {
                        ranked.push((rng.unit_f64() * level as f64, b));
                    }
                }
            }
        }
        ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut seen = HashSet::new();
        Ok(ranked
            .into_iter()
            .filter(|(_, b)| seen.insert(*b))
            .map(|(_, [x1, y1, x2, y2])| [x1, y1, x2 - x1, y2 - y1])
            .collect())
    }
}

/// A box `[x, y, w, h]` as continuous corners `[x1, y1, x2, y2]`
/// (`[x, y, x + w, y + h]`), the convention of `zoo_detect`'s boxes.
pub fn corners(b: [u32; 4]) -> [f32; 4] {
    [
        b[0] as f32,
        b[1] as f32,
        (b[0] + b[2]) as f32,
        (b[1] + b[3]) as f32,
    ]
}

/// The 8 texture maps of each channel of `image` (interleaved `[H, W, C]`),
/// as 8-bit images `[C * 8][H * W]`: the positive and the negative part of
/// the Scharr derivative along x, y and the two diagonals, each scaled to
/// `[0, 255]` by its minimum and maximum (OpenCV's `convertTo(CV_8U,
/// 255 / (max - min), -255 min / (max - min))`).
fn texture_maps(image: &[u8], c: usize, h: usize, w: usize) -> Vec<Vec<u8>> {
    // Border reflect-101 (OpenCV's default): -1 -> 1, n -> n - 2.
    let clampi = |i: isize, n: usize| -> usize {
        if n == 1 {
            return 0;
        }
        let n = n as isize;
        let i = if i < 0 { -i } else { i };
        (if i >= n { 2 * n - 2 - i } else { i }) as usize
    };
    let mut maps = Vec::with_capacity(c * 8);
    for ch in 0..c {
        let px = |y: isize, x: isize| image[(clampi(y, h) * w + clampi(x, w)) * c + ch] as f32;
        let mut gx = vec![0.0f32; h * w];
        let mut gy = vec![0.0f32; h * w];
        for y in 0..h as isize {
            for x in 0..w as isize {
                let p = |dy: isize, dx: isize| px(y + dy, x + dx);
                let i = y as usize * w + x as usize;
                gx[i] = 3.0 * (p(-1, 1) - p(-1, -1))
                    + 10.0 * (p(0, 1) - p(0, -1))
                    + 3.0 * (p(1, 1) - p(1, -1));
                gy[i] = 3.0 * (p(1, -1) - p(-1, -1))
                    + 10.0 * (p(1, 0) - p(-1, 0))
                    + 3.0 * (p(1, 1) - p(-1, 1));
            }
        }
        let d1: Vec<f32> = gx.iter().zip(&gy).map(|(a, b)| a + b).collect();
        let d2: Vec<f32> = gx.iter().zip(&gy).map(|(a, b)| a - b).collect();
        for g in [&gx, &gy, &d1, &d2] {
            let pos: Vec<f32> = g.iter().map(|&v| if v > 0.0 { v } else { 0.0 }).collect();
            let neg: Vec<f32> = g.iter().map(|&v| if v > 0.0 { 0.0 } else { v }).collect();
            maps.push(to_u8(&pos));
            maps.push(to_u8(&neg));
        }
    }
    maps
}

/// A map scaled to `[0, 255]` by its minimum and maximum and rounded (half
/// to even, as `cvRound`); a constant map becomes zeros.
fn to_u8(map: &[f32]) -> Vec<u8> {
    let (lo, hi) = map
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v as f64), hi.max(v as f64))
        });
    if hi <= lo {
        return vec![0; map.len()];
    }
    let alpha = 255.0 / (hi - lo);
    let beta = -255.0 * lo / (hi - lo);
    map.iter()
        .map(|&v| {
            (v as f64 * alpha + beta)
                .round_ties_even()
                .clamp(0.0, 255.0) as u8
        })
        .collect()
}

/// The regions of one segmentation, ready to be grouped.
struct Regions {
    n: usize,
    image_size: usize,
    sizes: Vec<usize>,
    /// `[x1, y1, x2, y2]`, exclusive ends.
    boxes: Vec<[u32; 4]>,
    /// Neighbour pairs `(i, j)`, `i < j`, in increasing order.
    pairs: Vec<(usize, usize)>,
    colour_len: usize,
    colour: Vec<f32>,
    texture_len: usize,
    texture: Vec<f32>,
}

impl Regions {
    fn new(
        labels: &[usize],
        h: usize,
        w: usize,
        colour_image: Option<(&[u8], usize)>,
        texture_maps: Option<&[Vec<u8>]>,
    ) -> Self {
        let n = labels.iter().max().map_or(0, |m| m + 1);
        let mut sizes = vec![0usize; n];
        let mut boxes = vec![[u32::MAX, u32::MAX, 0, 0]; n];
        let mut pairs = Vec::new();
        for y in 0..h {
            for x in 0..w {
                let l = labels[y * w + x];
                sizes[l] += 1;
                let b = &mut boxes[l];
                b[0] = b[0].min(x as u32);
                b[1] = b[1].min(y as u32);
                b[2] = b[2].max(x as u32 + 1);
                b[3] = b[3].max(y as u32 + 1);
                if y > 0 && x > 0 {
                    for m in [
                        labels[y * w + x - 1],
                        labels[(y - 1) * w + x],
                        labels[(y - 1) * w + x - 1],
                    ] {
                        if m != l {
                            pairs.push((l.min(m), l.max(m)));
                        }
                    }
                }
            }
        }
        pairs.sort_unstable();
        pairs.dedup();

        let (colour_len, colour) = match colour_image {
            Some((image, c)) => {
                const BINS: usize = 25;
                let len = BINS * c;
                let mut counts = vec![0u32; n * len];
                for (p, px) in image.chunks_exact(c).enumerate() {
                    let row = &mut counts[labels[p] * len..(labels[p] + 1) * len];
                    for (ch, &v) in px.iter().enumerate() {
                        row[ch * BINS + v as usize * BINS / 256] += 1;
                    }
                }
                (len, normalise(&counts, len, |r| (sizes[r] * c) as f32))
            }
            None => (0, Vec::new()),
        };
        let (texture_len, texture) = match texture_maps {
            Some(maps) => {
                const BINS: usize = 10;
                let len = BINS * maps.len();
                let mut counts = vec![0u32; n * len];
                for (p, &l) in labels.iter().enumerate() {
                    let row = &mut counts[l * len..(l + 1) * len];
                    for (m, map) in maps.iter().enumerate() {
                        let bin = (map[p] as f32 / (256.0f32 / BINS as f32)) as usize;
                        row[m * BINS + bin] += 1;
                    }
                }
                (
                    len,
                    normalise(&counts, len, |r| (sizes[r] * maps.len()) as f32),
                )
            }
            None => (0, Vec::new()),
        };
        Self {
            n,
            image_size: h * w,
            sizes,
            boxes,
            pairs,
            colour_len,
            colour,
            texture_len,
            texture,
        }
    }

    /// Hierarchical grouping under `s`: every region (the initial ones
    /// first, then each merge) as `(level, [x1, y1, x2, y2])`.
    fn group(&self, s: &Similarity) -> Vec<(u32, [u32; 4])> {
        let n = self.n;
        let mut g = Grouping {
            s: *s,
            total: [s.colour, s.fill, s.texture, s.size]
                .iter()
                .filter(|&&x| x != 0.0)
                .fold(0.0f32, |t, &x| t + x),
            image_size: self.image_size as f32,
            sizes: self.sizes.clone(),
            boxes: self.boxes.clone(),
            levels: vec![1; n],
            colour_len: if s.colour != 0.0 { self.colour_len } else { 0 },
            colour: if s.colour != 0.0 {
                self.colour.clone()
            } else {
                Vec::new()
            },
            texture_len: if s.texture != 0.0 {
                self.texture_len
            } else {
                0
            },
            texture: if s.texture != 0.0 {
                self.texture.clone()
            } else {
                Vec::new()
            },
        };
        let mut alive = vec![true; n];
        let mut neighbours: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut heap = BinaryHeap::new();
        let mut seq = 0usize;
        for &(i, j) in &self.pairs {
            neighbours[i].push(j);
            neighbours[j].push(i);
            heap.push(Candidate {
                similarity: g.similarity(i, j),
                seq,
                a: i,
                b: j,
            });
            seq += 1;
        }
        while let Some(best) = heap.pop() {
            let (a, b) = (best.a, best.b);
            if !alive[a] || !alive[b] {
                continue;
            }
            let r = g.merge(a, b);
            alive[a] = false;
            alive[b] = false;
            alive.push(true);
            let mut around = Vec::new();
            for &x in neighbours[a].iter().chain(&neighbours[b]) {
                if x != a && x != b && alive[x] && !around.contains(&x) {
                    around.push(x);
                }
            }
            for &x in &around {
                neighbours[x].retain(|&y| y != a && y != b);
                neighbours[x].push(r);
                heap.push(Candidate {
                    similarity: g.similarity(r, x),
                    seq,
                    a: r,
                    b: x,
                });
                seq += 1;
            }
            neighbours.push(around);
            neighbours[a] = Vec::new();
            neighbours[b] = Vec::new();
        }
        g.levels.into_iter().zip(g.boxes).collect()
    }
}

/// Counts `[n, len]` divided by each row's total.
fn normalise(counts: &[u32], len: usize, total: impl Fn(usize) -> f32) -> Vec<f32> {
    counts
        .chunks(len)
        .enumerate()
        .flat_map(|(r, row)| {
            let t = total(r);
            row.iter().map(move |&v| v as f32 / t)
        })
        .collect()
}

/// The state of one hierarchical grouping, one row per region (merged ones
/// appended).
struct Grouping {
    s: Similarity,
    total: f32,
    image_size: f32,
    sizes: Vec<usize>,
    boxes: Vec<[u32; 4]>,
    levels: Vec<u32>,
    colour_len: usize,
    colour: Vec<f32>,
    texture_len: usize,
    texture: Vec<f32>,
}

impl Grouping {
    fn similarity(&self, a: usize, b: usize) -> f32 {
        let intersection = |h: &[f32], len: usize| {
            h[a * len..(a + 1) * len]
                .iter()
                .zip(&h[b * len..(b + 1) * len])
                .fold(0.0f32, |r, (x, y)| r + x.min(*y))
        };
        let (sa, sb) = (self.sizes[a], self.sizes[b]);
        let mut t = 0.0f32;
        if self.s.colour != 0.0 {
            t += self.s.colour * intersection(&self.colour, self.colour_len);
        }
        if self.s.fill != 0.0 {
            let u = union(self.boxes[a], self.boxes[b]);
            let area = (u[2] - u[0]) as i64 * (u[3] - u[1]) as i64;
            let fill = 1.0 - (area - sa as i64 - sb as i64) as f32 / self.image_size;
            t += self.s.fill * fill.clamp(0.0, 1.0);
        }
        if self.s.texture != 0.0 {
            t += self.s.texture * intersection(&self.texture, self.texture_len);
        }
        if self.s.size != 0.0 {
            let size = 1.0 - (sa + sb) as f32 / self.image_size;
            t += self.s.size * size.clamp(0.0, 1.0);
        }
        t / self.total
    }

    /// Appends the merge of regions `a` and `b`; returns its index.
    fn merge(&mut self, a: usize, b: usize) -> usize {
        let (sa, sb) = (self.sizes[a], self.sizes[b]);
        let mix = |h: &mut Vec<f32>, len: usize| {
            for i in 0..len {
                let v =
                    (h[a * len + i] * sa as f32 + h[b * len + i] * sb as f32) / (sa + sb) as f32;
                h.push(v);
            }
        };
        mix(&mut self.colour, self.colour_len);
        mix(&mut self.texture, self.texture_len);
        self.sizes.push(sa + sb);
        self.boxes.push(union(self.boxes[a], self.boxes[b]));
        self.levels.push(self.levels[a].max(self.levels[b]) + 1);
        self.sizes.len() - 1
    }
}

fn union(a: [u32; 4], b: [u32; 4]) -> [u32; 4] {
    [
        a[0].min(b[0]),
        a[1].min(b[1]),
        a[2].max(b[2]),
        a[3].max(b[3]),
    ]
}

/// A pair in the queue: the most similar first, then the earliest found.
struct Candidate {
    similarity: f32,
    seq: usize,
    a: usize,
    b: usize,
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Candidate {}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.similarity
            .total_cmp(&other.similarity)
            .then(other.seq.cmp(&self.seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsv_matches_opencv_values() {
        // cv2.cvtColor(np.uint8([[[b, g, r]]]), cv2.COLOR_BGR2HSV) for these (r, g, b).
        assert_eq!(hsv(255, 0, 0), [0, 255, 255]);
        assert_eq!(hsv(0, 255, 0), [60, 255, 255]);
        assert_eq!(hsv(0, 0, 255), [120, 255, 255]);
        assert_eq!(hsv(10, 10, 10), [0, 0, 10]);
        assert_eq!(hsv(200, 100, 150), [165, 127, 200]);
        assert_eq!(grey(200, 100, 150), 136);
    }

    #[test]
    fn every_region_once_per_grouping() {
        // Three vertical stripes: 3 regions, 2 merges, 5 boxes per grouping.
        let (h, w) = (12, 36);
        let labels: Vec<usize> = (0..h * w).map(|p| (p % w) / 12).collect();
        let image: Vec<u8> = labels.iter().map(|&l| (l * 100) as u8).collect();
        let maps = texture_maps(&image, 1, h, w);
        let regions = Regions::new(&labels, h, w, Some((&image, 1)), Some(&maps));
        assert_eq!(regions.pairs, vec![(0, 1), (1, 2)]);
        let out = regions.group(&Similarity::COLOUR_FILL_TEXTURE_SIZE);
        assert_eq!(out.len(), 5);
        assert_eq!(out[4], (3, [0, 0, 36, 12]));
        assert_eq!(out[0], (1, [0, 0, 12, 12]));
    }

    #[test]
    fn refuses_bad_input() {
        let s = SelectiveSearch::single(200, 0.8);
        assert!(s.process(&[0; 10], 2, 2, 0).is_err());
        let mut empty = s.clone();
        empty.strategies.clear();
        assert!(empty.process(&[0; 12], 2, 2, 0).is_err());
    }
}
