//! The losses of style transfer as the course defines them (d2l 14.12).

use burn::tensor::Tensor;

/// The Gram matrix of each sample's features: `X X^T / (C H W)` with `X`
/// the `[C, H W]` reshaping, `[N, C, C]`.
pub fn gram_matrix(features: Tensor<4>) -> Tensor<3> {
    let [n, c, h, w] = features.dims();
    let x = features.reshape([n, c, h * w]);
    x.clone()
        .matmul(x.swap_dims(1, 2))
        .div_scalar((c * h * w) as f64)
}

/// Mean squared error between the features and the content's (the target
/// carries no gradient).
pub fn content_loss(features: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
    (features - target.detach()).square().mean()
}

/// Mean squared error between the Gram matrix of `features` and the style's
/// `target_gram` (no gradient to the target).
pub fn style_loss(features: Tensor<4>, target_gram: Tensor<3>) -> Tensor<1> {
    (gram_matrix(features) - target_gram.detach())
        .square()
        .mean()
}

/// Total variation: `0.5 (mean |x[.., 1:, :] - x[.., :-1, :]| + mean |x[.., :, 1:] - x[.., :, :-1]|)`.
pub fn tv_loss(image: Tensor<4>) -> Tensor<1> {
    let [n, c, h, w] = image.dims();
    let down = image.clone().slice([0..n, 0..c, 1..h, 0..w])
        - image.clone().slice([0..n, 0..c, 0..h - 1, 0..w]);
    let right =
        image.clone().slice([0..n, 0..c, 0..h, 1..w]) - image.slice([0..n, 0..c, 0..h, 0..w - 1]);
    (down.abs().mean() + right.abs().mean()).mul_scalar(0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gram_and_tv_of_small_worked_examples() {
        let device = zoo_device::from_name("flex").unwrap();
        // Two channels [1, 2] and [3, 4] (1x2 maps): X X^T = [[5, 11], [11, 25]] / 4.
        let x = Tensor::<4>::from_floats([[[[1.0, 2.0]], [[3.0, 4.0]]]], &device);
        let g: Vec<f32> = gram_matrix(x).into_data().try_to_vec().unwrap();
        assert_eq!(g, [1.25, 2.75, 2.75, 6.25]);
        // [[0, 1], [3, 5]]: vertical |3|, |4| -> 3.5; horizontal |1|, |2| -> 1.5; 0.5 * 5.
        let img = Tensor::<4>::from_floats([[[[0.0, 1.0], [3.0, 5.0]]]], &device);
        let tv: f32 = tv_loss(img).into_scalar();
        assert_eq!(tv, 2.5);
    }
}
