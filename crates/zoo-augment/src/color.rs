//! Colour spaces and the colour ops that use them: RGB <-> HSV
//! (torchvision's tensor formulas, hue in `[0, 1)`), RGB <-> HSL (Python's
//! `colorsys` HLS, reordered to H, S, L: the course notes describe HSL),
//! `adjust_hue`, and `gaussian_blur`.

use burn::tensor::ops::ConvOptions;
use burn::tensor::{Bool, Tensor, TensorData};

use crate::AugmentError;
use crate::functional::{PadMode, pad};

/// `cond ? a : b`, element-wise.
fn select(cond: Tensor<4, Bool>, a: Tensor<4>, b: Tensor<4>) -> Tensor<4> {
    b.mask_where(cond, a)
}

/// `x mod 1` (floored, as Python's `%` and torch's `remainder`).
fn frac(x: Tensor<4>) -> Tensor<4> {
    x.clone() - x.floor()
}

fn channels(op: &'static str, image: &Tensor<4>) -> Result<[Tensor<4>; 3], AugmentError> {
    let [n, c, h, w] = image.dims();
    if c != 3 {
        return Err(AugmentError::new(
            op,
            format!("an image with {c} channels, expected 3"),
        ));
    }
    let ch = |i: usize| image.clone().slice([0..n, i..i + 1, 0..h, 0..w]);
    Ok([ch(0), ch(1), ch(2)])
}

/// The hue (in sixths of the circle, before wrapping) of RGB channels given
/// their max, min and whether the max is red / green; 0 where max == min.
fn hue(
    r: &Tensor<4>,
    g: &Tensor<4>,
    b: &Tensor<4>,
    maxc: &Tensor<4>,
    minc: &Tensor<4>,
) -> Tensor<4> {
    let flat = maxc.clone().equal(minc.clone());
    let range = maxc.clone() - minc.clone();
    let range = select(flat.clone(), range.ones_like(), range);
    let rc = (maxc.clone() - r.clone()) / range.clone();
    let gc = (maxc.clone() - g.clone()) / range.clone();
    let bc = (maxc.clone() - b.clone()) / range;
    let is_r = maxc.clone().equal(r.clone());
    let is_g = maxc.clone().equal(g.clone());
    let h_r = bc.clone() - gc.clone();
    let h_g = rc.clone().add_scalar(2.0) - bc;
    let h_b = gc.add_scalar(4.0) - rc;
    let h = select(is_r, h_r, select(is_g, h_g, h_b));
    let h = frac(h.div_scalar(6.0));
    select(flat, h.zeros_like(), h)
}

/// `F.rgb_to_hsv` (torchvision's `_rgb_to_hsv`): `[N, 3, H, W]` RGB to H, S, V.
pub fn rgb_to_hsv(image: Tensor<4>) -> Result<Tensor<4>, AugmentError> {
    let [r, g, b] = channels("rgb_to_hsv", &image)?;
    let maxc = image.clone().max_dim(1);
    let minc = image.min_dim(1);
    let flat = maxc.clone().equal(minc.clone());
    let s = (maxc.clone() - minc.clone()) / select(flat, maxc.ones_like(), maxc.clone());
    let h = hue(&r, &g, &b, &maxc, &minc);
    Ok(Tensor::cat(vec![h, s, maxc], 1))
}

/// `F.hsv_to_rgb` (torchvision's `_hsv_to_rgb`): H, S, V to RGB.
pub fn hsv_to_rgb(image: Tensor<4>) -> Result<Tensor<4>, AugmentError> {
    let [h, s, v] = channels("hsv_to_rgb", &image)?;
    // The closed form of torchvision's six sectors (same values, no
    // per-sector masks): channel n of (R, G, B) = (5, 3, 1) is
    // v - v s clamp(min(k, 4 - k), 0, 1) with k = (n + 6 h) mod 6.
    let device = image.device();
    let offsets = Tensor::<4>::from_data(
        TensorData::new(vec![5.0f32, 3.0, 1.0], [1, 3, 1, 1]),
        &device,
    );
    let k = h.mul_scalar(6.0) + offsets;
    let k = k.clone() - k.div_scalar(6.0).floor().mul_scalar(6.0);
    let ramp = k.clone().min_pair(k.neg().add_scalar(4.0)).clamp(0.0, 1.0);
    let vs = v.clone() * s;
    Ok(v - vs * ramp)
}

