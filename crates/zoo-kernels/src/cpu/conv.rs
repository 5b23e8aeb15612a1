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

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::{SendPtr, sgemm, threads, with_plane, with_scratch2};

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

/// A window cut down to the taps some output reads inside the image (see
/// [`Window::trimmed`]), with the kept range of kernel rows and columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trim {
    /// The smaller window: the same outputs, fewer taps.
    pub win: Window,
    /// Kernel rows kept: `[ki0, ki0 + win.kh)` of `kh`.
    pub ki0: usize,
    /// Kernel columns kept: `[kj0, kj0 + win.kw)` of `kw`.
    pub kj0: usize,
    /// The full kernel's height.
    pub kh: usize,
    /// The full kernel's width.
    pub kw: usize,
}

/// The taps `[k0, k1)` along one axis that read inside `[0, len)` for some
/// output (dilation 1): tap `k` reads `o * s + k - p` for `o < out`.
fn live_taps(len: usize, k: usize, s: usize, p: usize, out: usize) -> (usize, usize) {
    let k0 = p.saturating_sub(out.saturating_sub(1) * s);
    let k1 = k.min(len + p);
    (k0.min(k1), k1)
}

impl Window {
    /// The window without the kernel rows and columns that only ever fall
    /// on the padding (a 3x3, padding-1 convolution on a 1x1 map reads its
    /// centre tap alone): their products are zeros, so the convolution,
    /// its input gradient and the kept taps' weight gradients are those of
    /// the smaller window, and the dropped taps' weight gradients are 0.
    /// `None` when every tap is read, or with dilation (where the smaller
    /// window would need negative padding).
    pub fn trimmed(&self) -> Option<Trim> {
        if self.dh != 1 || self.dw != 1 || self.oh == 0 || self.ow == 0 {
            return None;
        }
        let (ki0, ki1) = live_taps(self.h, self.kh, self.sh, self.ph, self.oh);
        let (kj0, kj1) = live_taps(self.w, self.kw, self.sw, self.pw, self.ow);
        if (ki0, ki1, kj0, kj1) == (0, self.kh, 0, self.kw) || ki0 >= ki1 || kj0 >= kj1 {
            return None;
        }
        Some(Trim {
            win: Window {
                kh: ki1 - ki0,
                kw: kj1 - kj0,
                ph: self.ph - ki0,
                pw: self.pw - kj0,
                ..*self
            },
            ki0,
            kj0,
            kh: self.kh,
            kw: self.kw,
        })
    }
}

impl Trim {
    /// The kept taps of a `[rows, c, kh, kw]` weight, as `[rows, c, kh', kw']`.
    pub fn compact(&self, full: &[f32]) -> Vec<f32> {
        let (kh, kw) = (self.win.kh, self.win.kw);
        let plane = self.kh * self.kw;
        assert_eq!(full.len() % plane, 0);
        let mut out = Vec::with_capacity(full.len() / plane * kh * kw);
        for taps in full.chunks_exact(plane) {
            for ki in self.ki0..self.ki0 + kh {
                out.extend_from_slice(&taps[ki * self.kw + self.kj0..][..kw]);
            }
        }
        out
    }

    /// The inverse of [`Trim::compact`] for a gradient: the dropped taps 0.
    pub fn expand(&self, part: &[f32]) -> Vec<f32> {
        let (kh, kw) = (self.win.kh, self.win.kw);
        assert_eq!(part.len() % (kh * kw), 0);
        let mut out = vec![0.0f32; part.len() / (kh * kw) * self.kh * self.kw];
        for (taps, dst) in part
            .chunks_exact(kh * kw)
            .zip(out.chunks_exact_mut(self.kh * self.kw))
        {
            for (i, row) in taps.chunks_exact(kw).enumerate() {
                dst[(self.ki0 + i) * self.kw + self.kj0..][..kw].copy_from_slice(row);
            }
        }
        out
    }
}

/// Writes columns `[p0, p1)` of the column matrix of `image` (`c x h x w`)
/// into `col` (`K x (p1 - p0)`, row-major).
pub fn im2col(win: &Window, image: &[f32], col: &mut [f32], p0: usize, p1: usize) {
    im2col_at(win, image, col, p1 - p0, 0, p0, p1);
}

/// [`im2col`] into a wider matrix: row `r` is `col[r * ld + off..][..p1 - p0]`.
fn im2col_at(
    win: &Window,
    image: &[f32],
    col: &mut [f32],
    ld: usize,
    off: usize,
    p0: usize,
    p1: usize,
) {
    if p0.is_multiple_of(win.ow) && p1.is_multiple_of(win.ow) {
        return im2col_rows(win, image, col, ld, off, p0 / win.ow, p1 / win.ow);
    }
    let len = p1 - p0;
    let (h, w) = (win.h, win.w);
    for c in 0..win.c {
        let plane = &image[c * h * w..(c + 1) * h * w];
        for ki in 0..win.kh {
            for kj in 0..win.kw {
                let r = (c * win.kh + ki) * win.kw + kj;
                let row = &mut col[r * ld + off..r * ld + off + len];
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
                            gather_strided(out, &src[first as usize..], win.sw);
                        }
                    }
                });
            }
        }
    }
}

/// `dst[i] = src[i * stride]`, with stride 2 (transposed convolutions'
/// and strided convolutions' usual step) in a form the compiler vectorises.
#[inline(always)]
fn gather_strided(dst: &mut [f32], src: &[f32], stride: usize) {
    let n = dst.len();
    if n == 0 {
        return;
    }
    if stride == 2 {
        let (last, body) = dst.split_last_mut().expect("non-empty");
        for (d, pair) in body.iter_mut().zip(src[..2 * (n - 1)].chunks_exact(2)) {
            *d = pair[0];
        }
        *last = src[2 * (n - 1)];
    } else {
        for (i, d) in dst.iter_mut().enumerate() {
            *d = src[i * stride];
        }
    }
}

/// `dst[i * stride] += src[i]`: the adjoint of [`gather_strided`].
#[inline(always)]
fn scatter_add_strided(dst: &mut [f32], src: &[f32], stride: usize) {
    let n = src.len();
    if n == 0 {
        return;
    }
    if stride == 2 {
        let (last, body) = src.split_last().expect("non-empty");
        for (pair, s) in dst[..2 * (n - 1)].chunks_exact_mut(2).zip(body) {
            pair[0] += s;
        }
        dst[2 * (n - 1)] += last;
    } else {
        for (i, s) in src.iter().enumerate() {
            dst[i * stride] += s;
        }
    }
}

/// `dst.copy_from_slice(src)` for the short rows of small images, in
/// fixed-size pieces (a `memcpy` call per row costs more than the copy).
#[inline(always)]
fn copy_short(dst: &mut [f32], src: &[f32]) {
    let n = dst.len();
    let src = &src[..n];
    let mut i = 0;
    while i + 8 <= n {
        dst[i..i + 8].copy_from_slice(&src[i..i + 8]);
        i += 8;
    }
    if i + 4 <= n {
        dst[i..i + 4].copy_from_slice(&src[i..i + 4]);
        i += 4;
    }
    if i + 2 <= n {
        dst[i..i + 2].copy_from_slice(&src[i..i + 2]);
        i += 2;
    }
    if i < n {
        dst[i] = src[i];
    }
}

/// [`im2col_at`] for whole output rows `[oy0, oy1)`: each tap's valid
/// columns worked out once, not per row (small images have short rows).
fn im2col_rows(
    win: &Window,
    image: &[f32],
    col: &mut [f32],
    ld: usize,
    off: usize,
    oy0: usize,
    oy1: usize,
) {
    let (h, w, ow) = (win.h, win.w, win.ow);
    let len = (oy1 - oy0) * ow;
    if win.kh * win.kw > 1 {
        return im2col_padded(win, image, col, ld, off, oy0, oy1);
    }
    for c in 0..win.c {
        let plane = &image[c * h * w..(c + 1) * h * w];
        for ki in 0..win.kh {
            for kj in 0..win.kw {
                let r = (c * win.kh + ki) * win.kw + kj;
                let row = &mut col[r * ld + off..r * ld + off + len];
                let (a, b, xoff) = win.valid_x(kj, 0, ow);
                for (oy, dst) in (oy0..oy1).zip(row.chunks_exact_mut(ow)) {
                    let iy = (oy * win.sh + ki * win.dh) as isize - win.ph as isize;
                    if iy < 0 || iy >= h as isize {
                        for d in dst.iter_mut() {
                            *d = 0.0;
                        }
                        continue;
                    }
                    let src = &plane[iy as usize * w..(iy as usize + 1) * w];
                    for d in &mut dst[..a] {
                        *d = 0.0;
                    }
                    for d in &mut dst[b..] {
                        *d = 0.0;
                    }
                    if a < b {
                        let first = (a * win.sw) as isize + xoff;
                        if win.sw == 1 {
                            let s0 = first as usize;
                            copy_short(&mut dst[a..b], &src[s0..s0 + (b - a)]);
                        } else {
                            gather_strided(&mut dst[a..b], &src[first as usize..], win.sw);
                        }
                    }
                }
            }
        }
    }
}

