//! The training loop every task shares ([`train`]): epochs over the
//! task's burn `DataLoader`, a progress bar with the running means of the
//! task's measures and its throughput, validation each epoch, checkpoints
//! written atomically each epoch (the task's model(s) and optimizer
//! state(s), the schedule's position, the history), resumption that
//! continues to the same numbers as an uninterrupted run, a JSON-lines
//! metrics log and curves in a PNG. A task ([`crate::task::Task`]) supplies
//! its batches, its step and its measures; [`crate::classify::fit`] is the
//! image-classification one.
//!
//! It is a small loop of its own rather than burn-train's `Learner`:
//! burn-train is not otherwise built here (its TUI dashboard, system-metrics
//! and event-store dependencies would be a second large build), and the
//! resumption contract — bit-for-bit the same trajectory — needs control of
//! the per-epoch shuffling seed and the device RNG that the loop below keeps.
//!
//! Resumption checks what it finds: the checkpoint records the run's
//! configuration (the loop's own settings, the task's
//! [`crate::task::Task::recorded`] and the caller's
//! [`TrainConfig::identity`]) and the SHA-256 of its files; `resume` refuses
//! a checkpoint of another configuration, naming the fields that differ,
//! checks that `state.json` is consistent, and falls back to the previous
//! kept checkpoint (saying so) when the newest is damaged. A non-finite
//! training or validation loss, or non-finite weights, stop the run before
//! anything is saved.
//!
//! Determinism: epoch `e` shuffles with seed `seed + e` and reseeds the
//! device RNG (dropout) with it, and batches are made in order on the
//! calling thread, so a run resumed from the checkpoint of epoch `e` repeats
//! exactly what the uninterrupted run did after epoch `e`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zoo_augment::transforms::Transform;
use zoo_optim::schedule::LrSchedule;

use crate::plot;
use crate::task::Task;

/// Why training stopped early.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A configuration value is out of range.
    #[error("TrainConfig: {0}")]
    Config(String),
    /// A file of the output directory could not be written or read.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A model or optimizer record could not be written.
    #[error("cannot save {path}: {reason}")]
    Save {
        /// The file.
        path: PathBuf,
        /// What burn's recorder said.
        reason: String,
    },
    /// A checkpoint could not be loaded.
    #[error("cannot resume from {path}: {reason}")]
    Checkpoint {
        /// The checkpoint directory.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The data loader failed.
    #[error("data: {0}")]
    Data(String),
    /// A loss or the weights became NaN or infinite; nothing of that epoch was saved.
    #[error(
        "the {which} became {loss} in epoch {epoch}; lower the learning rate (nothing of this epoch was saved)"
    )]
    Diverged {
        /// The epoch.
        epoch: usize,
        /// What became non-finite: `training loss`, `validation loss` or `weights`.
        which: String,
        /// The loss (NaN for the weights).
        loss: f64,
    },
    /// The curves could not be drawn.
    #[error("drawing the curves")]
    Plot(#[from] zoo_plot::PlotError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// How to train.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    /// Epochs in all (a resumed run stops at the same epoch).
    pub epochs: usize,
    /// Images per batch.
    pub batch_size: usize,
    /// The learning rate of each epoch (`lr(e - 1)` in epoch `e`: the
    /// schedule steps once per epoch, as `scheduler.step()` after each epoch).
    pub schedule: LrSchedule,
    /// Label smoothing of the cross-entropy.
    pub label_smoothing: f64,
    /// Seed of the shuffling and of the device RNG.
    pub seed: u64,
    /// Where checkpoints, `metrics.jsonl` and `curves.png` go; `None` writes nothing.
    pub out_dir: Option<PathBuf>,
    /// Continue from the newest checkpoint in `out_dir`, if there is one.
    pub resume: bool,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Checkpoints kept (the newest ones).
    pub keep_checkpoints: usize,
    /// Stop after this many epochs without a better validation accuracy.
    pub patience: Option<usize>,
    /// Augmentation of the training batches (on the device, after batching),
    /// its draws seeded by `seed` and the epoch; `None` trains on the images as they are.
    pub augment: Option<Arc<dyn Transform + Send + Sync>>,
    /// Weight averaging (EMA / SWA) of a classifier; validation and
    /// checkpoints then hold the averaged weights too.
    pub average: Option<crate::recipes::Averaging>,
    /// Mixing of a classifier's training batches (MixUp, CutMix, SamplePairing).
    pub mix: Option<crate::recipes::Mix>,
    /// What else identifies the run (the model, its options, the data
    /// source, ...: `("relu", "true")`), recorded in each checkpoint beside
    /// the loop's own settings; `resume` refuses a checkpoint whose
    /// recorded values differ. The number of epochs is not part of it: a
    /// run may be resumed to train longer.
    pub identity: Vec<(String, String)>,
}

