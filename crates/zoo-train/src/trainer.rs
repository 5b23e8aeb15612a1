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
//! The checkpoint format lives in [`crate::checkpoint`]. A fresh run
//! refuses an output folder that holds anything (another run's checkpoints
//! would be deleted by the keep-newest rule, or its log mixed with this
//! one's), naming what is there and how to go on.
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
use std::time::Instant;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;
use indicatif::{ProgressBar, ProgressStyle};
use zoo_optim::schedule::LrSchedule;

use crate::checkpoint::{self, TrainerState};
pub use crate::error::TrainError;
use crate::error::io;
use crate::plot;
pub use crate::record::EpochRecord;
use crate::task::Task;

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
            seed: 0,
            out_dir: None,
            resume: false,
            progress: true,
            keep_checkpoints: 2,
            patience: None,
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
        if self.resume && self.out_dir.is_none() {
            return bad("resume needs an out_dir holding checkpoints".into());
        }
        if self.keep_checkpoints == 0 {
            return bad("keep_checkpoints 0, expected at least 1".into());
        }
        Ok(())
    }
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

fn write_logs(out: &Path, history: &[EpochRecord]) -> Result<(), TrainError> {
    let mut jsonl = String::new();
    for r in history {
        jsonl.push_str(&serde_json::to_string(r).expect("plain data serialises"));
        jsonl.push('\n');
    }
    checkpoint::write_atomic(&out.join("metrics.jsonl"), jsonl.as_bytes())?;
    let png = plot::curves_png(history)?;
    checkpoint::write_atomic(&out.join("curves.png"), &png)
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
        if config.resume {
            if let Some(state) = checkpoint::resume(out, &recorded, task)? {
                history = state.history;
                start_epoch = state.epoch + 1;
                resumed_from = Some(state.epoch);
            }
        } else {
            checkpoint::check_fresh_out(out)?;
        }
        fs::create_dir_all(out).map_err(io(out))?;
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
            checkpoint::save(out, task, &state, config.keep_checkpoints)?;
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