/// `dst`'s rows of `N` values from `src`'s, `stride` apart: the short rows
/// of the smallest maps, each one fixed-size copy.
#[inline(always)]
fn copy_rows<const N: usize>(dst: &mut [f32], src: &[f32], stride: usize) {
    for (i, d) in dst.chunks_exact_mut(N).enumerate() {
        let s: &[f32; N] = src[i * stride..][..N].try_into().expect("N values");
        let d: &mut [f32; N] = d.try_into().expect("N values");
        *d = *s;
    }
}

/// [`im2col_rows`] through a zero-padded copy of the rows each channel's
/// windows read: every tap of every output row is then one copy of `ow`
/// values, with no clipping: the short rows of small images cost their
/// copy, not their bounds. Strides above one go through phase planes
/// ([`im2col_phased`]).
fn im2col_padded(
    win: &Window,
    image: &[f32],
    col: &mut [f32],
    ld: usize,
    off: usize,
    oy0: usize,
    oy1: usize,
) {
    if win.sh > 1 || win.sw > 1 {
        return im2col_phased(win, image, col, ld, off, oy0, oy1);
    }
    let (h, w, ow) = (win.h, win.w, win.ow);
    let len = (oy1 - oy0) * ow;
    // Padded coordinates: (yy, xx) is the input's (yy + y0 - ph, xx - pw).
    let y0 = oy0 * win.sh;
    let hp = (oy1 - 1) * win.sh + (win.kh - 1) * win.dh + 1 - y0;
    let wp = (ow - 1) * win.sw + (win.kw - 1) * win.dw + 1;
    // The input columns inside the padded row: [xa, xb) from input column 0.
    let xa = win.pw.min(wp);
    let xb = (win.pw + w).min(wp);
    with_plane(hp * wp, |pad| {
        for c in 0..win.c {
            let plane = &image[c * h * w..(c + 1) * h * w];
            for (yy, prow) in pad.chunks_exact_mut(wp).enumerate() {
                let iy = (yy + y0) as isize - win.ph as isize;
                if iy < 0 || iy >= h as isize || xa >= xb {
                    prow.fill(0.0);
                    continue;
                }
                let src = &plane[iy as usize * w..][..xb - xa];
                prow[..xa].fill(0.0);
                prow[xa..xb].copy_from_slice(src);
                prow[xb..].fill(0.0);
            }
            for ki in 0..win.kh {
                for kj in 0..win.kw {
                    let r = (c * win.kh + ki) * win.kw + kj;
                    let row = &mut col[r * ld + off..r * ld + off + len];
                    // Output row i reads padded row i * sh + ki * dh from column kj * dw.
                    let src = &pad[ki * win.dh * wp + kj * win.dw..];
                    match (win.sw, ow) {
                        (1, 1) => copy_rows::<1>(row, src, win.sh * wp),
                        (1, 2) => copy_rows::<2>(row, src, win.sh * wp),
                        (1, 4) => copy_rows::<4>(row, src, win.sh * wp),
                        (1, 8) => copy_rows::<8>(row, src, win.sh * wp),
                        _ => {
                            for (i, dst) in row.chunks_exact_mut(ow).enumerate() {
                                copy_short(dst, &src[i * win.sh * wp..]);
                            }
                        }
                    }
                }
            }
        }
    });
}

/// [`im2col_padded`] for strides above one: the zero-padded rows are split
/// into `sh x sw` phase planes (padded row `a + sh * i`, column `b + sw * j`
/// in phase `(a, b)`), where every tap of every output row reads `ow`
/// consecutive values (tap `(ki, kj)` at `(i + ki * dh / sh, j + kj * dw /
/// sw)` of phase `(ki * dh % sh, kj * dw % sw)`): strided gathers of a few
/// values each (a stem's 7x7/2 on 32x32 images reads rows of 16) become
/// one pass over the input and contiguous copies.
fn im2col_phased(
    win: &Window,
    image: &[f32],
    col: &mut [f32],
    ld: usize,
    off: usize,
    oy0: usize,
    oy1: usize,
) {
    let (h, w, ow) = (win.h, win.w, win.ow);
    let (sh, sw) = (win.sh, win.sw);
    let len = (oy1 - oy0) * ow;
    let y0 = oy0 * sh;
    let hp = (oy1 - 1) * sh + (win.kh - 1) * win.dh + 1 - y0;
    let wp = (ow - 1) * sw + (win.kw - 1) * win.dw + 1;
    // Each phase plane is hq x wq (the last rows / columns of some phases
    // are never read; they are zeros).
    let (hq, wq) = (hp.div_ceil(sh), wp.div_ceil(sw));
    let plane_q = hq * wq;
    with_plane(sh * sw * plane_q, |phases| {
        for c in 0..win.c {
            let plane = &image[c * h * w..(c + 1) * h * w];
            for a in 0..sh {
                for bx in 0..sw {
                    let q = &mut phases[(a * sw + bx) * plane_q..][..plane_q];
                    // Phase columns j with input column bx + sw * j - pw in [0, w).
                    let j0 = win.pw.saturating_sub(bx).div_ceil(sw).min(wq);
                    let j1 = if w + win.pw > bx {
                        (w + win.pw - bx).div_ceil(sw).min(wq)
                    } else {
                        0
                    }
                    .max(j0);
                    for (i, qrow) in q.chunks_exact_mut(wq).enumerate() {
                        let iy = (y0 + a + sh * i) as isize - win.ph as isize;
                        if iy < 0 || iy >= h as isize || j0 >= j1 {
                            qrow.fill(0.0);
                            continue;
                        }
                        let src = &plane[iy as usize * w..][..w];
                        qrow[..j0].fill(0.0);
                        qrow[j1..].fill(0.0);
                        let first = bx + sw * j0 - win.pw;
                        gather_strided(&mut qrow[j0..j1], &src[first..], sw);
                    }
                }
            }
            for ki in 0..win.kh {
                let (a, di) = (ki * win.dh % sh, ki * win.dh / sh);
                for kj in 0..win.kw {
                    let (bx, dj) = (kj * win.dw % sw, kj * win.dw / sw);
                    let r = (c * win.kh + ki) * win.kw + kj;
                    let row = &mut col[r * ld + off..r * ld + off + len];
                    let src = &phases[(a * sw + bx) * plane_q + di * wq + dj..];
                    match ow {
                        1 => copy_rows::<1>(row, src, wq),
                        2 => copy_rows::<2>(row, src, wq),
                        4 => copy_rows::<4>(row, src, wq),
                        8 => copy_rows::<8>(row, src, wq),
                        16 => copy_rows::<16>(row, src, wq),
                        _ => {
                            for (i, dst) in row.chunks_exact_mut(ow).enumerate() {
                                copy_short(dst, &src[i * wq..]);
                            }
                        }
                    }
                }
            }
        }
    });
}

/// Adds columns `[p0, p1)` of `col` (`K x (p1 - p0)`) back onto `image`: the
/// adjoint of [`im2col`].
pub fn col2im(win: &Window, col: &[f32], image: &mut [f32], p0: usize, p1: usize) {
    col2im_at(win, col, p1 - p0, 0, image, p0, p1);
}

