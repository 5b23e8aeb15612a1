//! The plumbing every example shares: [`Failure`] and [`exit`] (usage
//! errors exit 2, run failures 1), the device flag, the checks of the
//! common flags (each error naming its flag), the Fashion-MNIST sets and
//! the augmentation presets by name.

use burn::tensor::Device;
use std::process::ExitCode;
use std::sync::Arc;
use zoo_augment::transforms::{Compose, Transform};
use zoo_datasets::{FashionMnist, ImageDataset, Split};

/// Why an example stopped.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// A flag or input file that cannot be used (exit code 2); the message
    /// names it and what was expected.
    #[error("{0}")]
    Usage(String),
    /// A failure while running (exit code 1), with its cause.
    #[error(transparent)]
    Run(Box<dyn std::error::Error + Send + Sync>),
}

impl Failure {
    /// A failure while running, from an error (its source chain kept) or a message.
    pub fn run(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Failure::Run(e.into())
    }

    /// The process exit code: 2 for usage errors, 1 otherwise.
    pub fn code(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Run(_) => 1,
        }
    }
}

/// The process exit code of an example's `result`, the error printed with
/// its causes.
pub fn exit(result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut line = format!("error: {e}");
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                let text = c.to_string();
                if !line.contains(&text) {
                    line.push_str(&format!(": {text}"));
                }
                cause = c.source();
            }
            eprintln!("{line}");
            ExitCode::from(e.code())
        }
    }
}

/// The backend named by `--device` (else `$ZOO_DEVICE`, else flex) and its
/// device; an unknown or missing one is a usage error.
pub fn device(flag: Option<&str>) -> Result<(zoo_device::Backend, Device), Failure> {
    let backend = zoo_device::resolve(flag, zoo_device::DEFAULT_DEVICE)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let device = backend
        .device()
        .map_err(|e| Failure::Usage(e.to_string()))?;
    Ok((backend, device))
}

/// Checks the flags every training example takes, each error naming its
/// flag: epochs and batch size positive, the learning rate positive and
/// finite in float32 (the precision the model trains in).
pub fn check_training_flags(epochs: usize, batch_size: usize, lr: f64) -> Result<(), Failure> {
    if epochs == 0 {
        return Err(Failure::Usage("--epochs 0: expected at least 1".into()));
    }
    if batch_size == 0 {
        return Err(Failure::Usage("--batch-size 0: expected at least 1".into()));
    }
    zoo_optim::check_lr(lr).map_err(|e| Failure::Usage(format!("--lr: {e}")))
}

/// Checks that a batch of `batch` images of `channels x side x side` fits
/// a tensor ([`zoo_device::budget`]); the error names `side_flag` (the
/// example's flag for the side) and the size.
pub fn check_batch_size(
    side_flag: &str,
    batch: usize,
    channels: usize,
    side: usize,
) -> Result<(), Failure> {
    if side == 0 {
        return Err(Failure::Usage(format!(
            "{side_flag} 0: expected a positive side"
        )));
    }
    zoo_device::budget::check("a batch of images", &[batch, channels, side, side])
        .map(|_| ())
        .map_err(|e| Failure::Usage(format!("{side_flag} {side} with --batch-size {batch}: {e}")))
}

/// Checks an `--out` PNG path before any work, by the rules
/// `zoo_plot::png::save` applies when writing.
pub fn check_png_out(path: &std::path::Path) -> Result<(), Failure> {
    zoo_plot::png::check_path(path).map_err(|e| Failure::Usage(format!("--out {e}")))
}

/// Checks a learning-rate flag (`flag`, e.g. `--lr-d`): positive and
/// finite in float32; the error names the flag.
pub fn check_lr_flag(flag: &str, lr: f64) -> Result<(), Failure> {
    zoo_optim::check_lr(lr).map_err(|e| Failure::Usage(format!("{flag}: {e}")))
}

/// The sign a real flag takes, beside being finite in float32
/// ([`check_f32_flag`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sign {
    /// Any finite value.
    Any,
    /// `>= 0`.
    NonNegative,
    /// `> 0`, and not rounding to 0 in float32.
    Positive,
}

/// Checks a real flag against float32, the precision the zoo's models and
/// classifiers run in: a value past `f32::MAX` would be infinite there (and
/// a positive one rounding to 0 would be 0), so it is refused with NaN,
/// infinities and values of the wrong `sign`. The error names `flag` and
/// the value.
pub fn check_f32_flag(flag: &str, v: f64, sign: Sign) -> Result<(), Failure> {
    let f = v as f32;
    let (ok, expected) = match sign {
        Sign::Any => (f.is_finite(), "a number"),
        Sign::NonNegative => (v >= 0.0 && f.is_finite(), "a number >= 0"),
        Sign::Positive => (v > 0.0 && f.is_finite() && f > 0.0, "a positive number"),
    };
    if ok {
        Ok(())
    } else {
        Err(Failure::Usage(format!(
            "{flag} {v:?}: expected {expected} that is finite{} in float32 (at most {:e} in magnitude, the precision the models run in)",
            if sign == Sign::Positive {
                " and non-zero"
            } else {
                ""
            },
            f32::MAX
        )))
    }
}

/// Checks a count flag (`flag`, e.g. `--iterations`): from 1 to `max`; the
/// error names the flag and the range.
pub fn check_count(flag: &str, value: usize, max: usize) -> Result<(), Failure> {
    if (1..=max).contains(&value) {
        Ok(())
    } else {
        Err(Failure::Usage(format!(
            "{flag} {value}: expected 1 to {max}"
        )))
    }
}

/// A data set read for `split` that holds no images is a usage error
/// naming `--data-dir` and where the set came from.
pub fn check_not_empty(set: &ImageDataset, split: Split) -> Result<(), Failure> {
    if set.is_empty() {
        let part = match split {
            Split::Train => "training",
            Split::Test => "test",
        };
        return Err(Failure::Usage(format!(
            "--data-dir: the {part} set of {} holds no images; expected at least 1",
            set.source()
        )));
    }
    Ok(())
}

/// Fashion-MNIST's `split` from `data_dir` (`--data-dir`; else the
/// downloaded set, else the embedded subset): a set that cannot be read or
/// holds no images is a usage error.
pub fn fashion_mnist(
    data_dir: Option<&std::path::Path>,
    split: Split,
) -> Result<ImageDataset, Failure> {
    let set = FashionMnist::load(data_dir, split).map_err(|e| Failure::Usage(e.to_string()))?;
    check_not_empty(&set, split)?;
    Ok(set)
}

/// The training augmentation `preset` for `side x side` images, `None` for
/// `none`; an unknown name is an error listing the presets.
pub fn augmentation(
    preset: &str,
    side: usize,
) -> Result<Option<Arc<dyn Transform + Send + Sync>>, String> {
    let pipeline = Compose::preset(preset, [side, side]).map_err(|e| format!("--augment {e}"))?;
    Ok((!pipeline.transforms.is_empty()).then(|| Arc::new(pipeline) as Arc<_>))
}
