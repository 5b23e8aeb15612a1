//! The one error type of the data sets: every variant names the file.

use std::path::PathBuf;

/// Why a data set could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file could not be opened, read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A gzip stream is corrupt or truncated.
    #[error("{path}: corrupt gzip data: {reason}")]
    Gzip {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
    /// The content does not follow the expected format.
    #[error("{path}: at byte {offset}: {what}")]
    Format {
        /// The file.
        path: PathBuf,
        /// Offset in the (decompressed) content.
        offset: usize,
        /// What was found and what was expected.
        what: String,
    },
    /// An image file could not be decoded.
    #[error("{path}: cannot decode the image: {reason}")]
    Image {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
    /// A data set is not where it was looked for.
    #[error("{what} not found (looked in {}); {hint}", looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    NotFound {
        /// What was looked for.
        what: String,
        /// Where it was looked for.
        looked: Vec<PathBuf>,
        /// What to do about it.
        hint: String,
    },
    /// A downloaded or imported file does not match its recorded digest.
    #[error("{path}: checksum mismatch: expected {expected}, got {got}; the file was not kept")]
    Checksum {
        /// The file (its final name; nothing is left under it).
        path: PathBuf,
        /// The digest(s) that would have been accepted.
        expected: String,
        /// The digest(s) of what was received.
        got: String,
    },
    /// A network transfer failed.
    #[error("cannot download {url}: {reason}; {hint}")]
    Network {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
        /// What to do about it.
        hint: String,
    },
    /// A caller-supplied argument was invalid.
    #[error("{0}")]
    Invalid(String),
}

impl DataError {
    /// An [`DataError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| DataError::Io { path, source }
    }
}
