//! The Canny edge detector with scikit-image's semantics
//! (`skimage.feature.canny` on a float image, no mask): Gaussian smoothing
//! (`scipy.ndimage.gaussian_filter`, truncated at 4 sigma, border zero)
//! divided by the same smoothing of an all-ones image (so the border is
//! not darkened), Sobel gradients (`scipy.ndimage.sobel`, border reflect),
//! non-maximum suppression interpolating the magnitude along the gradient,
//! the low threshold, then hysteresis: a connected (8-neighbour) group of
//! surviving pixels is kept when one of them reaches the high threshold.
//! Computed in float32 as scikit-image does for a float32 image.

use burn::tensor::{Int, Tensor, TensorData};

use crate::{ClassicError, invalid};

/// Canny's settings.
#[derive(Clone, Debug)]
pub struct CannyConfig {
    /// Standard deviation of the Gaussian.
    pub sigma: f64,
    /// Magnitudes below are never edges.
    pub low_threshold: f64,
    /// A connected group of candidates is kept when one reaches this.
    pub high_threshold: f64,
}

impl Default for CannyConfig {
    /// scikit-image's defaults for a float image: sigma 1, thresholds 0.1 and 0.2.
    fn default() -> Self {
        Self {
            sigma: 1.0,
            low_threshold: 0.1,
            high_threshold: 0.2,
        }
    }
}

