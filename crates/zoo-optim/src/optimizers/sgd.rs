//! Stochastic gradient descent (`torch.optim.SGD`).

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer, RecordState};
use burn::tensor::{Device, Tensor};

use super::config::{ConfigError, in_range, non_negative};
use super::{builds, decayed};

/// Stochastic gradient descent (`torch.optim.SGD`).
///
/// With `g = grad + weight_decay * p`: the momentum buffer is `g` on the first
/// step and `momentum * buf + (1 - dampening) * g` after; the update direction
/// is `g + momentum * buf` (Nesterov) or `buf`; `p -= lr * direction`.
#[derive(Config, Debug)]
pub struct SgdConfig {
    /// Momentum factor (torch default 0).
    #[config(default = 0.0)]
    pub momentum: f64,
    /// Dampening of the momentum (torch default 0; burn's default is 0.1).
    #[config(default = 0.0)]
    pub dampening: f64,
    /// Nesterov momentum (torch default false).
    #[config(default = false)]
    pub nesterov: bool,
    /// L2 penalty added to the gradient (torch default 0).
    #[config(default = 0.0)]
    pub weight_decay: f64,
}

impl SgdConfig {
    /// PyTorch's defaults: no momentum, no dampening, no weight decay.
    pub fn torch_default() -> Self {
        Self::new()
    }

    /// Checks the values as `torch.optim.SGD` does: momentum in `[0, 1)`,
    /// dampening in `[0, 1]`, weight decay `>= 0`, Nesterov only with a
    /// momentum and zero dampening.
    pub fn validate(&self) -> Result<(), ConfigError> {
        in_range("SgdConfig", "momentum", self.momentum, 0.0, 1.0, false)?;
        in_range("SgdConfig", "dampening", self.dampening, 0.0, 1.0, true)?;
        non_negative("SgdConfig", "weight_decay", self.weight_decay)?;
        if self.nesterov && !(self.momentum > 0.0 && self.dampening == 0.0) {
            return Err(ConfigError::new(format!(
                "SgdConfig: Nesterov momentum requires a momentum > 0 and zero dampening, got momentum {} and dampening {}",
                self.momentum, self.dampening
            )));
        }
        Ok(())
    }
}

/// See [`SgdConfig`].
#[derive(Clone, Debug)]
pub struct Sgd {
    config: SgdConfig,
}

/// State of [`Sgd`]: the momentum buffer, once one exists.
#[derive(RecordState, Clone, Debug)]
pub struct SgdState<const D: usize> {
    /// The momentum buffer.
    pub momentum_buffer: Tensor<D>,
}

impl Optimizer for Sgd {
    type State<const D: usize> = SgdState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        param: Tensor<D>,
        grad: Tensor<D>,
        state: Option<SgdState<D>>,
    ) -> (Tensor<D>, Option<SgdState<D>>) {
        let c = &self.config;
        let g = decayed(grad, &param, c.weight_decay);
        if c.momentum == 0.0 {
            return (param - g.mul_scalar(lr), None);
        }
        let buf = match state {
            None => g.clone(),
            Some(s) => s
                .momentum_buffer
                .mul_scalar(c.momentum)
                .add(g.clone().mul_scalar(1.0 - c.dampening)),
        };
        let direction = if c.nesterov {
            g + buf.clone().mul_scalar(c.momentum)
        } else {
            buf.clone()
        };
        (
            param - direction.mul_scalar(lr),
            Some(SgdState {
                momentum_buffer: buf,
            }),
        )
    }

    fn to_device<const D: usize>(state: SgdState<D>, device: &Device) -> SgdState<D> {
        SgdState {
            momentum_buffer: state.momentum_buffer.to_device(device),
        }
    }
}

builds!(SgdConfig, Sgd);
