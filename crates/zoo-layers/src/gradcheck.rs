//! A finite-difference gradient checker (the course notes' "numerical
//! gradient for unit tests", CS231n "Gradient checks").
//!
//! Compares the autodiff gradient of a scalar function of one tensor with
//! the centred difference `(f(x + h e_i) - f(x - h e_i)) / 2h`, element by
//! element, with the relative error `|a - n| / max(|a|, |n|, floor)`.

use burn::tensor::{Device, Tensor, TensorData};

/// Settings of [`check_gradient`].
#[derive(Debug, Clone, Copy)]
pub struct GradCheck {
    /// Step `h` of the centred difference (f32 arithmetic: 1e-2 .. 1e-3 works).
    pub step: f64,
    /// Largest accepted relative error.
    pub rtol: f64,
    /// Magnitudes below this count as this in the relative error's denominator.
    pub floor: f64,
}

impl Default for GradCheck {
    fn default() -> Self {
        Self {
            step: 1e-2,
            rtol: 1e-2,
            floor: 1e-2,
        }
    }
}

/// Checks the autodiff gradient of the scalar `f` at `x` (shape `shape`)
/// against centred finite differences, on `device` (autodiff is enabled
/// here). Returns the largest relative error, or an error naming the first
/// element that disagrees.
///
/// Keep `x` away from kinks (ReLU at 0, max ties), where the two legitimately differ.
pub fn check_gradient<const D: usize>(
    f: impl Fn(Tensor<D>) -> Tensor<1>,
    x: &[f32],
    shape: [usize; D],
    device: &Device,
    settings: GradCheck,
) -> Result<f64, String> {
    let device = device.clone().autodiff();
    let make = |v: Vec<f32>| Tensor::<D>::from_data(TensorData::new(v, shape), &device);
    let leaf = make(x.to_vec()).require_grad();
    let grads = f(leaf.clone()).backward();
    let analytic: Vec<f32> = leaf
        .grad(&grads)
        .map(|g| g.into_data().try_into_vec_as::<f32>().unwrap())
        .unwrap_or_else(|| vec![0.0; x.len()]);
    let eval =
        |v: Vec<f32>| -> f64 { f(make(v)).into_data().try_into_vec_as::<f32>().unwrap()[0] as f64 };
    let mut worst = 0.0f64;
    for i in 0..x.len() {
        let mut plus = x.to_vec();
        plus[i] += settings.step as f32;
        let mut minus = x.to_vec();
        minus[i] -= settings.step as f32;
        let numeric = (eval(plus) - eval(minus)) / (2.0 * settings.step);
        let a = analytic[i] as f64;
        let rel = (a - numeric).abs() / a.abs().max(numeric.abs()).max(settings.floor);
        if rel > settings.rtol {
            return Err(format!(
                "element {i}: autodiff {a}, finite difference {numeric} (relative error {rel:.2e})"
            ));
        }
        worst = worst.max(rel);
    }
    Ok(worst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::norm::local_response_norm;
    use crate::pool::{PoolMode, adaptive_max_pool2d, maxout, spatial_pyramid_pool};

    /// Distinct, well-separated values (no max ties), deterministic.
    fn values(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 37 % n) as f32 / n as f32 - 0.5) * 2.0 + 0.013 * i as f32)
            .collect()
    }

    fn weights(n: usize) -> Tensor<1> {
        let device = zoo_device::from_name("flex").unwrap().autodiff();
        Tensor::from_floats(
            TensorData::new(
                (0..n).map(|i| 1.0 + i as f32 * 0.1).collect::<Vec<_>>(),
                [n],
            ),
            &device,
        )
    }

    #[test]
    fn custom_layers_pass_the_gradient_check() {
        let device = zoo_device::from_name("flex").unwrap();
        let s = GradCheck::default();
        // Weighted sums make every output element matter differently.
        let lrn = |x: Tensor<4>| {
            let y = local_response_norm(x, 3, 0.5, 0.75, 1.0);
            (y.reshape([24]) * weights(24)).sum()
        };
        check_gradient(lrn, &values(24), [1, 4, 2, 3], &device, s).unwrap();
        let amp = |x: Tensor<4>| (adaptive_max_pool2d(x, [2, 2]).reshape([8]) * weights(8)).sum();
        check_gradient(amp, &values(30), [1, 2, 3, 5], &device, s).unwrap();
        let spp = |x: Tensor<4>| {
            (spatial_pyramid_pool(x, &[1, 2], PoolMode::Avg).reshape([10]) * weights(10)).sum()
        };
        check_gradient(spp, &values(32), [1, 2, 4, 4], &device, s).unwrap();
        let mo = |x: Tensor<2>| (maxout(x, 2).reshape([6]) * weights(6)).sum();
        check_gradient(mo, &values(12), [2, 6], &device, s).unwrap();
    }

    #[test]
    fn a_wrong_gradient_is_caught() {
        // x * detach(x) has gradient x, not 2x.
        let device = zoo_device::from_name("flex").unwrap();
        let err = check_gradient(
            |x: Tensor<1>| (x.clone() * x.detach()).sum(),
            &[1.0, 2.0],
            [2],
            &device,
            GradCheck::default(),
        )
        .unwrap_err();
        assert!(err.contains("element 0"), "{err}");
    }
}
