//! AdaDelta (`torch.optim.Adadelta`, Zeiler 2012), which burn lacks.

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer, RecordState};
use burn::tensor::{Device, Tensor};

use super::config::{ConfigError, in_range, non_negative, positive};
use super::{builds, decayed};

/// AdaDelta (`torch.optim.Adadelta`, Zeiler 2012), which burn lacks.
///
/// `g = grad + weight_decay p`, `v = rho v + (1 - rho) g^2`,
/// `delta = sqrt(u + eps) / sqrt(v + eps) * g`, `u = rho u + (1 - rho) delta^2`,
/// `p -= lr delta` (torch's `lr` defaults to 1).
#[derive(Config, Debug)]
pub struct AdaDeltaConfig {
    /// Decay of the running averages (torch default 0.9).
    #[config(default = 0.9)]
    pub rho: f64,
    /// Added inside both square roots (torch default 1e-6).
    #[config(default = 1e-6)]
    pub eps: f64,
    /// L2 penalty added to the gradient (torch default 0).
    #[config(default = 0.0)]
    pub weight_decay: f64,
}

impl AdaDeltaConfig {
    /// Checks the values: `rho` in `[0, 1]`, `weight_decay >= 0`, `eps > 0`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        in_range("AdaDeltaConfig", "rho", self.rho, 0.0, 1.0, true)?;
        non_negative("AdaDeltaConfig", "weight_decay", self.weight_decay)?;
        positive("AdaDeltaConfig", "eps", self.eps)?;
        Ok(())
    }

    /// PyTorch's defaults (use a learning rate of 1.0, torch's default).
    pub fn torch_default() -> Self {
        Self::new()
    }
}

/// See [`AdaDeltaConfig`].
#[derive(Clone, Debug)]
pub struct AdaDelta {
    config: AdaDeltaConfig,
}

/// State of [`AdaDelta`].
#[derive(RecordState, Clone, Debug)]
pub struct AdaDeltaState<const D: usize> {
    /// Running average of squared gradients.
    pub square_avg: Tensor<D>,
    /// Running average of squared updates.
    pub acc_delta: Tensor<D>,
}

impl Optimizer for AdaDelta {
    type State<const D: usize> = AdaDeltaState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        param: Tensor<D>,
        grad: Tensor<D>,
        state: Option<AdaDeltaState<D>>,
    ) -> (Tensor<D>, Option<AdaDeltaState<D>>) {
        let c = &self.config;
        let g = decayed(grad, &param, c.weight_decay);
        let (square_avg, acc_delta) = match state {
            Some(s) => (s.square_avg, s.acc_delta),
            None => (param.zeros_like(), param.zeros_like()),
        };
        let square_avg = square_avg
            .mul_scalar(c.rho)
            .add(g.clone().square().mul_scalar(1.0 - c.rho));
        let std = square_avg.clone().add_scalar(c.eps).sqrt();
        let delta = acc_delta.clone().add_scalar(c.eps).sqrt() / std * g;
        let acc_delta = acc_delta
            .mul_scalar(c.rho)
            .add(delta.clone().square().mul_scalar(1.0 - c.rho));
        (
            param - delta.mul_scalar(lr),
            Some(AdaDeltaState {
                square_avg,
                acc_delta,
            }),
        )
    }

    fn to_device<const D: usize>(state: AdaDeltaState<D>, device: &Device) -> AdaDeltaState<D> {
        AdaDeltaState {
            square_avg: state.square_avg.to_device(device),
            acc_delta: state.acc_delta.to_device(device),
        }
    }
}

builds!(AdaDeltaConfig, AdaDelta);