impl TrainConfig {
    /// `epochs` epochs of `batch_size` at a constant `lr`; no output files.
    pub fn new(epochs: usize, batch_size: usize, lr: f64) -> Self {
        Self {
            epochs,
            batch_size,
            schedule: LrSchedule::Step {
                base_lr: lr,
                step_size: usize::MAX,
                gamma: 1.0,
            },
            label_smoothing: 0.0,
            seed: 0,
            out_dir: None,
            resume: false,
            progress: true,
            keep_checkpoints: 2,
            patience: None,
            augment: None,
            average: None,
            mix: None,
            identity: Vec::new(),
        }
    }

    /// Everything a checkpoint records of this run: the loop's settings
    /// that shape the trajectory, the task's own and [`Self::identity`].
    fn recorded(&self, task: Vec<(String, String)>) -> BTreeMap<String, String> {
        let mut m: BTreeMap<String, String> = self.identity.iter().cloned().collect();
        m.insert("batch_size".into(), self.batch_size.to_string());
        m.insert("seed".into(), self.seed.to_string());
        m.insert("schedule".into(), format!("{:?}", self.schedule));
        if let Some(a) = &self.average {
            m.insert("average".into(), format!("{a:?}"));
        }
        if let Some(x) = &self.mix {
            m.insert("mix".into(), format!("{x:?}"));
        }
        m.extend(task);
        m
    }

    fn check(&self) -> Result<(), TrainError> {
        let bad = |s: String| Err(TrainError::Config(s));
        if self.epochs == 0 || self.batch_size == 0 {
            return bad(format!(
                "epochs {} and batch_size {}, expected both > 0",
                self.epochs, self.batch_size
            ));
        }
        zoo_optim::check_lr(self.schedule.lr(0)).map_err(|e| TrainError::Config(e.to_string()))?;
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return bad(format!(
                "label_smoothing {}, expected a value in [0, 1)",
                self.label_smoothing
            ));
        }
        if self.resume && self.out_dir.is_none() {
            return bad("resume needs an out_dir holding checkpoints".into());
        }
        if let Some(a) = &self.average {
            a.validate().map_err(TrainError::Config)?;
        }
        if let Some(x) = &self.mix {
            x.validate().map_err(TrainError::Config)?;
        }
        if self.keep_checkpoints == 0 {
            return bad("keep_checkpoints 0, expected at least 1".into());
        }
        Ok(())
    }
}

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

/// What is saved beside the model and optimizer in a checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TrainerState {
    epoch: usize,
    seed: u64,
    /// Steps of the schedule taken (= epochs done).
    schedule_steps: usize,
    history: Vec<EpochRecord>,
    /// The run's configuration ([`TrainConfig::recorded`]).
    #[serde(default)]
    config: BTreeMap<String, String>,
    /// SHA-256 (hex) of `model.bpk` and `optim.bpk`.
    #[serde(default)]
    sha256: BTreeMap<String, String>,
}