/// [`col2im`] from a wider matrix: row `r` is `col[r * ld + off..][..p1 - p0]`.
fn col2im_at(
    win: &Window,
    col: &[f32],
    ld: usize,
    off: usize,
    image: &mut [f32],
    p0: usize,
    p1: usize,
) {
    if p0.is_multiple_of(win.ow) && p1.is_multiple_of(win.ow) {
        return col2im_rows(win, col, ld, off, image, p0 / win.ow, p1 / win.ow);
    }
    let len = p1 - p0;
    let (h, w) = (win.h, win.w);
    for c in 0..win.c {
        let plane = &mut image[c * h * w..(c + 1) * h * w];
        for ki in 0..win.kh {
            for kj in 0..win.kw {
                let r = (c * win.kh + ki) * win.kw + kj;
                let row = &col[r * ld + off..r * ld + off + len];
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
                            scatter_add_strided(&mut dst[first..], src, win.sw);
                        }
                    }
                });
            }
        }
    }
}

/// [`col2im_at`] for whole output rows `[oy0, oy1)`, each tap's valid
/// columns worked out once.
fn col2im_rows(
    win: &Window,
    col: &[f32],
    ld: usize,
    off: usize,
    image: &mut [f32],
    oy0: usize,
    oy1: usize,
) {
    let (h, w, ow) = (win.h, win.w, win.ow);
    let len = (oy1 - oy0) * ow;
    for c in 0..win.c {
        let plane = &mut image[c * h * w..(c + 1) * h * w];
        for ki in 0..win.kh {
            for kj in 0..win.kw {
                let r = (c * win.kh + ki) * win.kw + kj;
                let row = &col[r * ld + off..r * ld + off + len];
                let (a, b, xoff) = win.valid_x(kj, 0, ow);
                if a >= b {
                    continue;
                }
                let first = ((a * win.sw) as isize + xoff) as usize;
                for (oy, src) in (oy0..oy1).zip(row.chunks_exact(ow)) {
                    let iy = (oy * win.sh + ki * win.dh) as isize - win.ph as isize;
                    if iy < 0 || iy >= h as isize {
                        continue;
                    }
                    let dst = &mut plane[iy as usize * w..(iy as usize + 1) * w];
                    let src = &src[a..b];
                    if win.sw == 1 {
                        for (d, s) in dst[first..first + (b - a)].iter_mut().zip(src) {
                            *d += s;
                        }
                    } else {
                        scatter_add_strided(&mut dst[first..], src, win.sw);
                    }
                }
            }
        }
    }
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

/// A block of columns: columns `[p0, p1)` of images `[n0, n1)`, side by side
/// (image `i`'s at offset `(i - n0) * (p1 - p0)`).
#[derive(Clone, Copy, Debug)]
struct Chunk {
    n0: usize,
    n1: usize,
    p0: usize,
    p1: usize,
}

impl Chunk {
    fn seg(&self) -> usize {
        self.p1 - self.p0
    }
    fn len(&self) -> usize {
        (self.n1 - self.n0) * self.seg()
    }
    fn single(&self) -> bool {
        self.n1 - self.n0 == 1
    }
    /// Row stride of the block's buffers: its length, padded off multiples
    /// of 512 bytes (power-of-two strides made gemm's packing of the
    /// transposed block thrash the cache: 7.6 ms instead of ~4 for a
    /// transposed convolution's weight gradient).
    fn ld(&self) -> usize {
        let len = self.len();
        if len >= 128 && len.is_multiple_of(128) {
            len + 16
        } else {
            len
        }
    }
}

/// Bytes of columns one block of the forward pass holds (see [`units`]):
/// on a CPU with 2 MiB of L2 per core, 512 KiB blocks ran the forward
/// convolutions of ResNet-18 and -50 4-10% faster than the 2 MiB the
/// backward passes keep.
const BLOCK_BYTES: usize = 512 << 10;

/// How one group's columns over all images are cut into blocks, as units
/// whose images no other unit touches (what the scatter needs to run its
/// units in parallel): large images in column tiles of one image (a unit:
/// the image's tiles), small images several per block (one gemm and one
/// packing of the weight for many images; a unit: the block). A block holds
/// about 2 MiB of columns, and there are blocks for every thread when the
/// work allows.
fn units(win: &Window, b: Batch) -> Vec<Vec<Chunk>> {
    units_of(win, b, 2 << 20, win.k(), false)
}

/// [`units`] with blocks of about `bytes` of columns of `rows` rows; for
/// the `forward` pass, one image's column tiles are multiples of 64
/// columns rather than whole output rows.
fn units_of(win: &Window, b: Batch, bytes: usize, rows: usize, forward: bool) -> Vec<Vec<Chunk>> {
    let p = win.p();
    let floats = bytes / 4;
    let target = (floats / rows.max(1)).max(64);
    let want = 2 * threads();
    let tasks = b.n * b.groups;
    if 2 * p <= target && b.n > 1 {
        let per = (target / p.max(1)).min((tasks / want).max(1)).clamp(1, b.n);
        (0..b.n.div_ceil(per))
            .map(|c| {
                vec![Chunk {
                    n0: c * per,
                    n1: ((c + 1) * per).min(b.n),
                    p0: 0,
                    p1: p,
                }]
            })
            .collect()
    } else {
        let mut tile = target.min(p);
        if tasks * p.div_ceil(tile.max(1)) < want {
            tile = p.div_ceil(want.div_ceil(tasks.max(1))).max(32.min(p));
        }
        // Whole output rows when a tile holds one or more (im2col's row path).
        let ow = win.ow.max(1);
        if forward && tile >= 64 && tile < p {
            // The forward's gemm vectorises over the tile's columns, 64 at a
            // time: a multiple of 64 leaves no ragged tail (fcn_resnet50's
            // 65-wide rows made a 7-column tail in every tile), worth more
            // than im2col's row path.
            tile -= tile % 64;
        } else if tile >= ow && tile < p {
            tile -= tile % ow;
        }
        let tile = tile.max(1);
        (0..b.n)
            .map(|i| {
                (0..p.div_ceil(tile))
                    .map(|t| Chunk {
                        n0: i,
                        n1: i + 1,
                        p0: t * tile,
                        p1: ((t + 1) * tile).min(p),
                    })
                    .collect()
            })
            .collect()
    }
}

/// Copies rows `g * m..` of the images of `ch` from `small` (`[n, rows, p]`)
/// side by side into `tmp` (`m` rows, `ch.ld()` apart).
fn gather_rows(
    small: &[f32],
    rows: usize,
    p: usize,
    g: usize,
    m: usize,
    ch: &Chunk,
    tmp: &mut [f32],
) {
    let (seg, ld) = (ch.seg(), ch.ld());
    for i in ch.n0..ch.n1 {
        for o in 0..m {
            let src = &small[(i * rows + g * m + o) * p + ch.p0..][..seg];
            tmp[o * ld + (i - ch.n0) * seg..][..seg].copy_from_slice(src);
        }
    }
}

/// Writes the column block of `ch` (group `g`) of `image` into `col` (`K`
/// rows of `ch.len()`, `ch.ld()` apart).
fn gather_cols(win: &Window, b: Batch, image: &[f32], g: usize, ch: &Chunk, col: &mut [f32]) {
    let il = win.image_len();
    for i in ch.n0..ch.n1 {
        let img = &image[(i * b.groups + g) * il..][..il];
        im2col_at(win, img, col, ch.ld(), (i - ch.n0) * ch.seg(), ch.p0, ch.p1);
    }
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
    gather_gemm_fused(win, b, image, a, bias, Epilogue::NONE, small)
}

/// What a forward convolution does to each block of its output as the
/// block is written (while it is in cache), in this order: `y = y *
/// scale[o] + shift[o]` per output channel `o` (an evaluation-mode batch
/// norm after the convolution), `y += residual` (same layout as the
/// output), `y = max(y, 0)`. Each step is the same `f32` arithmetic as the
/// separate pass it replaces, so the result is the same to the bit.
#[derive(Clone, Copy, Debug, Default)]
pub struct Epilogue<'a> {
    /// Per-channel `(scale, shift)`, `[groups * m]` each.
    pub affine: Option<(&'a [f32], &'a [f32])>,
    /// Added after the affine step: `[n, groups * m, oh * ow]`.
    pub residual: Option<&'a [f32]>,
    /// A ReLU last.
    pub relu: bool,
}

