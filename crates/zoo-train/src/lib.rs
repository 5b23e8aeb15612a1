//! Training glue of the zoo.
//!
//! - [`trainer::train`]: the training loop every task shares (epochs over
//!   the task's burn `DataLoader`, progress bar, validation, atomic
//!   checkpoints with the task's model(s), optimizer state(s) and the
//!   schedule's position, exact resumption, `metrics.jsonl`, `curves.png`).
//! - [`task::Task`]: what a task supplies to it (batches, a step, measures,
//!   saving and loading its state); [`classify`] is image classification,
//!   with [`classify::fit`] for the classification examples; [`language`]
//!   is the course's character language model (`train_ch8`); [`gan`] the
//!   GAN step with its two optimizers (`update_D` / `update_G`).
//! - [`checkpoint`]: the checkpoint format (atomic, checksummed, rotated,
//!   verified on resume, a fresh run refused a folder another run wrote),
//!   and [`checkpoint::verified_checkpoint_file`] for programs that load one
//!   file of a checkpoint.
//! - [`evaluate`]: a trained classifier's validation loss and confusion
//!   matrix on a set, and an ensemble's accuracy.
//! - [`metrics`]: accuracy, per-class and macro precision / recall / F1,
//!   the confusion matrix, perplexity; pixel accuracy, per-class accuracy,
//!   IoU and mean IoU for segmentation.
//! - [`error`]: [`TrainError`], why a run stopped; [`record`]:
//!   [`EpochRecord`], one epoch's measures (a line of `metrics.jsonl`).
//! - [`state`]: [`ModelState`], one model and its optimizer, the state of
//!   a one-model task (its save, load, finite check and step).
//! - [`plot`]: the loss/accuracy curves PNG.
//! - [`recipes`]: weight averaging (EMA, SWA) and batch mixing (MixUp,
//!   CutMix, SamplePairing) as the classification task applies them.
//!
//! ```
//! use zoo_train::metrics::ConfusionMatrix;
//! let mut cm = ConfusionMatrix::new(3);
//! cm.add(&[0, 1, 2, 2], &[0, 2, 2, 1]); // predictions, targets
//! assert_eq!(cm.accuracy(), 0.5);
//! ```

pub mod checkpoint;
pub mod classify;
pub mod error;
pub mod evaluate;
pub mod gan;
pub mod language;
pub mod loader;
pub mod metrics;
pub mod plot;
pub mod recipes;
pub mod record;
pub mod state;
pub mod task;
pub mod trainer;

pub use checkpoint::{CheckpointInfo, check_fresh_out, verified_checkpoint_file};
pub use classify::{Classification, ClassifyConfig, Outcome, fit, fit_with_aux};
pub use loader::IndexLoader;
pub use state::ModelState;
pub use task::{Step, Task};
pub use trainer::{EpochRecord, Run, TrainConfig, TrainError, train};
