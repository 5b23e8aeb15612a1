//! Separable resampling by gathering each output's taps: rows first (a
//! weighted sum of whole input rows, over the columns the output needs),
//! then columns. The work is that of the taps, not of dense `[out, in]`
//! matrices (a RandomResizedCrop of 256 to 224 has 2-4 taps per output
//! against 256 matrix entries).

use rayon::prelude::*;

use super::with_scratch;

/// Per output index along one axis: the first input index and the weights
/// of the inputs from there.
pub type Taps = [(usize, Vec<f32>)];

/// `out[p, oy, ox] = sum_a sum_b rows[oy].w[a] * cols[ox].w[b] * x[p, lo_r + a, lo_c + b]`
/// for each plane `p` of `x` (`planes x h x w`) into `out` (`planes x oh x
/// ow`), the taps of plane `p` being `taps(p)`.
///
/// # Panics
/// When a tap falls outside the plane.
pub fn separable<'a>(
    x: &[f32],
    h: usize,
    w: usize,
    out: &mut [f32],
    oh: usize,
    ow: usize,
    taps: impl Fn(usize) -> (&'a Taps, &'a Taps) + Sync,
) {
    let (ip, op) = (h * w, oh * ow);
    if op == 0 {
        return;
    }
    out.par_chunks_mut(op).enumerate().for_each(|(p, o)| {
        let (rows, cols) = taps(p);
        assert!(
            rows.len() == oh && cols.len() == ow,
            "resample: {} x {} taps for a {oh} x {ow} output",
            rows.len(),
            cols.len()
        );
        let plane = &x[p * ip..(p + 1) * ip];
        // The input columns any output reads.
        let c0 = cols.iter().map(|(lo, _)| *lo).min().unwrap_or(0);
        let c1 = cols.iter().map(|(lo, ws)| lo + ws.len()).max().unwrap_or(0);
        assert!(c1 <= w, "resample: a column tap beyond the width {w}");
        let span = c1.saturating_sub(c0);
        with_scratch(oh * span, |tmp| {
            for (oy, (lo, ws)) in rows.iter().enumerate() {
                let acc = &mut tmp[oy * span..(oy + 1) * span];
                acc.fill(0.0);
                for (a, &wt) in ws.iter().enumerate() {
                    let src = &plane[(lo + a) * w + c0..(lo + a) * w + c1];
                    for (d, s) in acc.iter_mut().zip(src) {
                        *d += wt * s;
                    }
                }
            }
            for oy in 0..oh {
                let acc = &tmp[oy * span..(oy + 1) * span];
                for (ox, (lo, ws)) in cols.iter().enumerate() {
                    let src = &acc[lo - c0..lo - c0 + ws.len()];
                    o[oy * ow + ox] = src.iter().zip(ws).map(|(s, wt)| s * wt).sum();
                }
            }
        });
    });
}

/// Copies `x` (`n` images of `planes_per_image` planes of `h x w`) into
/// `out`, mirroring the images whose `flip` is set: left to right when
/// `horizontal`, else top to bottom. One pass, planes in parallel.
pub fn flip_where(
    x: &[f32],
    planes_per_image: usize,
    h: usize,
    w: usize,
    flip: &[bool],
    horizontal: bool,
    out: &mut [f32],
) {
    let ip = h * w;
    if ip == 0 {
        return;
    }
    out.par_chunks_mut(ip)
        .zip(x.par_chunks(ip))
        .enumerate()
        .for_each(|(p, (o, src))| {
            if !flip[p / planes_per_image.max(1)] {
                o.copy_from_slice(src);
            } else if horizontal {
                for (orow, srow) in o.chunks_exact_mut(w).zip(src.chunks_exact(w)) {
                    for (d, s) in orow.iter_mut().zip(srow.iter().rev()) {
                        *d = *s;
                    }
                }
            } else {
                for (orow, srow) in o.chunks_exact_mut(w).zip(src.chunks_exact(w).rev()) {
                    orow.copy_from_slice(srow);
                }
            }
        });
}