impl Epilogue<'_> {
    /// Nothing after the convolution.
    pub const NONE: Epilogue<'static> = Epilogue {
        affine: None,
        residual: None,
        relu: false,
    };

    fn is_none(&self) -> bool {
        self.affine.is_none() && self.residual.is_none() && !self.relu
    }

    /// `dst = src + bias`, then the steps, in one pass (the same
    /// arithmetic as the copy and [`Epilogue::apply`] one after the other).
    /// `dst` may be uninitialised: it is only written.
    ///
    /// # Safety
    /// `dst` must be valid for writes of `src.len()` values no other thread
    /// touches meanwhile.
    #[inline]
    unsafe fn copy_apply(&self, dst: *mut f32, src: &[f32], bias: f32, o: usize, at: usize) {
        let n = src.len();
        let (s, t) = self.affine.map_or((1.0, 0.0), |(sc, sh)| (sc[o], sh[o]));
        // SAFETY (each write): j < n, inside dst by the contract.
        match (self.affine.is_some(), self.residual, self.relu) {
            (true, Some(r), true) => {
                for (j, (&v, &r)) in src.iter().zip(&r[at..at + n]).enumerate() {
                    unsafe { dst.add(j).write((((v + bias) * s + t) + r).max(0.0)) };
                }
            }
            (true, None, true) => {
                for (j, &v) in src.iter().enumerate() {
                    unsafe { dst.add(j).write(((v + bias) * s + t).max(0.0)) };
                }
            }
            (true, None, false) => {
                for (j, &v) in src.iter().enumerate() {
                    unsafe { dst.add(j).write((v + bias) * s + t) };
                }
            }
            _ => {
                for (j, &v) in src.iter().enumerate() {
                    unsafe { dst.add(j).write(v + bias) };
                }
                if !self.is_none() {
                    // SAFETY: the n values were just written.
                    self.apply(unsafe { std::slice::from_raw_parts_mut(dst, n) }, o, at);
                }
            }
        }
    }

    /// Applies the steps to `row`, output channel `o`'s values whose
    /// residual (when there is one) starts at `at` in the residual.
    #[inline]
    fn apply(&self, row: &mut [f32], o: usize, at: usize) {
        // The usual steps in one pass (the same arithmetic in the same order).
        if let Some((scale, shift)) = self.affine {
            let (s, t) = (scale[o], shift[o]);
            let n = row.len();
            match (self.residual, self.relu) {
                (Some(r), true) => {
                    for (v, &r) in row.iter_mut().zip(&r[at..at + n]) {
                        *v = ((*v * s + t) + r).max(0.0);
                    }
                    return;
                }
                (None, true) => {
                    for v in row.iter_mut() {
                        *v = (*v * s + t).max(0.0);
                    }
                    return;
                }
                (None, false) => {
                    for v in row.iter_mut() {
                        *v = *v * s + t;
                    }
                    return;
                }
                (Some(_), false) => {}
            }
        }
        if let Some((scale, shift)) = self.affine {
            let (s, t) = (scale[o], shift[o]);
            for v in row.iter_mut() {
                *v = *v * s + t;
            }
        }
        if let Some(r) = self.residual {
            let n = row.len();
            for (v, r) in row.iter_mut().zip(&r[at..at + n]) {
                *v += r;
            }
        }
        if self.relu {
            for v in row.iter_mut() {
                *v = v.max(0.0);
            }
        }
    }
}

/// [`gather_gemm`] followed by `epi` on each block of the output (see
/// [`Epilogue`]).
pub fn gather_gemm_fused(
    win: &Window,
    b: Batch,
    image: &[f32],
    a: &[f32],
    bias: Option<&[f32]>,
    epi: Epilogue<'_>,
    small: &mut [f32],
) {
    assert_eq!(a.len(), b.groups * b.m * win.k());
    let view = WeightView::dense(a, win);
    // SAFETY: initialised f32s seen as MaybeUninit<f32>; only f32s are written.
    let small = unsafe { &mut *(small as *mut [f32] as *mut [MaybeUninit<f32>]) };
    forward_view(win, b, image, &view, bias, epi, small)
}

/// A convolution's forward pass with an epilogue: [`gather_gemm_fused`]
/// for a convolution's full window and weight (`[groups * m, c, kh, kw]`).
/// Taps that only ever read padding are left out ([`Window::trimmed`]),
/// the weight's kept taps read in place (no compacted copy per call).
pub fn forward(
    win: &Window,
    b: Batch,
    image: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    epi: Epilogue<'_>,
    small: &mut [f32],
) {
    // SAFETY: initialised f32s seen as MaybeUninit<f32>; only f32s are written.
    let small = unsafe { &mut *(small as *mut [f32] as *mut [MaybeUninit<f32>]) };
    forward_uninit(win, b, image, weight, bias, epi, small)
}

/// [`forward`] into an output that need not be initialised: every value of
/// `small` is written (never read), so a fresh buffer needs no zeroing.
pub fn forward_uninit(
    win: &Window,
    b: Batch,
    image: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    epi: Epilogue<'_>,
    small: &mut [MaybeUninit<f32>],
) {
    assert_eq!(weight.len(), b.groups * b.m * win.k());
    match win.trimmed() {
        Some(t) => {
            let view = WeightView::trimmed(weight, win, &t);
            forward_view(&t.win, b, image, &view, bias, epi, small)
        }
        None => forward_view(
            win,
            b,
            image,
            &WeightView::dense(weight, win),
            bias,
            epi,
            small,
        ),
    }
}

/// The weight as the forward reads it: row `o`, channel `c`, tap `t` of
/// the window at `a[o * row + c * per_c + off[t]]`. A `[rows, c, kh, kw]`
/// weight has `row = c * taps`, `per_c = taps`, `off[t] = t`; a trimmed
/// window's kept taps are read in place from the full kernel.
#[derive(Clone, Debug)]
struct WeightView<'a> {
    a: &'a [f32],
    row: usize,
    per_c: usize,
    off: Vec<usize>,
}

impl<'a> WeightView<'a> {
    fn dense(a: &'a [f32], win: &Window) -> Self {
        let taps = win.kh * win.kw;
        WeightView {
            a,
            row: win.c * taps,
            per_c: taps,
            off: (0..taps).collect(),
        }
    }

    /// The kept taps of `full` (the weight of `win`) for the trimmed window.
    fn trimmed(full: &'a [f32], win: &Window, t: &Trim) -> Self {
        let taps = win.kh * win.kw;
        let off = (0..t.win.kh)
            .flat_map(|i| (0..t.win.kw).map(move |j| (t.ki0 + i) * win.kw + t.kj0 + j))
            .collect();
        WeightView {
            a: full,
            row: win.c * taps,
            per_c: taps,
            off,
        }
    }

    /// Whether rows are `[c, taps]` in order (a plain `[rows, K]` matrix).
    fn contiguous(&self) -> bool {
        self.per_c == self.off.len() && self.off.iter().enumerate().all(|(i, &o)| i == o)
    }
}

/// [`gather_gemm_fused`] with the weight given by a [`WeightView`]; every
/// value of `small` is written through raw pointers before any is read.
fn forward_view(
    win: &Window,
    b: Batch,
    image: &[f32],
    view: &WeightView<'_>,
    bias: Option<&[f32]>,
    epi: Epilogue<'_>,
    small: &mut [MaybeUninit<f32>],
) {
    let (k, p) = (win.k(), win.p());
    let rows = b.groups * b.m;
    assert_eq!(image.len(), b.n * b.groups * win.image_len());
    assert_eq!(view.off.len(), win.kh * win.kw);
    assert!(
        view.a.len() >= rows * view.row,
        "conv: the weight is too short"
    );
    assert_eq!(small.len(), b.n * rows * p);
    if let Some((scale, shift)) = epi.affine {
        assert!(scale.len() == rows && shift.len() == rows);
    }
    if let Some(r) = epi.residual {
        assert_eq!(r.len(), small.len());
    }
    if p == 0 || rows == 0 || b.n == 0 {
        return;
    }
    let blocked = k >= BLOCKED_MIN_K;
    let bytes = BLOCK_BYTES;
    // The blocked product consumes the columns a K-block at a time: blocks
    // are sized by that, not by the whole K.
    let sizing = if blocked { k.min(KC) } else { k };
    let chunks: Vec<Chunk> = units_of(win, b, bytes, sizing, true)
        .into_iter()
        .flatten()
        .collect();
    let tasks = b.groups * chunks.len();
    let nested = tasks < threads();
    let out = SendPtr(small.as_mut_ptr().cast::<f32>());
    let identity = win.is_identity();
    // Small maps, several images per block: channel-last columns.
    let last = b.groups == 1 && chunks.iter().all(|c| !c.single()) && channel_last(win);
    // (Without channels, k = 0: the plain path writes the zeros or the bias.)
    let tiled = (blocked || last || !view.contiguous()) && k > 0;
    let a = &view.a[..rows * k.max(view.row)];
    (0..tasks).into_par_iter().for_each(|t| {
        let (g, ch) = (t / chunks.len(), chunks[t % chunks.len()]);
        if tiled {
            tiled_block(win, b, image, view, last, bias, epi, g, &ch, out, nested);
            return;
        }
        let a_g = a[g * b.m * k..].as_ptr();
        if ch.single() && identity {
            // The image itself: rows `p` apart, the block at p0.
            let img = &image[(ch.n0 * b.groups + g) * win.image_len() + ch.p0..];
            // SAFETY: the image covers k rows of p from p0.
            unsafe {
                gemm_block(
                    win,
                    b,
                    a_g,
                    bias,
                    epi,
                    g,
                    &ch,
                    img.as_ptr(),
                    (p, 1),
                    out,
                    &mut [],
                    nested,
                )
            };
            return;
        }
        let ld = ch.ld();
        with_scratch2(
            k * ld,
            if ch.single() { 0 } else { b.m * ld },
            |col, tmp| {
                gather_cols(win, b, image, g, &ch, col);
                // SAFETY: col holds k rows ld apart; tmp m rows of ld when several images.
                unsafe {
                    gemm_block(
                        win,
                        b,
                        a_g,
                        bias,
                        epi,
                        g,
                        &ch,
                        col.as_ptr(),
                        (ld, 1),
                        out,
                        tmp,
                        nested,
                    )
                };
            },
        );
    });
}

