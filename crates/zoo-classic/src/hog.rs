//! Histograms of oriented gradients (Dalal & Triggs 2005) as scikit-image
//! computes them (`skimage.feature.hog` on a grey image): central
//! differences (zero on the border rows and columns), unsigned
//! orientations in `[0, 180)` split into `orientations` bins, each cell's
//! histogram the sum of its pixels' magnitudes per bin, blocks of cells
//! normalised by one of the four norms, all blocks concatenated.

use burn::tensor::Tensor;

use crate::{ClassicError, invalid};

/// How each block of cell histograms is normalised (`eps = 1e-5`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockNorm {
    /// `v / (sum |v| + eps)`.
    L1,
    /// `sqrt(v / (sum |v| + eps))`.
    L1Sqrt,
    /// `v / sqrt(sum v^2 + eps^2)`.
    L2,
    /// L2, clipped at 0.2, renormalised (Lowe's).
    L2Hys,
}

impl std::str::FromStr for BlockNorm {
    type Err = ClassicError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "L1" => Ok(BlockNorm::L1),
            "L1-sqrt" => Ok(BlockNorm::L1Sqrt),
            "L2" => Ok(BlockNorm::L2),
            "L2-Hys" => Ok(BlockNorm::L2Hys),
            other => invalid(
                "BlockNorm",
                format!("unknown block norm {other:?}, expected L1, L1-sqrt, L2 or L2-Hys"),
            ),
        }
    }
}

/// HOG's settings (scikit-image's defaults but for the block, which the
/// course's 2x2 is).
#[derive(Clone, Debug)]
pub struct HogConfig {
    /// Orientation bins over `[0, 180)` degrees.
    pub orientations: usize,
    /// Cell size `[rows, cols]` in pixels.
    pub pixels_per_cell: [usize; 2],
    /// Block size `[rows, cols]` in cells.
    pub cells_per_block: [usize; 2],
    /// Block normalisation.
    pub block_norm: BlockNorm,
}

impl Default for HogConfig {
    fn default() -> Self {
        Self {
            orientations: 9,
            pixels_per_cell: [8, 8],
            cells_per_block: [2, 2],
            block_norm: BlockNorm::L2Hys,
        }
    }
}

/// The cells' histograms of one image: `[cell rows, cell cols,
/// orientations]` and the grid size.
pub struct CellHistograms {
    /// Cell rows.
    pub rows: usize,
    /// Cell columns.
    pub cols: usize,
    /// `rows * cols * orientations` sums of magnitudes.
    pub bins: Vec<f64>,
}

impl HogConfig {
    fn check(&self, h: usize, w: usize) -> Result<(), ClassicError> {
        let [cr, cc] = self.pixels_per_cell;
        let [br, bc] = self.cells_per_block;
        if self.orientations == 0 || cr == 0 || cc == 0 || br == 0 || bc == 0 {
            return invalid(
                "hog",
                format!("{self:?}: orientations, cells and blocks must be at least 1"),
            );
        }
        if h / cr < br || w / cc < bc {
            return invalid(
                "hog",
                format!(
                    "a {h}x{w} image holds {}x{} cells of {cr}x{cc} pixels, fewer than one block of {br}x{bc} cells",
                    h / cr,
                    w / cc
                ),
            );
        }
        Ok(())
    }

    /// Each cell's orientation histogram of the grey image `image [h, w]`
    /// (row-major), as scikit-image's `hog_histograms`: a pixel with
    /// orientation in `[180 i / n, 180 (i + 1) / n)` adds its magnitude to
    /// bin `i` of its cell (pixels beyond the last whole cell are unused).
    pub fn cell_histograms(
        &self,
        image: &[f32],
        h: usize,
        w: usize,
    ) -> Result<CellHistograms, ClassicError> {
        if image.len() != h * w {
            return invalid("hog", format!("{} values for a {h}x{w} image", image.len()));
        }
        self.check(h, w)?;
        let n = self.orientations;
        let [cr, cc] = self.pixels_per_cell;
        let (rows, cols) = (h / cr, w / cc);
        // Central differences in the image's precision (float32), as
        // `_hog_channel_gradient` takes them, then in f64.
        let at = |r: usize, c: usize| image[r * w + c];
        // scikit-image sums each cell in a C float.
        let mut sums = vec![0.0f32; rows * cols * n];
        // Bin edges as scikit-image holds them (C floats).
        let edges: Vec<f64> = (0..=n)
            .map(|i| (180.0 / n as f64 * i as f64) as f32 as f64)
            .collect();
        for r in 0..rows * cr {
            for c in 0..cols * cc {
                let gr = if r == 0 || r == h - 1 {
                    0.0
                } else {
                    (at(r + 1, c) - at(r - 1, c)) as f64
                };
                let gc = if c == 0 || c == w - 1 {
                    0.0
                } else {
                    (at(r, c + 1) - at(r, c - 1)) as f64
                };
                let magnitude = gr.hypot(gc);
                let orientation = (gr.atan2(gc) * (180.0 / std::f64::consts::PI)).rem_euclid(180.0);
                // The bin whose [end, start) holds the orientation.
                if let Some(i) =
                    (0..n).find(|&i| orientation >= edges[i] && orientation < edges[i + 1])
                {
                    let s = &mut sums[((r / cr) * cols + c / cc) * n + i];
                    *s = (*s as f64 + magnitude) as f32;
                }
            }
        }
        let bins = sums.into_iter().map(f64::from).collect();
        Ok(CellHistograms { rows, cols, bins })
    }

