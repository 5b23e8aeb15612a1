//! SGD, AdaGrad, RMSProp, AdaDelta, Adam and AdamW as `torch.optim` computes
//! them (the single-tensor, non-foreach code paths), with PyTorch's defaults.

use burn::config::Config;
use burn::optim::{LearningRate, ModuleOptimizer, Optimizer, RecordState};
use burn::tensor::{Device, Tensor};

fn decayed<const D: usize>(grad: Tensor<D>, param: &Tensor<D>, weight_decay: f64) -> Tensor<D> {
    if weight_decay == 0.0 {
        grad
    } else {
        grad + param.clone().mul_scalar(weight_decay)
    }
}

fn move_opt<const D: usize>(t: Option<Tensor<D>>, device: &Device) -> Option<Tensor<D>> {
    t.map(|t| t.to_device(device))
}

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
            return Err(ConfigError(format!(
                "SgdConfig: Nesterov momentum requires a momentum > 0 and zero dampening, got momentum {} and dampening {}",
                self.momentum, self.dampening
            )));
        }
        Ok(())
    }

    /// The optimizer, for burn's `ModuleOptimizer::with_group` or direct use.
    ///
    /// # Panics
    /// When [`validate`](Self::validate) fails.
    pub fn build(&self) -> Sgd {
        self.validate().unwrap_or_else(|e| panic!("{e}"));
        Sgd {
            config: self.clone(),
        }
    }

    /// A module optimizer (burn's `ModuleOptimizer`) running this SGD.
    pub fn init(&self) -> ModuleOptimizer {
        ModuleOptimizer::from(self.build())
    }

    /// [`init`](Self::init) for values that come from users: an error naming
    /// the field and the value instead of a panic.
    pub fn try_init(&self) -> Result<ModuleOptimizer, ConfigError> {
        self.validate()?;
        Ok(self.init())
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

    /// The optimizer.
    ///
    /// # Panics
    /// When [`validate`](Self::validate) fails.
    pub fn build(&self) -> AdaGrad {
        self.validate().unwrap_or_else(|e| panic!("{e}"));
        AdaGrad {
            config: self.clone(),
        }
    }

    /// A module optimizer running this AdaGrad.
    pub fn init(&self) -> ModuleOptimizer {
        ModuleOptimizer::from(self.build())
    }

    /// [`init`](Self::init) for values that come from users: an error naming
    /// the field and the value instead of a panic.
    pub fn try_init(&self) -> Result<ModuleOptimizer, ConfigError> {
        self.validate()?;
        Ok(self.init())
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

    /// The optimizer.
    ///
    /// # Panics
    /// When [`validate`](Self::validate) fails.
    pub fn build(&self) -> RmsProp {
        self.validate().unwrap_or_else(|e| panic!("{e}"));
        RmsProp {
            config: self.clone(),
        }
    }

    /// A module optimizer running this RMSProp.
    pub fn init(&self) -> ModuleOptimizer {
        ModuleOptimizer::from(self.build())
    }

    /// [`init`](Self::init) for values that come from users: an error naming
    /// the field and the value instead of a panic.
    pub fn try_init(&self) -> Result<ModuleOptimizer, ConfigError> {
        self.validate()?;
        Ok(self.init())
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

    /// The optimizer.
    ///
    /// # Panics
    /// When [`validate`](Self::validate) fails.
    pub fn build(&self) -> AdaDelta {
        self.validate().unwrap_or_else(|e| panic!("{e}"));
        AdaDelta {
            config: self.clone(),
        }
    }

    /// A module optimizer running this AdaDelta.
    pub fn init(&self) -> ModuleOptimizer {
        ModuleOptimizer::from(self.build())
    }

    /// [`init`](Self::init) for values that come from users: an error naming
    /// the field and the value instead of a panic.
    pub fn try_init(&self) -> Result<ModuleOptimizer, ConfigError> {
        self.validate()?;
        Ok(self.init())
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

    /// The optimizer.
    ///
    /// # Panics
    /// When [`validate`](Self::validate) fails.
    pub fn build(&self) -> Adam {
        self.validate().unwrap_or_else(|e| panic!("{e}"));
        Adam {
            config: self.clone(),
        }
    }

    /// A module optimizer running this Adam.
    pub fn init(&self) -> ModuleOptimizer {
        ModuleOptimizer::from(self.build())
    }

    /// [`init`](Self::init) for values that come from users: an error naming
    /// the field and the value instead of a panic.
    pub fn try_init(&self) -> Result<ModuleOptimizer, ConfigError> {
        self.validate()?;
        Ok(self.init())
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

#[cfg(test)]
mod tests {
    use super::*;

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

/// An optimizer or learning-rate value out of its range: names the
/// configuration, the field and the value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn in_range(
    cfg: &str,
    field: &str,
    v: f64,
    lo: f64,
    hi: f64,
    hi_inclusive: bool,
) -> Result<(), ConfigError> {
    let ok = v >= lo && (v < hi || (hi_inclusive && v == hi));
    if ok {
        Ok(())
    } else {
        let close = if hi_inclusive { ']' } else { ')' };
        Err(ConfigError(format!(
            "{cfg}: {field} {v}, expected a value in [{lo}, {hi}{close}"
        )))
    }
}

fn non_negative(cfg: &str, field: &str, v: f64) -> Result<(), ConfigError> {
    if v >= 0.0 && v.is_finite() {
        Ok(())
    } else {
        Err(ConfigError(format!(
            "{cfg}: {field} {v}, expected a finite value >= 0"
        )))
    }
}

/// `v > 0` and finite in float32, the precision the models and optimizer
/// states run in (3.5e38 is finite in f64 and infinite in f32; 1e-50 is 0 there).
fn positive(cfg: &str, field: &str, v: f64) -> Result<(), ConfigError> {
    let f = v as f32;
    if v > 0.0 && f.is_finite() && f > 0.0 {
        Ok(())
    } else {
        Err(ConfigError(format!(
            "{cfg}: {field} {v}, expected a value > 0 that is finite and non-zero in float32 (the precision the model runs in)"
        )))
    }
}

/// Checks a learning rate: finite and `> 0` (`torch.optim` refuses `< 0`;
/// a zero rate trains nothing and is almost always a mistake).
pub fn check_lr(lr: f64) -> Result<(), ConfigError> {
    positive("learning rate", "lr", lr)
}

#[cfg(test)]
mod config_tests {
    use super::*;

    #[test]
    fn out_of_range_values_are_errors_naming_the_field_and_value() {
        let e = SgdConfig::new().with_momentum(1.0).validate().unwrap_err();
        assert_eq!(e.0, "SgdConfig: momentum 1, expected a value in [0, 1)");
        let e = SgdConfig::new()
            .with_nesterov(true)
            .try_init()
            .err()
            .unwrap();
        assert!(
            e.0.contains("Nesterov") && e.0.contains("momentum 0"),
            "{e}"
        );
        let e = AdamConfig::new().with_beta2(1.5).validate().unwrap_err();
        assert!(e.0.contains("AdamConfig: beta2 1.5"), "{e}");
        let e = RmsPropConfig::new().with_eps(0.0).validate().unwrap_err();
        assert!(e.0.contains("RmsPropConfig: eps 0"), "{e}");
        let e = AdaGradConfig::new()
            .with_lr_decay(-1.0)
            .validate()
            .unwrap_err();
        assert!(e.0.contains("AdaGradConfig: lr_decay -1"), "{e}");
        let e = AdaDeltaConfig::new().with_rho(2.0).validate().unwrap_err();
        assert!(e.0.contains("AdaDeltaConfig: rho 2"), "{e}");
        assert!(
            check_lr(-0.1)
                .unwrap_err()
                .0
                .starts_with("learning rate: lr -0.1, expected a value > 0")
        );
        // Finite in f64, infinite in f32 (the precision the model runs in).
        let e = check_lr(3.5e38).unwrap_err();
        assert!(
            e.0.contains("lr 350000000000000000000000000000000000000") && e.0.contains("float32"),
            "{e}"
        );
        assert!(check_lr(f64::NAN).is_err() && check_lr(1e-50).is_err());
        assert!(check_lr(3.0e38).is_ok());
        assert!(
            SgdConfig::new()
                .with_momentum(0.9)
                .with_nesterov(true)
                .validate()
                .is_ok()
        );
        assert!(AdamConfig::torch_adamw_default().validate().is_ok());
    }
}
