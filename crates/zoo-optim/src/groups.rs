//! Parameter groups with `torch.optim`'s semantics: the parameters under a
//! module path prefix (e.g. `fc`, the classifier) get their own learning
//! rate, weight decay, momentum, betas or eps; every option a group does not
//! set is the optimizer's default, and every other parameter is in the
//! default group. The fine-tuning recipe of d2l 14.2 trains the new head at
//! ten times the trunk's rate:
//!
//! ```
//! use burn::module::Module;
//! use burn::nn::{Linear, LinearConfig};
//! use zoo_optim::groups::{AnyOptimizer, GroupOptions, ParamGroupSpec, grouped_optimizer};
//!
//! #[derive(Module, Debug)]
//! struct Net {
//!     features: Linear,
//!     fc: Linear,
//! }
//! let device = zoo_device::from_name("flex").unwrap();
//! let net = Net {
//!     features: LinearConfig::new(4, 3).init(&device),
//!     fc: LinearConfig::new(3, 2).init(&device),
//! };
//! let base = AnyOptimizer::Sgd(zoo_optim::SgdConfig::new().with_momentum(0.9));
//! let head = ParamGroupSpec::new("fc", GroupOptions { lr: Some(0.1), ..Default::default() });
//! let optim = grouped_optimizer(&net, &base, 0.01, &[head]).unwrap();
//! # let _ = optim;
//! ```
//!
//! The training loop passes one scheduled learning rate `lr_t`; a group with
//! rate `lr_g` steps at `lr_t * lr_g / lr`, its rate scaled by the same
//! factor as the default group's, which is what every multiplicative torch
//! scheduler (step, multi-step, exponential, cosine to `eta_min = 0`,
//! linear warm-up) does to each group. (A cosine schedule to a non-zero
//! `eta_min` would end each torch group at `eta_min`; here a group ends at
//! `eta_min * lr_g / lr`.)

use burn::module::{Module, ModuleVisitor, Param, ParamGroup};
use burn::optim::{LearningRate, ModuleOptimizer, Optimizer};
use burn::tensor::{Device, Tensor};

use crate::optimizers::config::ConfigError;
use crate::{AdaDeltaConfig, AdaGradConfig, AdamConfig, RmsPropConfig, SgdConfig, check_lr};

/// Any of the zoo's optimizer configurations.
#[derive(Clone, Debug)]
pub enum AnyOptimizer {
    /// `torch.optim.SGD`.
    Sgd(SgdConfig),
    /// `torch.optim.Adam` / `AdamW` (`decoupled`).
    Adam(AdamConfig),
    /// `torch.optim.RMSprop`.
    RmsProp(RmsPropConfig),
    /// `torch.optim.Adagrad`.
    AdaGrad(AdaGradConfig),
    /// `torch.optim.Adadelta`.
    AdaDelta(AdaDeltaConfig),
}

/// The options one group sets (`None`: the optimizer's default), as the
/// keys of a torch parameter group's dictionary.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupOptions {
    /// The group's learning rate.
    pub lr: Option<f64>,
    /// Weight decay.
    pub weight_decay: Option<f64>,
    /// Momentum (SGD, RMSprop).
    pub momentum: Option<f64>,
    /// Dampening (SGD).
    pub dampening: Option<f64>,
    /// Nesterov momentum (SGD).
    pub nesterov: Option<bool>,
    /// `[beta1, beta2]` (Adam).
    pub betas: Option<[f64; 2]>,
    /// eps (Adam, RMSprop, Adagrad, Adadelta).
    pub eps: Option<f64>,
    /// The smoothing constant (RMSprop).
    pub alpha: Option<f64>,
    /// AMSGrad (Adam).
    pub amsgrad: Option<bool>,
    /// Centred RMSprop.
    pub centered: Option<bool>,
    /// The learning-rate decay (Adagrad).
    pub lr_decay: Option<f64>,
    /// The initial accumulator (Adagrad): accepted and ignored, as torch
    /// ignores a group's (every group starts from the optimizer's value).
    pub initial_accumulator_value: Option<f64>,
    /// The decay of the squared averages (Adadelta).
    pub rho: Option<f64>,
}

