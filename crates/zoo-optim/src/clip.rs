//! Global-norm gradient clipping, as `torch.nn.utils.clip_grad_norm_`.
//!
//! burn's `GradientClipping::Norm` clips each tensor by its own norm; PyTorch
//! (and the course's RNN chapter) clip all gradients by one norm taken over
//! all of them together.

use burn::tensor::Tensor;

/// Which norm [`clip_grad_norm`] measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NormType {
    /// The `p`-norm, `(sum |g|^p)^(1/p)` over all elements of all tensors.
    P(f64),
    /// The largest absolute value.
    Inf,
}

/// The norm of all `grads` taken together, shape `[1]`.
///
/// # Panics
/// When `grads` is empty or `p <= 0`.
pub fn global_norm(grads: &[Tensor<1>], norm: NormType) -> Tensor<1> {
    assert!(!grads.is_empty(), "global_norm: no gradients");
    match norm {
        NormType::Inf => {
            let maxes: Vec<Tensor<1>> = grads.iter().map(|g| g.clone().abs().max()).collect();
            Tensor::cat(maxes, 0).max()
        }
        NormType::P(p) => {
            assert!(p > 0.0, "global_norm: p must be positive, got {p}");
            let sums: Vec<Tensor<1>> = grads
                .iter()
                .map(|g| {
                    if p == 2.0 {
                        g.clone().square().sum()
                    } else if p == 1.0 {
                        g.clone().abs().sum()
                    } else {
                        g.clone().abs().powf_scalar(p).sum()
                    }
                })
                .collect();
            let total = Tensor::cat(sums, 0).sum();
            if p == 2.0 {
                total.sqrt()
            } else if p == 1.0 {
                total
            } else {
                total.powf_scalar(1.0 / p)
            }
        }
    }
}

/// Scales all `grads` (flattened) by `min(1, max_norm / (total + 1e-6))`,
/// `total` their [`global_norm`], and returns them with `total`
/// (`torch.nn.utils.clip_grad_norm_`).
pub fn clip_grad_norm(
    grads: Vec<Tensor<1>>,
    max_norm: f64,
    norm: NormType,
) -> (Vec<Tensor<1>>, Tensor<1>) {
    let total = global_norm(&grads, norm);
    let coef = total
        .clone()
        .add_scalar(1e-6)
        .recip()
        .mul_scalar(max_norm)
        .clamp_max(1.0);
    let clipped = grads
        .into_iter()
        .map(|g| {
            let n = g.dims()[0];
            g * coef.clone().expand([n])
        })
        .collect();
    (clipped, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_by_the_norm_of_everything() {
        let device = zoo_device::from_name("flex").unwrap();
        // |(3, 4)| = 5 over two tensors; max_norm 1 scales by 1 / (5 + 1e-6).
        let g = vec![
            Tensor::<1>::from_floats([3.0], &device),
            Tensor::<1>::from_floats([4.0], &device),
        ];
        let (clipped, total) = clip_grad_norm(g, 1.0, NormType::P(2.0));
        let total: Vec<f32> = total.into_data().try_into_vec_as::<f32>().unwrap();
        assert!((total[0] - 5.0).abs() < 1e-6);
        let a: Vec<f32> = clipped[0]
            .clone()
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        assert!((a[0] - 0.6).abs() < 1e-5, "{a:?}");
    }
}