/// RGB to H, S, L as Python's `colorsys.rgb_to_hls` computes H, L, S.
pub fn rgb_to_hsl(image: Tensor<4>) -> Result<Tensor<4>, AugmentError> {
    let [r, g, b] = channels("rgb_to_hsl", &image)?;
    let maxc = image.clone().max_dim(1);
    let minc = image.min_dim(1);
    let flat = maxc.clone().equal(minc.clone());
    let sum = maxc.clone() + minc.clone();
    let range = maxc.clone() - minc.clone();
    let l = sum.clone().div_scalar(2.0);
    let light = l.clone().lower_equal_elem(0.5);
    let denom = select(light, sum.clone(), sum.neg().add_scalar(2.0));
    let denom = select(flat.clone(), denom.ones_like(), denom);
    let s = select(flat, range.zeros_like(), range / denom);
    let h = hue(&r, &g, &b, &maxc, &minc);
    Ok(Tensor::cat(vec![h, s, l], 1))
}

/// H, S, L to RGB as Python's `colorsys.hls_to_rgb`.
pub fn hsl_to_rgb(image: Tensor<4>) -> Result<Tensor<4>, AugmentError> {
    let [h, s, l] = channels("hsl_to_rgb", &image)?;
    let light = l.clone().lower_equal_elem(0.5);
    let m2 = select(
        light,
        l.clone() * s.clone().add_scalar(1.0),
        l.clone() + s.clone() - l.clone() * s.clone(),
    );
    let m1 = l.clone().mul_scalar(2.0) - m2.clone();
    let v = |hue: Tensor<4>| {
        let hue = frac(hue);
        let rising = m1.clone() + (m2.clone() - m1.clone()) * hue.clone().mul_scalar(6.0);
        let falling = m1.clone()
            + (m2.clone() - m1.clone()) * hue.clone().neg().add_scalar(2.0 / 3.0).mul_scalar(6.0);
        select(
            hue.clone().lower_elem(1.0 / 6.0),
            rising,
            select(
                hue.clone().lower_elem(0.5),
                m2.clone(),
                select(hue.lower_elem(2.0 / 3.0), falling, m1.clone()),
            ),
        )
    };
    let grey = s.clone().equal_elem(0.0);
    let out = [
        v(h.clone().add_scalar(1.0 / 3.0)),
        v(h.clone()),
        v(h.sub_scalar(1.0 / 3.0)),
    ]
    .map(|c| select(grey.clone(), l.clone(), c));
    Ok(Tensor::cat(out.to_vec(), 1))
}

/// `F.adjust_hue`: the hue rotated by `factor` (in `[-0.5, 0.5]`) turns of
/// the circle, through HSV; grey (1-channel) images are unchanged.
pub fn adjust_hue(image: Tensor<4>, factor: f64) -> Result<Tensor<4>, AugmentError> {
    if !(-0.5..=0.5).contains(&factor) {
        return Err(AugmentError::new(
            "adjust_hue",
            format!("factor {factor}, expected a value in [-0.5, 0.5]"),
        ));
    }
    if factor == 0.0 || image.dims()[1] == 1 {
        return Ok(image);
    }
    let shift = Tensor::<4>::full([1, 1, 1, 1], factor, &image.device());
    shift_hue(image, shift)
}

/// The hue of RGB `image` rotated by `shift` turns (broadcast: one value,
/// or `[N, 1, 1, 1]` per sample), through HSV.
pub(crate) fn shift_hue(image: Tensor<4>, shift: Tensor<4>) -> Result<Tensor<4>, AugmentError> {
    let [n, c, _, _] = image.dims();
    if c == 3 && zoo_kernels::uses_zoo_kernels(&image) && !image.device().is_autodiff() {
        // One pass per pixel on flex: the same formulas, no masks or selects.
        let shifts = shift.to_data().convert::<f32>().try_into_vec::<f32>();
        if let Ok(shifts) = shifts
            && (shifts.len() == 1 || shifts.len() == n)
            && let Some(out) = zoo_kernels::shift_hue(&image, &shifts)
        {
            return Ok(out);
        }
    }
    let hsv = rgb_to_hsv(image)?;
    let [n, _, h, w] = hsv.dims();
    let part = |i: usize| hsv.clone().slice([0..n, i..i + 1, 0..h, 0..w]);
    let hue = frac(part(0) + shift.expand([n, 1, h, w]));
    hsv_to_rgb(Tensor::cat(vec![hue, part(1), part(2)], 1))
}

