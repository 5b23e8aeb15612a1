//! Max and average pooling over NCHW planes, and adaptive average pooling,
//! with PyTorch's windows: padding before the first row/column, `ceil_mode`
//! windows that start inside the input (or its leading padding), max over
//! the window in row-major order keeping the first maximum (NaN wins), and
//! average divisors with or without the padding.

use rayon::prelude::*;

/// One pooling window geometry over planes of `h x w`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool {
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Window height.
    pub kh: usize,
    /// Window width.
    pub kw: usize,
    /// Vertical stride.
    pub sh: usize,
    /// Horizontal stride.
    pub sw: usize,
    /// Padding before the first row.
    pub ph: usize,
    /// Padding before the first column.
    pub pw: usize,
    /// Padding after the last row (an average's divisor with padding counts it).
    pub ph_end: usize,
    /// Padding after the last column.
    pub pw_end: usize,
    /// Vertical dilation (max pooling only).
    pub dh: usize,
    /// Horizontal dilation (max pooling only).
    pub dw: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
}

/// PyTorch's pooling output length along one axis.
pub fn pool_out(
    len: usize,
    k: usize,
    s: usize,
    pad_begin: usize,
    pad_end: usize,
    d: usize,
    ceil: bool,
) -> usize {
    let span = len + pad_begin + pad_end;
    let need = d * (k - 1) + 1;
    if span < need {
        return 0;
    }
    let num = span - need;
    let mut out = if ceil { num.div_ceil(s) } else { num / s } + 1;
    // The last window must start inside the input or its leading padding.
    if ceil && (out - 1) * s >= len + pad_begin {
        out -= 1;
    }
    out
}

impl Pool {
    fn in_plane(&self) -> usize {
        self.h * self.w
    }

    fn out_plane(&self) -> usize {
        self.oh * self.ow
    }

    /// The output columns `[lo, hi)` whose tap `kx` falls inside the input
    /// (at `ox * sw + off`), and that `off`.
    #[inline]
    fn columns(&self, kx: usize) -> (usize, usize, isize) {
        let off = (kx * self.dw) as isize - self.pw as isize;
        let lo = if off >= 0 {
            0
        } else {
            ((-off) as usize).div_ceil(self.sw)
        };
        let hi = if (self.w as isize - 1 - off) < 0 {
            0
        } else {
            ((self.w as isize - 1 - off) as usize / self.sw + 1).min(self.ow)
        };
        (lo.min(hi), hi, off)
    }

    /// Input rows `iy` of output row `oy` (taps inside the input).
    #[inline]
    fn taps(&self, o: usize, s: usize, p: usize, d: usize, k: usize, len: usize) -> (usize, usize) {
        // First tap j with o*s - p + j*d >= 0, last with < len.
        let base = (o * s) as isize - p as isize;
        let j0 = if base >= 0 {
            0
        } else {
            ((-base) as usize).div_ceil(d)
        };
        let j1 = if base >= len as isize {
            0
        } else {
            (((len as isize - 1 - base) as usize) / d + 1).min(k)
        };
        (j0.min(k), j1.max(j0.min(k)))
    }
}

/// The index of a max-pool window that lies wholly in the padding.
pub const NO_TAP: u32 = u32::MAX;

/// Max pooling of `x` (`planes x h x w`) into `out` (`planes x oh x ow`);
/// with `indices`, also each maximum's flat position in its plane
/// (`iy * w + ix`, as PyTorch returns). An all-padding window gives -inf
/// and [`NO_TAP`].
pub fn max_pool(g: &Pool, x: &[f32], out: &mut [f32], indices: Option<&mut [u32]>) {
    let (ip, op) = (g.in_plane(), g.out_plane());
    if op == 0 {
        return;
    }
    match indices {
        None => out
            .par_chunks_mut(op)
            .zip(x.par_chunks(ip.max(1)))
            .for_each(|(o, xp)| max_plane(g, xp, o)),
        Some(idx) => out
            .par_chunks_mut(op)
            .zip(idx.par_chunks_mut(op))
            .zip(x.par_chunks(ip.max(1)))
            .for_each(|((o, i), xp)| max_plane_indices(g, xp, o, i)),
    }
}