impl AnyOptimizer {
    fn name(&self) -> &'static str {
        match self {
            Self::Sgd(_) => "SGD",
            Self::Adam(_) => "Adam",
            Self::RmsProp(_) => "RMSprop",
            Self::AdaGrad(_) => "Adagrad",
            Self::AdaDelta(_) => "Adadelta",
        }
    }

    /// This configuration with `options` overriding its values (the lr
    /// aside, which the caller applies); an option the optimizer does not
    /// have is an error naming both, an out-of-range value one naming it.
    pub fn with_options(&self, options: &GroupOptions) -> Result<Self, ConfigError> {
        let unused = |what: &str| {
            Err(ConfigError::new(format!(
                "parameter group: {} has no {what}",
                self.name()
            )))
        };
        // The options each optimizer has (torch's group keys).
        let has: &[&str] = match self {
            Self::Sgd(_) => &["weight_decay", "momentum", "dampening", "nesterov"],
            Self::Adam(_) => &["weight_decay", "betas", "eps", "amsgrad"],
            Self::RmsProp(_) => &["weight_decay", "momentum", "eps", "alpha", "centered"],
            Self::AdaGrad(_) => &[
                "weight_decay",
                "eps",
                "lr_decay",
                "initial_accumulator_value",
            ],
            Self::AdaDelta(_) => &["weight_decay", "eps", "rho"],
        };
        let o = options;
        for (set, what) in [
            (o.weight_decay.is_some(), "weight_decay"),
            (o.momentum.is_some(), "momentum"),
            (o.dampening.is_some(), "dampening"),
            (o.nesterov.is_some(), "nesterov"),
            (o.betas.is_some(), "betas"),
            (o.eps.is_some(), "eps"),
            (o.alpha.is_some(), "alpha"),
            (o.amsgrad.is_some(), "amsgrad"),
            (o.centered.is_some(), "centered"),
            (o.lr_decay.is_some(), "lr_decay"),
            (
                o.initial_accumulator_value.is_some(),
                "initial_accumulator_value",
            ),
            (o.rho.is_some(), "rho"),
        ] {
            if set && !has.contains(&what) {
                return unused(what);
            }
        }
        let mut out = self.clone();
        match &mut out {
            Self::Sgd(c) => {
                c.weight_decay = o.weight_decay.unwrap_or(c.weight_decay);
                c.momentum = o.momentum.unwrap_or(c.momentum);
                c.dampening = o.dampening.unwrap_or(c.dampening);
                c.nesterov = o.nesterov.unwrap_or(c.nesterov);
            }
            Self::Adam(c) => {
                c.weight_decay = o.weight_decay.unwrap_or(c.weight_decay);
                if let Some([b1, b2]) = o.betas {
                    c.beta1 = b1;
                    c.beta2 = b2;
                }
                c.eps = o.eps.unwrap_or(c.eps);
                c.amsgrad = o.amsgrad.unwrap_or(c.amsgrad);
            }
            Self::RmsProp(c) => {
                c.weight_decay = o.weight_decay.unwrap_or(c.weight_decay);
                c.momentum = o.momentum.unwrap_or(c.momentum);
                c.eps = o.eps.unwrap_or(c.eps);
                c.alpha = o.alpha.unwrap_or(c.alpha);
                c.centered = o.centered.unwrap_or(c.centered);
            }
            Self::AdaGrad(c) => {
                c.weight_decay = o.weight_decay.unwrap_or(c.weight_decay);
                c.eps = o.eps.unwrap_or(c.eps);
                c.lr_decay = o.lr_decay.unwrap_or(c.lr_decay);
                // torch's Adagrad fills every group's accumulator with the
                // constructor's `initial_accumulator_value` (its `__init__`
                // reads the argument, not the group's key): a group's own
                // value is accepted and, as there, has no effect.
            }
            Self::AdaDelta(c) => {
                c.weight_decay = o.weight_decay.unwrap_or(c.weight_decay);
                c.eps = o.eps.unwrap_or(c.eps);
                c.rho = o.rho.unwrap_or(c.rho);
            }
        }
        out.validate()?;
        Ok(out)
    }

    /// Checks the values ([`SgdConfig::validate`] and its kin).
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Self::Sgd(c) => c.validate(),
            Self::Adam(c) => c.validate(),
            Self::RmsProp(c) => c.validate(),
            Self::AdaGrad(c) => c.validate(),
            Self::AdaDelta(c) => c.validate(),
        }
    }

    /// A module optimizer running this configuration on every parameter.
    pub fn init(&self) -> Result<ModuleOptimizer, ConfigError> {
        match self {
            Self::Sgd(c) => c.try_init(),
            Self::Adam(c) => c.try_init(),
            Self::RmsProp(c) => c.try_init(),
            Self::AdaGrad(c) => c.try_init(),
            Self::AdaDelta(c) => c.try_init(),
        }
    }

    /// Adds this configuration, stepping at `factor` times the loop's rate,
    /// to `optim` for the parameters of `group`.
    fn add_group(&self, optim: ModuleOptimizer, group: ParamGroup, factor: f64) -> ModuleOptimizer {
        match self {
            Self::Sgd(c) => optim.with_group(group, Scaled::new(c.build(), factor), None),
            Self::Adam(c) => optim.with_group(group, Scaled::new(c.build(), factor), None),
            Self::RmsProp(c) => optim.with_group(group, Scaled::new(c.build(), factor), None),
            Self::AdaGrad(c) => optim.with_group(group, Scaled::new(c.build(), factor), None),
            Self::AdaDelta(c) => optim.with_group(group, Scaled::new(c.build(), factor), None),
        }
    }
}

