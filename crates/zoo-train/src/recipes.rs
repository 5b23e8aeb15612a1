//! The training recipes [`crate::classify`] applies in the loop: weight
//! averaging of the model (EMA each step, or SWA each epoch from an epoch
//! on; `zoo_optim::average`) and mixing of the training batches (MixUp,
//! CutMix, SamplePairing with its schedule; `zoo_augment::mix`).

use zoo_augment::mix::PairingSchedule;
use zoo_optim::average::AverageKind;

/// Weight averaging during training.
#[derive(Clone, Debug, PartialEq)]
pub enum Averaging {
    /// An exponential moving average updated after every step
    /// (`AveragedModel(multi_avg_fn=get_ema_multi_avg_fn(decay))`).
    Ema {
        /// The decay, in `[0, 1)`.
        decay: f64,
    },
    /// Stochastic weight averaging: the equal average of the weights at the
    /// end of each epoch from `start_epoch` (from 1) on, its batch-norm
    /// statistics then recomputed over the training images ([`update_bn`]).
    Swa {
        /// The first epoch whose weights join the average.
        start_epoch: usize,
    },
}

impl Averaging {
    /// The averaging rule.
    pub fn kind(&self) -> AverageKind {
        match *self {
            Self::Ema { decay } => AverageKind::Ema { decay },
            Self::Swa { .. } => AverageKind::Swa,
        }
    }

    /// Checks the values (decay in `[0, 1)`, a start epoch of at least 1).
    pub fn validate(&self) -> Result<(), String> {
        self.kind().validate().map_err(|e| e.to_string())?;
        if let Self::Swa { start_epoch: 0 } = self {
            return Err("SWA start epoch 0, expected an epoch from 1".into());
        }
        Ok(())
    }
}

/// Mixing of the training batches, with soft-target cross-entropy for
/// MixUp and CutMix.
#[derive(Clone, Debug, PartialEq)]
pub enum Mix {
    /// `v2.MixUp(alpha)`: `lam ~ Beta(alpha, alpha)` per batch.
    MixUp {
        /// The Beta parameter (> 0; v2's default 1).
        alpha: f64,
    },
    /// `v2.CutMix(alpha)`.
    CutMix {
        /// The Beta parameter (> 0).
        alpha: f64,
    },
    /// SamplePairing (Inoue 2018) in the epochs its schedule says (counted from 0).
    Pairing(PairingSchedule),
}

/// The names [`Mix::from_name`] knows.
pub const MIX_NAMES: [&str; 3] = ["mixup", "cutmix", "pairing"];

impl Mix {
    /// `mixup` or `cutmix` with `alpha`, or `pairing` with the paper's
    /// schedule scaled to `epochs` (off for the first tenth, 8 on / 2 off,
    /// off again for the last tenth); another name is an error listing them.
    pub fn from_name(name: &str, alpha: f64, epochs: usize) -> Result<Self, String> {
        let mix = match name {
            "mixup" => Self::MixUp { alpha },
            "cutmix" => Self::CutMix { alpha },
            "pairing" => {
                let tenth = epochs / 10;
                Self::Pairing(PairingSchedule::paper(
                    tenth,
                    (tenth > 0).then_some(epochs - tenth),
                ))
            }
            other => {
                return Err(format!(
                    "mix `{other}`, expected one of {}",
                    MIX_NAMES.join(", ")
                ));
            }
        };
        mix.validate()?;
        Ok(mix)
    }

    /// Checks alpha (> 0 and finite).
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Self::MixUp { alpha } | Self::CutMix { alpha }
                if !(alpha > 0.0 && alpha.is_finite()) =>
            {
                Err(format!("mix alpha {alpha}, expected a finite value > 0"))
            }
            _ => Ok(()),
        }
    }
}

/// Indices (in visiting order of the module's float tensors) of the
/// batch-norm running statistics: the tensors whose path ends in
/// `running_mean` or `running_var` (zoo-layers' and burn's `BatchNorm`).
fn running_stat_indices<M: burn::module::Module>(model: &M) -> Vec<usize> {
    zoo_optim::groups::parameter_paths(model)
        .iter()
        .enumerate()
        .filter(|(_, p)| p.ends_with("running_mean") || p.ends_with("running_var"))
        .map(|(i, _)| i)
        .collect()
}

/// Reads (as flat host vectors) or replaces the running statistics.
struct Stats {
    wanted: Vec<usize>,
    index: usize,
    /// Read (when not writing): each statistic's values in order.
    read: Vec<Vec<f32>>,
    /// Write: the values to set, in order (`None`: read only).
    write: Option<std::vec::IntoIter<Vec<f32>>>,
}