fn max_plane(g: &Pool, x: &[f32], out: &mut [f32]) {
    if g.dh == 1 && g.dw == 1 && g.ow > 0 {
        return max_plane_separable(g, x, out);
    }
    for oy in 0..g.oh {
        let row = &mut out[oy * g.ow..(oy + 1) * g.ow];
        row.fill(f32::NEG_INFINITY);
        let (ky0, ky1) = g.taps(oy, g.sh, g.ph, g.dh, g.kh, g.h);
        for ky in ky0..ky1 {
            let iy = oy * g.sh + ky * g.dh - g.ph;
            let src = &x[iy * g.w..(iy + 1) * g.w];
            for kx in 0..g.kw {
                let (lo, hi, off) = g.columns(kx);
                for ox in lo..hi {
                    let v = src[(ox as isize * g.sw as isize + off) as usize];
                    let m = &mut row[ox];
                    // A select, not a branch: random data mispredicts one.
                    let take = (v > *m) | v.is_nan();
                    *m = if take { v } else { *m };
                }
            }
        }
    }
}

/// [`max_plane`] without dilation, in two passes: each input row's
/// maxima over the window's columns, then each output row's over the
/// window's rows. A row is first split into its `sw` phases (padded column
/// `b + sw * j` in phase `b`, padding as -inf) so that every tap reads
/// consecutive values; the second pass reads whole rows. Taps are visited
/// in the window's row-major order with the same select as the direct
/// loop (the first maximum kept, a NaN taken), so the results are the same.
fn max_plane_separable(g: &Pool, x: &[f32], out: &mut [f32]) {
    let (h, w, ow, sw) = (g.h, g.w, g.ow, g.sw);
    // Padded columns read: [0, (ow - 1) * sw + kw).
    let wp = (ow - 1) * sw + g.kw;
    let wq = wp.div_ceil(sw);
    let take = |m: &mut f32, v: f32| {
        let t = (v > *m) | v.is_nan();
        *m = if t { v } else { *m };
    };
    super::with_plane(h * ow + sw * wq, |buf| {
        let (hm, phases) = buf.split_at_mut(h * ow);
        for iy in 0..h {
            let src = &x[iy * w..(iy + 1) * w];
            for (b, q) in phases.chunks_exact_mut(wq).enumerate() {
                for (j, v) in q.iter_mut().enumerate() {
                    let ix = (b + sw * j) as isize - g.pw as isize;
                    *v = if ix >= 0 && (ix as usize) < w {
                        src[ix as usize]
                    } else {
                        f32::NEG_INFINITY
                    };
                }
            }
            let row = &mut hm[iy * ow..(iy + 1) * ow];
            row.fill(f32::NEG_INFINITY);
            for kx in 0..g.kw {
                let q = &phases[(kx % sw) * wq + kx / sw..][..ow];
                for (m, &v) in row.iter_mut().zip(q) {
                    take(m, v);
                }
            }
        }
        for oy in 0..g.oh {
            let row = &mut out[oy * ow..(oy + 1) * ow];
            row.fill(f32::NEG_INFINITY);
            let (ky0, ky1) = g.taps(oy, g.sh, g.ph, 1, g.kh, h);
            for ky in ky0..ky1 {
                let iy = oy * g.sh + ky - g.ph;
                for (m, &v) in row.iter_mut().zip(&hm[iy * ow..(iy + 1) * ow]) {
                    take(m, v);
                }
            }
        }
    });
}

fn max_plane_indices(g: &Pool, x: &[f32], out: &mut [f32], idx: &mut [u32]) {
    // Row by row as `max_plane`, each tap visited in the window's row-major
    // order (the first maximum kept, a NaN taken), the index carried along.
    // A window wholly in the padding gives -inf and NO_TAP.
    for oy in 0..g.oh {
        let row = &mut out[oy * g.ow..(oy + 1) * g.ow];
        let irow = &mut idx[oy * g.ow..(oy + 1) * g.ow];
        row.fill(f32::NEG_INFINITY);
        irow.fill(NO_TAP);
        let (ky0, ky1) = g.taps(oy, g.sh, g.ph, g.dh, g.kh, g.h);
        for ky in ky0..ky1 {
            let iy = oy * g.sh + ky * g.dh - g.ph;
            let src = &x[iy * g.w..(iy + 1) * g.w];
            for kx in 0..g.kw {
                let (lo, hi, off) = g.columns(kx);
                for ox in lo..hi {
                    let ix = (ox as isize * g.sw as isize + off) as usize;
                    let v = src[ix];
                    let take = (v > row[ox]) | v.is_nan();
                    row[ox] = if take { v } else { row[ox] };
                    irow[ox] = if take {
                        (iy * g.w + ix) as u32
                    } else {
                        irow[ox]
                    };
                }
            }
        }
    }
}

