//! The checkpoint format of the training loop: one folder per epoch
//! (`checkpoints/epoch-NNNN/`) holding the task's files and `state.json`
//! (the epoch, the seed, the schedule's position, the history, the run's
//! configuration and the SHA-256 of each file), written through a temporary
//! folder renamed when complete, the newest `keep` kept; loading verifies
//! the checksums and the configuration and falls back to the previous
//! checkpoint when the newest is damaged. A fresh run refuses a folder that
//! holds anything ([`check_fresh_out`]): a run never deletes or mixes with
//! what another wrote. [`verified_checkpoint_file`] lets a program that
//! loads one file of a checkpoint (`--weights`) check it and read what the
//! run recorded.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{TrainError, io};
use crate::record::EpochRecord;
use crate::task::Task;

/// What is saved beside the model and optimizer in a checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TrainerState {
    pub(crate) epoch: usize,
    pub(crate) seed: u64,
    /// Steps of the schedule taken (= epochs done).
    pub(crate) schedule_steps: usize,
    pub(crate) history: Vec<EpochRecord>,
    /// The run's configuration ([`TrainConfig::recorded`]).
    #[serde(default)]
    pub(crate) config: BTreeMap<String, String>,
    /// SHA-256 (hex) of `model.bpk` and `optim.bpk`.
    #[serde(default)]
    pub(crate) sha256: BTreeMap<String, String>,
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

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
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

/// The complete checkpoints of the run folder `out` (the
/// `checkpoints/epoch-NNNN` folders that hold a `state.json`), as
/// `(epoch, folder)`, oldest first.
pub fn checkpoint_dirs(out: &Path) -> Vec<(usize, PathBuf)> {
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
pub(crate) fn save<T: Task>(
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
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))
}

/// Loads the newest sound checkpoint of `out` into `task` (falling back to
/// an older one, saying so, when the newest is damaged); `None` when `out`
/// holds no checkpoint and nothing else, so the run starts at epoch 1.
/// Refuses a checkpoint of another configuration, and a folder without a
/// checkpoint that holds other files (they are not this run's).
pub(crate) fn resume<T: Task>(
    out: &Path,
    recorded: &BTreeMap<String, String>,
    task: &mut T,
) -> Result<Option<TrainerState>, TrainError> {
    let found = checkpoint_dirs(out);
    if found.is_empty() {
        // A run stopped before its first checkpoint leaves at most an
        // empty `checkpoints` folder (or a temporary one in it).
        if let Err(TrainError::OutInUse { held, .. }) = check_fresh_out(out)
            && held.iter().any(|h| h != "checkpoints")
        {
            return Err(TrainError::OutInUse {
                path: out.to_path_buf(),
                held,
                newest: None,
            });
        }
        eprintln!(
            "resume: no checkpoint in {}; training from epoch 1",
            out.join("checkpoints").display()
        );
        return Ok(None);
    }
    let mut damaged = Vec::new();
    for (epoch, dir) in found.iter().rev() {
        match load_checkpoint(dir, *epoch, recorded, task) {
            Ok(state) => {
                if !damaged.is_empty() {
                    eprintln!(
                        "resume: the newer checkpoint is damaged ({}); resuming from {} instead",
                        damaged.join("; "),
                        dir.display()
                    );
                }
                return Ok(Some(state));
            }
            Err(LoadError::OtherRun(e)) => return Err(e),
            Err(LoadError::Damaged(e)) => damaged.push(e.to_string()),
        }
    }
    Err(TrainError::Checkpoint {
        path: out.join("checkpoints"),
        reason: format!("every kept checkpoint is damaged: {}", damaged.join("; ")),
    })
}

/// Checks that a fresh run may write into `out`: it does not exist, or it
/// is an empty folder. Anything in it was written by another run (or by
/// someone else), and a fresh run would delete its checkpoints by the
/// keep-newest rule or mix its log with them, so it is refused, naming what
/// is there and how to go on.
pub fn check_fresh_out(out: &Path) -> Result<(), TrainError> {
    let entries = match fs::read_dir(out) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(TrainError::Io {
                path: out.to_path_buf(),
                source: e,
            });
        }
    };
    let mut held: Vec<String> = entries
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()
        .map_err(io(out))?;
    if held.is_empty() {
        return Ok(());
    }
    held.sort();
    let newest = checkpoint_dirs(out).last().map(|(e, _)| *e);
    Err(TrainError::OutInUse {
        path: out.to_path_buf(),
        held,
        newest,
    })
}

