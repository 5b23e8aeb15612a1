//! The photometric ops of AutoAugment, RandAugment and TrivialAugment
//! (PIL's `ImageOps` as `torchvision.transforms.v2.functional` computes
//! them on float images in `[0, 1]`): posterize, solarize, autocontrast,
//! equalize, sharpness, invert and gamma.
//!
//! All but [`equalize`] are tensor ops on the device; equalize builds one
//! 256-bin histogram per image and channel, which it does on the host, as
//! torchvision's `scatter_add` does on its device.

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, TensorData};

use crate::AugmentError;
use crate::functional::check_channels;

/// `F.posterize` on float images: `floor(x 2^bits)` clamped to
/// `[0, 2^bits - 1]`, divided by `2^bits` (`bits` in `0..=8`).
pub fn posterize(image: Tensor<4>, bits: u32) -> Result<Tensor<4>, AugmentError> {
    if bits > 8 {
        return Err(AugmentError::new(
            "posterize",
            format!("bits {bits}, expected an integer in [0, 8]"),
        ));
    }
    let levels = f64::from(1u32 << bits);
    Ok(image
        .mul_scalar(levels)
        .floor()
        .clamp(0.0, levels - 1.0)
        .mul_scalar(1.0 / levels))
}

/// `F.invert` on float images: `1 - x`.
pub fn invert(image: Tensor<4>) -> Tensor<4> {
    image.neg().add_scalar(1.0)
}

/// `F.solarize`: pixels at or above `threshold` inverted (`threshold` at
/// most 1, the float images' maximum).
pub fn solarize(image: Tensor<4>, threshold: f64) -> Result<Tensor<4>, AugmentError> {
    if threshold.is_nan() || threshold > 1.0 {
        return Err(AugmentError::new(
            "solarize",
            format!(
                "threshold {threshold}, expected a value of at most 1 (the maximum of a float image)"
            ),
        ));
    }
    let above = image.clone().greater_equal_elem(threshold);
    Ok(image.clone().mask_where(above, invert(image)))
}

/// `F.autocontrast`, per image and channel: `(x - min) / (max - min)`
/// clamped to `[0, 1]`; a constant channel is left as it is.
pub fn autocontrast(image: Tensor<4>) -> Result<Tensor<4>, AugmentError> {
    check_channels("autocontrast", &image)?;
    let [n, c, h, w] = image.dims();
    if h * w == 0 {
        return Ok(image);
    }
    let flat = image.reshape([n, c, h * w]);
    let lo = flat.clone().min_dim(2);
    let hi = flat.clone().max_dim(2);
    let same = hi.clone().equal(lo.clone());
    let lo = lo.mask_fill(same.clone(), 0.0);
    let scale = (hi - lo.clone()).mask_fill(same, 1.0);
    Ok((flat - lo).div(scale).clamp(0.0, 1.0).reshape([n, c, h, w]))
}

/// `F.adjust_gamma`: `x^gamma`, times `gain` and clamped to `[0, 1]` when
/// the gain is not 1 (`gamma` non-negative).
pub fn adjust_gamma(image: Tensor<4>, gamma: f64, gain: f64) -> Result<Tensor<4>, AugmentError> {
    if !(gamma.is_finite() && gamma >= 0.0 && gain.is_finite()) {
        return Err(AugmentError::new(
            "adjust_gamma",
            format!(
                "gamma {gamma} and gain {gain}, expected a non-negative finite gamma and a finite gain"
            ),
        ));
    }
    let y = image.powf_scalar(gamma);
    Ok(if gain != 1.0 {
        y.mul_scalar(gain).clamp(0.0, 1.0)
    } else {
        y
    })
}

/// `F.adjust_sharpness`: the interior pixels blended with PIL's smoothing
/// filter (`[1 1 1; 1 5 1; 1 1 1] / 13`, per channel) by `factor`
/// (`factor x + (1 - factor) smooth`; 0 smooths, 1 is the image, 2
/// sharpens), the one-pixel border kept, clamped to `[0, 1]`. Images of
/// side 2 or less are returned as they are.
pub fn adjust_sharpness(image: Tensor<4>, factor: f64) -> Result<Tensor<4>, AugmentError> {
    let c = check_channels("adjust_sharpness", &image)?;
    if !(factor.is_finite() && factor >= 0.0) {
        return Err(AugmentError::new(
            "adjust_sharpness",
            format!("factor {factor}, expected a non-negative number"),
        ));
    }
    let [n, _, h, w] = image.dims();
    if n == 0 || h <= 2 || w <= 2 {
        return Ok(image);
    }
    let (a, b) = (1.0f32 / 13.0, 5.0f32 / 13.0);
    let kernel: Vec<f32> = (0..c).flat_map(|_| [a, a, a, a, b, a, a, a, a]).collect();
    let kernel = Tensor::<4>::from_data(TensorData::new(kernel, [c, 1, 3, 3]), &image.device());
    let smooth = conv2d(
        image.clone(),
        kernel,
        None,
        ConvOptions::new([1, 1], [0, 0], [1, 1], c),
    );
    let inner = image.clone().slice([0..n, 0..c, 1..h - 1, 1..w - 1]);
    let blended = smooth.clone() + (inner - smooth).mul_scalar(factor);
    Ok(image
        .slice_assign([0..n, 0..c, 1..h - 1, 1..w - 1], blended)
        .clamp(0.0, 1.0))
}

