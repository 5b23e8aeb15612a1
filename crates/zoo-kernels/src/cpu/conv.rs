//! Convolution and transposed convolution as im2col / col2im around gemm.
//!
//! A convolution's input (the "image" side, `c` channels of `h x w` per
//! group) and output (the "small" side, `oh x ow`) are tied by a [`Window`].
//! Three drivers cover both ops, forward and backward:
//!
//! | driver | conv2d | conv_transpose2d |
//! |---|---|---|
//! | [`gather_gemm`]: `small = A @ im2col(image)` | forward | input gradient |
//! | [`gemm_scatter`]: `image += col2im(A^T @ small)` | input gradient | forward |
//! | [`weight_grad`]: `dA = sum small @ im2col(image)^T` | weight gradient | weight gradient |
//!
//! `A` is the weight seen as `[groups * m, K]` with `K = c * kh * kw`: a
//! convolution's `[out, in / groups, kh, kw]` (m = out / groups) and a
//! transposed convolution's `[in, out / groups, kh, kw]` (m = in / groups) are
//! both that matrix as stored. Work is split over images, groups and column
//! tiles on rayon's pool; gemm runs single-threaded inside a task, or on the
//! pool itself when there are fewer tasks than threads.

use rayon::prelude::*;

use super::{SendPtr, sgemm, threads, with_scratch};

/// The sliding-window geometry of one group of a convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Channels of one group on the image side.
    pub c: usize,
    /// Image height.
    pub h: usize,
    /// Image width.
    pub w: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Vertical stride.
    pub sh: usize,
    /// Horizontal stride.
    pub sw: usize,
    /// Padding before the first row.
    pub ph: usize,
    /// Padding before the first column.
    pub pw: usize,
    /// Vertical dilation.
    pub dh: usize,
    /// Horizontal dilation.
    pub dw: usize,
    /// Height of the small side.
    pub oh: usize,
    /// Width of the small side.
    pub ow: usize,
}

impl Window {
    /// Rows of the column matrix: `c * kh * kw`.
    pub fn k(&self) -> usize {
        self.c * self.kh * self.kw
    }

    /// Columns of the column matrix: `oh * ow`.
    pub fn p(&self) -> usize {
        self.oh * self.ow
    }

    fn image_len(&self) -> usize {
        self.c * self.h * self.w
    }

    /// Whether im2col is the identity (a 1x1 window, stride 1, no padding).
    fn is_identity(&self) -> bool {
        self.kh == 1
            && self.kw == 1
            && self.sh == 1
            && self.sw == 1
            && self.ph == 0
            && self.pw == 0
            && self.oh == self.h
            && self.ow == self.w
    }

    /// The output columns `ox` whose tap `kj` falls inside the image, as a
    /// range clipped to `[lo, hi)`.
    #[inline]
    fn valid_x(&self, kj: usize, lo: usize, hi: usize) -> (usize, usize, isize) {
        let off = (kj * self.dw) as isize - self.pw as isize;
        let first = if off >= 0 {
            0
        } else {
            ((-off) as usize).div_ceil(self.sw)
        };
        let end = if (self.w as isize - 1 - off) < 0 {
            0
        } else {
            (self.w as isize - 1 - off) as usize / self.sw + 1
        };
        let a = first.clamp(lo, hi);
        let b = end.clamp(a, hi);
        (a, b, off)
    }

    /// Splits columns `[p0, p1)` into runs on one output row: `(oy, ox0, ox1, offset)`.
    #[inline]
    fn runs(&self, p0: usize, p1: usize, mut f: impl FnMut(usize, usize, usize, usize)) {
        let mut p = p0;
        while p < p1 {
            let oy = p / self.ow;
            let ox0 = p % self.ow;
            let ox1 = self.ow.min(ox0 + (p1 - p));
            f(oy, ox0, ox1, p - p0);
            p += ox1 - ox0;
        }
    }
}

