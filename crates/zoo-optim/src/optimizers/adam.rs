//! Adam and AdamW (`torch.optim.Adam` / `AdamW`, Kingma & Ba 2015;

use burn::config::Config;
use burn::optim::{LearningRate, Optimizer, RecordState};
use burn::tensor::{Device, Tensor};

use super::config::{ConfigError, in_range, non_negative, positive};
use super::{builds, decayed, move_opt};

/// Adam and AdamW (`torch.optim.Adam` / `AdamW`, Kingma & Ba 2015;
/// Loshchilov & Hutter 2019), with AMSGrad.
///
/// At step `t`: Adam adds `weight_decay p` to the gradient, AdamW instead
/// shrinks `p *= 1 - lr weight_decay`; `m = b1 m + (1 - b1) g`,
/// `v = b2 v + (1 - b2) g^2` (AMSGrad: `v_max = max(v_max, v)` used below),
/// `p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)`.
#[derive(Config, Debug)]
pub struct AdamConfig {
    /// `beta1` (torch default 0.9).
    #[config(default = 0.9)]
    pub beta1: f64,
    /// `beta2` (torch default 0.999).
    #[config(default = 0.999)]
    pub beta2: f64,
    /// Added to the denominator (torch default 1e-8; burn's default is 1e-5).
    #[config(default = 1e-8)]
    pub eps: f64,
    /// Weight decay: L2 in the gradient (Adam) or decoupled (AdamW).
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Decoupled weight decay (AdamW).
    #[config(default = false)]
    pub decoupled: bool,
    /// The AMSGrad variant (Reddi et al. 2018).
    #[config(default = false)]
    pub amsgrad: bool,
}

impl AdamConfig {
    /// Checks the values: betas in `[0, 1)`, `weight_decay >= 0`, `eps > 0` (as `torch.optim.Adam`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        in_range("AdamConfig", "beta1", self.beta1, 0.0, 1.0, false)?;
        in_range("AdamConfig", "beta2", self.beta2, 0.0, 1.0, false)?;
        non_negative("AdamConfig", "weight_decay", self.weight_decay)?;
        positive("AdamConfig", "eps", self.eps)?;
        Ok(())
    }

    /// `torch.optim.Adam`'s defaults.
    pub fn torch_default() -> Self {
        Self::new()
    }

    /// `torch.optim.AdamW`'s defaults (weight decay 0.01, decoupled).
    pub fn torch_adamw_default() -> Self {
        Self::new().with_decoupled(true).with_weight_decay(0.01)
    }
}

/// See [`AdamConfig`].
#[derive(Clone, Debug)]
pub struct Adam {
    config: AdamConfig,
}

/// State of [`Adam`].
#[derive(RecordState, Clone, Debug)]
pub struct AdamState<const D: usize> {
    /// Steps taken.
    pub step: usize,
    /// First moment.
    pub exp_avg: Tensor<D>,
    /// Second moment.
    pub exp_avg_sq: Tensor<D>,
    /// Running maximum of the second moment (AMSGrad only).
    pub max_exp_avg_sq: Option<Tensor<D>>,
}

impl Optimizer for Adam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        param: Tensor<D>,
        grad: Tensor<D>,
        state: Option<AdamState<D>>,
    ) -> (Tensor<D>, Option<AdamState<D>>) {
        let c = &self.config;
        let (step, m, v, v_max) = match state {
            Some(s) => (s.step + 1, s.exp_avg, s.exp_avg_sq, s.max_exp_avg_sq),
            None => (1, param.zeros_like(), param.zeros_like(), None),
        };
        let (param, g) = if c.decoupled {
            (param.mul_scalar(1.0 - lr * c.weight_decay), grad)
        } else {
            let g = decayed(grad, &param, c.weight_decay);
            (param, g)
        };
        let m = m
            .mul_scalar(c.beta1)
            .add(g.clone().mul_scalar(1.0 - c.beta1));
        let v = v
            .mul_scalar(c.beta2)
            .add(g.square().mul_scalar(1.0 - c.beta2));
        let bias1 = 1.0 - c.beta1.powi(step as i32);
        let bias2_sqrt = (1.0 - c.beta2.powi(step as i32)).sqrt();
        let v_max = c.amsgrad.then(|| {
            v_max
                .unwrap_or_else(|| param.zeros_like())
                .max_pair(v.clone())
        });
        let second = v_max.clone().unwrap_or_else(|| v.clone());
        let denom = second.sqrt().div_scalar(bias2_sqrt).add_scalar(c.eps);
        let param = param - (m.clone() / denom).mul_scalar(lr / bias1);
        (
            param,
            Some(AdamState {
                step,
                exp_avg: m,
                exp_avg_sq: v,
                max_exp_avg_sq: v_max,
            }),
        )
    }

    fn to_device<const D: usize>(state: AdamState<D>, device: &Device) -> AdamState<D> {
        AdamState {
            step: state.step,
            exp_avg: state.exp_avg.to_device(device),
            exp_avg_sq: state.exp_avg_sq.to_device(device),
            max_exp_avg_sq: move_opt(state.max_exp_avg_sq, device),
        }
    }
}

builds!(AdamConfig, Adam);