/// An optimizer stepping at `factor` times the learning rate it is given:
/// a group's rate relative to the default group's.
#[derive(Clone, Debug)]
pub struct Scaled<O> {
    inner: O,
    factor: f64,
}

impl<O> Scaled<O> {
    /// `inner` at `factor` times the rate.
    pub fn new(inner: O, factor: f64) -> Self {
        Self { inner, factor }
    }
}

impl<O: Optimizer> Optimizer for Scaled<O> {
    type State<const D: usize> = O::State<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        self.inner.step(lr * self.factor, tensor, grad, state)
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        O::to_device(state, device)
    }
}

/// A group: the parameters whose module path starts with `prefix` (whole
/// path components: `fc` holds `fc.weight`, not `fc2.weight`), and the
/// options they get.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamGroupSpec {
    /// The module path prefix (`fc`, `features.3`, `layer4`).
    pub prefix: String,
    /// What the group overrides.
    pub options: GroupOptions,
}

impl ParamGroupSpec {
    /// The parameters under `prefix` with `options`.
    pub fn new(prefix: impl Into<String>, options: GroupOptions) -> Self {
        Self {
            prefix: prefix.into(),
            options,
        }
    }

    /// Whether `path` (a parameter's dotted module path) is in the group:
    /// it starts with the prefix's components, directly or below the
    /// outermost component (a model wrapped in an enum such as the
    /// registry's `Model::ResNet(..)`, whose paths start with the variant).
    pub fn matches(&self, path: &str) -> bool {
        let starts = |p: &str| p == self.prefix || p.starts_with(&format!("{}.", self.prefix));
        starts(path) || path.split_once('.').is_some_and(|(_, rest)| starts(rest))
    }
}

/// The dotted paths of a module's float tensors, in visiting order: its
/// parameters and its running statistics (batch norm's `running_mean`, ...).
pub fn parameter_paths<M: Module>(model: &M) -> Vec<String> {
    #[derive(Default)]
    struct Paths {
        stack: Vec<String>,
        found: Vec<String>,
    }
    impl ModuleVisitor for Paths {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.stack.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.stack.pop();
        }
        fn visit_float<const D: usize>(&mut self, _param: &Param<Tensor<D>>) {
            self.found.push(self.stack.join("."));
        }
    }
    let mut v = Paths::default();
    model.visit(&mut v);
    v.found
}

