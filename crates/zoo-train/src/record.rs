//! What one epoch measured: [`EpochRecord`], one line of `metrics.jsonl`,
//! kept in each checkpoint's history and drawn by [`crate::plot`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What one epoch measured (one line of `metrics.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch.
    pub epoch: usize,
    /// Learning rate used.
    pub lr: f64,
    /// The task's measures: `train_<name>`, the mean over the epoch's
    /// training items (train mode), and `valid_<name>`, the validation's
    /// (`train_loss`, `train_acc`, `valid_loss`, `valid_acc`,
    /// `valid_macro_f1` for a classifier).
    #[serde(flatten)]
    pub metrics: BTreeMap<String, f64>,
    /// Training throughput, in the task's unit (images, tokens) per second.
    #[serde(alias = "images_per_sec")]
    pub items_per_sec: f64,
    /// Wall time of the training part of the epoch.
    pub seconds: f64,
}

impl EpochRecord {
    /// The measure `name` (`"valid_acc"`), NaN when the task has none of that name.
    pub fn get(&self, name: &str) -> f64 {
        self.metrics.get(name).copied().unwrap_or(f64::NAN)
    }
}