/// The input gradient of max pooling: each output gradient added at its
/// maximum's position. `dx` is `planes x h x w`, written whole.
pub fn max_pool_backward(g: &Pool, dy: &[f32], indices: &[u32], dx: &mut [f32]) {
    let (ip, op) = (g.in_plane(), g.out_plane());
    if ip == 0 {
        return;
    }
    dx.par_chunks_mut(ip)
        .zip(dy.par_chunks(op.max(1)))
        .zip(indices.par_chunks(op.max(1)))
        .for_each(|((d, gy), ix)| {
            d.fill(0.0);
            if op == 0 {
                return;
            }
            for (v, &i) in gy.iter().zip(ix) {
                if i != NO_TAP {
                    d[i as usize] += v;
                }
            }
        });
}

/// The window of output `o` along one axis: `[start, end)` clipped to the
/// input, and the divisor's extent (clipped to the padded input) when the
/// padding counts.
#[inline]
fn avg_window(
    o: usize,
    s: usize,
    k: usize,
    p: usize,
    p_end: usize,
    len: usize,
) -> (usize, usize, usize) {
    let start = (o * s) as isize - p as isize;
    let end = (start + k as isize).min((len + p_end) as isize);
    let padded = (end - start) as usize;
    let a = start.max(0) as usize;
    let b = (end.min(len as isize)).max(a as isize) as usize;
    (a, b, padded)
}

/// An average window along one axis: `(start, end, padded extent)`.
type Span = (usize, usize, usize);

impl Pool {
    /// Each output's average window along both axes, `(start, end, padded
    /// extent)`: worked out once per call, not per output.
    fn avg_windows(&self) -> (Vec<Span>, Vec<Span>) {
        let rows = (0..self.oh)
            .map(|o| avg_window(o, self.sh, self.kh, self.ph, self.ph_end, self.h))
            .collect();
        let cols = (0..self.ow)
            .map(|o| avg_window(o, self.sw, self.kw, self.pw, self.pw_end, self.w))
            .collect();
        (rows, cols)
    }

    /// A 2x2 window with stride 2 and no padding (LeNet's, DenseNet's
    /// transitions): every window whole and disjoint, divisor 4 either way.
    fn is_halving(&self) -> bool {
        (self.kh, self.kw, self.sh, self.sw) == (2, 2, 2, 2)
            && self.ph + self.pw + self.ph_end + self.pw_end == 0
            && 2 * self.oh <= self.h
            && 2 * self.ow <= self.w
    }
}

/// The average divisor of a window.
#[inline]
fn divisor(rows: Span, cols: Span, with_pad: bool) -> usize {
    if with_pad {
        rows.2 * cols.2
    } else {
        (rows.1 - rows.0) * (cols.1 - cols.0)
    }
}

/// Average pooling of `x` into `out` (planes of `h x w` into `oh x ow`).
pub fn avg_pool(g: &Pool, count_include_pad: bool, x: &[f32], out: &mut [f32]) {
    let (ip, op) = (g.in_plane(), g.out_plane());
    if op == 0 {
        return;
    }
    let (rows, cols) = g.avg_windows();
    let halving = g.is_halving();
    out.par_chunks_mut(op)
        .zip(x.par_chunks(ip.max(1)))
        .for_each(|(o, xp)| {
            for (oy, (orow, &ry)) in o.chunks_exact_mut(g.ow).zip(&rows).enumerate() {
                if halving {
                    let r0 = &xp[2 * oy * g.w..][..2 * g.ow];
                    let r1 = &xp[(2 * oy + 1) * g.w..][..2 * g.ow];
                    for ((d, a), b) in orow
                        .iter_mut()
                        .zip(r0.chunks_exact(2))
                        .zip(r1.chunks_exact(2))
                    {
                        *d = ((a[0] + a[1]) + (b[0] + b[1])) * 0.25;
                    }
                    continue;
                }
                for (d, &cx) in orow.iter_mut().zip(&cols) {
                    let div = divisor(ry, cx, count_include_pad);
                    let mut acc = 0.0f32;
                    for iy in ry.0..ry.1 {
                        acc += xp[iy * g.w + cx.0..iy * g.w + cx.1].iter().sum::<f32>();
                    }
                    *d = if div == 0 { 0.0 } else { acc / div as f32 };
                }
            }
        });
}