    /// The HOG feature vector of the grey image `image [h, w]`: every block
    /// of `cells_per_block` cells (stride one cell), normalised, in
    /// scikit-image's order `[block row, block col, cell row, cell col,
    /// orientation]`.
    pub fn features(&self, image: &[f32], h: usize, w: usize) -> Result<Vec<f32>, ClassicError> {
        let cells = self.cell_histograms(image, h, w)?;
        let n = self.orientations;
        let [br, bc] = self.cells_per_block;
        let (nbr, nbc) = (cells.rows - br + 1, cells.cols - bc + 1);
        let mut out = Vec::with_capacity(nbr * nbc * br * bc * n);
        let mut block = Vec::with_capacity(br * bc * n);
        for r in 0..nbr {
            for c in 0..nbc {
                block.clear();
                for i in 0..br {
                    for j in 0..bc {
                        let at = ((r + i) * cells.cols + c + j) * n;
                        block.extend_from_slice(&cells.bins[at..at + n]);
                    }
                }
                normalise(&mut block, self.block_norm);
                out.extend(block.iter().map(|&v| v as f32));
            }
        }
        Ok(out)
    }

    /// scikit-image's `hog(..., visualize=True)` picture `[h, w]` of the
    /// grey image: in every cell, for each orientation bin, a line through
    /// the cell's centre at the bin's middle angle (the edge direction the
    /// gradients vote for), of half-length `min(cell) / 2 - 1`, adding the
    /// cell's sum for that bin to the pixels it crosses (Bresenham's line,
    /// as `skimage.draw.line`).
    pub fn picture(&self, image: &[f32], h: usize, w: usize) -> Result<Vec<f32>, ClassicError> {
        let cells = self.cell_histograms(image, h, w)?;
        let n = self.orientations;
        let [cr, cc] = self.pixels_per_cell;
        let radius = (cr.min(cc) / 2) as f64 - 1.0;
        let mut out = vec![0.0f32; h * w];
        for r in 0..cells.rows {
            for c in 0..cells.cols {
                let (r0, c0) = ((r * cr + cr / 2) as f64, (c * cc + cc / 2) as f64);
                for o in 0..n {
                    let angle = std::f64::consts::PI * (o as f64 + 0.5) / n as f64;
                    let (dr, dc) = (radius * angle.sin(), radius * angle.cos());
                    let v = cells.bins[(r * cells.cols + c) * n + o] as f32;
                    let ends = [
                        (r0 - dc) as i64,
                        (c0 + dr) as i64,
                        (r0 + dc) as i64,
                        (c0 - dr) as i64,
                    ];
                    for (pr, pc) in line(ends[0], ends[1], ends[2], ends[3]) {
                        if (0..h as i64).contains(&pr) && (0..w as i64).contains(&pc) {
                            out[pr as usize * w + pc as usize] += v;
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Features `[N, F]` of grey images `[N, 1, H, W]`.
    pub fn features_batch(&self, images: Tensor<4>) -> Result<Tensor<2>, ClassicError> {
        let [n, c, h, w] = images.dims();
        if c != 1 {
            return invalid(
                "hog",
                format!("images with {c} channels; expected grey images [N, 1, H, W]"),
            );
        }
        let device = images.device();
        let data: Vec<f32> = images
            .into_data()
            .try_into_vec_as::<f32>()
            .expect("float images");
        let mut rows = Vec::with_capacity(n);
        for i in 0..n {
            rows.extend(self.features(&data[i * h * w..(i + 1) * h * w], h, w)?);
        }
        let f = rows.len() / n.max(1);
        Ok(Tensor::<1>::from_floats(rows.as_slice(), &device).reshape([n, f]))
    }
}

/// The pixels of the line from `(r0, c0)` to `(r1, c1)`, both ends
/// included, as `skimage.draw.line` (Bresenham) walks them.
fn line(r0: i64, c0: i64, r1: i64, c1: i64) -> Vec<(i64, i64)> {
    let (mut r, mut c) = (r0, c0);
    let (mut dr, mut dc) = ((r1 - r0).abs(), (c1 - c0).abs());
    let (mut sr, mut sc) = (
        if r1 - r > 0 { 1 } else { -1 },
        if c1 - c > 0 { 1 } else { -1 },
    );
    let steep = dr > dc;
    if steep {
        std::mem::swap(&mut r, &mut c);
        std::mem::swap(&mut dr, &mut dc);
        std::mem::swap(&mut sr, &mut sc);
    }
    let mut d = 2 * dr - dc;
    let mut out = Vec::with_capacity(dc as usize + 1);
    for _ in 0..dc {
        out.push(if steep { (c, r) } else { (r, c) });
        while d >= 0 {
            r += sr;
            d -= 2 * dc;
        }
        c += sc;
        d += 2 * dr;
    }
    out.push((r1, c1));
    out
}

/// scikit-image's `_hog_normalize_block`.
fn normalise(block: &mut [f64], norm: BlockNorm) {
    const EPS: f64 = 1e-5;
    let l2 = |b: &[f64]| (b.iter().map(|v| v * v).sum::<f64>() + EPS * EPS).sqrt();
    match norm {
        BlockNorm::L1 | BlockNorm::L1Sqrt => {
            let s = block.iter().map(|v| v.abs()).sum::<f64>() + EPS;
            for v in block.iter_mut() {
                *v /= s;
                if norm == BlockNorm::L1Sqrt {
                    *v = v.sqrt();
                }
            }
        }
        BlockNorm::L2 => {
            let s = l2(block);
            block.iter_mut().for_each(|v| *v /= s);
        }
        BlockNorm::L2Hys => {
            let s = l2(block);
            block.iter_mut().for_each(|v| *v = (*v / s).min(0.2));
            let s = l2(block);
            block.iter_mut().for_each(|v| *v /= s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A horizontal ramp `I = 2 c`: every inner pixel's gradient is (0, 4)
    /// along the columns, orientation 0, magnitude 4; the first and last
    /// columns have none (the border), the first and last rows only their
    /// column difference. Worked by hand for one 4x4 cell: 4 pixels per row
    /// with a gradient except the border column (3 in the first cell), 4
    /// rows: 12 * 4 = 48 in bin 0.
    #[test]
    fn a_ramp_fills_bin_zero_with_its_gradient() {
        let (h, w) = (8, 8);
        let image: Vec<f32> = (0..h * w).map(|i| 2.0 * (i % w) as f32).collect();
        let cfg = HogConfig {
            orientations: 4,
            pixels_per_cell: [4, 4],
            cells_per_block: [1, 1],
            block_norm: BlockNorm::L1,
        };
        let cells = cfg.cell_histograms(&image, h, w).unwrap();
        assert_eq!(&cells.bins[0..4], &[48.0, 0.0, 0.0, 0.0]);
        let f = cfg.features(&image, h, w).unwrap();
        assert!((f[0] as f64 - 48.0 / (48.0 + 1e-5)).abs() < 1e-6);
    }

    /// `skimage.draw.line(1, 1, 4, 7)` and `line(5, 2, 0, 3)`, as
    /// scikit-image returns them.
    #[test]
    fn lines_walk_the_pixels_scikit_image_draws() {
        assert_eq!(
            line(1, 1, 4, 7),
            vec![(1, 1), (2, 2), (2, 3), (3, 4), (3, 5), (4, 6), (4, 7)]
        );
        assert_eq!(
            line(5, 2, 0, 3),
            vec![(5, 2), (4, 2), (3, 2), (2, 3), (1, 3), (0, 3)]
        );
    }

    #[test]
    fn cells_larger_than_the_image_are_refused() {
        let cfg = HogConfig {
            pixels_per_cell: [16, 16],
            ..HogConfig::default()
        };
        let err = cfg.features(&[0.0; 100], 10, 10).unwrap_err();
        assert!(
            err.to_string()
                .contains("a 10x10 image holds 0x0 cells of 16x16 pixels"),
            "{err}"
        );
    }
}
