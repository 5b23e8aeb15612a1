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
    /// end of each epoch from `start_epoch` (from 1) on.
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

#[cfg(test)]
mod tests {
    use super::*;

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