impl Stats {
    fn new(wanted: &[usize], write: Option<Vec<Vec<f32>>>) -> Self {
        Self {
            wanted: wanted.to_vec(),
            index: 0,
            read: Vec::new(),
            write: write.map(|w| w.into_iter()),
        }
    }
}

impl burn::module::ModuleMapper for Stats {
    fn map_float<const D: usize>(
        &mut self,
        param: burn::module::Param<burn::tensor::Tensor<D>>,
    ) -> burn::module::Param<burn::tensor::Tensor<D>> {
        let i = self.index;
        self.index += 1;
        if !self.wanted.contains(&i) {
            return param;
        }
        let (id, t, mapper) = param.consume();
        let out = match self.write.as_mut() {
            // Writing: the values replace the tensor, nothing is read back.
            Some(w) => {
                let v = w.next().expect("one value list per statistic");
                burn::tensor::Tensor::<D>::from_data(
                    burn::tensor::TensorData::new(v, t.shape()),
                    &t.device(),
                )
            }
            None => {
                let values: Vec<f32> = t
                    .clone()
                    .into_data()
                    .try_into_vec_as::<f32>()
                    .expect("float running statistics");
                self.read.push(values);
                t
            }
        };
        burn::module::Param::from_mapped_value(id, out, mapper)
    }
}

/// `x` on the autodiff form of its device (`to_device` between a device and
/// its autodiff form keeps a plain tensor plain).
fn to_autodiff(x: burn::tensor::Tensor<4>, ad: &burn::tensor::Device) -> burn::tensor::Tensor<4> {
    if x.device().is_autodiff() {
        x
    } else {
        burn::tensor::Tensor::from_inner(x).to_device(ad)
    }
}

