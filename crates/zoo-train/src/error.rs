//! Why training stopped: [`TrainError`], the one error type of the loop,
//! its checkpoints, its logs and the tasks.

use std::path::{Path, PathBuf};

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
    /// A fresh run was pointed at a folder that already holds files.
    #[error(
        "{} already holds files of another run ({}){}: continue that run with --resume and its flags, train into another --out, or delete the folder first (nothing was written)",
        path.display(),
        show_held(held),
        newest.map_or(String::new(), |e| format!(", checkpoints up to epoch {e}"))
    )]
    OutInUse {
        /// The output folder.
        path: PathBuf,
        /// What it holds (file and folder names).
        held: Vec<String>,
        /// The newest checkpoint's epoch, if it holds checkpoints.
        newest: Option<usize>,
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

/// The first few names of `held`, and how many more.
fn show_held(held: &[String]) -> String {
    let mut s = held.iter().take(4).cloned().collect::<Vec<_>>().join(", ");
    if held.len() > 4 {
        s.push_str(&format!(" and {} more", held.len() - 4));
    }
    s
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}
