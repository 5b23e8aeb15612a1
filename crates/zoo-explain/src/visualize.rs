//! Images a network "wants to see" (CS231n lecture 12 and assignment 3):
//! class visualisation (Simonyan et al. 2014, with Yosinski et al.'s
//! regularisers as the assignment uses them) and DeepDream (Mordvintsev et
//! al. 2015), both gradient ascent on the image with random jitter, a
//! normalised step, clamping to the valid range and a periodic blur.

use burn::tensor::{Int, Tensor};

use crate::{ExplainError, invalid};

/// The ascent's settings (CS231n's `create_class_visualization` defaults).
#[derive(Clone, Debug)]
pub struct AscentConfig {
    /// Steps.
    pub iterations: usize,
    /// Step size; each step moves the image by `lr * g / ||g||`.
    pub learning_rate: f64,
    /// L2 decay: the objective loses `l2_reg * ||x||^2` (class
    /// visualisation only).
    pub l2_reg: f64,
    /// Largest random shift (pixels, both axes) before each step, undone after.
    pub max_jitter: usize,
    /// Blur every this many steps (0: never).
    pub blur_every: usize,
    /// The blur's Gaussian sigma (kernel `2 * ceil(3 sigma) + 1`).
    pub blur_sigma: f64,
    /// The pixels' valid range, clamped after every step.
    pub range: (f64, f64),
    /// Seed of the jitter.
    pub seed: u64,
}

impl Default for AscentConfig {
    fn default() -> Self {
        Self {
            iterations: 100,
            learning_rate: 25.0,
            l2_reg: 1e-3,
            max_jitter: 16,
            blur_every: 10,
            blur_sigma: 0.5,
            range: (0.0, 1.0),
            seed: 0,
        }
    }
}

/// Runs the ascent on `objective` (a scalar to maximise) from `start`.
fn ascend(
    function: &'static str,
    start: Tensor<4>,
    config: &AscentConfig,
    objective: impl Fn(Tensor<4>) -> Tensor<1>,
) -> Result<Tensor<4>, ExplainError> {
    if !start.device().is_autodiff() {
        return invalid(
            function,
            "the image is not on an autodiff device; expected device.autodiff()".into(),
        );
    }
    if !(config.learning_rate.is_finite() && config.learning_rate > 0.0)
        || config.range.0 >= config.range.1
    {
        return invalid(
            function,
            format!(
                "learning rate {} and range {:?}; expected a positive rate and lo < hi",
                config.learning_rate, config.range
            ),
        );
    }
    let [_, _, h, w] = start.dims();
    let mut rng = zoo_rng::Rng::new(config.seed);
    let mut img = start.detach();
    for t in 0..config.iterations {
        let (oy, ox) = (
            rng.int_inclusive(config.max_jitter) as i64,
            rng.int_inclusive(config.max_jitter) as i64,
        );
        let (oy, ox) = (oy % h as i64, ox % w as i64);
        let x = img.clone().roll(&[oy, ox], &[2, 3]).detach().require_grad();
        let grads = objective(x.clone()).backward();
        let g = x
            .grad(&grads)
            .expect("the image takes part in the objective");
        let norm = g
            .clone()
            .powi_scalar(2)
            .sum()
            .sqrt()
            .clamp_min(1e-12)
            .reshape([1, 1, 1, 1]);
        let step = g / norm * config.learning_rate;
        let moved = x.inner() + step;
        img = Tensor::from_inner(
            moved
                .roll(&[-oy, -ox], &[2, 3])
                .clamp(config.range.0, config.range.1),
        );
        if config.blur_every > 0 && (t + 1) % config.blur_every == 0 && config.blur_sigma > 0.0 {
            let k = 2 * (3.0 * config.blur_sigma).ceil() as usize + 1;
            if k < h.min(w) {
                img = zoo_augment::color::gaussian_blur(
                    img,
                    [k, k],
                    [config.blur_sigma, config.blur_sigma],
                )
                .map_err(|e| ExplainError::Invalid {
                    function,
                    message: e.to_string(),
                })?;
            }
        }
    }
    Ok(img)
}