/// The widest output rows whose blocks of several images take the
/// channel-last columns ([`im2col_last`]): 4x4 maps and smaller.
const LAST_MAX_OW: usize = 4;

/// Whether a block of several images of `win` is gathered channel-last.
fn channel_last(win: &Window) -> bool {
    win.ow <= LAST_MAX_OW && win.c >= 16
}

/// The columns of a block of whole images (`ch`) channel-last: column `j`
/// (image `n0 + j / p`, output pixel `j % p`) is row `j` of `colt` (`k`
/// values, in the order `(ki, kj, c)`). Each image is first copied to a
/// zero-padded channel-last buffer, so every tap of every output pixel is
/// one copy of `c` consecutive values: on maps of a few pixels, where the
/// planar gather is a few values per copy, this is a handful of long copies.
fn im2col_last(win: &Window, image: &[f32], ch: &Chunk, colt: &mut [f32]) {
    let (c, h, w, k, p) = (win.c, win.h, win.w, win.k(), win.p());
    let hp = (win.oh - 1) * win.sh + (win.kh - 1) * win.dh + 1;
    let wp = (win.ow - 1) * win.sw + (win.kw - 1) * win.dw + 1;
    let il = win.image_len();
    with_plane(hp * wp * c, |pad| {
        for i in ch.n0..ch.n1 {
            let img = &image[i * il..][..il];
            pad.fill(0.0);
            for y in 0..h {
                let py = y + win.ph;
                if py >= hp {
                    break;
                }
                for x in 0..w {
                    let px = x + win.pw;
                    if px >= wp {
                        break;
                    }
                    let dst = &mut pad[(py * wp + px) * c..][..c];
                    for (ci, d) in dst.iter_mut().enumerate() {
                        *d = img[ci * h * w + y * w + x];
                    }
                }
            }
            let base = (i - ch.n0) * p;
            for oy in 0..win.oh {
                for ox in 0..win.ow {
                    let row = &mut colt[(base + oy * win.ow + ox) * k..][..k];
                    for ki in 0..win.kh {
                        for kj in 0..win.kw {
                            let at =
                                ((oy * win.sh + ki * win.dh) * wp + ox * win.sw + kj * win.dw) * c;
                            row[(ki * win.kw + kj) * c..][..c].copy_from_slice(&pad[at..at + c]);
                        }
                    }
                }
            }
        }
    });
}

/// Rows of the column matrix per K-block of the blocked forward (about:
/// a block holds whole channels' taps).
const KC: usize = 256;

/// The smallest K the forward multiplies K-block by K-block (deep layers:
/// 3x3 over 128 channels and more, 1x1 over 1024).
const BLOCKED_MIN_K: usize = 1024;

/// Channels `[c0, c1)` of the column block of `ch` (group `g`): [`gather_cols`]
/// for a K-block (rows `c0 * taps..c1 * taps`), written from row 0 of `col`.
#[allow(clippy::too_many_arguments)]
fn gather_cols_range(
    win: &Window,
    b: Batch,
    image: &[f32],
    g: usize,
    ch: &Chunk,
    (c0, c1): (usize, usize),
    col: &mut [f32],
    ld: usize,
) {
    let (il, plane) = (win.image_len(), win.h * win.w);
    let sub = Window { c: c1 - c0, ..*win };
    for i in ch.n0..ch.n1 {
        let img = &image[(i * b.groups + g) * il + c0 * plane..][..(c1 - c0) * plane];
        im2col_at(&sub, img, col, ld, (i - ch.n0) * ch.seg(), ch.p0, ch.p1);
    }
}

/// One block of [`gather_gemm_fused`], K-block by K-block: the column
/// block gathered and multiplied a few channels' taps at a time (each
/// product added to the last), so the columns are read back while in
/// cache and a block can be wide whatever K is (fewer blocks: gemm packs
/// the weight once per call); then the bias and the epilogue. With
/// `nested` (fewer blocks than threads) gemm itself runs on the pool.
#[allow(clippy::too_many_arguments)]
fn tiled_block(
    win: &Window,
    b: Batch,
    image: &[f32],
    view: &WeightView<'_>,
    last: bool,
    bias: Option<&[f32]>,
    epi: Epilogue<'_>,
    g: usize,
    ch: &Chunk,
    out: SendPtr,
    nested: bool,
) {
    let (k, p, rows) = (win.k(), win.p(), b.groups * b.m);
    let (len, ld, m) = (ch.len(), ch.ld(), b.m);
    let taps = win.kh * win.kw;
    let cb = (KC / taps).max(1).min(win.c);
    let a_g = g * m * view.row;
    let il = win.image_len();
    let single = ch.single();
    let direct = single && win.is_identity();
    let contiguous = view.contiguous();
    let col_len = if last { len * k } else { cb * taps * ld };
    with_scratch2(
        if direct { 0 } else { col_len },
        if single { 0 } else { m * ld },
        |col, tmp| {
            // SAFETY: for one image, these rows and columns of the output are this
            // task's (the caller's contract); tmp is m rows of ld.
            let (dst, ldc) = if single {
                (
                    unsafe { out.get().add((ch.n0 * rows + g * m) * p + ch.p0) },
                    p,
                )
            } else {
                (tmp.as_mut_ptr(), ld)
            };
            let mut add = false;
            if single && let Some(bs) = bias {
                for o in 0..m {
                    for j in 0..len {
                        // SAFETY: as above (written, never read, before the product).
                        unsafe { dst.add(o * ldc + j).write(bs[g * m + o]) };
                    }
                }
                add = true;
            }
            // dst (+)= A B with A the weight from `at` (rows `view.row` apart,
            // columns `a_cs`), B `kb` rows from `bsrc` (strides b_rs, b_cs).
            let run = |at: usize,
                       a_cs: usize,
                       kb: usize,
                       bsrc: &[f32],
                       b_rs: usize,
                       b_cs: usize,
                       add: bool| {
                assert!(at + (m - 1) * view.row + (kb - 1) * a_cs < view.a.len());
                assert!((kb - 1) * b_rs + (len - 1) * b_cs < bsrc.len());
                // SAFETY: dst is m rows of ldc (this task's); A and B are inside their
                // slices (asserted).
                unsafe {
                    sgemm(
                        m,
                        len,
                        kb,
                        dst,
                        ldc,
                        1,
                        add,
                        view.a[at..].as_ptr(),
                        view.row,
                        a_cs,
                        bsrc.as_ptr(),
                        b_rs,
                        b_cs,
                        nested,
                    )
                };
            };
            if last {
                // Columns channel-last (`[len, k]`, k in (tap, channel) order):
                // one product per tap, each over all channels.
                im2col_last(win, image, ch, col);
                for (t, &off) in view.off.iter().enumerate() {
                    run(
                        a_g + off,
                        view.per_c,
                        win.c,
                        &col[t * win.c..],
                        1,
                        k,
                        add || t > 0,
                    );
                }
            } else {
                for c0 in (0..win.c).step_by(cb) {
                    let c1 = (c0 + cb).min(win.c);
                    let later = add || c0 > 0;
                    let (bsrc, ldb): (&[f32], usize) = if direct {
                        (&image[(ch.n0 * b.groups + g) * il + c0 * p + ch.p0..], p)
                    } else {
                        gather_cols_range(win, b, image, g, ch, (c0, c1), col, ld);
                        (col, ld)
                    };
                    if contiguous {
                        run(a_g + c0 * taps, 1, (c1 - c0) * taps, bsrc, ldb, 1, later);
                    } else {
                        // The kept taps of a trimmed window, read in place: one
                        // product per tap (its rows of B are `taps` rows apart).
                        for (t, &off) in view.off.iter().enumerate() {
                            run(
                                a_g + c0 * view.per_c + off,
                                view.per_c,
                                c1 - c0,
                                &bsrc[t * ldb..],
                                taps * ldb,
                                1,
                                later || t > 0,
                            );
                        }
                    }
                }
            }
            finish_block(win, b, bias, epi, g, ch, out, tmp);
        },
    );
}