/// `F.equalize` on float images, as torchvision computes it: each image
/// and channel converted to 8 bits (`x * 255.999`, truncated), equalised by
/// PIL's lookup table (`lut[k] = (cum[k - 1] + step / 2) / step` with
/// `step = (pixels - count of the largest value) / 255`, integer
/// divisions), an image with `step == 0` kept as its 8-bit version, and
/// divided by 255.
pub fn equalize(image: Tensor<4>) -> Result<Tensor<4>, AugmentError> {
    let [n, c, h, w] = image.dims();
    let pixels = h * w;
    if n * c * pixels == 0 {
        return Ok(image);
    }
    let device = image.device();
    let values: Vec<f32> = image
        .into_data()
        .try_into_vec_as::<f32>()
        .map_err(|e| AugmentError::new("equalize", format!("reading the image: {e:?}")))?;
    let scale = 255.0f32 + 1.0 - 1e-3;
    let mut out = vec![0f32; values.len()];
    let mut q = vec![0u8; pixels];
    for (src, dst) in values.chunks(pixels).zip(out.chunks_mut(pixels)) {
        let mut hist = [0u32; 256];
        for (qi, &v) in q.iter_mut().zip(src) {
            // `Tensor.to(torch.uint8)` truncates toward zero (and wraps
            // outside [0, 256), which images in [0, 1] never reach).
            *qi = (v * scale).clamp(0.0, 255.0) as u8;
            hist[*qi as usize] += 1;
        }
        let mut cum = [0u32; 256];
        let mut total = 0;
        for (k, &count) in hist.iter().enumerate() {
            total += count;
            cum[k] = total;
        }
        // The count of the largest value present: the first bin where the
        // cumulative histogram reaches its maximum.
        let last = cum.iter().position(|&v| v == total).unwrap_or(255);
        let step = (pixels as u32 - hist[last]) / 255;
        // lut[0] is 0; lut[k] from cum[k - 1]; `None` when step is 0.
        let mut lut = [0u8; 256];
        let equalised = (1..256).all(|k| match (cum[k - 1] + step / 2).checked_div(step) {
            Some(v) => {
                lut[k] = v.min(255) as u8;
                true
            }
            None => false,
        });
        let inv = 1.0f32 / 255.0;
        for (d, &qi) in dst.iter_mut().zip(&q) {
            let v = if equalised { lut[qi as usize] } else { qi };
            *d = f32::from(v) * inv;
        }
    }
    Ok(Tensor::<4>::from_data(
        TensorData::new(out, [n, c, h, w]),
        &device,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> burn::tensor::Device {
        zoo_device::from_name("flex").unwrap()
    }

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_into_vec_as::<f32>().unwrap()
    }

    #[test]
    fn equalize_spreads_a_two_value_image_as_pil_does() {
        // PIL's ImageOps.equalize on [10, 10, 10, 200] (8-bit): histogram
        // {10: 3, 200: 1}; step = (4 - 1) / 255 = 0, so the image is kept.
        // On 510 pixels of value 10 and 510 of 200: step = 510 / 255 = 2,
        // lut[200] = (cum[199] + 1) / 2 = 511 / 2 = 255, lut[10] = (0 + 1) / 2 = 0.
        let mut v = vec![10.0f32 / 255.0; 510];
        v.extend(vec![200.0f32 / 255.0; 510]);
        let x = Tensor::<4>::from_data(TensorData::new(v, [1, 1, 30, 34]), &device());
        let y = values(equalize(x).unwrap());
        assert_eq!(y[0], 0.0);
        assert_eq!(y[1019], 1.0);
        let x = Tensor::<4>::from_data(
            TensorData::new(
                vec![10.0f32 / 255.0, 10.0 / 255.0, 10.0 / 255.0, 200.0 / 255.0],
                [1, 1, 2, 2],
            ),
            &device(),
        );
        let y = values(equalize(x).unwrap());
        assert!((y[0] - 10.0 / 255.0).abs() < 1e-7 && (y[3] - 200.0 / 255.0).abs() < 1e-7);
    }

    #[test]
    fn autocontrast_stretches_each_channel_and_keeps_constant_ones() {
        let x = Tensor::<4>::from_data(
            TensorData::new(
                vec![0.2f32, 0.4, 0.6, 0.5, 0.5, 0.5, 0.1, 0.2, 0.3],
                [1, 3, 1, 3],
            ),
            &device(),
        );
        let y = values(autocontrast(x).unwrap());
        let want = [0.0, 0.5, 1.0, 0.5, 0.5, 0.5, 0.0, 0.5, 1.0];
        for (a, b) in y.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{y:?}");
        }
    }

    #[test]
    fn posterize_and_solarize_by_hand() {
        let x = Tensor::<4>::from_data(
            TensorData::new(vec![0.0f32, 0.3, 0.74, 1.0], [1, 1, 1, 4]),
            &device(),
        );
        // 1 bit: floor(2x) clamped to [0, 1], halved.
        assert_eq!(
            values(posterize(x.clone(), 1).unwrap()),
            [0.0, 0.0, 0.5, 0.5]
        );
        let y = values(solarize(x, 0.5).unwrap());
        assert!((y[2] - 0.26).abs() < 1e-6 && y[3] == 0.0 && y[1] == 0.3);
        assert!(posterize(Tensor::<4>::zeros([1, 1, 1, 1], &device()), 9).is_err());
    }
}
