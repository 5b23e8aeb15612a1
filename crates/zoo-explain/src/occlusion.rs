//! Occlusion sensitivity (Zeiler & Fergus 2014): slide a `patch x patch`
//! square of value `fill` over the image with a stride and record the
//! softmax probability of the true class at each position; where it drops,
//! the network was looking.

use burn::tensor::activation::softmax;
use burn::tensor::{Int, Tensor};

use crate::{ExplainError, check_classes, invalid};

/// Occluded copies evaluated per forward call.
const BATCH: usize = 64;

/// `[N, (H - patch) / stride + 1, (W - patch) / stride + 1]`: the
/// probability of class `y[n]` when the square at `(i * stride, j *
/// stride)` is set to `fill`, through `forward` (images to scores; run it
/// in evaluation mode, e.g. a model's `valid()`).
pub fn occlusion_map(
    forward: impl Fn(Tensor<4>) -> Tensor<2>,
    x: Tensor<4>,
    y: &[usize],
    patch: usize,
    stride: usize,
    fill: f64,
) -> Result<Tensor<3>, ExplainError> {
    let [n, c, h, w] = x.dims();
    if patch == 0 || stride == 0 || patch > h || patch > w {
        return invalid(
            "occlusion_map",
            format!(
                "patch {patch}, stride {stride} on {h}x{w} images; expected 1 <= patch <= {} and stride >= 1",
                h.min(w)
            ),
        );
    }
    if y.len() != n || n == 0 {
        return invalid(
            "occlusion_map",
            format!(
                "{n} images and {} classes; expected one class per image",
                y.len()
            ),
        );
    }
    let (oh, ow) = ((h - patch) / stride + 1, (w - patch) / stride + 1);
    let device = x.device();
    let positions: Vec<(usize, usize)> =
        (0..oh).flat_map(|i| (0..ow).map(move |j| (i, j))).collect();
    let mut maps = Vec::with_capacity(n);
    for (img, &class) in y.iter().enumerate().take(n) {
        let one = x.clone().narrow(0, img, 1);
        let mut probs: Vec<Tensor<1>> = Vec::new();
        for chunk in positions.chunks(BATCH) {
            let b = chunk.len();
            // The mask of each position's square: [b, 1, H, W], true inside.
            let mut mask = vec![false; b * h * w];
            for (k, &(i, j)) in chunk.iter().enumerate() {
                for r in i * stride..i * stride + patch {
                    for col in j * stride..j * stride + patch {
                        mask[k * h * w + r * w + col] = true;
                    }
                }
            }
            let mask = Tensor::<1, burn::tensor::Bool>::from_data(
                burn::tensor::TensorData::new(mask, [b * h * w]),
                &device,
            )
            .reshape([b, 1, h, w])
            .expand([b, c, h, w]);
            let batch = one.clone().expand([b, c, h, w]).mask_fill(mask, fill);
            let scores = forward(batch);
            let classes = scores.dims()[1];
            check_classes("occlusion_map", 1, &[class], classes)?;
            let idx = Tensor::<1, Int>::from_ints([class as i64], &device)
                .reshape([1, 1])
                .expand([b, 1]);
            probs.push(softmax(scores, 1).gather(1, idx).reshape([b]));
        }
        maps.push(Tensor::cat(probs, 0).reshape([1, oh, ow]));
    }
    Ok(Tensor::cat(maps, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scores `[sum(x), 0]`: covering `k` ones of an all-ones image with
    /// zeros leaves `sum = P - k`, so class 0's probability is the logistic
    /// `1 / (1 + exp(-(P - k)))`, computed here by hand.
    #[test]
    fn the_map_is_the_probability_with_the_square_covered() {
        let device = zoo_device::from_name("flex").unwrap();
        let forward = |x: Tensor<4>| {
            let n = x.dims()[0];
            let s = x.reshape([n, 16]).sum_dim(1);
            Tensor::cat(vec![s.clone(), s.zeros_like()], 1)
        };
        let x = Tensor::<4>::ones([1, 1, 4, 4], &device);
        let m: Vec<f32> = occlusion_map(forward, x, &[0], 2, 2, 0.0)
            .unwrap()
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        let want = 1.0 / (1.0 + (-(16.0f64 - 4.0)).exp());
        assert_eq!(m.len(), 4);
        for v in m {
            assert!((v as f64 - want).abs() < 1e-6, "{v} vs {want}");
        }
    }

    #[test]
    fn a_patch_larger_than_the_image_is_refused() {
        let device = zoo_device::from_name("flex").unwrap();
        let err = occlusion_map(
            |x: Tensor<4>| x.reshape([1, 4]),
            Tensor::ones([1, 1, 2, 2], &device),
            &[0],
            3,
            1,
            0.0,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("patch 3, stride 1 on 2x2 images"),
            "{err}"
        );
    }
}