/// Writes columns `[p0, p1)` of the column matrix of `image` (`c x h x w`)
/// into `col` (`K x (p1 - p0)`, row-major).
pub fn im2col(win: &Window, image: &[f32], col: &mut [f32], p0: usize, p1: usize) {
    let len = p1 - p0;
    let (h, w) = (win.h, win.w);
    for c in 0..win.c {
        let plane = &image[c * h * w..(c + 1) * h * w];
        for ki in 0..win.kh {
            for kj in 0..win.kw {
                let r = (c * win.kh + ki) * win.kw + kj;
                let row = &mut col[r * len..(r + 1) * len];
                win.runs(p0, p1, |oy, ox0, ox1, at| {
                    let dst = &mut row[at..at + (ox1 - ox0)];
                    let iy = (oy * win.sh + ki * win.dh) as isize - win.ph as isize;
                    if iy < 0 || iy >= h as isize {
                        dst.fill(0.0);
                        return;
                    }
                    let src = &plane[iy as usize * w..(iy as usize + 1) * w];
                    let (a, b, off) = win.valid_x(kj, ox0, ox1);
                    dst[..a - ox0].fill(0.0);
                    dst[b - ox0..].fill(0.0);
                    if a < b {
                        let first = (a * win.sw) as isize + off;
                        let out = &mut dst[a - ox0..b - ox0];
                        if win.sw == 1 {
                            let s = first as usize;
                            out.copy_from_slice(&src[s..s + (b - a)]);
                        } else {
                            for (i, o) in out.iter_mut().enumerate() {
                                *o = src[first as usize + i * win.sw];
                            }
                        }
                    }
                });
            }
        }
    }
}

/// Adds columns `[p0, p1)` of `col` (`K x (p1 - p0)`) back onto `image`: the
/// adjoint of [`im2col`].
pub fn col2im(win: &Window, col: &[f32], image: &mut [f32], p0: usize, p1: usize) {
    let len = p1 - p0;
    let (h, w) = (win.h, win.w);
    for c in 0..win.c {
        let plane = &mut image[c * h * w..(c + 1) * h * w];
        for ki in 0..win.kh {
            for kj in 0..win.kw {
                let r = (c * win.kh + ki) * win.kw + kj;
                let row = &col[r * len..(r + 1) * len];
                win.runs(p0, p1, |oy, ox0, ox1, at| {
                    let iy = (oy * win.sh + ki * win.dh) as isize - win.ph as isize;
                    if iy < 0 || iy >= h as isize {
                        return;
                    }
                    let dst = &mut plane[iy as usize * w..(iy as usize + 1) * w];
                    let (a, b, off) = win.valid_x(kj, ox0, ox1);
                    if a < b {
                        let first = ((a * win.sw) as isize + off) as usize;
                        let src = &row[at + (a - ox0)..at + (b - ox0)];
                        if win.sw == 1 {
                            for (d, s) in dst[first..first + (b - a)].iter_mut().zip(src) {
                                *d += s;
                            }
                        } else {
                            for (i, s) in src.iter().enumerate() {
                                dst[first + i * win.sw] += s;
                            }
                        }
                    }
                });
            }
        }
    }
}

/// Columns per tile: the column buffer stays near 512 KiB, and there are
/// enough tiles for every thread when `tasks` (images x groups) are few.
fn tile_len(win: &Window, tasks: usize) -> usize {
    let p = win.p().max(1);
    let mut t = (131_072 / win.k().max(1)).clamp(64, p.max(64)).min(p);
    let want = 2 * threads();
    if tasks.saturating_mul(p.div_ceil(t)) < want {
        let per = want.div_ceil(tasks.max(1));
        t = p.div_ceil(per).max(32.min(p));
    }
    t.max(1)
}

/// The shapes one driver call works on.
#[derive(Clone, Copy, Debug)]
pub struct Batch {
    /// Images.
    pub n: usize,
    /// Groups.
    pub groups: usize,
    /// Rows of `A` per group (`m`).
    pub m: usize,
}

