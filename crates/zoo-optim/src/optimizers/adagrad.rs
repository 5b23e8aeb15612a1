//! AdaGrad (`torch.optim.Adagrad`, Duchi et al. 2011).

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer, RecordState};
use burn::tensor::{Device, Tensor};

use super::config::{ConfigError, non_negative, positive};
use super::{builds, decayed};

/// AdaGrad (`torch.optim.Adagrad`, Duchi et al. 2011).
///
/// At step `t` (from 1): `clr = lr / (1 + (t - 1) lr_decay)`,
/// `g = grad + weight_decay p`, `sum += g^2` (starting at
/// `initial_accumulator_value`), `p -= clr g / (sqrt(sum) + eps)`.
#[derive(Config, Debug)]
pub struct AdaGradConfig {
    /// Learning-rate decay per step (torch default 0).
    #[config(default = 0.0)]
    pub lr_decay: f64,
    /// L2 penalty added to the gradient (torch default 0).
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Starting value of the squared-gradient sum (torch default 0).
    #[config(default = 0.0)]
    pub initial_accumulator_value: f64,
    /// Added to the denominator (torch default 1e-10).
    #[config(default = 1e-10)]
    pub eps: f64,
}

impl AdaGradConfig {
    /// Checks the values: `lr_decay`, `weight_decay` and `initial_accumulator_value` `>= 0`, `eps > 0`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        non_negative("AdaGradConfig", "lr_decay", self.lr_decay)?;
        non_negative("AdaGradConfig", "weight_decay", self.weight_decay)?;
        non_negative(
            "AdaGradConfig",
            "initial_accumulator_value",
            self.initial_accumulator_value,
        )?;
        positive("AdaGradConfig", "eps", self.eps)?;
        Ok(())
    }

    /// PyTorch's defaults.
    pub fn torch_default() -> Self {
        Self::new()
    }
}

/// See [`AdaGradConfig`].
#[derive(Clone, Debug)]
pub struct AdaGrad {
    config: AdaGradConfig,
}

/// State of [`AdaGrad`].
#[derive(RecordState, Clone, Debug)]
pub struct AdaGradState<const D: usize> {
    /// Steps taken.
    pub step: usize,
    /// Sum of squared gradients.
    pub sum: Tensor<D>,
}

impl Optimizer for AdaGrad {
    type State<const D: usize> = AdaGradState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        param: Tensor<D>,
        grad: Tensor<D>,
        state: Option<AdaGradState<D>>,
    ) -> (Tensor<D>, Option<AdaGradState<D>>) {
        let c = &self.config;
        let (step, sum) = match state {
            Some(s) => (s.step + 1, s.sum),
            None => (
                1,
                param.zeros_like().add_scalar(c.initial_accumulator_value),
            ),
        };
        let clr = lr / (1.0 + (step - 1) as f64 * c.lr_decay);
        let g = decayed(grad, &param, c.weight_decay);
        let sum = sum + g.clone().square();
        let std = sum.clone().sqrt().add_scalar(c.eps);
        (
            param - (g / std).mul_scalar(clr),
            Some(AdaGradState { step, sum }),
        )
    }

    fn to_device<const D: usize>(state: AdaGradState<D>, device: &Device) -> AdaGradState<D> {
        AdaGradState {
            step: state.step,
            sum: state.sum.to_device(device),
        }
    }
}

builds!(AdaGradConfig, AdaGrad);
