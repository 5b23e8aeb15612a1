//! Felzenszwalb and Huttenlocher's graph-based segmentation ("Efficient
//! graph-based image segmentation", IJCV 2004), the over-segmentation that
//! R-CNN's selective search starts from, computed exactly as scikit-image's
//! `skimage.segmentation.felzenszwalb` computes it (0.26, float64):
//!
//! 1. each channel is smoothed by scipy's `ndimage.gaussian_filter`
//!    (`sigma` on both spatial axes, none when it is 0; border `reflect`,
//!    `dcba|abcd|dcba`; radius `int(4 * sigma + 0.5)`; the kernel
//!    `exp(-x^2 / (2 sigma^2))` divided by its sum, taken as numpy sums;
//!    rows first, then columns; scipy's symmetric-kernel loop
//!    `v[i] w[0] + sum_j (v[i - j] + v[i + j]) w[j]`, outermost `j` first);
//! 2. the 8-connected graph's edges, weighted by the Euclidean distance of
//!    the two pixels' colours, in scikit-image's order: every right edge
//!    `(y, x)-(y, x+1)`, then every down edge, down-right edge
//!    `(y, x)-(y+1, x+1)` and up-right edge `(y+1, x)-(y, x+1)`, each set
//!    row-major;
//! 3. the edges sorted by weight; in that order the two components an edge
//!    joins are merged when `weight < min(Int(a) + k / |a|, Int(b) + k / |b|)`
//!    with `k = scale / 255` (scikit-image rescales the paper's `k` so that
//!    `scale` means the same on `[0, 1]` images as `k` on `[0, 255]` ones),
//!    each threshold rounded to float32 as scikit-image stores it, the
//!    merged component's internal difference `Int` becoming the weight;
//! 4. in the same order, every edge with a component smaller than
//!    `min_size` at either end merges the two;
//! 5. labels `0..n` numbered by first appearance in row-major order.
//!
//! Two details of the reference are not fixed by its own code, and here
//! are: numpy's `argsort` (its default `quicksort`) is not stable, and on a
//! machine with AVX-512 numpy sorts with a SIMD kernel whose order of equal
//! weights differs from a scalar build's, so equal weights are taken here in
//! edge order (a stable sort); and numpy's AVX-512 `exp` differs from the C
//! library's by one unit in the last place for some sigmas (1.3, 1.5, ...;
//! not 0.5, 0.8 or 1.0), where this module uses the C library's, as numpy
//! does on a machine without AVX-512. Real-valued images (and the SPEC's
//! cases) have no equal weights; on 8-bit images at `sigma = 0` the order
//! of ties can change a segmentation, and `scripts/make_felzenszwalb_cases.py`
//! keeps only cases whose result does not depend on it.
//!
//! ```
//! use zoo_classic::segment::felzenszwalb;
//! // Two flat halves, dark and bright, of a 4 x 6 RGB image.
//! let (h, w) = (4, 6);
//! let mut image = vec![0.1f32; 3 * h * w];
//! for c in 0..3 {
//!     for y in 0..h {
//!         for x in 3..w {
//!             image[(c * h + y) * w + x] = 0.9;
//!         }
//!     }
//! }
//! let labels = felzenszwalb(&image, h, w, 1.0, 0.0, 1).unwrap();
//! assert_eq!(&labels[..6], &[0, 0, 0, 1, 1, 1]);
//! assert_eq!(labels.iter().max(), Some(&1));
//! ```

use crate::{ClassicError, invalid};

/// Felzenszwalb's segmentation of `image`, channel planes `[C, H, W]`
/// (row-major; usually `C = 3`, RGB in `[0, 1]`; any `C >= 1`), as
/// scikit-image's `felzenszwalb(image.transpose(1, 2, 0), scale, sigma,
/// min_size, channel_axis=-1)` computes it (see the [module](self)): one
/// label per pixel, row-major `[H, W]`, numbered `0..n` by first
/// appearance.
///
/// # Errors
/// An `image` whose length is not a positive multiple of `h * w`, an empty
/// image, a negative or non-finite `sigma`, a non-finite `scale` or a
/// non-finite pixel.
pub fn felzenszwalb(
    image: &[f32],
    h: usize,
    w: usize,
    scale: f64,
    sigma: f64,
    min_size: usize,
) -> Result<Vec<usize>, ClassicError> {
    const F: &str = "felzenszwalb";
    if h == 0 || w == 0 || image.is_empty() || !image.len().is_multiple_of(h * w) {
        return invalid(
            F,
            format!(
                "{} values for a {h} x {w} image; expected [C, H, W] with C >= 1",
                image.len()
            ),
        );
    }
    if !scale.is_finite() {
        return invalid(F, format!("scale {scale}; expected a finite number"));
    }
    let planes: Vec<f64> = image.iter().map(|&v| v as f64).collect();
    graph_segmentation(F, planes, h, w, scale / 255.0, sigma, min_size)
}