/// `small[n, g*m + i, p] = bias[g*m + i] + sum_k A[g*m + i, k] * im2col(image[n, g])[k, p]`.
///
/// `image` is `[n, groups * c, h, w]`, `a` is `[groups * m, K]`, `small`
/// (written whole) is `[n, groups * m, oh * ow]`.
pub fn gather_gemm(
    win: &Window,
    b: Batch,
    image: &[f32],
    a: &[f32],
    bias: Option<&[f32]>,
    small: &mut [f32],
) {
    let (k, p) = (win.k(), win.p());
    let rows = b.groups * b.m;
    assert_eq!(image.len(), b.n * b.groups * win.image_len());
    assert_eq!(a.len(), rows * k);
    assert_eq!(small.len(), b.n * rows * p);
    if p == 0 || rows == 0 {
        return;
    }
    let tile = tile_len(win, b.n * b.groups);
    let tiles = p.div_ceil(tile);
    let tasks = b.n * b.groups * tiles;
    let nested = tasks < threads();
    let out = SendPtr(small.as_mut_ptr());
    let identity = win.is_identity();
    (0..tasks).into_par_iter().for_each(|t| {
        let (ng, ti) = (t / tiles, t % tiles);
        let (n, g) = (ng / b.groups, ng % b.groups);
        let (p0, p1) = (ti * tile, (ti * tile + tile).min(p));
        let len = p1 - p0;
        let img = &image[(n * b.groups + g) * win.image_len()..][..win.image_len()];
        let out = out;
        // SAFETY: task (n, g, tile) alone writes rows g*m.. of image n, columns p0..p1.
        let dst = unsafe { out.0.add((n * rows + g * b.m) * p + p0) };
        if let Some(bias) = bias {
            for i in 0..b.m {
                // SAFETY: as above.
                let row = unsafe { std::slice::from_raw_parts_mut(dst.add(i * p), len) };
                row.fill(bias[g * b.m + i]);
            }
        }
        let a_g = a[g * b.m * k..].as_ptr();
        if identity {
            // SAFETY: image rows are `p` apart; the column block starts at p0.
            unsafe {
                sgemm(
                    b.m,
                    len,
                    k,
                    dst,
                    p,
                    1,
                    bias.is_some(),
                    a_g,
                    k,
                    1,
                    img.as_ptr().add(p0),
                    p,
                    1,
                    nested,
                )
            };
        } else {
            with_scratch(k * len, |col| {
                im2col(win, img, col, p0, p1);
                // SAFETY: col is k x len; dst rows p apart.
                unsafe {
                    sgemm(
                        b.m,
                        len,
                        k,
                        dst,
                        p,
                        1,
                        bias.is_some(),
                        a_g,
                        k,
                        1,
                        col.as_ptr(),
                        len,
                        1,
                        nested,
                    )
                };
            });
        }
    });
}

/// `image[n, g] += col2im(A[g]^T @ small[n, g])`: `image` is
/// `[n, groups * c, h, w]` (added to, so zero it or fill it with a bias
/// first), `a` is `[groups * m, K]`, `small` is `[n, groups * m, oh * ow]`.
pub fn gemm_scatter(win: &Window, b: Batch, small: &[f32], a: &[f32], image: &mut [f32]) {
    let (k, p) = (win.k(), win.p());
    let rows = b.groups * b.m;
    assert_eq!(image.len(), b.n * b.groups * win.image_len());
    assert_eq!(a.len(), rows * k);
    assert_eq!(small.len(), b.n * rows * p);
    if p == 0 || k == 0 {
        return;
    }
    let tasks = b.n * b.groups;
    let nested = tasks < threads();
    let tile = tile_len(win, usize::MAX / 4);
    let identity = win.is_identity();
    image
        .par_chunks_mut(win.image_len())
        .enumerate()
        .for_each(|(ng, img)| {
            let (n, g) = (ng / b.groups, ng % b.groups);
            let a_g = a[g * b.m * k..].as_ptr();
            let src = small[(n * rows + g * b.m) * p..].as_ptr();
            if identity {
                // SAFETY: img is c x p (K = c), A^T has rows 1 apart and columns k apart.
                unsafe {
                    sgemm(
                        k,
                        p,
                        b.m,
                        img.as_mut_ptr(),
                        p,
                        1,
                        true,
                        a_g,
                        1,
                        k,
                        src,
                        p,
                        1,
                        nested,
                    )
                };
                return;
            }
            let mut p0 = 0;
            while p0 < p {
                let p1 = (p0 + tile).min(p);
                let len = p1 - p0;
                with_scratch(k * len, |col| {
                    // SAFETY: col is k x len, written whole (accumulate off).
                    unsafe {
                        sgemm(
                            k,
                            len,
                            b.m,
                            col.as_mut_ptr(),
                            len,
                            1,
                            false,
                            a_g,
                            1,
                            k,
                            src.add(p0),
                            p,
                            1,
                            nested,
                        )
                    };
                    col2im(win, col, img, p0, p1);
                });
                p0 = p1;
            }
        });
}