/// An image `[1, C, H, W]` that `forward` (images to scores; a model frozen
/// on an autodiff device) scores high for `class`: gradient ascent on
/// `score_class(x) - l2_reg * ||x||^2` from `start` (on the autodiff
/// device; CS231n starts from small random noise).
pub fn class_visualization(
    forward: impl Fn(Tensor<4>) -> Tensor<2>,
    start: Tensor<4>,
    class: usize,
    config: &AscentConfig,
) -> Result<Tensor<4>, ExplainError> {
    let device = start.device();
    let classes = forward(start.clone().detach()).dims()[1];
    if class >= classes {
        return invalid(
            "class_visualization",
            format!("class {class} outside the model's {classes} outputs"),
        );
    }
    let idx = Tensor::<1, Int>::from_ints([class as i64], &device).reshape([1, 1]);
    ascend("class_visualization", start, config, |x| {
        let n = x.dims()[0];
        let score = forward(x.clone())
            .gather(1, idx.clone().expand([n, 1]))
            .sum();
        score - x.powi_scalar(2).sum().mul_scalar(config.l2_reg)
    })
}

/// DeepDream: `start` changed to amplify what `features` (images to a
/// layer's activations; a model frozen on an autodiff device) already
/// sees, by gradient ascent on `||features(x)||^2 / 2` (the original's
/// objective).
pub fn deep_dream(
    features: impl Fn(Tensor<4>) -> Tensor<4>,
    start: Tensor<4>,
    config: &AscentConfig,
) -> Result<Tensor<4>, ExplainError> {
    ascend("deep_dream", start, config, |x| {
        features(x).powi_scalar(2).sum().mul_scalar(0.5)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// For a linear score `s = <W_c, x>` with no decay, jitter or blur,
    /// each step adds `lr * W_c / ||W_c||`: after `t` steps from 0 the image
    /// is `t * lr * W_c / ||W_c||` (clamped), worked out here by hand.
    #[test]
    fn a_linear_class_score_is_climbed_along_its_weights() {
        let device = zoo_device::from_name("flex").unwrap().autodiff();
        let wv = [0.3f32, -0.4, 0.0, 1.2];
        let w = Tensor::<1>::from_floats(wv, &device).reshape([4, 1]);
        let forward = |x: Tensor<4>| {
            let n = x.dims()[0];
            let s = x.reshape([n, 4]).matmul(w.clone());
            Tensor::cat(vec![s.zeros_like(), s], 1)
        };
        let config = AscentConfig {
            iterations: 3,
            learning_rate: 0.1,
            l2_reg: 0.0,
            max_jitter: 0,
            blur_every: 0,
            range: (-10.0, 10.0),
            ..AscentConfig::default()
        };
        let x =
            class_visualization(forward, Tensor::zeros([1, 1, 2, 2], &device), 1, &config).unwrap();
        let got: Vec<f32> = x.into_data().try_into_vec_as::<f32>().unwrap();
        let norm = wv.iter().map(|v| v * v).sum::<f32>().sqrt();
        for (g, w) in got.iter().zip(wv) {
            assert!(
                (g - 3.0 * 0.1 * w / norm).abs() < 1e-6,
                "{g} vs {}",
                3.0 * 0.1 * w / norm
            );
        }
    }

    #[test]
    fn a_class_outside_the_outputs_is_refused() {
        let device = zoo_device::from_name("flex").unwrap().autodiff();
        let err = class_visualization(
            |x: Tensor<4>| x.reshape([1, 4]),
            Tensor::zeros([1, 1, 2, 2], &device),
            9,
            &AscentConfig::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("class 9 outside the model's 4 outputs"),
            "{err}"
        );
    }
}