/// torchvision's 1-D Gaussian kernel: `exp(-x^2 / (2 sigma^2))` at
/// `x = -(k-1)/2 .. (k-1)/2`, normalised to sum 1.
pub fn gaussian_kernel1d(size: usize, sigma: f64) -> Vec<f32> {
    let half = (size as f64 - 1.0) / 2.0;
    let pdf: Vec<f64> = (0..size)
        .map(|i| {
            let x = i as f64 - half;
            (-0.5 * (x / sigma).powi(2)).exp()
        })
        .collect();
    let sum: f64 = pdf.iter().sum();
    pdf.iter().map(|p| (p / sum) as f32).collect()
}

/// `F.gaussian_blur` with `kernel_size [kx, ky]` (odd, positive) and
/// `sigma [sx, sy]` (positive): the image reflect-padded by half a kernel
/// and convolved channel by channel.
pub fn gaussian_blur(
    image: Tensor<4>,
    kernel_size: [usize; 2],
    sigma: [f64; 2],
) -> Result<Tensor<4>, AugmentError> {
    gaussian_blur_each(image, kernel_size, &[sigma])
}

/// [`gaussian_blur`] with one `sigma [sx, sy]` per sample (or one for the
/// batch): every sample's kernel in one grouped convolution.
pub fn gaussian_blur_each(
    image: Tensor<4>,
    kernel_size: [usize; 2],
    sigmas: &[[f64; 2]],
) -> Result<Tensor<4>, AugmentError> {
    let [kx, ky] = kernel_size;
    if kx % 2 == 0 || ky % 2 == 0 || kx == 0 || ky == 0 {
        return Err(AugmentError::new(
            "gaussian_blur",
            format!("kernel size {kernel_size:?}, expected odd positive sizes"),
        ));
    }
    if let Some(sigma) = sigmas
        .iter()
        .find(|s| s.iter().any(|s| !(s.is_finite() && *s > 0.0)))
    {
        return Err(AugmentError::new(
            "gaussian_blur",
            format!("sigma {sigma:?}, expected positive values"),
        ));
    }
    let [n, c, h, w] = image.dims();
    if n == 0 || !(sigmas.len() == 1 || sigmas.len() == n) {
        return Err(AugmentError::new(
            "gaussian_blur",
            format!(
                "{} sigmas for a batch of {n}, expected a non-empty batch and one sigma or one per sample",
                sigmas.len()
            ),
        ));
    }
    if kx / 2 >= w || ky / 2 >= h {
        return Err(AugmentError::new(
            "gaussian_blur",
            format!(
                "kernel {kernel_size:?} (x, y) on a {h}x{w} image: reflect padding needs half the kernel smaller than the image"
            ),
        ));
    }
    let groups = c * sigmas.len();
    let mut k2 = Vec::with_capacity(groups * kx * ky);
    for sigma in sigmas {
        let gx = gaussian_kernel1d(kx, sigma[0]);
        let gy = gaussian_kernel1d(ky, sigma[1]);
        for _ in 0..c {
            for y in &gy {
                for x in &gx {
                    k2.push(y * x);
                }
            }
        }
    }
    let device = image.device();
    let weight = Tensor::<4>::from_data(TensorData::new(k2, [groups, 1, ky, kx]), &device);
    let padded = pad(image, [kx / 2, ky / 2, kx / 2, ky / 2], PadMode::Reflect)?;
    // One kernel per sample: the batch folded into the channels.
    let [_, _, ph, pw] = padded.dims();
    let batch = n * c / groups;
    let out = zoo_kernels::conv2d(
        padded.reshape([batch, groups, ph, pw]),
        weight,
        None,
        ConvOptions::new([1, 1], [0, 0], [1, 1], groups),
    );
    Ok(out.reshape([n, c, h, w]))
}