/// `scipy.ndimage._gaussian_kernel1d` (order 0): radius `int(4 sigma + 0.5)`.
fn gaussian_kernel(sigma: f64) -> Vec<f64> {
    let radius = (4.0 * sigma + 0.5) as i64;
    let w: Vec<f64> = (-radius..=radius)
        .map(|x| (-0.5 / (sigma * sigma) * (x * x) as f64).exp())
        .collect();
    let s: f64 = w.iter().sum();
    w.into_iter().map(|v| v / s).collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Border {
    /// `scipy`'s `constant` with 0.
    Zero,
    /// `scipy`'s `reflect` (`dcba|abcd|dcba`, the edge repeated).
    Reflect,
}

/// Where `j` (possibly outside `0..len`) reads from under `border`.
#[inline]
fn source(j: i64, len: usize, border: Border) -> Option<usize> {
    let n = len as i64;
    if (0..n).contains(&j) {
        return Some(j as usize);
    }
    match border {
        Border::Zero => None,
        Border::Reflect => {
            // Period 2n, mirrored with the edge repeated.
            let j = j.rem_euclid(2 * n);
            Some(if j >= n { 2 * n - 1 - j } else { j } as usize)
        }
    }
}

/// `scipy.ndimage.correlate1d` of a float32 image along `axis` (0 rows, 1
/// columns) with f64 weights centred on the middle one, the sums in f64
/// (taps in order), the result stored in f32. Whole rows at a time, so
/// that the inner loops run over contiguous memory without border tests.
fn correlate1d(
    image: &[f32],
    h: usize,
    w: usize,
    axis: usize,
    weights: &[f64],
    border: Border,
) -> Vec<f32> {
    let r = (weights.len() / 2) as i64;
    let mut out = vec![0.0f32; h * w];
    let mut acc = vec![0.0f64; w];
    if axis == 0 {
        for i in 0..h {
            acc.fill(0.0);
            for (k, &wk) in weights.iter().enumerate() {
                let Some(j) = source(i as i64 + k as i64 - r, h, border) else {
                    continue;
                };
                for (a, &x) in acc.iter_mut().zip(&image[j * w..(j + 1) * w]) {
                    *a += wk * x as f64;
                }
            }
            for (o, &a) in out[i * w..(i + 1) * w].iter_mut().zip(&acc) {
                *o = a as f32;
            }
        }
        return out;
    }
    let ru = r as usize;
    for row in 0..h {
        let line = &image[row * w..(row + 1) * w];
        let dst = &mut out[row * w..(row + 1) * w];
        for (i, o) in dst.iter_mut().enumerate() {
            let mut s = 0.0f64;
            if i >= ru && i + ru < w {
                for (&wk, &x) in weights.iter().zip(&line[i - ru..=i + ru]) {
                    s += wk * x as f64;
                }
            } else {
                for (k, &wk) in weights.iter().enumerate() {
                    if let Some(j) = source(i as i64 + k as i64 - r, w, border) {
                        s += wk * line[j] as f64;
                    }
                }
            }
            *o = s as f32;
        }
    }
    out
}

fn gaussian(image: &[f32], h: usize, w: usize, sigma: f64) -> Vec<f32> {
    let k = gaussian_kernel(sigma);
    let rows = correlate1d(image, h, w, 0, &k, Border::Zero);
    correlate1d(&rows, h, w, 1, &k, Border::Zero)
}

/// [`gaussian`] of an all-ones image, the same values computed in `O(h +
/// w)` sums: every column of the first pass is the same, and in the second
/// every column away from the border sums the same taps.
fn gaussian_of_ones(h: usize, w: usize, sigma: f64) -> Vec<f32> {
    let k = gaussian_kernel(sigma);
    let r = (k.len() / 2) as i64;
    // Sum of the taps that land inside `0..len` around `i`, times `v`, in tap order.
    let taps = |i: usize, len: usize, v: f64| -> f32 {
        let mut s = 0.0f64;
        for (t, &wk) in k.iter().enumerate() {
            let j = i as i64 + t as i64 - r;
            if (0..len as i64).contains(&j) {
                s += wk * v;
            }
        }
        s as f32
    };
    let first: Vec<f32> = (0..h).map(|i| taps(i, h, 1.0)).collect();
    let ru = r as usize;
    let mut out = vec![0.0f32; h * w];
    for (row, &a) in first.iter().enumerate() {
        let inner = taps(ru.min(w.saturating_sub(1)), w, a as f64);
        for c in 0..w {
            out[row * w + c] = if c >= ru && c + ru < w {
                inner
            } else {
                taps(c, w, a as f64)
            };
        }
    }
    out
}

/// `scipy.ndimage.sobel(image, axis)`: the derivative `[-1, 0, 1]` along
/// `axis`, then the smoothing `[1, 2, 1]` along the other.
fn sobel(image: &[f32], h: usize, w: usize, axis: usize) -> Vec<f32> {
    let d = correlate1d(image, h, w, axis, &[-1.0, 0.0, 1.0], Border::Reflect);
    correlate1d(&d, h, w, 1 - axis, &[1.0, 2.0, 1.0], Border::Reflect)
}

/// The edges of the grey image `image [h, w]` (row-major, values in
/// `[0, 1]`), `true` on an edge.
pub fn canny(
    image: &[f32],
    h: usize,
    w: usize,
    config: &CannyConfig,
) -> Result<Vec<bool>, ClassicError> {
    if image.len() != h * w {
        return invalid(
            "canny",
            format!("{} values for a {h}x{w} image", image.len()),
        );
    }
    if h < 3 || w < 3 {
        return invalid("canny", format!("a {h}x{w} image; expected at least 3x3"));
    }
    // An infinite sigma would ask for an infinitely wide kernel.
    if !(config.sigma.is_finite() && config.sigma > 0.0) {
        return invalid(
            "canny",
            format!("sigma {}; expected a finite positive number", config.sigma),
        );
    }
    if config.high_threshold < config.low_threshold {
        return invalid(
            "canny",
            format!(
                "low threshold {} above the high {}; expected low <= high",
                config.low_threshold, config.high_threshold
            ),
        );
    }
    // Smoothing, recalibrated by the smoothing of the all-ones mask.
    let smoothed = gaussian(image, h, w, config.sigma);
    let bleed = gaussian_of_ones(h, w, config.sigma);
    let smoothed: Vec<f32> = smoothed
        .iter()
        .zip(&bleed)
        .map(|(&s, &b)| s / (b + f32::EPSILON))
        .collect();
    let jsobel = sobel(&smoothed, h, w, 1);
    let isobel = sobel(&smoothed, h, w, 0);
    let magnitude: Vec<f32> = isobel
        .iter()
        .zip(&jsobel)
        .map(|(&i, &j)| (i * i + j * j).sqrt())
        .collect();
    let low = if config.low_threshold == 0.0 {
        1e-14f32
    } else {
        config.low_threshold as f32
    };
    let high = config.high_threshold as f32;
    // Non-maximum suppression (scikit-image's `_nonmaximum_suppression_bilinear`).
    let mut kept = vec![0.0f32; h * w];
    let at = |x: usize, y: usize| magnitude[x * w + y];
    for x in 1..h - 1 {
        for y in 1..w - 1 {
            let m = at(x, y);
            // (Written so that a NaN magnitude is no candidate either.)
            if m.partial_cmp(&low)
                .is_none_or(|o| o == std::cmp::Ordering::Less)
            {
                continue;
            }
            let (is, js) = (isobel[x * w + y], jsobel[x * w + y]);
            let (down, left) = (is <= 0.0, js <= 0.0);
            let (up, right) = (!down, !left);
            let cond1 = (up && right) || (down && left);
            let cond2 = (down && right) || (up && left);
            if !(cond1 || cond2) {
                continue;
            }
            let (ai, aj) = (is.abs(), js.abs());
            let (wgt, n11, n12, n21, n22) = if cond1 {
                if ai > aj {
                    (
                        aj / ai,
                        at(x + 1, y),
                        at(x + 1, y + 1),
                        at(x - 1, y),
                        at(x - 1, y - 1),
                    )
                } else {
                    (
                        ai / aj,
                        at(x, y + 1),
                        at(x + 1, y + 1),
                        at(x, y - 1),
                        at(x - 1, y - 1),
                    )
                }
            } else if ai < aj {
                (
                    ai / aj,
                    at(x, y + 1),
                    at(x - 1, y + 1),
                    at(x, y - 1),
                    at(x + 1, y - 1),
                )
            } else {
                (
                    aj / ai,
                    at(x - 1, y),
                    at(x - 1, y + 1),
                    at(x + 1, y),
                    at(x + 1, y - 1),
                )
            };
            if n12 * wgt + n11 * (1.0 - wgt) <= m && n22 * wgt + n21 * (1.0 - wgt) <= m {
                kept[x * w + y] = m;
            }
        }
    }
    // Hysteresis: 8-connected groups of candidates with a strong member.
    let mut edges = vec![false; h * w];
    let mut seen = vec![false; h * w];
    let mut stack = Vec::new();
    let mut group = Vec::new();
    for start in 0..h * w {
        if kept[start] <= 0.0 || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        group.clear();
        let mut strong = false;
        while let Some(p) = stack.pop() {
            group.push(p);
            strong |= kept[p] >= high;
            let (x, y) = ((p / w) as i64, (p % w) as i64);
            for dx in -1..=1 {
                for dy in -1..=1 {
                    let (nx, ny) = (x + dx, y + dy);
                    if nx < 0 || ny < 0 || nx >= h as i64 || ny >= w as i64 {
                        continue;
                    }
                    let q = nx as usize * w + ny as usize;
                    if kept[q] > 0.0 && !seen[q] {
                        seen[q] = true;
                        stack.push(q);
                    }
                }
            }
        }
        if strong {
            for &p in &group {
                edges[p] = true;
            }
        }
    }
    Ok(edges)
}

/// Edges `[N, 1, H, W]` (1 on an edge) of grey images `[N, 1, H, W]`.
pub fn canny_batch(
    images: Tensor<4>,
    config: &CannyConfig,
) -> Result<Tensor<4, Int>, ClassicError> {
    let [n, c, h, w] = images.dims();
    if c != 1 {
        return invalid(
            "canny",
            format!("images with {c} channels; expected grey images [N, 1, H, W]"),
        );
    }
    let device = images.device();
    let data: Vec<f32> = images
        .into_data()
        .try_into_vec_as::<f32>()
        .expect("float images");
    let mut out = Vec::with_capacity(n * h * w);
    for i in 0..n {
        out.extend(
            canny(&data[i * h * w..(i + 1) * h * w], h, w, config)?
                .into_iter()
                .map(i64::from),
        );
    }
    Ok(Tensor::from_data(
        TensorData::new(out, [n, 1, h, w]),
        &device,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gaussian_kernel_is_scipys() {
        // scipy.ndimage._gaussian_kernel1d(1.0, 0, 4): 9 taps.
        let k = gaussian_kernel(1.0);
        assert_eq!(k.len(), 9);
        assert!((k[4] - 0.398_943_469).abs() < 1e-9, "{}", k[4]);
        assert!((k[3] - 0.241_971_446).abs() < 1e-9, "{}", k[3]);
        assert!((k[0] - 1.338_306_25e-4).abs() < 1e-12, "{}", k[0]);
    }

    /// A bright square on black: its outline is found, the flat inside and
    /// outside are not.
    #[test]
    fn a_square_has_edges_only_on_its_outline() {
        let (h, w) = (20, 20);
        let image: Vec<f32> = (0..h * w)
            .map(|i| {
                if (5..15).contains(&(i / w)) && (5..15).contains(&(i % w)) {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let e = canny(&image, h, w, &CannyConfig::default()).unwrap();
        assert!(!e[10 * w + 10] && !e[w + 1], "flat regions are not edges");
        assert!((3..8).any(|y| e[10 * w + y]), "the left side is an edge");
    }

    /// The shortcut gives the very values of filtering an all-ones image.
    #[test]
    fn the_smoothed_mask_is_the_filtered_ones() {
        for (h, w, sigma) in [(7, 30, 1.0), (40, 5, 2.5), (3, 3, 0.7), (20, 21, 4.0)] {
            assert_eq!(
                gaussian_of_ones(h, w, sigma),
                gaussian(&vec![1.0; h * w], h, w, sigma),
                "{h}x{w} sigma {sigma}"
            );
        }
    }

    #[test]
    fn thresholds_out_of_order_are_refused() {
        let cfg = CannyConfig {
            low_threshold: 0.5,
            high_threshold: 0.2,
            ..CannyConfig::default()
        };
        let err = canny(&[0.0; 16], 4, 4, &cfg).unwrap_err();
        assert!(
            err.to_string()
                .contains("low threshold 0.5 above the high 0.2"),
            "{err}"
        );
    }
}
