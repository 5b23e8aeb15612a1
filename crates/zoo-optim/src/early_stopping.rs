//! Early stopping on a validation metric with patience.

/// Whether a smaller or a larger metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Lower is better (losses).
    Min,
    /// Higher is better (accuracy).
    Max,
}

/// Stops training when the metric has not improved by more than `min_delta`
/// for `patience` consecutive epochs (as Keras' `EarlyStopping` and
/// PyTorch Lightning's do).
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    mode: Mode,
    patience: usize,
    min_delta: f64,
    best: Option<f64>,
    best_epoch: usize,
    bad_epochs: usize,
    epoch: usize,
}

impl EarlyStopping {
    /// A new tracker.
    pub fn new(mode: Mode, patience: usize, min_delta: f64) -> Self {
        Self {
            mode,
            patience,
            min_delta: min_delta.abs(),
            best: None,
            best_epoch: 0,
            bad_epochs: 0,
            epoch: 0,
        }
    }

    /// Records one epoch's metric; returns `true` when training should stop.
    /// A NaN metric never counts as an improvement.
    pub fn update(&mut self, metric: f64) -> bool {
        let improved = match self.best {
            None => !metric.is_nan(),
            Some(best) => match self.mode {
                Mode::Min => metric < best - self.min_delta,
                Mode::Max => metric > best + self.min_delta,
            },
        };
        if improved {
            self.best = Some(metric);
            self.best_epoch = self.epoch;
            self.bad_epochs = 0;
        } else {
            self.bad_epochs += 1;
        }
        self.epoch += 1;
        self.bad_epochs >= self.patience
    }

    /// The best metric so far and the (0-based) epoch it was seen at.
    pub fn best(&self) -> Option<(f64, usize)> {
        self.best.map(|b| (b, self.best_epoch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_after_patience_epochs_without_improvement() {
        let mut es = EarlyStopping::new(Mode::Min, 2, 0.01);
        assert!(!es.update(1.0));
        assert!(!es.update(0.5));
        assert!(!es.update(0.495)); // within min_delta: not an improvement
        assert!(es.update(0.6));
        assert_eq!(es.best(), Some((0.5, 1)));
    }
}
