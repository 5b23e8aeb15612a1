//! Training glue of the zoo.
//!
//! - [`trainer::fit`]: the training loop the examples share (epochs over a
//!   burn `DataLoader`, train/eval modes, progress bar, validation,
//!   atomic checkpoints with model, optimizer and schedule state, exact
//!   resumption, `metrics.jsonl`, `curves.png`).
//! - [`metrics`]: accuracy, per-class and macro precision / recall / F1,
//!   the confusion matrix, perplexity.
//! - [`plot`]: the loss/accuracy curves PNG.
//!
//! ```
//! use zoo_train::metrics::ConfusionMatrix;
//! let mut cm = ConfusionMatrix::new(3);
//! cm.add(&[0, 1, 2, 2], &[0, 2, 2, 1]); // predictions, targets
//! assert_eq!(cm.accuracy(), 0.5);
//! ```

pub mod metrics;
pub mod plot;
pub mod trainer;

pub use trainer::{EpochRecord, Outcome, TrainConfig, TrainError, fit};
