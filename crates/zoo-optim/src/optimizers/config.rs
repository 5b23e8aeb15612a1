//! The value checks the optimizers share, and their error.

/// An optimizer or learning-rate value out of its range: names the
/// configuration, the field and the value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    message: String,
}

impl ConfigError {
    pub(crate) fn new(message: String) -> Self {
        Self { message }
    }
}

pub(crate) fn in_range(
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
        Err(ConfigError::new(format!(
            "{cfg}: {field} {v}, expected a value in [{lo}, {hi}{close}"
        )))
    }
}

pub(crate) fn non_negative(cfg: &str, field: &str, v: f64) -> Result<(), ConfigError> {
    if v >= 0.0 && v.is_finite() {
        Ok(())
    } else {
        Err(ConfigError::new(format!(
            "{cfg}: {field} {v}, expected a finite value >= 0"
        )))
    }
}

/// `v > 0` and finite in float32, the precision the models and optimizer
/// states run in (3.5e38 is finite in f64 and infinite in f32; 1e-50 is 0 there).
pub(crate) fn positive(cfg: &str, field: &str, v: f64) -> Result<(), ConfigError> {
    let f = v as f32;
    if v > 0.0 && f.is_finite() && f > 0.0 {
        Ok(())
    } else {
        Err(ConfigError::new(format!(
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
    use crate::optimizers::{AdaDeltaConfig, AdaGradConfig, AdamConfig, RmsPropConfig, SgdConfig};

    #[test]
    fn out_of_range_values_are_errors_naming_the_field_and_value() {
        let e = SgdConfig::new().with_momentum(1.0).validate().unwrap_err();
        assert_eq!(
            e.to_string(),
            "SgdConfig: momentum 1, expected a value in [0, 1)"
        );
        let e = SgdConfig::new()
            .with_nesterov(true)
            .try_init()
            .err()
            .unwrap();
        assert!(
            e.to_string().contains("Nesterov") && e.to_string().contains("momentum 0"),
            "{e}"
        );
        let e = AdamConfig::new().with_beta2(1.5).validate().unwrap_err();
        assert!(e.to_string().contains("AdamConfig: beta2 1.5"), "{e}");
        let e = RmsPropConfig::new().with_eps(0.0).validate().unwrap_err();
        assert!(e.to_string().contains("RmsPropConfig: eps 0"), "{e}");
        let e = AdaGradConfig::new()
            .with_lr_decay(-1.0)
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("AdaGradConfig: lr_decay -1"), "{e}");
        let e = AdaDeltaConfig::new().with_rho(2.0).validate().unwrap_err();
        assert!(e.to_string().contains("AdaDeltaConfig: rho 2"), "{e}");
        assert!(
            check_lr(-0.1)
                .unwrap_err()
                .to_string()
                .starts_with("learning rate: lr -0.1, expected a value > 0")
        );
        // Finite in f64, infinite in f32 (the precision the model runs in).
        let e = check_lr(3.5e38).unwrap_err();
        assert!(
            e.to_string()
                .contains("lr 350000000000000000000000000000000000000")
                && e.to_string().contains("float32"),
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