/// The end of a block of [`gather_gemm_fused`] whose sums are written (for
/// one image in the output, with the bias; for several in `tmp`, `m` rows
/// of `ch.ld()`): the epilogue, or the copy to each image with the bias
/// and the epilogue.
#[allow(clippy::too_many_arguments)]
fn finish_block(
    win: &Window,
    b: Batch,
    bias: Option<&[f32]>,
    epi: Epilogue<'_>,
    g: usize,
    ch: &Chunk,
    out: SendPtr,
    tmp: &[f32],
) {
    let (p, rows) = (win.p(), b.groups * b.m);
    let (len, seg, ld) = (ch.len(), ch.seg(), ch.ld());
    if ch.single() {
        if !epi.is_none() {
            for o in 0..b.m {
                let at = (ch.n0 * rows + g * b.m + o) * p + ch.p0;
                // SAFETY: by the caller's contract, these rows and columns are this task's.
                let row = unsafe { std::slice::from_raw_parts_mut(out.get().add(at), len) };
                epi.apply(row, g * b.m + o, at);
            }
        }
        return;
    }
    for i in ch.n0..ch.n1 {
        for o in 0..b.m {
            let at = (i * rows + g * b.m + o) * p + ch.p0;
            let src = &tmp[o * ld + (i - ch.n0) * seg..][..seg];
            let bo = bias.map_or(0.0, |bs| bs[g * b.m + o]);
            // SAFETY: as above: this task's `seg` values of the output.
            unsafe { epi.copy_apply(out.get().add(at), src, bo, g * b.m + o, at) };
        }
    }
}

/// One block of [`gather_gemm`] from its columns (`k` rows, `cols_rs`
/// apart): straight into the output for one image, through `tmp` (`m` rows
/// of `ch.ld()`) for several.
///
/// # Safety
/// `cols` covers the block; `out` is the output of [`gather_gemm`], whose
/// rows `g * m..` of the chunk's images, columns `p0..p1`, this task alone writes.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_block(
    win: &Window,
    b: Batch,
    a_g: *const f32,
    bias: Option<&[f32]>,
    epi: Epilogue<'_>,
    g: usize,
    ch: &Chunk,
    cols: *const f32,
    (cols_rs, cols_cs): (usize, usize),
    out: SendPtr,
    tmp: &mut [f32],
    nested: bool,
) {
    let (k, p, rows) = (win.k(), win.p(), b.groups * b.m);
    let (len, seg, ld) = (ch.len(), ch.seg(), ch.ld());
    let bias_of = |o: usize| bias.map_or(0.0, |bs| bs[g * b.m + o]);
    if ch.single() {
        // SAFETY: by the contract, these rows and columns are this task's.
        unsafe {
            let dst = out.get().add((ch.n0 * rows + g * b.m) * p + ch.p0);
            if bias.is_some() {
                for o in 0..b.m {
                    for j in 0..len {
                        dst.add(o * p + j).write(bias_of(o));
                    }
                }
            }
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
                cols,
                cols_rs,
                cols_cs,
                nested,
            );
            if !epi.is_none() {
                for o in 0..b.m {
                    let row = std::slice::from_raw_parts_mut(dst.add(o * p), len);
                    let at = (ch.n0 * rows + g * b.m + o) * p + ch.p0;
                    epi.apply(row, g * b.m + o, at);
                }
            }
        }
        return;
    }
    // SAFETY: tmp is m rows of ld; cols covers the block.
    unsafe {
        sgemm(
            b.m,
            len,
            k,
            tmp.as_mut_ptr(),
            ld,
            1,
            false,
            a_g,
            k,
            1,
            cols,
            cols_rs,
            cols_cs,
            nested,
        )
    };
    for i in ch.n0..ch.n1 {
        for o in 0..b.m {
            let src = &tmp[o * ld + (i - ch.n0) * seg..][..seg];
            let at = (i * rows + g * b.m + o) * p + ch.p0;
            // SAFETY: by the contract, these `seg` values of the output are this task's.
            unsafe { epi.copy_apply(out.get().add(at), src, bias_of(o), g * b.m + o, at) };
        }
    }
}

/// [`gather_gemm`] (`small = A @ im2col(image)`, no bias) and
/// [`weight_grad`] (`returned = grad @ im2col(image)^T`) over the same
/// columns, each block gathered once: a transposed convolution's backward,
/// whose input and weight gradients both read the output gradient's columns.
pub fn gather_gemm_and_grad(
    win: &Window,
    b: Batch,
    image: &[f32],
    a: &[f32],
    small: &mut [f32],
    grad: &[f32],
) -> Vec<f32> {
    let (k, p) = (win.k(), win.p());
    let rows = b.groups * b.m;
    assert_eq!(image.len(), b.n * b.groups * win.image_len());
    assert_eq!(a.len(), rows * k);
    assert_eq!(small.len(), b.n * rows * p);
    assert_eq!(grad.len(), b.n * rows * p);
    let total = rows * k;
    if win.is_identity() || p == 0 || total == 0 || b.n == 0 {
        gather_gemm(win, b, image, a, None, small);
        return weight_grad(win, b, grad, image);
    }
    let chunks: Vec<Chunk> = units(win, b).into_iter().flatten().collect();
    let tasks = b.groups * chunks.len();
    let nested = tasks < threads();
    let out = SendPtr(small.as_mut_ptr());
    let one = |acc: &mut [f32], t: usize| {
        let (g, ch) = (t / chunks.len(), chunks[t % chunks.len()]);
        let ld = ch.ld();
        let a_g = a[g * b.m * k..].as_ptr();
        with_scratch2(
            k * ld,
            if ch.single() { 0 } else { b.m * ld },
            |col, tmp| {
                gather_cols(win, b, image, g, &ch, col);
                let (src, src_rs) = if ch.single() {
                    (grad[(ch.n0 * rows + g * b.m) * p + ch.p0..].as_ptr(), p)
                } else {
                    gather_rows(grad, rows, p, g, b.m, &ch, tmp);
                    (tmp.as_ptr(), ld)
                };
                // SAFETY: as in weight_grad (the columns transposed: rows 1, columns ld apart),
                // then as in gather_gemm (tmp reused once the gradient's rows are read).
                unsafe {
                    let dst = acc[g * b.m * k..].as_mut_ptr();
                    sgemm(
                        b.m,
                        k,
                        ch.len(),
                        dst,
                        k,
                        1,
                        true,
                        src,
                        src_rs,
                        1,
                        col.as_ptr(),
                        1,
                        ld,
                        nested,
                    );
                    gemm_block(
                        win,
                        b,
                        a_g,
                        None,
                        Epilogue::NONE,
                        g,
                        &ch,
                        col.as_ptr(),
                        (ld, 1),
                        out,
                        tmp,
                        nested,
                    );
                }
            },
        );
    };
    in_order_sum(tasks, total, one)
}