impl TrainerState {
    /// Whether this state can be the checkpoint of epoch `dir_epoch`.
    fn check(&self, dir_epoch: usize) -> Result<(), String> {
        if self.epoch == 0 || self.epoch != dir_epoch {
            return Err(format!(
                "state.json says epoch {} in the folder of epoch {dir_epoch}",
                self.epoch
            ));
        }
        if self.schedule_steps != self.epoch {
            return Err(format!(
                "state.json: {} schedule steps after {} epochs, expected as many",
                self.schedule_steps, self.epoch
            ));
        }
        let epochs: Vec<usize> = self.history.iter().map(|r| r.epoch).collect();
        if epochs.len() != self.epoch || epochs.iter().enumerate().any(|(i, &e)| e != i + 1) {
            return Err(format!(
                "state.json: the history has epochs {epochs:?}, expected 1 to {}",
                self.epoch
            ));
        }
        Ok(())
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The entries of `want` (this run) that `got` (a checkpoint) records
/// differently, as `field: checkpoint X, this run Y`.
fn config_differences(
    got: &BTreeMap<String, String>,
    want: &BTreeMap<String, String>,
) -> Vec<String> {
    let keys: std::collections::BTreeSet<&String> = got.keys().chain(want.keys()).collect();
    keys.into_iter()
        .filter(|k| got.get(*k) != want.get(*k))
        .map(|k| {
            let show = |v: Option<&String>| v.map_or("(not set)".to_string(), |v| format!("`{v}`"));
            format!(
                "{k}: checkpoint {}, this run {}",
                show(got.get(k)),
                show(want.get(k))
            )
        })
        .collect()
}

/// Adds up `w - w` over every float parameter: NaN when any value is NaN or infinite.
struct FiniteCheck(Option<Tensor<1>>);

impl ModuleVisitor for FiniteCheck {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val().detach().inner();
        if t.shape().num_elements() == 0 {
            return;
        }
        let zero = (t.clone() - t).sum();
        self.0 = Some(match self.0.take() {
            Some(acc) => acc + zero,
            None => zero,
        });
    }
}

/// Whether every float parameter of `model` is finite (one read-back):
/// for [`Task::weights_finite`].
pub fn weights_finite<M: Module>(model: &M) -> bool {
    let mut v = FiniteCheck(None);
    model.visit(&mut v);
    v.0.is_none_or(|t| t.into_scalar::<f32>().is_finite())
}

/// What [`train`] returns (the task keeps the trained model).
#[derive(Debug, Clone)]
pub struct Run {
    /// Every epoch's record, the resumed ones included.
    pub history: Vec<EpochRecord>,
    /// The epoch a resumed run started after.
    pub resumed_from: Option<usize>,
}

fn checkpoint_dirs(out: &Path) -> Vec<(usize, PathBuf)> {
    let mut found: Vec<(usize, PathBuf)> = fs::read_dir(out.join("checkpoints"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let epoch = name.strip_prefix("epoch-")?.parse().ok()?;
            e.path()
                .join("state.json")
                .is_file()
                .then(|| (epoch, e.path()))
        })
        .collect();
    found.sort();
    found
}

/// Writes the checkpoint of `state.epoch` through a temporary directory
/// renamed when complete; keeps the newest `keep`.
fn save_checkpoint<T: Task>(
    out: &Path,
    task: &T,
    state: &TrainerState,
    keep: usize,
) -> Result<PathBuf, TrainError> {
    let dir = out.join("checkpoints");
    fs::create_dir_all(&dir).map_err(io(&dir))?;
    let final_dir = dir.join(format!("epoch-{:04}", state.epoch));
    let tmp = dir.join(format!(".epoch-{:04}.tmp", state.epoch));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let mut state = state.clone();
    for name in task.save(&tmp)? {
        let path = tmp.join(&name);
        let bytes = fs::read(&path).map_err(io(&path))?;
        state.sha256.insert(name, sha256_hex(&bytes));
    }
    let state_path = tmp.join("state.json");
    let json = serde_json::to_string_pretty(&state).expect("plain data serialises");
    fs::write(&state_path, json).map_err(io(&state_path))?;
    let _ = fs::remove_dir_all(&final_dir);
    fs::rename(&tmp, &final_dir).map_err(io(&final_dir))?;
    let all = checkpoint_dirs(out);
    for (_, old) in all.iter().take(all.len().saturating_sub(keep)) {
        let _ = fs::remove_dir_all(old);
    }
    Ok(final_dir)
}

/// Why a checkpoint was not loaded.
enum LoadError {
    /// Sound, but made by a run with another configuration: no fallback.
    OtherRun(TrainError),
    /// Damaged or inconsistent: the previous checkpoint may be used.
    Damaged(TrainError),
}

/// Loads the checkpoint of epoch `dir_epoch` in `dir` into `task`, checked
/// against this run's configuration `config`.
fn load_checkpoint<T: Task>(
    dir: &Path,
    dir_epoch: usize,
    config: &BTreeMap<String, String>,
    task: &mut T,
) -> Result<TrainerState, LoadError> {
    let fail = |reason: String| {
        LoadError::Damaged(TrainError::Checkpoint {
            path: dir.to_path_buf(),
            reason,
        })
    };
    let state: TrainerState = serde_json::from_slice(
        &fs::read(dir.join("state.json")).map_err(|e| fail(format!("state.json: {e}")))?,
    )
    .map_err(|e| fail(format!("state.json: {e}")))?;
    state.check(dir_epoch).map_err(fail)?;
    if state.config.is_empty() {
        eprintln!(
            "warning: {} records no run configuration (made by an older version); it is not compared with this run's",
            dir.display()
        );
    } else {
        let diff = config_differences(&state.config, config);
        if !diff.is_empty() {
            return Err(LoadError::OtherRun(TrainError::Checkpoint {
                path: dir.to_path_buf(),
                reason: format!(
                    "it was made by a run with another configuration ({}); resume with the same flags, or train into another --out",
                    diff.join("; ")
                ),
            }));
        }
    }
    if state.sha256.is_empty() {
        eprintln!(
            "warning: {} records no checksums; its files are not verified",
            dir.display()
        );
    }
    for (name, want) in &state.sha256 {
        let bytes = fs::read(dir.join(name)).map_err(|e| fail(format!("{name}: {e}")))?;
        if *want != sha256_hex(&bytes) {
            return Err(fail(format!(
                "{name} does not match the SHA-256 recorded in state.json (the file is damaged)"
            )));
        }
    }
    task.load(dir).map_err(fail)?;
    Ok(state)
}

/// Atomically replaces `path` with `bytes`.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))
}

