//! CIFAR-10 (Krizhevsky 2009), binary version: 32x32 colour images of 10
//! classes. Each file is a run of 3,073-byte records: one label byte, then
//! the 1,024 red, 1,024 green and 1,024 blue bytes of the image, row-major.
//! Training is `data_batch_1.bin` .. `data_batch_5.bin` (50,000 images),
//! testing `test_batch.bin` (10,000).

use std::path::{Path, PathBuf};

use crate::images::{ImageDataset, Source};
use crate::mnist::Split;
use crate::{DataError, data_dir};

/// Image side in pixels.
pub const SIDE: usize = 32;
/// Bytes per record: a label and a `[3, 32, 32]` image.
pub const RECORD: usize = 1 + 3 * SIDE * SIDE;

/// Labels and pixels (`[N, 3, 32, 32]`) of one CIFAR-10 binary file;
/// `path` names it in errors.
pub fn parse(bytes: &[u8], path: &Path) -> Result<(Vec<u32>, Vec<u8>), DataError> {
    let err = |offset: usize, what: String| DataError::Format {
        path: path.to_path_buf(),
        offset,
        what,
    };
    if bytes.is_empty() {
        return Err(err(
            0,
            "the file is empty, expected 3073-byte records".into(),
        ));
    }
    let whole = bytes.len() / RECORD * RECORD;
    if whole != bytes.len() {
        return Err(err(
            whole,
            format!(
                "{} bytes is not a whole number of 3073-byte records: the last record has {} bytes (truncated file?)",
                bytes.len(),
                bytes.len() - whole
            ),
        ));
    }
    let n = bytes.len() / RECORD;
    let mut labels = Vec::with_capacity(n);
    let mut pixels = Vec::with_capacity(n * (RECORD - 1));
    for (i, rec) in bytes.chunks_exact(RECORD).enumerate() {
        if rec[0] as usize >= Cifar10::CLASSES.len() {
            return Err(err(
                i * RECORD,
                format!("record {i} has label {}, expected 0..9", rec[0]),
            ));
        }
        labels.push(rec[0] as u32);
        pixels.extend_from_slice(&rec[1..]);
    }
    Ok((labels, pixels))
}

/// CIFAR-10.
#[derive(Debug, Clone, Copy)]
pub struct Cifar10;

impl Cifar10 {
    /// The class names, by label (as `batches.meta.txt` lists them).
    pub const CLASSES: [&'static str; 10] = [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ];

    /// The directory name under the data directory.
    pub const DIR: &'static str = "cifar-10";

    /// The folder the archive unpacks to.
    pub const BATCHES: &'static str = "cifar-10-batches-bin";

    /// The files of `split`.
    pub fn files(split: Split) -> Vec<String> {
        match split {
            Split::Train => (1..=5).map(|i| format!("data_batch_{i}.bin")).collect(),
            Split::Test => vec!["test_batch.bin".into()],
        }
    }

    fn batches_dir(dir: &Path) -> PathBuf {
        let inner = dir.join(Self::BATCHES);
        if inner.is_dir() {
            inner
        } else {
            dir.to_path_buf()
        }
    }

    /// A split from `dir` (the `cifar-10-batches-bin` folder or its parent).
    pub fn from_dir(dir: &Path, split: Split) -> Result<ImageDataset, DataError> {
        let dir = Self::batches_dir(dir);
        let mut labels = Vec::new();
        let mut pixels = Vec::new();
        for name in Self::files(split) {
            let path = dir.join(name);
            let bytes = std::fs::read(&path).map_err(DataError::io(&path))?;
            let (l, p) = parse(&bytes, &path)?;
            labels.extend(l);
            pixels.extend(p);
        }
        ImageDataset::new(
            pixels,
            labels,
            [3, SIDE, SIDE],
            Self::CLASSES.iter().map(|s| s.to_string()).collect(),
            Source::Dir(dir),
        )
    }

    /// The set from `dir`, else from `<data dir>/cifar-10`; an error that
    /// says how to get it when neither holds it.
    pub fn load(dir: Option<&Path>, split: Split) -> Result<ImageDataset, DataError> {
        let dir = dir.map_or_else(|| data_dir().join(Self::DIR), Path::to_path_buf);
        let batches = Self::batches_dir(&dir);
        let paths: Vec<PathBuf> = Self::files(split).iter().map(|f| batches.join(f)).collect();
        if !paths.iter().all(|p| p.exists()) {
            return Err(DataError::NotFound {
                what: "the CIFAR-10 binary files".into(),
                looked: paths,
                hint: "run `cargo xtask download cifar-10` (or pass the directory that holds them)"
                    .into(),
            });
        }
        Self::from_dir(&dir, split)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_records_channel_major() {
        let mut bytes = vec![3u8];
        bytes.extend((0..3 * 1024).map(|i| (i / 1024) as u8 * 100));
        let (labels, pixels) = parse(&bytes, Path::new("b.bin")).unwrap();
        assert_eq!(labels, vec![3]);
        assert_eq!((pixels[0], pixels[1024], pixels[2048]), (0, 100, 200));
    }

    #[test]
    fn errors_name_the_record() {
        let mut bytes = vec![0u8; RECORD * 2];
        bytes[RECORD] = 10;
        let e = parse(&bytes, Path::new("x.bin")).unwrap_err().to_string();
        assert!(
            e.contains("x.bin: at byte 3073: record 1 has label 10"),
            "{e}"
        );
        let e = parse(&bytes[..RECORD + 5], Path::new("t.bin"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("at byte 3073") && e.contains("last record has 5 bytes"),
            "{e}"
        );
        let e = Cifar10::load(Some(Path::new("/nonexistent/c")), Split::Test)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("test_batch.bin") && e.contains("cargo xtask download cifar-10"),
            "{e}"
        );
    }
}
