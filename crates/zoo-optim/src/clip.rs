//! Global-norm gradient clipping, as `torch.nn.utils.clip_grad_norm_` and
//! as d2l's `grad_clipping` ([`clip_module_grads`] on a module's gradients).
//!
//! burn's `GradientClipping::Norm` clips each tensor by its own norm; PyTorch
//! (and the course's RNN chapter) clip all gradients by one norm taken over
//! all of them together.

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
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

/// How [`clip_module_grads`] scales.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClipRule {
    /// d2l's `grad_clipping`: `g <- (theta / norm) g` only when the global
    /// 2-norm exceeds `theta`, no epsilon.
    D2l,
    /// `torch.nn.utils.clip_grad_norm_`: `g <- min(1, theta / (norm + 1e-6)) g`.
    Torch,
}

struct Ids(Vec<(ParamId, usize)>);

impl ModuleVisitor for Ids {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push((param.id, D));
    }
}

fn squared_sum<const D: usize>(grads: &GradientsParams, id: ParamId) -> Option<Tensor<1>> {
    grads.get::<D>(id).map(|g| g.square().sum())
}

fn scale<const D: usize>(grads: &mut GradientsParams, id: ParamId, factor: f64) {
    if let Some(g) = grads.remove::<D>(id) {
        grads.register::<D>(id, g.mul_scalar(factor));
    }
}

/// Clips the gradients of `module`'s parameters in `grads` by their global
/// 2-norm (all of them taken together) with `rule`; returns that norm
/// (before clipping). Parameters of rank 1 to 4 are covered.
pub fn clip_module_grads<M: Module>(
    module: &M,
    grads: &mut GradientsParams,
    theta: f64,
    rule: ClipRule,
) -> f64 {
    let mut ids = Ids(Vec::new());
    module.visit(&mut ids);
    let sums: Vec<Tensor<1>> = ids
        .0
        .iter()
        .filter_map(|&(id, d)| match d {
            1 => squared_sum::<1>(grads, id),
            2 => squared_sum::<2>(grads, id),
            3 => squared_sum::<3>(grads, id),
            4 => squared_sum::<4>(grads, id),
            _ => None,
        })
        .collect();
    if sums.is_empty() {
        return 0.0;
    }
    let norm = Tensor::cat(sums, 0).sum().sqrt().into_scalar::<f64>();
    let factor = match rule {
        ClipRule::D2l if norm > theta => theta / norm,
        ClipRule::D2l => return norm,
        ClipRule::Torch => (theta / (norm + 1e-6)).min(1.0),
    };
    for &(id, d) in &ids.0 {
        match d {
            1 => scale::<1>(grads, id, factor),
            2 => scale::<2>(grads, id, factor),
            3 => scale::<3>(grads, id, factor),
            4 => scale::<4>(grads, id, factor),
            _ => {}
        }
    }
    norm
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

    #[test]
    fn module_gradients_clip_by_d2ls_rule_only_above_theta() {
        use burn::nn::LinearConfig;
        let device = zoo_device::from_name("flex").unwrap().autodiff();
        // y = w x + b: d(sum y)/dw = x, d/db = 1 whatever w and b are.
        let lin = LinearConfig::new(2, 1).init(&device);
        let x = Tensor::<2>::from_floats([[3.0, 4.0]], &device);
        let run = |theta: f64, rule| {
            let y = lin.forward(x.clone()).sum();
            let mut g = GradientsParams::from_grads(y.backward(), &lin);
            let norm = clip_module_grads(&lin, &mut g, theta, rule);
            let w: Vec<f32> = g
                .get::<2>(lin.weight.id)
                .unwrap()
                .into_data()
                .try_into_vec_as::<f32>()
                .unwrap();
            (norm, w)
        };
        // |(3, 4, 1)| = sqrt(26).
        let (norm, w) = run(10.0, ClipRule::D2l);
        assert!((norm - 26f64.sqrt()).abs() < 1e-5);
        assert_eq!(w, vec![3.0, 4.0]);
        let (_, w) = run(1.0, ClipRule::D2l);
        let k = 1.0 / 26f32.sqrt();
        assert!(
            (w[0] - 3.0 * k).abs() < 1e-6 && (w[1] - 4.0 * k).abs() < 1e-6,
            "{w:?}"
        );
    }
}