fn write_logs(out: &Path, history: &[EpochRecord]) -> Result<(), TrainError> {
    let mut jsonl = String::new();
    for r in history {
        jsonl.push_str(&serde_json::to_string(r).expect("plain data serialises"));
        jsonl.push('\n');
    }
    write_atomic(&out.join("metrics.jsonl"), jsonl.as_bytes())?;
    let png = plot::curves_png(history)?;
    write_atomic(&out.join("curves.png"), &png)
}

/// `name value` pairs for a progress or epoch line.
fn show(prefix: &str, values: &[(&str, f64)]) -> String {
    values
        .iter()
        .map(|(k, v)| {
            if *v != 0.0 && v.abs() < 0.01 {
                format!("{prefix}{k} {v:.3e}")
            } else {
                format!("{prefix}{k} {v:.4}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Running sums of a task's step measures over an epoch.
struct Sums {
    names: Vec<&'static str>,
    values: Vec<Tensor<1>>,
    count: usize,
}

impl Sums {
    fn new() -> Self {
        Self {
            names: Vec::new(),
            values: Vec::new(),
            count: 0,
        }
    }

    fn add(&mut self, step: crate::task::Step) {
        self.count += step.count;
        for (name, v) in step.sums {
            match self.names.iter().position(|n| *n == name) {
                Some(i) => self.values[i] = self.values[i].clone() + v,
                None => {
                    self.names.push(name);
                    self.values.push(v);
                }
            }
        }
    }

    /// The means (one read-back each).
    fn means(&self) -> Vec<(&'static str, f64)> {
        let n = self.count.max(1) as f64;
        self.names
            .iter()
            .zip(&self.values)
            .map(|(k, v)| (*k, v.clone().into_scalar::<f32>() as f64 / n))
            .collect()
    }
}

/// Trains `task` for `config.epochs` epochs (or from its newest checkpoint
/// when `config.resume`), validating after each. See the module docs for
/// what is written.
pub fn train<T: Task>(task: &mut T, config: &TrainConfig) -> Result<Run, TrainError> {
    config.check()?;
    let recorded = config.recorded(task.recorded());
    let mut history = Vec::new();
    let mut start_epoch = 1;
    let mut resumed_from = None;
    if let Some(out) = &config.out_dir {
        fs::create_dir_all(out).map_err(io(out))?;
        if config.resume {
            let found = checkpoint_dirs(out);
            if found.is_empty() {
                eprintln!(
                    "resume: no checkpoint in {}; training from epoch 1",
                    out.join("checkpoints").display()
                );
            }
            let mut damaged = Vec::new();
            for (epoch, dir) in found.iter().rev() {
                match load_checkpoint(dir, *epoch, &recorded, task) {
                    Ok(state) => {
                        if !damaged.is_empty() {
                            eprintln!(
                                "resume: the newer checkpoint is damaged ({}); resuming from {} instead",
                                damaged.join("; "),
                                dir.display()
                            );
                        }
                        history = state.history;
                        start_epoch = state.epoch + 1;
                        resumed_from = Some(state.epoch);
                        break;
                    }
                    Err(LoadError::OtherRun(e)) => return Err(e),
                    Err(LoadError::Damaged(e)) => damaged.push(e.to_string()),
                }
            }
            if resumed_from.is_none() && !damaged.is_empty() {
                return Err(TrainError::Checkpoint {
                    path: out.join("checkpoints"),
                    reason: format!("every kept checkpoint is damaged: {}", damaged.join("; ")),
                });
            }
        }
    }
    let (watch, higher) = task.monitor();
    let watch = format!("valid_{watch}");
    let mode = if higher {
        zoo_optim::Mode::Max
    } else {
        zoo_optim::Mode::Min
    };
    let mut stopper = config
        .patience
        .map(|p| zoo_optim::EarlyStopping::new(mode, p, 0.0));
    for r in &history {
        if let Some(s) = stopper.as_mut() {
            s.update(r.get(&watch));
        }
    }
    let batches = task.batches_per_epoch();
    for epoch in start_epoch..=config.epochs {
        let seed = config.seed.wrapping_add(epoch as u64);
        let loader = task.train_loader(epoch, seed);
        let lr = config.schedule.lr(epoch - 1);
        let bar = if config.progress {
            let bar = ProgressBar::new(batches as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "epoch {prefix} [{bar:25}] {pos}/{len} {msg} ({elapsed} < {eta})",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(format!("{epoch}/{}", config.epochs));
            bar
        } else {
            ProgressBar::hidden()
        };
        let unit = task.unit();
        let start = Instant::now();
        let mut sums = Sums::new();
        for (i, batch) in loader.iter().enumerate() {
            if i == batches {
                break;
            }
            let batch = batch.map_err(|e| TrainError::Data(e.to_string()))?;
            sums.add(task.step(batch, lr));
            bar.inc(1);
            // Reading the sums syncs the device: only a few times per epoch.
            if config.progress && (i % 20 == 19 || i + 1 == batches) {
                let rate = sums.count as f64 / start.elapsed().as_secs_f64();
                bar.set_message(format!("{} {rate:.0} {unit}/s", show("", &sums.means())));
            }
        }
        let train_means = sums.means();
        let seconds = start.elapsed().as_secs_f64();
        bar.finish_and_clear();
        if let Some((name, v)) = train_means
            .iter()
            .find(|(k, v)| k.contains("loss") && !v.is_finite())
        {
            return Err(TrainError::Diverged {
                epoch,
                which: format!("training {name}"),
                loss: *v,
            });
        }
        let valid = task.validate();
        if let Some((name, v)) = valid
            .iter()
            .find(|(k, v)| k.contains("loss") && !v.is_finite())
        {
            return Err(TrainError::Diverged {
                epoch,
                which: format!("validation {name}"),
                loss: *v,
            });
        }
        if !task.weights_finite() {
            return Err(TrainError::Diverged {
                epoch,
                which: "weights".into(),
                loss: f64::NAN,
            });
        }
        let mut metrics = BTreeMap::new();
        for (k, v) in &train_means {
            metrics.insert(format!("train_{k}"), *v);
        }
        let derived = task.derived(&train_means);
        for (k, v) in &derived {
            metrics.insert(format!("train_{k}"), *v);
        }
        for (k, v) in &valid {
            metrics.insert(format!("valid_{k}"), *v);
        }
        let record = EpochRecord {
            epoch,
            lr,
            metrics,
            items_per_sec: sums.count as f64 / seconds,
            seconds,
        };
        if config.progress {
            let shown: Vec<(&str, f64)> =
                train_means.iter().chain(derived.iter()).copied().collect();
            eprintln!(
                "epoch {epoch:>3}/{}: lr {lr:.4} | train {} | valid {} | {:.0} {unit}/s",
                config.epochs,
                show("", &shown),
                show("", &valid),
                record.items_per_sec
            );
            if let Some(text) = task.report(epoch) {
                eprintln!("{text}");
            }
        }
        let monitored = record.get(&watch);
        history.push(record);
        if let Some(out) = &config.out_dir {
            let state = TrainerState {
                epoch,
                seed: config.seed,
                schedule_steps: epoch,
                history: history.clone(),
                config: recorded.clone(),
                sha256: BTreeMap::new(),
            };
            save_checkpoint(out, task, &state, config.keep_checkpoints)?;
            write_logs(out, &history)?;
        }
        if let Some(s) = stopper.as_mut()
            && s.update(monitored)
        {
            if config.progress {
                eprintln!(
                    "early stop: no better {watch} for {} epochs",
                    config.patience.unwrap_or(0)
                );
            }
            break;
        }
    }
    Ok(Run {
        history,
        resumed_from,
    })
}
