//! RMSProp (`torch.optim.RMSprop`, Hinton's lecture 6e).

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer, RecordState};
use burn::tensor::{Device, Tensor};

use super::config::{ConfigError, in_range, non_negative, positive};
use super::{builds, decayed, move_opt};

/// RMSProp (`torch.optim.RMSprop`, Hinton's lecture 6e).
///
/// `g = grad + weight_decay p`, `v = alpha v + (1 - alpha) g^2`; centered:
/// `a = alpha a + (1 - alpha) g` and `avg = sqrt(v - a^2) + eps`, else
/// `avg = sqrt(v) + eps`; with momentum `buf = momentum buf + g / avg`,
/// `p -= lr buf`, else `p -= lr g / avg`.
#[derive(Config, Debug)]
pub struct RmsPropConfig {
    /// Smoothing constant (torch default 0.99).
    #[config(default = 0.99)]
    pub alpha: f64,
    /// Added to the denominator (torch default 1e-8; burn's default is 1e-5).
    #[config(default = 1e-8)]
    pub eps: f64,
    /// L2 penalty added to the gradient (torch default 0).
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Momentum factor (torch default 0; burn's default is 0.9).
    #[config(default = 0.0)]
    pub momentum: f64,
    /// Normalise by the estimated variance instead of the raw second moment.
    #[config(default = false)]
    pub centered: bool,
}

impl RmsPropConfig {
    /// Checks the values: `alpha` in `[0, 1]`, `momentum` in `[0, 1)`, `weight_decay >= 0`, `eps > 0`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        in_range("RmsPropConfig", "alpha", self.alpha, 0.0, 1.0, true)?;
        in_range("RmsPropConfig", "momentum", self.momentum, 0.0, 1.0, false)?;
        non_negative("RmsPropConfig", "weight_decay", self.weight_decay)?;
        positive("RmsPropConfig", "eps", self.eps)?;
        Ok(())
    }

    /// PyTorch's defaults.
    pub fn torch_default() -> Self {
        Self::new()
    }
}

/// See [`RmsPropConfig`].
#[derive(Clone, Debug)]
pub struct RmsProp {
    config: RmsPropConfig,
}

/// State of [`RmsProp`].
#[derive(RecordState, Clone, Debug)]
pub struct RmsPropState<const D: usize> {
    /// Running average of squared gradients.
    pub square_avg: Tensor<D>,
    /// Running average of gradients (centered only).
    pub grad_avg: Option<Tensor<D>>,
    /// Momentum buffer (momentum > 0 only).
    pub momentum_buffer: Option<Tensor<D>>,
}

impl Optimizer for RmsProp {
    type State<const D: usize> = RmsPropState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        param: Tensor<D>,
        grad: Tensor<D>,
        state: Option<RmsPropState<D>>,
    ) -> (Tensor<D>, Option<RmsPropState<D>>) {
        let c = &self.config;
        let g = decayed(grad, &param, c.weight_decay);
        let zeros = || param.zeros_like();
        let (square_avg, grad_avg, buf) = match state {
            Some(s) => (s.square_avg, s.grad_avg, s.momentum_buffer),
            None => (zeros(), None, None),
        };
        let square_avg = square_avg
            .mul_scalar(c.alpha)
            .add(g.clone().square().mul_scalar(1.0 - c.alpha));
        let (avg, grad_avg) = if c.centered {
            let a = grad_avg
                .unwrap_or_else(zeros)
                .mul_scalar(c.alpha)
                .add(g.clone().mul_scalar(1.0 - c.alpha));
            let avg = (square_avg.clone() - a.clone().square())
                .sqrt()
                .add_scalar(c.eps);
            (avg, Some(a))
        } else {
            (square_avg.clone().sqrt().add_scalar(c.eps), None)
        };
        let (param, buf) = if c.momentum > 0.0 {
            let buf = buf
                .unwrap_or_else(zeros)
                .mul_scalar(c.momentum)
                .add(g / avg);
            (param - buf.clone().mul_scalar(lr), Some(buf))
        } else {
            (param - (g / avg).mul_scalar(lr), None)
        };
        (
            param,
            Some(RmsPropState {
                square_avg,
                grad_avg,
                momentum_buffer: buf,
            }),
        )
    }

    fn to_device<const D: usize>(state: RmsPropState<D>, device: &Device) -> RmsPropState<D> {
        RmsPropState {
            square_avg: state.square_avg.to_device(device),
            grad_avg: move_opt(state.grad_avg, device),
            momentum_buffer: move_opt(state.momentum_buffer, device),
        }
    }
}

builds!(RmsPropConfig, RmsProp);