/// A module optimizer for `model`: `base` at the loop's rate (`base_lr`
/// before scheduling) for the parameters no group holds, and each group's
/// configuration ([`AnyOptimizer::with_options`]) at its own rate for its
/// parameters. A group that holds no parameter, a parameter in two groups,
/// an option the optimizer lacks or an out-of-range value are errors naming
/// them.
pub fn grouped_optimizer<M: Module>(
    model: &M,
    base: &AnyOptimizer,
    base_lr: f64,
    groups: &[ParamGroupSpec],
) -> Result<ModuleOptimizer, ConfigError> {
    check_lr(base_lr)?;
    let mut optim = base.init()?;
    if groups.is_empty() {
        return Ok(optim);
    }
    let paths = parameter_paths(model);
    for (i, g) in groups.iter().enumerate() {
        let held: Vec<&String> = paths.iter().filter(|p| g.matches(p)).collect();
        if held.is_empty() {
            let mut tops: Vec<&str> = paths
                .iter()
                .map(|p| p.split('.').next().unwrap_or(p))
                .collect();
            tops.dedup();
            return Err(ConfigError::new(format!(
                "parameter group {i} (`{}`) matches no parameter; the model's parameters start with {}",
                g.prefix,
                tops.join(", ")
            )));
        }
        for (j, other) in groups.iter().enumerate().skip(i + 1) {
            if let Some(p) = held.iter().find(|p| other.matches(p)) {
                return Err(ConfigError::new(format!(
                    "parameter `{p}` is in two groups: {i} (`{}`) and {j} (`{}`)",
                    g.prefix, other.prefix
                )));
            }
        }
        let lr = g.options.lr.unwrap_or(base_lr);
        check_lr(lr).map_err(|e| ConfigError::new(format!("parameter group {i}: {e}")))?;
        let config = base
            .with_options(&g.options)
            .map_err(|e| ConfigError::new(format!("parameter group {i} (`{}`): {e}", g.prefix)))?;
        let group = ParamGroup::from_paths(held.iter().map(|p| p.as_str()).collect());
        optim = config.add_group(optim, group, lr / base_lr);
    }
    Ok(optim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::GradientsParams;

    #[derive(Module, Debug)]
    struct Net {
        features: Linear,
        fc: Linear,
        fc2: Linear,
    }

    fn net(device: &Device) -> Net {
        Net {
            features: LinearConfig::new(3, 2).init(device),
            fc: LinearConfig::new(2, 2).init(device),
            fc2: LinearConfig::new(2, 1).init(device),
        }
    }

    fn flat(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_into_vec_as::<f32>().unwrap()
    }

    #[test]
    fn the_head_group_steps_at_its_rate_and_the_rest_at_the_default() {
        // SGD without momentum: p1 = p0 - lr * g; the head's lr is 10x.
        let device = zoo_device::from_name("flex").unwrap().autodiff();
        let model = net(&device);
        let before = (
            flat(model.features.weight.val().inner()),
            flat(model.fc.weight.val().inner()),
        );
        let base = AnyOptimizer::Sgd(SgdConfig::new());
        let head = ParamGroupSpec::new(
            "fc",
            GroupOptions {
                lr: Some(0.1),
                ..Default::default()
            },
        );
        let mut optim = grouped_optimizer(&model, &base, 0.01, &[head]).unwrap();
        // loss = sum of all weights: every gradient is 1.
        let loss = model.features.weight.val().sum()
            + model.fc.weight.val().sum()
            + model.fc2.weight.val().sum();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        // A scheduled rate of half the base: both groups at half their rate.
        let model = optim.step(0.005, model, grads);
        let after_f = flat(model.features.weight.val().inner());
        let after_h = flat(model.fc.weight.val().inner());
        for (a, b) in after_f.iter().zip(&before.0) {
            assert!((b - a - 0.005).abs() < 1e-6);
        }
        for (a, b) in after_h.iter().zip(&before.1) {
            assert!((b - a - 0.05).abs() < 1e-6);
        }
    }

    #[test]
    fn bad_groups_are_errors_naming_them() {
        let device = zoo_device::from_name("flex").unwrap();
        let model = net(&device);
        let base = AnyOptimizer::Sgd(SgdConfig::new());
        let g = |p: &str| ParamGroupSpec::new(p, GroupOptions::default());
        let e = grouped_optimizer(&model, &base, 0.1, &[g("head")])
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("`head`") && e.contains("features, fc, fc2"),
            "{e}"
        );
        let e = grouped_optimizer(&model, &base, 0.1, &[g("fc"), g("fc.weight")])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("`fc.weight` is in two groups"), "{e}");
        // `fc` does not hold `fc2`.
        assert!(grouped_optimizer(&model, &base, 0.1, &[g("fc"), g("fc2")]).is_ok());
        let bad = ParamGroupSpec::new(
            "fc",
            GroupOptions {
                betas: Some([0.9, 0.99]),
                ..Default::default()
            },
        );
        let e = grouped_optimizer(&model, &base, 0.1, &[bad])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("SGD has no betas"), "{e}");
        let bad = ParamGroupSpec::new(
            "fc",
            GroupOptions {
                momentum: Some(1.5),
                ..Default::default()
            },
        );
        let e = grouped_optimizer(&model, &base, 0.1, &[bad])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("momentum 1.5"), "{e}");
    }
}
