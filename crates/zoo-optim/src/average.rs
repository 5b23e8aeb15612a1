//! Weight averaging with `torch.optim.swa_utils.AveragedModel`'s
//! semantics: the first update copies the model; later updates move the
//! average toward the model, by `1 - decay` (EMA, `get_ema_multi_avg_fn`)
//! or by `1 / (n + 1)` after `n` updates (SWA's equal average, Izmailov et
//! al. 2018). Polyak averaging, as CS231n recommends, is the EMA.
//!
//! Every float tensor of the module is averaged, the batch-norm running
//! statistics included: `AveragedModel(use_buffers=True)`, which PyTorch
//! recommends for EMA and which for SWA replaces the separate pass of
//! `update_bn` by the average of the statistics the model had at each
//! update.
//!
//! ```
//! use burn::tensor::Tensor;
//! use zoo_optim::average::{AverageKind, average_step};
//! let device = zoo_device::from_name("flex").unwrap();
//! let avg = Tensor::<1>::from_floats([0.0, 1.0], &device);
//! let now = Tensor::<1>::from_floats([1.0, 3.0], &device);
//! // EMA with decay 0.9 after the first (copying) update: 0.9 avg + 0.1 now.
//! let v: Vec<f32> = average_step(avg, now, AverageKind::Ema { decay: 0.9 }, 1)
//!     .into_data().try_into_vec().unwrap();
//! assert!((v[0] - 0.1).abs() < 1e-6 && (v[1] - 1.2).abs() < 1e-6);
//! ```

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Tensor;

use crate::optimizers::config::ConfigError;

/// How the average moves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AverageKind {
    /// `avg = decay avg + (1 - decay) model`, decay in `[0, 1)`.
    Ema {
        /// The decay (0.999 is common).
        decay: f64,
    },
    /// The equal average of every update's weights.
    Swa,
}

impl AverageKind {
    /// Checks the decay: in `[0, 1)` (1 would never move).
    pub fn validate(&self) -> Result<(), ConfigError> {
        match *self {
            Self::Ema { decay } if !(0.0..1.0).contains(&decay) => Err(ConfigError::new(format!(
                "EMA decay {decay}, expected a value in [0, 1)"
            ))),
            _ => Ok(()),
        }
    }

    /// The weight of the model in the update after `n_averaged` updates
    /// (`None`: the first update, which copies).
    pub fn weight(&self, n_averaged: usize) -> Option<f64> {
        if n_averaged == 0 {
            return None;
        }
        Some(match *self {
            Self::Ema { decay } => 1.0 - decay,
            Self::Swa => 1.0 / (n_averaged as f64 + 1.0),
        })
    }
}

/// One update of an averaged tensor after `n_averaged` updates:
/// `torch.lerp(avg, model, weight)` (a copy of `model` when `n_averaged` is 0).
pub fn average_step<const D: usize>(
    avg: Tensor<D>,
    model: Tensor<D>,
    kind: AverageKind,
    n_averaged: usize,
) -> Tensor<D> {
    match kind.weight(n_averaged) {
        None => model,
        // torch's lerp: from the start for weights below one half, from the end above.
        Some(w) if w < 0.5 => avg.clone() + (model - avg).mul_scalar(w),
        Some(w) => model.clone() - (model - avg).mul_scalar(1.0 - w),
    }
}

/// The running average of a module's weights (`AveragedModel`).
#[derive(Clone, Debug)]
pub struct WeightAverage<M> {
    kind: AverageKind,
    averaged: Option<M>,
    n_averaged: usize,
}

/// Collects a module's float tensors (parameters and running statistics), in visiting order.
struct Collect(Vec<Tensor<1>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val().detach();
        let n = t.shape().num_elements();
        self.0.push(t.reshape([n]));
    }
}

/// Replaces each float tensor by its update toward the collected ones.
struct Update {
    current: std::vec::IntoIter<Tensor<1>>,
    kind: AverageKind,
    n_averaged: usize,
}

impl ModuleMapper for Update {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, avg, mapper) = param.consume();
        let shape = avg.shape();
        let model = self
            .current
            .next()
            .expect("the averaged module and the model have the same structure")
            .to_device(&avg.device())
            .reshape(shape);
        let out = average_step(avg.detach(), model, self.kind, self.n_averaged);
        Param::from_mapped_value(id, out, mapper)
    }
}

impl<M: Module + Clone> WeightAverage<M> {
    /// An empty average of `kind` (its decay checked).
    pub fn new(kind: AverageKind) -> Result<Self, ConfigError> {
        kind.validate()?;
        Ok(Self {
            kind,
            averaged: None,
            n_averaged: 0,
        })
    }

    /// The kind.
    pub fn kind(&self) -> AverageKind {
        self.kind
    }

    /// Updates so far (torch's `n_averaged`).
    pub fn n_averaged(&self) -> usize {
        self.n_averaged
    }

    /// `update_parameters(model)`: the first call copies `model` (its
    /// [`Module::valid`] form, without autodiff), later ones move the
    /// average toward it.
    pub fn update(&mut self, model: &M) {
        let current = model.valid();
        self.averaged = Some(match self.averaged.take() {
            None => current,
            Some(avg) => {
                let mut collect = Collect(Vec::new());
                current.visit(&mut collect);
                avg.map(&mut Update {
                    current: collect.0.into_iter(),
                    kind: self.kind,
                    n_averaged: self.n_averaged,
                })
            }
        });
        self.n_averaged += 1;
    }

    /// The averaged module (`None` before the first update).
    pub fn averaged(&self) -> Option<&M> {
        self.averaged.as_ref()
    }

    /// Restores an average saved as `averaged` after `n_averaged` updates
    /// (a checkpoint's).
    pub fn restore(&mut self, averaged: M, n_averaged: usize) {
        self.averaged = (n_averaged > 0).then_some(averaged);
        self.n_averaged = n_averaged;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};

    #[derive(Module, Debug)]
    struct Net {
        fc: Linear,
        bn: BatchNorm,
    }

    #[test]
    fn module_average_equals_the_tensor_rule_on_every_weight_and_statistic() {
        let device = zoo_device::from_name("flex").unwrap();
        let make = |seed: u64| {
            device.seed(seed);
            Net {
                fc: LinearConfig::new(3, 2).init(&device),
                bn: BatchNormConfig::new(2).init(&device),
            }
        };
        let models = [make(1), make(2), make(3)];
        let mut avg = WeightAverage::new(AverageKind::Swa).unwrap();
        for m in &models {
            avg.update(m);
        }
        assert_eq!(avg.n_averaged(), 3);
        let got: Vec<f32> = avg
            .averaged()
            .unwrap()
            .fc
            .weight
            .val()
            .into_data()
            .try_into_vec_as()
            .unwrap();
        let w = |m: &Net| -> Vec<f32> { m.fc.weight.val().into_data().try_into_vec_as().unwrap() };
        let (a, b, c) = (w(&models[0]), w(&models[1]), w(&models[2]));
        for i in 0..got.len() {
            let want = (a[i] + b[i] + c[i]) / 3.0;
            assert!((got[i] - want).abs() < 1e-6, "{i}: {} vs {want}", got[i]);
        }
        assert!(WeightAverage::<Net>::new(AverageKind::Ema { decay: 1.0 }).is_err());
        let e = AverageKind::Ema { decay: -0.1 }.validate().unwrap_err();
        assert!(e.to_string().contains("decay -0.1"), "{e}");
    }
}