/// The segmentation of float64 planes `[C, H, W]` with the threshold
/// constant `k` itself (`scale / 255` for [`felzenszwalb`]; selective search
/// passes OpenCV's `k` with pixel values in `[0, 255]`).
pub(crate) fn graph_segmentation(
    function: &'static str,
    mut planes: Vec<f64>,
    h: usize,
    w: usize,
    k: f64,
    sigma: f64,
    min_size: usize,
) -> Result<Vec<usize>, ClassicError> {
    if !(sigma >= 0.0 && sigma.is_finite()) {
        return invalid(
            function,
            format!("sigma {sigma}; expected a finite sigma >= 0"),
        );
    }
    if let Some(v) = planes.iter().find(|v| !v.is_finite()) {
        return invalid(function, format!("a pixel is {v}; expected finite values"));
    }
    let c = planes.len() / (h * w);
    if sigma > 1e-15 {
        let kernel = gaussian_kernel(sigma);
        let mut line = Vec::new();
        for plane in planes.chunks_mut(h * w) {
            // scipy filters axis 0 (down the columns), then axis 1 (along the rows).
            for x in 0..w {
                line.clear();
                line.extend((0..h).map(|y| plane[y * w + x]));
                let out = correlate_reflect(&line, &kernel);
                for (y, v) in out.into_iter().enumerate() {
                    plane[y * w + x] = v;
                }
            }
            for y in 0..h {
                let row = &mut plane[y * w..(y + 1) * w];
                let out = correlate_reflect(row, &kernel);
                row.copy_from_slice(&out);
            }
        }
    }

    let edges = graph_edges(&planes, c, h, w);
    let n = h * w;
    let mut sets = Sets::new(n);
    let mut internal = vec![0.0f64; n];
    for e in &edges {
        let (a, b) = (sets.find(e.a as usize), sets.find(e.b as usize));
        if a == b {
            continue;
        }
        let ta = (internal[a] + k / sets.size[a] as f64) as f32;
        let tb = (internal[b] + k / sets.size[b] as f64) as f32;
        if e.weight < ta.min(tb) as f64 {
            let root = sets.union(a, b);
            internal[root] = e.weight;
        }
    }
    for e in &edges {
        let (a, b) = (sets.find(e.a as usize), sets.find(e.b as usize));
        if a != b && (sets.size[a] < min_size || sets.size[b] < min_size) {
            sets.union(a, b);
        }
    }
    let mut label_of_root = vec![usize::MAX; n];
    let mut next = 0;
    Ok((0..n)
        .map(|p| {
            let r = sets.find(p);
            if label_of_root[r] == usize::MAX {
                label_of_root[r] = next;
                next += 1;
            }
            label_of_root[r]
        })
        .collect())
}

/// One edge of the pixel graph.
struct Edge {
    weight: f64,
    a: u32,
    b: u32,
}

/// The 8-connected graph's edges in scikit-image's order, sorted by weight
/// (stably: equal weights keep that order).
fn graph_edges(planes: &[f64], c: usize, h: usize, w: usize) -> Vec<Edge> {
    let hw = h * w;
    let mut edges = Vec::with_capacity(4 * hw);
    let mut push = |p: usize, q: usize| {
        // numpy: sqrt(sum((b - a) * (b - a), axis=-1)), the channels added in order.
        let mut sum = 0.0f64;
        for ch in 0..c {
            let d = planes[ch * hw + q] - planes[ch * hw + p];
            sum += d * d;
        }
        edges.push(Edge {
            weight: sum.sqrt(),
            a: p as u32,
            b: q as u32,
        });
    };
    for y in 0..h {
        for x in 0..w.saturating_sub(1) {
            push(y * w + x, y * w + x + 1);
        }
    }
    for y in 0..h.saturating_sub(1) {
        for x in 0..w {
            push(y * w + x, (y + 1) * w + x);
        }
    }
    for y in 0..h.saturating_sub(1) {
        for x in 0..w.saturating_sub(1) {
            push(y * w + x, (y + 1) * w + x + 1);
        }
    }
    for y in 0..h.saturating_sub(1) {
        for x in 0..w.saturating_sub(1) {
            push((y + 1) * w + x, y * w + x + 1);
        }
    }
    edges.sort_by(|e, f| e.weight.total_cmp(&f.weight));
    edges
}

/// Disjoint sets with their sizes (union by size, path halving).
struct Sets {
    parent: Vec<u32>,
    size: Vec<usize>,
}

