//! Element-wise activations in parallel chunks, with an `exp` the compiler
//! vectorises (Cephes' `expf` polynomial, relative error about 1e-7) and
//! AVX2 + FMA chosen at run time when the CPU has them.

use rayon::prelude::*;

/// Elements per parallel chunk.
const CHUNK: usize = 1 << 14;

/// `exp(x)` without branches or calls, for vectorised loops: `2^n * p(r)`
/// with `n = round(x / ln 2)` and `r = x - n ln 2` (Cody-Waite split),
/// `p` Cephes' degree-7 polynomial. Saturates to 0 below -87.3 and to
/// `exp(88.7)` above 88.7 (callers only need the sigmoid's range); NaN
/// stays NaN.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // Adding then subtracting 1.5 * 2^23 rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let nan = x.is_nan();
    let x = x.clamp(-87.3, 88.7);
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let z = r * r;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let p = p * z + r + 1.0;
    // SAFETY: n is an integer in [-126, 128] (x was clamped), so the
    // conversion is exact (and vectorises, unlike the saturating `as`).
    let e = unsafe { n.to_int_unchecked::<i32>() };
    let scale = f32::from_bits(((e + 127) as u32) << 23);
    let y = p * scale;
    // Branch-free: NaN in, NaN out.
    if nan { f32::NAN } else { y }
}

#[inline(always)]
fn sigmoid_body(x: &[f32], y: &mut [f32]) {
    for (o, &v) in y.iter_mut().zip(x) {
        *o = 1.0 / (1.0 + exp(-v));
    }
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[target_feature(enable = "avx2,fma")]
unsafe fn sigmoid_avx2(x: &[f32], y: &mut [f32]) {
    sigmoid_body(x, y)
}

fn sigmoid_chunk(x: &[f32], y: &mut [f32]) {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return unsafe { sigmoid_avx2(x, y) };
    }
    sigmoid_body(x, y)
}

/// `y = 1 / (1 + exp(-x))`, written whole.
pub fn sigmoid(x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), y.len());
    y.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(o, i)| sigmoid_chunk(i, o));
}

/// The input gradient of the sigmoid from its output `y`: `dy * y * (1 - y)`.
pub fn sigmoid_backward(y: &[f32], dy: &[f32], dx: &mut [f32]) {
    assert_eq!(y.len(), dy.len());
    assert_eq!(y.len(), dx.len());
    dx.par_chunks_mut(CHUNK)
        .zip(y.par_chunks(CHUNK).zip(dy.par_chunks(CHUNK)))
        .for_each(|(d, (s, g))| {
            for ((d, &s), &g) in d.iter_mut().zip(s).zip(g) {
                *d = g * s * (1.0 - s);
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_std_within_two_ulps_of_relative_error() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let (a, b) = (exp(x) as f64, (x as f64).exp());
            worst = worst.max(((a - b) / b).abs());
            x += 0.0137;
        }
        assert!(worst < 3e-7, "worst relative error {worst}");
        assert_eq!(exp(-200.0), exp(-87.3));
        assert!(exp(f32::NAN).is_nan());
    }

    #[test]
    fn sigmoid_saturates_and_keeps_nan() {
        let x = [-1000.0, -30.0, 0.0, 30.0, 1000.0, f32::NAN];
        let mut y = [0.0; 6];
        sigmoid(&x, &mut y);
        assert!(y[0] < 1e-37 && y[1] > 0.0 && y[1] < 1e-12);
        assert_eq!(y[2], 0.5);
        assert_eq!(&y[3..5], &[1.0, 1.0]);
        assert!(y[5].is_nan());
    }
}