/// `sum_t one(t)` over `tasks`, in fixed chunks of tasks added in order:
/// the same sums on every run (a work-stealing fold would change the order,
/// and so the last bits).
fn in_order_sum(tasks: usize, total: usize, one: impl Fn(&mut [f32], usize) + Sync) -> Vec<f32> {
    let parts = threads().min(tasks).max(1);
    let partials: Vec<Vec<f32>> = (0..parts)
        .into_par_iter()
        .map(|ci| {
            let mut acc = vec![0.0f32; total];
            for t in ci * tasks / parts..(ci + 1) * tasks / parts {
                one(&mut acc, t);
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

/// `image[n, g] += col2im(A[g]^T @ small[n, g])`: `image` is
/// `[n, groups * c, h, w]` (added to, so zero it or fill it with a bias
/// first), `a` is `[groups * m, K]`, `small` is `[n, groups * m, oh * ow]`.
pub fn gemm_scatter(win: &Window, b: Batch, small: &[f32], a: &[f32], image: &mut [f32]) {
    let (k, p) = (win.k(), win.p());
    let rows = b.groups * b.m;
    let il = win.image_len();
    assert_eq!(image.len(), b.n * b.groups * il);
    assert_eq!(a.len(), rows * k);
    assert_eq!(small.len(), b.n * rows * p);
    if p == 0 || k == 0 || b.n == 0 {
        return;
    }
    let units = units(win, b);
    let tasks = b.groups * units.len();
    let nested = tasks < threads();
    let identity = win.is_identity();
    let out = SendPtr(image.as_mut_ptr());
    (0..tasks).into_par_iter().for_each(|t| {
        let (g, unit) = (t / units.len(), &units[t % units.len()]);
        let a_g = a[g * b.m * k..].as_ptr();
        // SAFETY: unit t alone touches its images' group-g channels.
        let img = |i: usize| unsafe {
            std::slice::from_raw_parts_mut(out.get().add((i * b.groups + g) * il), il)
        };
        for ch in unit {
            let (len, seg) = (ch.len(), ch.seg());
            if ch.single() && identity {
                let dst = img(ch.n0).as_mut_ptr();
                let src = small[(ch.n0 * rows + g * b.m) * p + ch.p0..].as_ptr();
                // SAFETY: the image is c x p (K = c); A^T has rows 1 and columns k apart.
                unsafe {
                    sgemm(
                        k,
                        len,
                        b.m,
                        dst.add(ch.p0),
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
                continue;
            }
            let ld = ch.ld();
            with_scratch2(
                k * ld,
                if ch.single() { 0 } else { b.m * ld },
                |col, tmp| {
                    let (src, src_rs) = if ch.single() {
                        (small[(ch.n0 * rows + g * b.m) * p + ch.p0..].as_ptr(), p)
                    } else {
                        gather_rows(small, rows, p, g, b.m, ch, tmp);
                        (tmp.as_ptr(), ld)
                    };
                    // SAFETY: col is k rows ld apart, written whole.
                    unsafe {
                        sgemm(
                            k,
                            len,
                            b.m,
                            col.as_mut_ptr(),
                            ld,
                            1,
                            false,
                            a_g,
                            1,
                            k,
                            src,
                            src_rs,
                            1,
                            nested,
                        )
                    };
                    for i in ch.n0..ch.n1 {
                        col2im_at(win, col, ld, (i - ch.n0) * seg, img(i), ch.p0, ch.p1);
                    }
                },
            );
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
    if p == 0 || total == 0 || b.n == 0 {
        return vec![0.0; total];
    }
    let chunks: Vec<Chunk> = units(win, b).into_iter().flatten().collect();
    let tasks = b.groups * chunks.len();
    let nested = tasks < threads();
    let identity = win.is_identity();
    let one = |acc: &mut [f32], t: usize| {
        let (g, ch) = (t / chunks.len(), chunks[t % chunks.len()]);
        let (len, ld) = (ch.len(), ch.ld());
        let dst = acc[g * b.m * k..].as_mut_ptr();
        with_scratch2(
            if ch.single() && identity { 0 } else { k * ld },
            if ch.single() { 0 } else { b.m * ld },
            |col, tmp| {
                let (src, src_rs) = if ch.single() {
                    (small[(ch.n0 * rows + g * b.m) * p + ch.p0..].as_ptr(), p)
                } else {
                    gather_rows(small, rows, p, g, b.m, &ch, tmp);
                    (tmp.as_ptr(), ld)
                };
                let (cols, cols_cs) = if ch.single() && identity {
                    let img = &image[(ch.n0 * b.groups + g) * win.image_len()..];
                    (img[ch.p0..].as_ptr(), p)
                } else {
                    gather_cols(win, b, image, g, &ch, col);
                    (col.as_ptr(), ld)
                };
                // SAFETY: the columns transposed are len x k: rows 1 apart, columns cols_cs apart.
                unsafe {
                    sgemm(
                        b.m, k, len, dst, k, 1, true, src, src_rs, 1, cols, 1, cols_cs, nested,
                    )
                };
            },
        );
    };
    in_order_sum(tasks, total, one)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn window(h: usize, k: usize, s: usize, p: usize) -> Window {
        let o = (h + 2 * p - k) / s + 1;
        Window {
            c: 2,
            h,
            w: h,
            kh: k,
            kw: k,
            sh: s,
            sw: s,
            ph: p,
            pw: p,
            dh: 1,
            dw: 1,
            oh: o,
            ow: o,
        }
    }

    /// The column matrix written tap by tap from the definition.
    fn naive_im2col(win: &Window, image: &[f32]) -> Vec<f32> {
        let mut col = vec![0.0; win.k() * win.p()];
        for c in 0..win.c {
            for ki in 0..win.kh {
                for kj in 0..win.kw {
                    let r = (c * win.kh + ki) * win.kw + kj;
                    for oy in 0..win.oh {
                        for ox in 0..win.ow {
                            let iy = (oy * win.sh + ki) as isize - win.ph as isize;
                            let ix = (ox * win.sw + kj) as isize - win.pw as isize;
                            if (0..win.h as isize).contains(&iy)
                                && (0..win.w as isize).contains(&ix)
                            {
                                col[r * win.p() + oy * win.ow + ox] =
                                    image[(c * win.h + iy as usize) * win.w + ix as usize];
                            }
                        }
                    }
                }
            }
        }
        col
    }

    /// The forward convolution from its definition, in f64.
    #[allow(clippy::too_many_arguments)]
    fn naive_forward(
        win: &Window,
        b: Batch,
        x: &[f32],
        w: &[f32],
        bias: Option<&[f32]>,
    ) -> Vec<f64> {
        let rows = b.groups * b.m;
        let mut y = vec![0.0f64; b.n * rows * win.p()];
        for n in 0..b.n {
            for o in 0..rows {
                let g = o / b.m;
                for oy in 0..win.oh {
                    for ox in 0..win.ow {
                        let mut acc = bias.map_or(0.0, |bs| bs[o] as f64);
                        for c in 0..win.c {
                            for ki in 0..win.kh {
                                for kj in 0..win.kw {
                                    let iy = (oy * win.sh + ki * win.dh) as isize - win.ph as isize;
                                    let ix = (ox * win.sw + kj * win.dw) as isize - win.pw as isize;
                                    if (0..win.h as isize).contains(&iy)
                                        && (0..win.w as isize).contains(&ix)
                                    {
                                        let xv =
                                            x[((n * b.groups + g) * win.c + c) * win.h * win.w
                                                + iy as usize * win.w
                                                + ix as usize];
                                        let wv = w[((o * win.c + c) * win.kh + ki) * win.kw + kj];
                                        acc += xv as f64 * wv as f64;
                                    }
                                }
                            }
                        }
                        y[(n * rows + o) * win.p() + oy * win.ow + ox] = acc;
                    }
                }
            }
        }
        y
    }

    /// [`forward`] against the definition on shapes that take each of its
    /// paths: column tiles of one image, several small images per block,
    /// channel-last columns, trimmed taps read in place (one tap, 2x2 of
    /// 3x3), K-blocks (K >= 1024), the identity, groups and a bias.
    #[test]
    fn forward_is_the_definition_on_every_path() {
        // (n, c, h, cout, k, stride, pad, dilation, groups, bias)
        let cases = [
            (2, 8, 20, 16, 3, 1, 1, 1, 1, false),
            (16, 32, 4, 24, 3, 1, 1, 1, 1, true),
            (16, 32, 2, 16, 3, 2, 1, 1, 1, false),
            (12, 64, 1, 40, 3, 1, 1, 1, 1, true),
            (9, 16, 3, 8, 1, 1, 0, 1, 1, false),
            (3, 128, 6, 20, 3, 1, 1, 1, 1, true),
            (1, 128, 9, 13, 3, 1, 2, 2, 1, false),
            (1, 1024, 2, 5, 1, 1, 0, 1, 1, false),
            (2, 8, 10, 8, 3, 2, 1, 1, 4, true),
            (4, 3, 23, 8, 7, 2, 3, 1, 1, false),
            (20, 16, 4, 8, 1, 2, 0, 1, 1, false),
            (1, 64, 1, 16, 3, 1, 1, 1, 1, true),
            (1, 32, 2, 16, 3, 2, 1, 1, 1, false),
            (8, 8, 1, 8, 3, 1, 1, 1, 1, false),
            (1, 160, 1, 16, 3, 1, 1, 1, 1, false),
            (1, 16, 40, 8, 3, 1, 1, 1, 1, true),
            (1, 128, 30, 8, 3, 1, 1, 1, 1, false),
            (1, 16, 41, 8, 3, 2, 1, 1, 1, false),
        ];
        for (i, &(n, cin, h, cout, k, s, p, d, g, with_bias)) in cases.iter().enumerate() {
            let o = (h + 2 * p - d * (k - 1) - 1) / s + 1;
            let win = Window {
                c: cin / g,
                h,
                w: h,
                kh: k,
                kw: k,
                sh: s,
                sw: s,
                ph: p,
                pw: p,
                dh: d,
                dw: d,
                oh: o,
                ow: o,
            };
            let b = Batch {
                n,
                groups: g,
                m: cout / g,
            };
            let x: Vec<f32> = (0..n * cin * h * h)
                .map(|j| ((j * 37 + i) % 101) as f32 / 50.0 - 1.0)
                .collect();
            let w: Vec<f32> = (0..cout * win.k())
                .map(|j| ((j * 53 + 7 * i) % 89) as f32 / 44.0 - 1.0)
                .collect();
            let bias: Vec<f32> = (0..cout).map(|j| j as f32 * 0.1 - 0.3).collect();
            let bias = with_bias.then_some(bias.as_slice());
            let want = naive_forward(&win, b, &x, &w, bias);
            let mut got = vec![f32::NAN; want.len()];
            forward(&win, b, &x, &w, bias, Epilogue::NONE, &mut got);
            for (j, (&a, &e)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (a as f64 - e).abs() <= 1e-4 * (1.0 + e.abs()),
                    "case {i} ({win:?}, {b:?}) element {j}: {a} vs {e}"
                );
            }
        }
    }

    #[test]
    fn im2col_is_the_definition_over_strides_dilations_and_paddings() {
        for h in [1, 2, 5, 8, 13] {
            for w in [1, 3, 8, 16] {
                for (kh, kw) in [(1, 1), (3, 3), (7, 7), (2, 3), (3, 1)] {
                    for (sh, sw) in [(1, 1), (2, 2), (3, 2), (1, 2)] {
                        for (dh, dw) in [(1, 1), (2, 1)] {
                            for (ph, pw) in [(0, 0), (1, 1), (3, 2)] {
                                let span_h = dh * (kh - 1) + 1;
                                let span_w = dw * (kw - 1) + 1;
                                if h + 2 * ph < span_h || w + 2 * pw < span_w {
                                    continue;
                                }
                                let win = Window {
                                    c: 2,
                                    h,
                                    w,
                                    kh,
                                    kw,
                                    sh,
                                    sw,
                                    ph,
                                    pw,
                                    dh,
                                    dw,
                                    oh: (h + 2 * ph - span_h) / sh + 1,
                                    ow: (w + 2 * pw - span_w) / sw + 1,
                                };
                                let image: Vec<f32> =
                                    (0..win.image_len()).map(|i| i as f32 + 1.0).collect();
                                let want = naive_im2col_dilated(&win, &image);
                                let mut col = vec![f32::NAN; win.k() * win.p()];
                                im2col(&win, &image, &mut col, 0, win.p());
                                assert_eq!(col, want, "{win:?}");
                                // Whole rows from the middle, and a ragged range.
                                for (p0, p1) in [(win.ow, win.p()), (1, win.p())] {
                                    if p0 >= p1 {
                                        continue;
                                    }
                                    let mut part = vec![f32::NAN; win.k() * (p1 - p0)];
                                    im2col(&win, &image, &mut part, p0, p1);
                                    for r in 0..win.k() {
                                        assert_eq!(
                                            &part[r * (p1 - p0)..][..p1 - p0],
                                            &want[r * win.p() + p0..r * win.p() + p1],
                                            "{win:?} columns {p0}..{p1}"
                                        );
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// [`naive_im2col`] with dilation.
    fn naive_im2col_dilated(win: &Window, image: &[f32]) -> Vec<f32> {
        let mut col = vec![0.0; win.k() * win.p()];
        for c in 0..win.c {
            for ki in 0..win.kh {
                for kj in 0..win.kw {
                    let r = (c * win.kh + ki) * win.kw + kj;
                    for oy in 0..win.oh {
                        for ox in 0..win.ow {
                            let iy = (oy * win.sh + ki * win.dh) as isize - win.ph as isize;
                            let ix = (ox * win.sw + kj * win.dw) as isize - win.pw as isize;
                            if (0..win.h as isize).contains(&iy)
                                && (0..win.w as isize).contains(&ix)
                            {
                                col[r * win.p() + oy * win.ow + ox] =
                                    image[(c * win.h + iy as usize) * win.w + ix as usize];
                            }
                        }
                    }
                }
            }
        }
        col
    }

    #[test]
    fn trimming_drops_only_taps_that_read_padding() {
        // ResNet's last stage at 32x32 inputs: a 3x3, padding-1 window on a 1x1
        // map reads its centre alone; the stride-2 one on 2x2 its lower-right 2x2.
        let t = window(1, 3, 1, 1).trimmed().expect("trimmed");
        assert_eq!(
            (t.win.kh, t.win.kw, t.win.ph, t.ki0, t.kj0),
            (1, 1, 0, 1, 1)
        );
        let t = window(2, 3, 2, 1).trimmed().expect("trimmed");
        assert_eq!((t.win.kh, t.win.ph, t.ki0, t.win.oh), (2, 0, 1, 1));
        // Every tap read: nothing to trim.
        assert_eq!(window(8, 3, 1, 1).trimmed(), None);
        assert_eq!(window(7, 7, 2, 3).trimmed(), None);
        // The trimmed window's columns are the full window's live rows.
        for (h, k, s, p) in [
            (1, 3, 1, 1),
            (2, 3, 2, 1),
            (1, 5, 1, 2),
            (2, 5, 1, 2),
            (3, 7, 2, 3),
        ] {
            let full = window(h, k, s, p);
            let Some(t) = full.trimmed() else { continue };
            let image: Vec<f32> = (0..full.image_len()).map(|i| i as f32 + 1.0).collect();
            let (a, b) = (naive_im2col(&full, &image), naive_im2col(&t.win, &image));
            let mut kept = vec![0.0; full.k() * full.p()];
            for (r, row) in b.chunks_exact(t.win.p()).enumerate() {
                let (c, ki, kj) = (
                    r / (t.win.kh * t.win.kw),
                    r / t.win.kw % t.win.kh,
                    r % t.win.kw,
                );
                let fr = (c * k + ki + t.ki0) * k + kj + t.kj0;
                kept[fr * full.p()..][..full.p()].copy_from_slice(row);
            }
            assert_eq!(
                a, kept,
                "h {h} k {k} s {s} p {p}: a dropped tap read the image"
            );
            // And the library's im2col agrees with the definition on both windows.
            for win in [full, t.win] {
                let mut col = vec![f32::NAN; win.k() * win.p()];
                im2col(&win, &image, &mut col, 0, win.p());
                assert_eq!(col, naive_im2col(&win, &image));
            }
            // compact and expand are inverse on the kept taps.
            let w: Vec<f32> = (0..3 * 2 * k * k).map(|i| i as f32).collect();
            let back = t.expand(&t.compact(&w));
            for (i, (&x, &y)) in w.iter().zip(&back).enumerate() {
                let (ki, kj) = (i / k % k, i % k);
                let live = (t.ki0..t.ki0 + t.win.kh).contains(&ki)
                    && (t.kj0..t.kj0 + t.win.kw).contains(&kj);
                assert_eq!(y, if live { x } else { 0.0 });
            }
        }
    }
}
