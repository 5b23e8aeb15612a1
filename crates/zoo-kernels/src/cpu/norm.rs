//! Batch normalisation over `[n, c, s]` (s: the spatial positions), fused:
//! training is two passes over the input (statistics, then the output) and
//! its backward two passes over the input and output gradient. Statistics
//! accumulate in f64 around a per-channel shift (the channel's first value),
//! so a large mean does not cancel the variance.

use rayon::prelude::*;

use super::SendPtr;

/// Per-channel mean and biased variance of `x` (`[n, c, s]`).
pub fn moments(x: &[f32], n: usize, c: usize, s: usize) -> (Vec<f32>, Vec<f32>) {
    assert_eq!(x.len(), n * c * s);
    let count = (n * s) as f64;
    let stats: Vec<(f32, f32)> = (0..c)
        .into_par_iter()
        .map(|ci| {
            if n * s == 0 {
                return (f32::NAN, f32::NAN);
            }
            let shift = x[ci * s] as f64;
            let (mut sum, mut sq) = (0.0f64, 0.0f64);
            for ni in 0..n {
                let plane = &x[(ni * c + ci) * s..][..s];
                // f32 partial sums over short runs, f64 across them.
                for chunk in plane.chunks(256) {
                    let (mut a, mut b) = (0.0f32, 0.0f32);
                    let sh = shift as f32;
                    for &v in chunk {
                        let d = v - sh;
                        a += d;
                        b += d * d;
                    }
                    sum += a as f64;
                    sq += b as f64;
                }
            }
            let mean_d = sum / count;
            let var = (sq / count - mean_d * mean_d).max(0.0);
            ((shift + mean_d) as f32, var as f32)
        })
        .collect();
    stats.into_iter().unzip()
}

/// `y = (x - mean) / sqrt(var + eps) * gamma + beta`, then a ReLU with `relu`,
/// for `x` `[n, c, s]`; `y` is written whole.
#[allow(clippy::too_many_arguments)]
pub fn normalize(
    x: &[f32],
    n: usize,
    c: usize,
    s: usize,
    mean: &[f32],
    var: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f64,
    relu: bool,
    y: &mut [f32],
) {
    assert_eq!(x.len(), n * c * s);
    assert_eq!(y.len(), x.len());
    if s == 0 {
        return;
    }
    y.par_chunks_mut(s)
        .zip(x.par_chunks(s))
        .enumerate()
        .for_each(|(plane, (yo, xi))| {
            let ci = plane % c;
            let inv = (1.0 / (var[ci] as f64 + eps).sqrt()) as f32;
            let scale = gamma[ci] * inv;
            let shift = beta[ci] - mean[ci] * scale;
            if relu {
                for (o, &v) in yo.iter_mut().zip(xi) {
                    *o = (v * scale + shift).max(0.0);
                }
            } else {
                for (o, &v) in yo.iter_mut().zip(xi) {
                    *o = v * scale + shift;
                }
            }
        });
}

/// Gradients of training-mode batch norm (statistics of the batch): returns
/// `(dx, dgamma, dbeta)`. With `relu`, the output gradient is first masked
/// where the (recomputed) output was not positive.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    x: &[f32],
    dy: &[f32],
    n: usize,
    c: usize,
    s: usize,
    mean: &[f32],
    var: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f64,
    relu: bool,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    assert_eq!(x.len(), n * c * s);
    assert_eq!(dy.len(), x.len());
    let mut dx = vec![0.0f32; x.len()];
    let count = (n * s) as f64;
    let out = SendPtr(dx.as_mut_ptr());
    let grads: Vec<(f32, f32)> = (0..c)
        .into_par_iter()
        .map(|ci| {
            let inv = (1.0 / (var[ci] as f64 + eps).sqrt()) as f32;
            let (m, gm, bt) = (mean[ci], gamma[ci], beta[ci]);
            let live = |v: f32| !relu || (v - m) * inv * gm + bt > 0.0;
            // Pass 1: sum of dy and of dy * xhat.
            let (mut sdy, mut sdyx) = (0.0f64, 0.0f64);
            for ni in 0..n {
                let o = (ni * c + ci) * s;
                let (xp, gp) = (&x[o..o + s], &dy[o..o + s]);
                let (mut a, mut b) = (0.0f32, 0.0f32);
                for (&v, &g) in xp.iter().zip(gp) {
                    let g = if live(v) { g } else { 0.0 };
                    a += g;
                    b += g * (v - m);
                }
                sdy += a as f64;
                sdyx += b as f64 * inv as f64;
            }
            // Pass 2: dx = gamma * inv * (dy - mean(dy) - xhat * mean(dy * xhat)).
            let k1 = (sdy / count) as f32;
            let k2 = (sdyx / count) as f32;
            let scale = gm * inv;
            for ni in 0..n {
                let o = (ni * c + ci) * s;
                let (xp, gp) = (&x[o..o + s], &dy[o..o + s]);
                // SAFETY: channel ci alone writes these planes.
                let dp = unsafe { std::slice::from_raw_parts_mut(out.get().add(o), s) };
                for ((d, &v), &g) in dp.iter_mut().zip(xp).zip(gp) {
                    let g = if live(v) { g } else { 0.0 };
                    let xhat = (v - m) * inv;
                    *d = scale * (g - k1 - xhat * k2);
                }
            }
            (sdyx as f32, sdy as f32)
        })
        .collect();
    let (dgamma, dbeta) = grads.into_iter().unzip();
    (dx, dgamma, dbeta)
}