/// What the run that wrote a checkpoint recorded, read from the
/// `state.json` beside one of its files.
#[derive(Debug, Clone)]
pub struct CheckpointInfo {
    /// The epoch of the checkpoint.
    pub epoch: usize,
    /// The run's configuration: the loop's settings, the task's and the
    /// caller's [`crate::TrainConfig::identity`] (`"model"`, `"relu"`, ...).
    pub config: BTreeMap<String, String>,
}

impl CheckpointInfo {
    /// The recorded value of `key`, if any.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.config.get(key).map(String::as_str)
    }
}

/// Checks `file`, one file of a checkpoint folder (`.../epoch-0003/model.bpk`):
/// the `state.json` beside it must be readable, record a SHA-256 for the
/// file, and the file's bytes must match it. Returns what the run recorded;
/// `Ok(None)` when there is no `state.json` beside the file (a file saved
/// outside the training loop, which cannot be verified). The error names the
/// file and what is wrong with it.
pub fn verified_checkpoint_file(file: &Path) -> Result<Option<CheckpointInfo>, String> {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| format!("{}: not a file", file.display()))?;
    let state_path = file.with_file_name("state.json");
    if !state_path.is_file() {
        return Ok(None);
    }
    let bytes = fs::read(&state_path).map_err(|e| format!("{}: {e}", state_path.display()))?;
    let state: TrainerState = serde_json::from_slice(&bytes).map_err(|e| {
        format!(
            "{}: {e} (expected the state.json of a checkpoint)",
            state_path.display()
        )
    })?;
    let want = state.sha256.get(&name).ok_or_else(|| {
        format!(
            "{} records no SHA-256 for {name}: it is not a file of that checkpoint",
            state_path.display()
        )
    })?;
    let got = sha256_hex(&fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?);
    if *want != got {
        return Err(format!(
            "{} does not match the SHA-256 recorded in {} (the file is damaged or was replaced)",
            file.display(),
            state_path.display()
        ));
    }
    Ok(Some(CheckpointInfo {
        epoch: state.epoch,
        config: state.config,
    }))
}

/// Writes `model.bpk` and `optim.bpk` into `dir`: a task's [`Task::save`]
/// for one model and one optimizer.
pub fn save_model_and_optim<M: Module + Clone>(
    dir: &Path,
    model: &M,
    optim: &ModuleOptimizer,
) -> Result<Vec<String>, TrainError> {
    save_named(dir, "model", "optim", model, optim)
}

/// Writes `<model>.bpk` and `<optim>.bpk` into `dir` (a task with several
/// models, such as a GAN's generator and discriminator, names each pair).
pub fn save_named<M: Module + Clone>(
    dir: &Path,
    model_name: &str,
    optim_name: &str,
    model: &M,
    optim: &ModuleOptimizer,
) -> Result<Vec<String>, TrainError> {
    let err = |path: &Path, e: String| TrainError::Save {
        path: path.to_path_buf(),
        reason: e,
    };
    let model_file = format!("{model_name}.bpk");
    let model_path = dir.join(&model_file);
    model
        .clone()
        .save_file(&model_path)
        .map_err(|e| err(&model_path, e.to_string()))?;
    let optim_file = format!("{optim_name}.bpk");
    let optim_path = dir.join(&optim_file);
    optim
        .save(&optim_path)
        .map_err(|e| err(&optim_path, e.to_string()))?;
    Ok(vec![model_file, optim_file])
}

/// Loads what [`save_model_and_optim`] wrote into `model` and `optim`.
pub fn load_model_and_optim<M: Module>(
    dir: &Path,
    model: M,
    optim: ModuleOptimizer,
) -> Result<(M, ModuleOptimizer), String> {
    load_named(dir, "model", "optim", model, optim)
}

/// Loads what [`save_named`] wrote under these names.
pub fn load_named<M: Module>(
    dir: &Path,
    model_name: &str,
    optim_name: &str,
    model: M,
    optim: ModuleOptimizer,
) -> Result<(M, ModuleOptimizer), String> {
    let model = model
        .try_load_file(dir.join(format!("{model_name}.bpk")))
        .map_err(|e| format!("{model_name}.bpk: {e}"))?;
    let optim = optim
        .load(dir.join(format!("{optim_name}.bpk")))
        .map_err(|e| format!("{optim_name}.bpk: {e}"))?;
    Ok((model, optim))
}