impl Sets {
    fn new(n: usize) -> Self {
        Self {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
        }
    }

    fn find(&mut self, mut p: usize) -> usize {
        while self.parent[p] as usize != p {
            let grand = self.parent[self.parent[p] as usize];
            self.parent[p] = grand;
            p = grand as usize;
        }
        p
    }

    /// Joins two roots; returns the new root.
    fn union(&mut self, a: usize, b: usize) -> usize {
        let (big, small) = if self.size[a] >= self.size[b] {
            (a, b)
        } else {
            (b, a)
        };
        self.parent[small] = big as u32;
        self.size[big] += self.size[small];
        big
    }
}

/// scipy's `_gaussian_kernel1d(sigma, 0, int(4 * sigma + 0.5))`: weights
/// `exp(-0.5 / sigma^2 * x^2)` for `x` in `-r..=r`, divided by their numpy
/// sum.
fn gaussian_kernel(sigma: f64) -> Vec<f64> {
    let radius = (4.0 * sigma + 0.5) as i64;
    let factor = -0.5 / (sigma * sigma);
    let phi: Vec<f64> = (-radius..=radius)
        .map(|x| (factor * (x * x) as f64).exp())
        .collect();
    let sum = numpy_sum(&phi);
    phi.into_iter().map(|v| v / sum).collect()
}

/// numpy's pairwise summation of a float64 array (`np.sum`): plain below 8
/// values, 8 accumulators up to 128, halves (rounded to multiples of 8) above.
fn numpy_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        return a.iter().fold(-0.0, |s, &v| s + v);
    }
    if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&a[..8]);
        let whole = n - n % 8;
        let mut i = 8;
        while i < whole {
            for (j, acc) in r.iter_mut().enumerate() {
                *acc += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &a[whole..] {
            res += v;
        }
        return res;
    }
    let mut half = n / 2;
    half -= half % 8;
    numpy_sum(&a[..half]) + numpy_sum(&a[half..])
}

/// scipy's `correlate1d` of one line with a symmetric odd kernel, border
/// `reflect` (`dcba|abcd|dcba`, repeated for a kernel longer than the line).
fn correlate_reflect(line: &[f64], kernel: &[f64]) -> Vec<f64> {
    let n = line.len() as i64;
    let r = (kernel.len() / 2) as i64;
    let at = |i: i64| -> f64 {
        let period = 2 * n;
        let m = i.rem_euclid(period);
        line[if m < n { m } else { period - 1 - m } as usize]
    };
    let centre = kernel[r as usize];
    (0..n)
        .map(|i| {
            let mut v = at(i) * centre;
            for j in (1..=r).rev() {
                v += (at(i - j) + at(i + j)) * kernel[(r - j) as usize];
            }
            v
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_sum_orders() {
        let a: Vec<f64> = (0..300).map(|i| 1.0 / (i as f64 + 1.0)).collect();
        // Below 8: plain; 9: eight accumulators plus one; 300: halves.
        assert_eq!(numpy_sum(&a[..3]), (a[0] + a[1]) + a[2]);
        let r = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
        assert_eq!(numpy_sum(&a[..9]), r + a[8]);
        assert_eq!(numpy_sum(&a), numpy_sum(&a[..144]) + numpy_sum(&a[144..]));
    }

    #[test]
    fn reflect_border_repeats() {
        // A kernel wider than the line: dcba|abcd|dcba repeated.
        let k = gaussian_kernel(3.0);
        let out = correlate_reflect(&[1.0, 1.0], &k);
        for v in out {
            assert!((v - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn min_size_merges_small_segments() {
        // One bright pixel in a dark 5 x 5 grey image.
        let mut image = vec![0.0f32; 25];
        image[12] = 1.0;
        let alone = felzenszwalb(&image, 5, 5, 1.0, 0.0, 1).unwrap();
        assert_eq!(alone.iter().max(), Some(&1));
        assert_eq!(alone[12], 1);
        let merged = felzenszwalb(&image, 5, 5, 1.0, 0.0, 2).unwrap();
        assert!(merged.iter().all(|&l| l == 0));
    }

    #[test]
    fn refuses_bad_input() {
        assert!(felzenszwalb(&[0.0; 7], 2, 2, 1.0, 0.8, 1).is_err());
        assert!(felzenszwalb(&[0.0; 4], 2, 2, 1.0, -1.0, 1).is_err());
        assert!(felzenszwalb(&[f32::NAN; 4], 2, 2, 1.0, 0.8, 1).is_err());
        assert!(felzenszwalb(&[], 0, 0, 1.0, 0.8, 1).is_err());
    }
}
