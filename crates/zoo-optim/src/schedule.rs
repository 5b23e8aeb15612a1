//! Learning-rate schedules of `torch.optim.lr_scheduler`, in closed form.
//!
//! `lr(t)` is the rate after `t` calls of `scheduler.step()`, so `lr(0)` is
//! the base rate of most schedules (the warm-up's start for the warm-up one).
//! burn's own schedulers (`burn::lr_scheduler`) count steps differently;
//! these reproduce PyTorch's sequences exactly.

use std::f64::consts::PI;

use burn::lr_scheduler::{LrScheduler, LrSchedulerRecord};
use burn::optim::{LearningRate, RecordState};

/// A learning-rate schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum LrSchedule {
    /// `StepLR`: `base * gamma^floor(t / step_size)`.
    Step {
        /// Initial rate.
        base_lr: f64,
        /// Steps between decays.
        step_size: usize,
        /// Decay factor.
        gamma: f64,
    },
    /// `MultiStepLR`: `base * gamma^(number of milestones <= t)`.
    MultiStep {
        /// Initial rate.
        base_lr: f64,
        /// Steps at which the rate decays.
        milestones: Vec<usize>,
        /// Decay factor.
        gamma: f64,
    },
    /// `ExponentialLR`: `base * gamma^t`.
    Exponential {
        /// Initial rate.
        base_lr: f64,
        /// Decay factor per step.
        gamma: f64,
    },
    /// `CosineAnnealingLR`: `eta_min + (base - eta_min) (1 + cos(pi t / T_max)) / 2`
    /// (past `T_max` the cosine continues, as PyTorch's does).
    Cosine {
        /// Initial rate.
        base_lr: f64,
        /// Half period.
        t_max: usize,
        /// Minimum rate.
        eta_min: f64,
    },
    /// `SequentialLR([LinearLR(start_factor, end_factor, warmup_iters),
    /// CosineAnnealingLR(T_max, eta_min)], milestones=[warmup_iters])`:
    /// a linear warm-up, then cosine annealing restarted at the milestone.
    LinearWarmupCosine {
        /// Rate the warm-up rises to (the cosine's start).
        base_lr: f64,
        /// Warm-up factor at step 0.
        start_factor: f64,
        /// Warm-up factor at its end.
        end_factor: f64,
        /// Warm-up length in steps (the switch to cosine).
        warmup_iters: usize,
        /// Half period of the cosine.
        t_max: usize,
        /// Minimum rate of the cosine.
        eta_min: f64,
    },
}

fn cosine(base: f64, eta_min: f64, t_max: usize, t: usize) -> f64 {
    if t_max == 0 {
        return base;
    }
    eta_min + (base - eta_min) * (1.0 + (PI * t as f64 / t_max as f64).cos()) / 2.0
}

impl LrSchedule {
    /// The rate after `t` scheduler steps.
    pub fn lr(&self, t: usize) -> f64 {
        match self {
            LrSchedule::Step {
                base_lr,
                step_size,
                gamma,
            } => base_lr * gamma.powi((t / (*step_size).max(1)) as i32),
            LrSchedule::MultiStep {
                base_lr,
                milestones,
                gamma,
            } => base_lr * gamma.powi(milestones.iter().filter(|&&m| m <= t).count() as i32),
            LrSchedule::Exponential { base_lr, gamma } => base_lr * gamma.powi(t as i32),
            LrSchedule::Cosine {
                base_lr,
                t_max,
                eta_min,
            } => cosine(*base_lr, *eta_min, *t_max, t),
            LrSchedule::LinearWarmupCosine {
                base_lr,
                start_factor,
                end_factor,
                warmup_iters,
                t_max,
                eta_min,
            } => {
                if t < *warmup_iters {
                    let frac = t as f64 / *warmup_iters as f64;
                    base_lr * (start_factor + (end_factor - start_factor) * frac)
                } else {
                    cosine(*base_lr, *eta_min, *t_max, t - warmup_iters)
                }
            }
        }
    }

    /// The first `steps` rates: `lr(0) .. lr(steps - 1)`.
    pub fn lrs(&self, steps: usize) -> Vec<f64> {
        (0..steps).map(|t| self.lr(t)).collect()
    }
}

/// The recorded state of a [`ScheduleState`]: its step counter.
#[derive(RecordState, Clone, Debug)]
pub struct ScheduleRecord {
    /// Steps taken.
    pub t: usize,
}

impl LrScheduler for ScheduleState {
    fn step(&mut self) -> LearningRate {
        let lr = self.schedule.lr(self.t);
        self.t += 1;
        lr
    }

    fn to_record(&self) -> LrSchedulerRecord {
        LrSchedulerRecord::from_state(&ScheduleRecord { t: self.t })
    }

    fn load_record(&mut self, record: LrSchedulerRecord) {
        if let Some(state) = record.into_state::<ScheduleRecord>() {
            self.t = state.t;
        }
    }
}

/// An [`LrSchedule`] with its step counter, usable as burn's `LrScheduler`:
/// the `n`-th call of `step()` returns `lr(n)` (starting from `lr(0)`).
#[derive(Debug, Clone)]
pub struct ScheduleState {
    /// The schedule.
    pub schedule: LrSchedule,
    /// Steps taken.
    pub t: usize,
}

impl From<LrSchedule> for ScheduleState {
    fn from(schedule: LrSchedule) -> Self {
        Self { schedule, t: 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_forms() {
        let s = LrSchedule::Step {
            base_lr: 0.1,
            step_size: 3,
            gamma: 0.5,
        };
        assert_eq!(s.lrs(7), vec![0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025]);
        let c = LrSchedule::Cosine {
            base_lr: 1.0,
            t_max: 4,
            eta_min: 0.0,
        };
        // cos(pi/4) -> (1 + 0.7071) / 2; at T_max the minimum; then back up.
        let l = c.lrs(6);
        assert!(
            (l[1] - 0.853_553_4).abs() < 1e-6 && l[4].abs() < 1e-12 && (l[5] - l[3]).abs() < 1e-12
        );
        let w = LrSchedule::LinearWarmupCosine {
            base_lr: 0.1,
            start_factor: 0.1,
            end_factor: 1.0,
            warmup_iters: 5,
            t_max: 15,
            eta_min: 0.0,
        };
        assert!((w.lr(0) - 0.01).abs() < 1e-12 && (w.lr(5) - 0.1).abs() < 1e-12);
    }
}
