//! Colour ops per pixel, in one pass over the three planes.

use rayon::prelude::*;

use super::SendPtr;

/// `x - floor(x)`: `x mod 1`, floored as Python's `%`.
#[inline(always)]
fn frac(x: f32) -> f32 {
    x - x.floor()
}

/// One pixel's RGB with its hue turned by `shift` (turns of the circle):
/// torchvision's `_rgb_to_hsv`, the shift, then `_hsv_to_rgb` in its closed
/// form (channel `n` of (R, G, B) = (5, 3, 1) is `v - v s clamp(min(k, 4 - k),
/// 0, 1)` with `k = (n + 6 h) mod 6`), each value computed as the tensor
/// formulas compute it; a grey pixel keeps its hue 0 and saturation 0.
#[inline(always)]
pub fn shift_hue_pixel(r: f32, g: f32, b: f32, shift: f32) -> [f32; 3] {
    let maxc = r.max(g).max(b);
    let minc = r.min(g).min(b);
    let flat = maxc == minc;
    let range = if flat { 1.0 } else { maxc - minc };
    let s = (maxc - minc) / if flat { 1.0 } else { maxc };
    let (rc, gc, bc) = ((maxc - r) / range, (maxc - g) / range, (maxc - b) / range);
    let h = if maxc == r {
        bc - gc
    } else if maxc == g {
        (rc + 2.0) - bc
    } else {
        (gc + 4.0) - rc
    };
    let h = if flat { 0.0 } else { frac(h / 6.0) };
    let h = frac(h + shift);
    let vs = maxc * s;
    [5.0f32, 3.0, 1.0].map(|n| {
        let k = h * 6.0 + n;
        let k = k - (k / 6.0).floor() * 6.0;
        maxc - vs * k.min(4.0 - k).clamp(0.0, 1.0)
    })
}

/// `x` (`[n, 3, plane]`) with image `i`'s hue turned by `shift[i]` (or
/// `shift[0]` for all), into `out`.
pub fn shift_hue(x: &[f32], plane: usize, shift: &[f32], out: &mut [f32]) {
    assert_eq!(x.len(), out.len());
    let image = 3 * plane;
    if image == 0 {
        return;
    }
    let n = x.len() / image;
    assert!(
        shift.len() == 1 || shift.len() == n,
        "{} shifts for {n} images",
        shift.len()
    );
    // Tasks of up to PIXELS pixels of one image: whole images are too
    // coarse for small batches.
    const PIXELS: usize = 8192;
    let parts = plane.div_ceil(PIXELS);
    let dst = SendPtr(out.as_mut_ptr());
    (0..n * parts).into_par_iter().for_each(|t| {
        let (i, p0) = (t / parts, t % parts * PIXELS);
        let len = PIXELS.min(plane - p0);
        let d = shift[if shift.len() == 1 { 0 } else { i }];
        let at = |c: usize| i * image + c * plane + p0;
        let (r, g, b) = (&x[at(0)..][..len], &x[at(1)..][..len], &x[at(2)..][..len]);
        // SAFETY: task t alone writes pixels p0..p0 + len of image i's three planes.
        let (or, og, ob) = unsafe {
            (
                std::slice::from_raw_parts_mut(dst.get().add(at(0)), len),
                std::slice::from_raw_parts_mut(dst.get().add(at(1)), len),
                std::slice::from_raw_parts_mut(dst.get().add(at(2)), len),
            )
        };
        for j in 0..len {
            [or[j], og[j], ob[j]] = shift_hue_pixel(r[j], g[j], b[j], d);
        }
    });
}