/// `torch.optim.swa_utils.update_bn`: the batch-norm running statistics of
/// `model` recomputed over `batches` in training mode as the equal
/// (cumulative) average of each batch's statistics, which is what
/// `update_bn` gets by setting every layer's momentum to `None`. Returns
/// the model (its evaluation form) with the new statistics; a model
/// without batch norm, or no batches, is returned as it is.
///
/// Generic over the model: each layer's momentum `m` is learned from one
/// forward with the statistics set to 1 and one with them set to 0 (the
/// layer then holds `(1 - m) c + m s` for the batch statistic `s`), and the
/// batch statistic of every later forward is `held / m`. Training-mode
/// layers normalise with the batch's statistics, so the forwards do not
/// depend on the values set.
pub fn update_bn<M, I>(
    model: &M,
    batches: I,
    forward: &dyn Fn(&M, burn::tensor::Tensor<4>) -> burn::tensor::Tensor<2>,
    device: &burn::tensor::Device,
) -> M
where
    M: burn::module::Module + Clone,
    I: IntoIterator<Item = burn::tensor::Tensor<4>>,
{
    let wanted = running_stat_indices(model);
    if wanted.is_empty() {
        return model.clone();
    }
    // `valid()` gives copies with their own running-state storage (a
    // clone shares it) and folds in the updates a forward left pending.
    let read = |net: &M| -> Vec<Vec<f32>> {
        let mut s = Stats::new(&wanted, None);
        let _ = net.valid().map(&mut s);
        s.read
    };
    let set = |net: M, value: f32, like: &[Vec<f32>]| -> M {
        let values = like.iter().map(|v| vec![value; v.len()]).collect();
        net.map(&mut Stats::new(&wanted, Some(values)))
    };
    let original = read(model);
    let ad = device.clone().autodiff();
    let mut net = model.valid().train().to_device(&ad);
    let mut batches = batches.into_iter();
    let Some(first) = batches.next() else {
        return model.clone();
    };
    // The momenta: held = (1 - m) c + m s with c = 1, then c = 0.
    net = set(net, 1.0, &original);
    let first = to_autodiff(first, &ad);
    let _ = forward(&net, first.clone());
    let with_one = read(&net);
    net = set(net, 0.0, &original);
    let _ = forward(&net, first);
    let with_zero = read(&net);
    let momenta: Vec<Vec<f32>> = with_one
        .iter()
        .zip(&with_zero)
        .map(|(a, b)| a.iter().zip(b).map(|(a, b)| 1.0 - (a - b)).collect())
        .collect();
    let mut sums: Vec<Vec<f64>> = with_zero
        .iter()
        .zip(&momenta)
        .map(|(held, m)| held.iter().zip(m).map(|(h, m)| f64::from(h / m)).collect())
        .collect();
    let mut count = 1usize;
    for batch in batches {
        net = set(net, 0.0, &original);
        let _ = forward(&net, to_autodiff(batch, &ad));
        let held = read(&net);
        for ((sum, h), m) in sums.iter_mut().zip(&held).zip(&momenta) {
            for ((s, h), m) in sum.iter_mut().zip(h).zip(m) {
                *s += f64::from(h / m);
            }
        }
        count += 1;
    }
    // A layer with momentum 0 never moves its statistics: keep its own.
    let averaged: Vec<Vec<f32>> = sums
        .iter()
        .zip(&momenta)
        .zip(&original)
        .map(|((sum, m), orig)| {
            sum.iter()
                .zip(m)
                .zip(orig)
                .map(|((s, m), o)| {
                    if m.abs() < 1e-6 {
                        *o
                    } else {
                        (s / count as f64) as f32
                    }
                })
                .collect()
        })
        .collect();
    model.valid().map(&mut Stats::new(&wanted, Some(averaged)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;
    use burn::tensor::{Tensor, TensorData};
    use zoo_layers::norm::{BatchNorm, BatchNormConfig};

    #[derive(Module, Debug)]
    struct Net {
        bn: BatchNorm,
    }

    #[test]
    fn update_bn_sets_the_equal_average_of_the_batch_statistics() {
        let device = zoo_device::from_name("flex").unwrap();
        let mut net = Net {
            bn: BatchNormConfig::new(2).with_momentum(0.3).init(&device),
        };
        // Statistics from some other weights, which update_bn replaces.
        net.bn.running_mean =
            burn::module::RunningState::new(Tensor::from_floats([5.0, -5.0], &device));
        let net = net.valid();
        let mut rng = zoo_rng::Rng::new(4);
        let batches: Vec<Vec<f32>> = (0..3)
            .map(|b| {
                (0..4 * 2 * 3)
                    .map(|_| rng.unit() * (b + 1) as f32)
                    .collect()
            })
            .collect();
        let tensors: Vec<Tensor<4>> = batches
            .iter()
            .map(|v| Tensor::from_data(TensorData::new(v.clone(), [4, 2, 1, 3]), &device))
            .collect();
        let forward = |m: &Net, x: Tensor<4>| m.bn.forward(x).reshape([4, 6]);
        let out = update_bn(&net, tensors, &forward, &device);
        // By hand: each batch's per-channel mean and unbiased variance
        // over its 4 x 3 values, averaged over the three batches.
        let (mut mean, mut var) = ([0f64; 2], [0f64; 2]);
        for v in &batches {
            for c in 0..2 {
                let xs: Vec<f64> = (0..4)
                    .flat_map(|n| (0..3).map(move |k| (n, k)))
                    .map(|(n, k)| f64::from(v[n * 6 + c * 3 + k]))
                    .collect();
                let m = xs.iter().sum::<f64>() / 12.0;
                mean[c] += m / 3.0;
                var[c] += xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 11.0 / 3.0;
            }
        }
        let got_m: Vec<f32> = out
            .bn
            .running_mean
            .value()
            .into_data()
            .try_into_vec_as()
            .unwrap();
        let got_v: Vec<f32> = out
            .bn
            .running_var
            .value()
            .into_data()
            .try_into_vec_as()
            .unwrap();
        for c in 0..2 {
            assert!(
                (f64::from(got_m[c]) - mean[c]).abs() < 1e-5,
                "{got_m:?} {mean:?}"
            );
            assert!(
                (f64::from(got_v[c]) - var[c]).abs() < 1e-5,
                "{got_v:?} {var:?}"
            );
        }
    }

    #[test]
    fn bad_recipes_are_errors_naming_the_value() {
        let e = Mix::from_name("mosaic", 1.0, 10).unwrap_err();
        assert!(
            e.contains("mosaic") && e.contains("mixup, cutmix, pairing"),
            "{e}"
        );
        assert!(
            Mix::from_name("mixup", 0.0, 10)
                .unwrap_err()
                .contains("alpha 0")
        );
        let e = Averaging::Ema { decay: 1.0 }.validate().unwrap_err();
        assert!(e.contains("decay 1"), "{e}");
        assert!(Averaging::Swa { start_epoch: 0 }.validate().is_err());
        // Pairing over 20 epochs: off for 2, then 8 on / 2 off, off from 18.
        let Mix::Pairing(s) = Mix::from_name("pairing", 1.0, 20).unwrap() else {
            panic!()
        };
        let on: Vec<usize> = (0..20).filter(|&e| s.active(e)).collect();
        assert_eq!(on, [2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14, 15, 16, 17]);
    }
}
