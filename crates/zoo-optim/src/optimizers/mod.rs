//! SGD, AdaGrad, RMSProp, AdaDelta, Adam and AdamW as `torch.optim` computes
//! them (the single-tensor, non-foreach code paths), with PyTorch's defaults:
//! one optimizer per file, the value checks they share in [`config`].

use burn::tensor::{Device, Tensor};

mod adadelta;
mod adagrad;
mod adam;
pub mod config;
mod rmsprop;
mod sgd;

pub use adadelta::{AdaDelta, AdaDeltaConfig, AdaDeltaState};
pub use adagrad::{AdaGrad, AdaGradConfig, AdaGradState};
pub use adam::{Adam, AdamConfig, AdamState};
pub use config::{ConfigError, check_lr};
pub use rmsprop::{RmsProp, RmsPropConfig, RmsPropState};
pub use sgd::{Sgd, SgdConfig, SgdState};

/// `grad + weight_decay * param` (torch's L2 penalty folded into the gradient).
fn decayed<const D: usize>(grad: Tensor<D>, param: &Tensor<D>, weight_decay: f64) -> Tensor<D> {
    if weight_decay == 0.0 {
        grad
    } else {
        grad + param.clone().mul_scalar(weight_decay)
    }
}

/// An optional state tensor moved to `device`.
fn move_opt<const D: usize>(t: Option<Tensor<D>>, device: &Device) -> Option<Tensor<D>> {
    t.map(|t| t.to_device(device))
}

/// `build`, `init` and `try_init` of an optimizer configuration whose
/// `validate` checks its values and whose optimizer holds `config`: written
/// once for the five optimizers.
macro_rules! builds {
    ($config:ident, $optim:ident) => {
        impl $config {
            /// The optimizer, for burn's `ModuleOptimizer::with_group` or direct use.
            ///
            /// # Panics
            /// When [`validate`](Self::validate) fails.
            pub fn build(&self) -> $optim {
                self.validate().unwrap_or_else(|e| panic!("{e}"));
                $optim {
                    config: self.clone(),
                }
            }

            /// A module optimizer (burn's `ModuleOptimizer`) running this optimizer.
            pub fn init(&self) -> burn::optim::ModuleOptimizer {
                burn::optim::ModuleOptimizer::from(self.build())
            }

            /// [`init`](Self::init) for values that come from users: an error
            /// naming the field and the value instead of a panic.
            pub fn try_init(&self) -> Result<burn::optim::ModuleOptimizer, ConfigError> {
                self.validate()?;
                Ok(self.init())
            }
        }
    };
}
use builds;

#[cfg(test)]
mod tests {
    use super::*;
    use burn::optim::Optimizer;

    fn run<O: Optimizer>(opt: &O, lr: f64, p0: [f32; 2], grads: &[[f32; 2]]) -> Vec<f32> {
        let device = zoo_device::from_name("flex").unwrap();
        let mut p = Tensor::<1>::from_floats(p0, &device);
        let mut state = None;
        for g in grads {
            let (next, s) = opt.step(lr, p, Tensor::from_floats(*g, &device), state);
            p = next;
            state = s;
        }
        p.into_data().try_into_vec_as::<f32>().unwrap()
    }

    fn close(got: &[f32], want: &[f32]) {
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g - w).abs() < 1e-6 * (1.0 + w.abs()),
                "{got:?} vs {want:?}"
            );
        }
    }

    #[test]
    fn sgd_momentum_has_no_dampening_on_the_first_step() {
        // torch.optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.5), grads 1 then 1:
        // buf1 = 1 (not 0.5), p1 = -0.1; buf2 = 0.9 + 0.5 = 1.4, p2 = -0.24.
        let opt = SgdConfig::new()
            .with_momentum(0.9)
            .with_dampening(0.5)
            .build();
        close(
            &run(&opt, 0.1, [0.0, 0.0], &[[1.0, 1.0], [1.0, 1.0]]),
            &[-0.24, -0.24],
        );
    }

    #[test]
    fn adam_first_step_moves_by_lr() {
        // Bias correction makes Adam's first step lr * g / (|g| + eps') = lr * sign(g).
        let opt = AdamConfig::torch_default().build();
        close(&run(&opt, 0.01, [1.0, 1.0], &[[0.5, -3.0]]), &[0.99, 1.01]);
    }

    #[test]
    fn adadelta_first_step_by_hand() {
        // g = 1: v = 0.1, delta = sqrt(1e-6) / sqrt(0.1 + 1e-6) = 0.0031622619.
        let opt = AdaDeltaConfig::torch_default().build();
        let want = 1.0 - (1e-6f64).sqrt() / (0.1f64 + 1e-6).sqrt();
        close(
            &run(&opt, 1.0, [1.0, 1.0], &[[1.0, 1.0]]),
            &[want as f32; 2],
        );
    }
}