/// `dA[g*m + i, k] = sum_n sum_p small[n, g*m + i, p] * im2col(image[n, g])[k, p]`,
/// returned as `[groups * m, K]`.
pub fn weight_grad(win: &Window, b: Batch, small: &[f32], image: &[f32]) -> Vec<f32> {
    let (k, p) = (win.k(), win.p());
    let rows = b.groups * b.m;
    assert_eq!(image.len(), b.n * b.groups * win.image_len());
    assert_eq!(small.len(), b.n * rows * p);
    let total = rows * k;
    if p == 0 || total == 0 {
        return vec![0.0; total];
    }
    let tasks = b.n * b.groups;
    let nested = tasks < threads();
    let tile = tile_len(win, usize::MAX / 4);
    let identity = win.is_identity();
    let one = |acc: &mut [f32], ng: usize| {
        let (n, g) = (ng / b.groups, ng % b.groups);
        let img = &image[ng * win.image_len()..][..win.image_len()];
        let src = small[(n * rows + g * b.m) * p..].as_ptr();
        let dst = acc[g * b.m * k..].as_mut_ptr();
        if identity {
            // SAFETY: image^T has rows 1 apart and columns p apart.
            unsafe {
                sgemm(
                    b.m,
                    k,
                    p,
                    dst,
                    k,
                    1,
                    true,
                    src,
                    p,
                    1,
                    img.as_ptr(),
                    1,
                    p,
                    nested,
                )
            };
            return;
        }
        let mut p0 = 0;
        while p0 < p {
            let p1 = (p0 + tile).min(p);
            let len = p1 - p0;
            with_scratch(k * len, |col| {
                im2col(win, img, col, p0, p1);
                // SAFETY: col^T is len x k: rows 1 apart, columns len apart.
                unsafe {
                    sgemm(
                        b.m,
                        k,
                        len,
                        dst,
                        k,
                        1,
                        true,
                        src.add(p0),
                        p,
                        1,
                        col.as_ptr(),
                        1,
                        len,
                        nested,
                    )
                };
            });
            p0 = p1;
        }
    };
    if nested {
        let mut acc = vec![0.0; total];
        for ng in 0..tasks {
            one(&mut acc, ng);
        }
        return acc;
    }
    // Fixed chunks summed in order: the same sums on every run (a
    // work-stealing fold would change the order, and so the last bits).
    let chunks = threads().min(tasks);
    let partials: Vec<Vec<f32>> = (0..chunks)
        .into_par_iter()
        .map(|ci| {
            let mut acc = vec![0.0f32; total];
            for ng in ci * tasks / chunks..(ci + 1) * tasks / chunks {
                one(&mut acc, ng);
            }
            acc
        })
        .collect();
    let mut parts = partials.into_iter();
    let mut acc = parts.next().unwrap_or_else(|| vec![0.0; total]);
    for part in parts {
        for (x, y) in acc.iter_mut().zip(&part) {
            *x += y;
        }
    }
    acc
}

/// Sums `x` (`[n, c, s]`) over `n` and `s`: a bias gradient, `[c]`.
pub fn channel_sums(x: &[f32], n: usize, c: usize, s: usize) -> Vec<f32> {
    assert_eq!(x.len(), n * c * s);
    (0..c)
        .into_par_iter()
        .map(|ci| {
            let mut acc = 0.0f64;
            for ni in 0..n {
                let plane = &x[(ni * c + ci) * s..][..s];
                acc += plane.iter().map(|&v| v as f64).sum::<f64>();
            }
            acc as f32
        })
        .collect()
}
