//! The recipe flags of the classification examples ([`RecipeFlags`]:
//! EMA / SWA, MixUp / CutMix / SamplePairing, label smoothing) and the
//! evaluation of checkpoints as an ensemble (each member verified against
//! its `state.json`).

use crate::cli::Failure;
use crate::trained;
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use std::path::PathBuf;
use zoo_datasets::{ImageBatcher, ImageDataset};
use zoo_train::ClassifyConfig;

/// The recipe flags every classification example takes.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RecipeFlags {
    /// Keep an exponential moving average of the weights with this decay
    /// (e.g. 0.999), updated every step; validation and checkpoints hold it.
    #[arg(long)]
    pub ema: Option<f64>,
    /// Stochastic weight averaging: the equal average of the weights at the
    /// end of each epoch from this epoch (from 1) on.
    #[arg(long, conflicts_with = "ema")]
    pub swa_start: Option<usize>,
    /// Mix the training batches: mixup, cutmix (soft-target cross-entropy)
    /// or pairing (SamplePairing with the paper's schedule scaled to the run).
    #[arg(long)]
    pub mix: Option<String>,
    /// The Beta parameter of mixup / cutmix (default: torchvision's recipe,
    /// 0.2 for mixup, 1.0 for cutmix).
    #[arg(long)]
    pub mix_alpha: Option<f64>,
    /// Label smoothing of the cross-entropy (0 to <1).
    #[arg(long, default_value_t = 0.0)]
    pub label_smoothing: f64,
    /// Instead of training: evaluate these checkpoints (checkpoint
    /// directories, or run directories whose newest checkpoint is taken)
    /// one by one and as an ensemble averaging their softmax outputs.
    #[arg(long, num_args = 1..)]
    pub ensemble: Vec<PathBuf>,
}

impl RecipeFlags {
    /// Sets the recipes on `config` (a run of `epochs` epochs); a bad value
    /// is a usage error naming its flag.
    pub fn apply(&self, config: &mut ClassifyConfig, epochs: usize) -> Result<(), Failure> {
        use zoo_train::recipes::{Averaging, Mix};
        let usage = Failure::Usage;
        config.average = match (self.ema, self.swa_start) {
            (Some(decay), _) => Some(Averaging::Ema { decay }),
            (None, Some(start_epoch)) => Some(Averaging::Swa { start_epoch }),
            (None, None) => None,
        };
        if let Some(a) = &config.average {
            a.validate().map_err(|e| {
                usage(format!(
                    "--{}: {e}",
                    if self.ema.is_some() {
                        "ema"
                    } else {
                        "swa-start"
                    }
                ))
            })?;
        }
        if let Some(start) = self.swa_start
            && start > epochs
        {
            return Err(usage(format!(
                "--swa-start {start}: after the last epoch ({epochs}), so nothing would be averaged; expected 1 to --epochs"
            )));
        }
        if let Some(alpha) = self.mix_alpha {
            if self.mix.is_none() {
                return Err(usage(format!(
                    "--mix-alpha {alpha} without --mix: expected --mix mixup or cutmix beside it"
                )));
            }
            crate::cli::check_f32_flag("--mix-alpha", alpha, crate::cli::Sign::Positive)?;
        }
        config.mix = match &self.mix {
            None => None,
            Some(name) => {
                let alpha = self
                    .mix_alpha
                    .unwrap_or(if name == "cutmix" { 1.0 } else { 0.2 });
                Some(Mix::from_name(name, alpha, epochs).map_err(|e| usage(format!("--mix {e}")))?)
            }
        };
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return Err(usage(format!(
                "--label-smoothing {}: expected a value in [0, 1)",
                self.label_smoothing
            )));
        }
        config.label_smoothing = self.label_smoothing;
        Ok(())
    }
}

/// The checkpoint directory `path` names: itself when it holds `model.bpk`,
/// else the newest `checkpoints/epoch-*` under it.
pub fn checkpoint_dir(path: &std::path::Path) -> Result<PathBuf, String> {
    if path.join("model.bpk").is_file() {
        return Ok(path.to_path_buf());
    }
    trained::newest_checkpoint(path)
        .and_then(|file| file.parent().map(PathBuf::from))
        .ok_or_else(|| {
            format!(
                "{}: no model.bpk there nor under checkpoints/epoch-*: expected a checkpoint or a run directory",
                path.display()
            )
        })
}

/// `--ensemble`: loads each checkpoint's weights into `like` (the run's
/// model structure; `average.bpk` when the checkpoint has one), prints each
/// member's test accuracy and the ensemble's.
pub fn evaluate_ensemble<M: Module + Clone>(
    like: &M,
    identity: &[(&str, String)],
    dirs: &[PathBuf],
    forward: &dyn Fn(&M, Tensor<4>) -> Tensor<2>,
    test: &ImageDataset,
    batcher: &ImageBatcher,
    device: &Device,
) -> Result<(), Failure> {
    let mut members = Vec::with_capacity(dirs.len());
    for d in dirs {
        let dir = checkpoint_dir(d).map_err(Failure::Usage)?;
        let file = if dir.join("average.bpk").is_file() {
            dir.join("average.bpk")
        } else {
            dir.join("model.bpk")
        };
        check_member(&file, identity)?;
        let m = like
            .clone()
            .valid()
            .try_load_file(&file)
            .map_err(|e| Failure::Usage(format!("--ensemble {}: {e}", file.display())))?;
        members.push((file, m));
    }
    let models: Vec<M> = members.iter().map(|(_, m)| m.clone()).collect();
    let (each, together) =
        zoo_train::evaluate::evaluate_ensemble(&models, forward, test, batcher, device);
    for ((file, _), acc) in members.iter().zip(&each) {
        println!("member {}: test accuracy {acc:.4}", file.display());
    }
    let best = each.iter().cloned().fold(f64::MIN, f64::max);
    println!(
        "ensemble of {} (mean of softmax outputs): test accuracy {together:.4} (best member {best:.4})",
        each.len()
    );
    Ok(())
}

/// Checks an ensemble member `file` against the `state.json` beside it: its
/// bytes (the recorded SHA-256) and what its run recorded for each
/// `(key, value)` of `identity` (the model and its options this run
/// builds). A file without a `state.json` cannot be checked: a warning.
fn check_member(file: &std::path::Path, identity: &[(&str, String)]) -> Result<(), Failure> {
    let info = zoo_train::verified_checkpoint_file(file)
        .map_err(|e| Failure::Usage(format!("--ensemble: {e}")))?;
    let Some(info) = info else {
        eprintln!(
            "warning: {} has no state.json beside it: its bytes and model cannot be verified",
            file.display()
        );
        return Ok(());
    };
    for (key, want) in identity {
        let got = info.get(key).unwrap_or("(not recorded)");
        if got != want {
            return Err(Failure::Usage(format!(
                "--ensemble {}: its run recorded {key} `{got}`, this run builds {key} `{want}` (train the members with the same model flags)",
                file.display()
            )));
        }
    }
    Ok(())
}
