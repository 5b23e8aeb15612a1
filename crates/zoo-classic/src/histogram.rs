//! Colour histograms, the simplest image features (CS231n assignment 1's
//! `color_histogram_hsv`): the fraction of an image's pixels in each of
//! `bins` equal bins of a channel, as `np.histogram(..., density=True)`
//! times the bin width computes them (the last bin closed on the right,
//! values outside the range not counted).

use burn::tensor::Tensor;

use crate::{ClassicError, invalid};

/// `[N, bins]` histograms of channel values `values [N, P]` over `[lo, hi]`.
fn histograms(values: &[f32], n: usize, bins: usize, lo: f64, hi: f64) -> Vec<f32> {
    let p = values.len() / n.max(1);
    let width = (hi - lo) / bins as f64;
    let mut out = vec![0.0f32; n * bins];
    for (i, row) in values.chunks(p).enumerate() {
        let mut counts = vec![0usize; bins];
        let mut inside = 0usize;
        for &v in row {
            let v = v as f64;
            if !(lo..=hi).contains(&v) {
                continue;
            }
            let b = (((v - lo) / width) as usize).min(bins - 1);
            counts[b] += 1;
            inside += 1;
        }
        for (o, c) in out[i * bins..(i + 1) * bins].iter_mut().zip(counts) {
            *o = if inside == 0 {
                0.0
            } else {
                c as f32 / inside as f32
            };
        }
    }
    out
}

fn check(function: &'static str, bins: usize, lo: f64, hi: f64) -> Result<(), ClassicError> {
    if bins == 0 || lo.is_nan() || hi.is_nan() || lo >= hi {
        return invalid(
            function,
            format!("{bins} bins over [{lo}, {hi}]; expected at least one bin and lo < hi"),
        );
    }
    Ok(())
}

/// The histogram of each channel of `images [N, C, H, W]` over `[lo, hi]`,
/// concatenated per image: `[N, C * bins]`.
pub fn channel_histograms(
    images: Tensor<4>,
    bins: usize,
    lo: f64,
    hi: f64,
) -> Result<Tensor<2>, ClassicError> {
    check("channel_histograms", bins, lo, hi)?;
    let [n, c, _, _] = images.dims();
    let device = images.device();
    let v: Vec<f32> = images
        .into_data()
        .try_into_vec_as::<f32>()
        .expect("float images");
    let out = histograms(&v, n * c, bins, lo, hi);
    Ok(Tensor::<1>::from_floats(out.as_slice(), &device).reshape([n, c * bins]))
}

/// CS231n's `color_histogram_hsv`: the histogram of the hue of RGB images
/// `[N, 3, H, W]` in [0, 1] (HSV as torchvision and matplotlib compute it,
/// hue in [0, 1), grey pixels hue 0), `[N, bins]`.
pub fn hue_histogram(images: Tensor<4>, bins: usize) -> Result<Tensor<2>, ClassicError> {
    check("hue_histogram", bins, 0.0, 1.0)?;
    let [n, c, h, w] = images.dims();
    if c != 3 {
        return invalid(
            "hue_histogram",
            format!("images with {c} channels; expected RGB [N, 3, H, W]"),
        );
    }
    let hsv = zoo_augment::color::rgb_to_hsv(images).map_err(|e| ClassicError::Invalid {
        function: "hue_histogram",
        message: e.to_string(),
    })?;
    let hue = hsv.narrow(1, 0, 1).reshape([n, h * w]);
    let device = hue.device();
    let v: Vec<f32> = hue
        .into_data()
        .try_into_vec_as::<f32>()
        .expect("float images");
    let out = histograms(&v, n, bins, 0.0, 1.0);
    Ok(Tensor::<1>::from_floats(out.as_slice(), &device).reshape([n, bins]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `np.histogram([0, 0.1, 0.5, 0.99, 1.0, 1.5], bins=4, range=(0, 1),
    /// density=True) * 0.25` = `[0.4, 0, 0.2, 0.4]` (1.0 in the last bin,
    /// 1.5 outside).
    #[test]
    fn bins_follow_numpys_histogram() {
        let device = zoo_device::from_name("flex").unwrap();
        let x = Tensor::<1>::from_floats([0.0f32, 0.1, 0.5, 0.99, 1.0, 1.5], &device)
            .reshape([1, 1, 2, 3]);
        let v: Vec<f32> = channel_histograms(x, 4, 0.0, 1.0)
            .unwrap()
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        assert_eq!(v, vec![0.4, 0.0, 0.2, 0.4]);
    }

    /// Pure red, green and blue have hues 0, 1/3 and 2/3.
    #[test]
    fn primary_colours_land_in_their_hue_bins() {
        let device = zoo_device::from_name("flex").unwrap();
        // Three pixels: red, green, blue; channel-major.
        let x = Tensor::<1>::from_floats([1.0f32, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0], &device)
            .reshape([1, 3, 1, 3]);
        let v: Vec<f32> = hue_histogram(x, 3)
            .unwrap()
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        let third = 1.0 / 3.0;
        assert!(v.iter().all(|&b| (b - third).abs() < 1e-6), "{v:?}");
    }
}