/// The input gradient of [`avg_pool`]; `dx` is written whole.
pub fn avg_pool_backward(g: &Pool, count_include_pad: bool, dy: &[f32], dx: &mut [f32]) {
    let (ip, op) = (g.in_plane(), g.out_plane());
    if ip == 0 {
        return;
    }
    let (rows, cols) = g.avg_windows();
    let halving = g.is_halving();
    dx.par_chunks_mut(ip)
        .zip(dy.par_chunks(op.max(1)))
        .for_each(|(d, gy)| {
            if op == 0 {
                d.fill(0.0);
                return;
            }
            if halving {
                // Disjoint windows: each input written once (the odd last
                // row or column, outside every window, gets zero).
                for (oy, grow) in gy.chunks_exact(g.ow).enumerate() {
                    for r in 0..2 {
                        let drow = &mut d[(2 * oy + r) * g.w..][..g.w];
                        let (covered, rest) = drow.split_at_mut(2 * g.ow);
                        for (pair, &v) in covered.chunks_exact_mut(2).zip(grow) {
                            pair[0] = v * 0.25;
                            pair[1] = v * 0.25;
                        }
                        rest.fill(0.0);
                    }
                }
                d[2 * g.oh * g.w..].fill(0.0);
                return;
            }
            d.fill(0.0);
            for (grow, &ry) in gy.chunks_exact(g.ow).zip(&rows) {
                for (&gv, &cx) in grow.iter().zip(&cols) {
                    let div = divisor(ry, cx, count_include_pad);
                    if div == 0 {
                        continue;
                    }
                    let v = gv / div as f32;
                    for iy in ry.0..ry.1 {
                        for e in &mut d[iy * g.w + cx.0..iy * g.w + cx.1] {
                            *e += v;
                        }
                    }
                }
            }
        });
}

/// PyTorch's adaptive window `[floor(i * len / out), ceil((i + 1) * len / out))`.
#[inline]
pub fn adaptive_window(i: usize, len: usize, out: usize) -> (usize, usize) {
    (i * len / out, ((i + 1) * len).div_ceil(out))
}

/// Adaptive average pooling of planes `h x w` to `oh x ow`.
#[allow(clippy::too_many_arguments)]
pub fn adaptive_avg_pool(h: usize, w: usize, oh: usize, ow: usize, x: &[f32], out: &mut [f32]) {
    let (ip, op) = (h * w, oh * ow);
    if op == 0 {
        return;
    }
    out.par_chunks_mut(op)
        .zip(x.par_chunks(ip.max(1)))
        .for_each(|(o, xp)| {
            if oh == 1 && ow == 1 {
                o[0] = xp.iter().sum::<f32>() / ip as f32;
                return;
            }
            for oy in 0..oh {
                let (y0, y1) = adaptive_window(oy, h, oh);
                for ox in 0..ow {
                    let (x0, x1) = adaptive_window(ox, w, ow);
                    let mut acc = 0.0f32;
                    for iy in y0..y1 {
                        acc += xp[iy * w + x0..iy * w + x1].iter().sum::<f32>();
                    }
                    o[oy * ow + ox] = acc / ((y1 - y0) * (x1 - x0)) as f32;
                }
            }
        });
}

/// The input gradient of [`adaptive_avg_pool`]; `dx` is written whole.
pub fn adaptive_avg_pool_backward(
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    dy: &[f32],
    dx: &mut [f32],
) {
    let (ip, op) = (h * w, oh * ow);
    if ip == 0 {
        return;
    }
    dx.par_chunks_mut(ip)
        .zip(dy.par_chunks(op.max(1)))
        .for_each(|(d, gy)| {
            if op == 0 {
                d.fill(0.0);
                return;
            }
            if oh == 1 && ow == 1 {
                d.fill(gy[0] / ip as f32);
                return;
            }
            d.fill(0.0);
            for oy in 0..oh {
                let (y0, y1) = adaptive_window(oy, h, oh);
                for ox in 0..ow {
                    let (x0, x1) = adaptive_window(ox, w, ow);
                    let v = gy[oy * ow + ox] / ((y1 - y0) * (x1 - x0)) as f32;
                    for iy in y0..y1 {
                        for e in &mut d[iy * w + x0..iy * w + x1] {
                            *e += v;
                        }
                    }
                }
            }
        });
}
