//! MNIST (LeCun et al. 1998) and Fashion-MNIST (Xiao et al. 2017): 28x28 grey
//! images of 10 classes in the IDX format, 60,000 for training and 10,000
//! for testing.

use std::path::{Path, PathBuf};

use crate::idx::{self, IdxArray};
use crate::images::{ImageDataset, Source};
use crate::{DataError, data_dir};

/// Image side in pixels.
pub const SIDE: usize = 28;

/// Which part of a data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// The training images.
    Train,
    /// The test images.
    Test,
}

impl Split {
    /// The file-name prefix of the IDX files (`train`, `t10k`).
    pub fn prefix(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "t10k",
        }
    }
}

/// The paths of the images and labels of `split` in `dir`: the `.gz` files
/// when present, else the raw ones.
pub fn idx_paths(dir: &Path, split: Split) -> [PathBuf; 2] {
    ["images-idx3", "labels-idx1"].map(|kind| {
        let name = format!("{}-{kind}-ubyte", split.prefix());
        let gz = dir.join(format!("{name}.gz"));
        if gz.exists() { gz } else { dir.join(name) }
    })
}

fn from_idx(
    images: IdxArray,
    labels: IdxArray,
    classes: &[&str],
    source: Source,
    src: &Path,
) -> Result<ImageDataset, DataError> {
    let bad = |what: String| DataError::Format {
        path: src.to_path_buf(),
        offset: 0,
        what,
    };
    if images.dims.len() != 3 || images.dims[1] != SIDE || images.dims[2] != SIDE {
        return Err(bad(format!(
            "images have dimensions {:?}, expected [N, 28, 28]",
            images.dims
        )));
    }
    if labels.dims != [images.dims[0]] {
        return Err(bad(format!(
            "labels have dimensions {:?}, expected [{}] to match the images",
            labels.dims, images.dims[0]
        )));
    }
    if let Some(l) = labels.data.iter().find(|&&l| l as usize >= classes.len()) {
        return Err(bad(format!("label {l}, expected 0..{}", classes.len() - 1)));
    }
    ImageDataset::new(
        images.data,
        labels.data.iter().map(|&l| l as u32).collect(),
        [1, SIDE, SIDE],
        classes.iter().map(|s| s.to_string()).collect(),
        source,
    )
}

fn from_dir(dir: &Path, split: Split, classes: &[&str]) -> Result<ImageDataset, DataError> {
    let [images, labels] = idx_paths(dir, split);
    from_idx(
        idx::read_file(&images)?,
        idx::read_file(&labels)?,
        classes,
        Source::Dir(dir.to_path_buf()),
        dir,
    )
}

fn has_split(dir: &Path, split: Split) -> bool {
    idx_paths(dir, split).iter().all(|p| p.exists())
}

/// Fashion-MNIST.
#[derive(Debug, Clone, Copy)]
pub struct FashionMnist;

impl FashionMnist {
    /// The class names, by label.
    pub const CLASSES: [&'static str; 10] = [
        "t-shirt",
        "trouser",
        "pullover",
        "dress",
        "coat",
        "sandal",
        "shirt",
        "sneaker",
        "bag",
        "ankle boot",
    ];

    /// The directory name under the data directory (`cargo xtask download
    /// fashion-mnist` writes there).
    pub const DIR: &'static str = "fashion-mnist";

    /// The real subset embedded in this crate: the first 1,000 training and
    /// 200 test images of each class of the genuine files, in file order
    /// (see `data/fashion-mnist-subset/ORIGIN.md`). Feature `embedded`
    /// (default).
    #[cfg(feature = "embedded")]
    pub fn embedded(split: Split) -> Result<ImageDataset, DataError> {
        const TRAIN_IMAGES: &[u8] =
            include_bytes!("../data/fashion-mnist-subset/train-images-idx3-ubyte.gz");
        const TRAIN_LABELS: &[u8] =
            include_bytes!("../data/fashion-mnist-subset/train-labels-idx1-ubyte.gz");
        const TEST_IMAGES: &[u8] =
            include_bytes!("../data/fashion-mnist-subset/t10k-images-idx3-ubyte.gz");
        const TEST_LABELS: &[u8] =
            include_bytes!("../data/fashion-mnist-subset/t10k-labels-idx1-ubyte.gz");
        let (images, labels) = match split {
            Split::Train => (TRAIN_IMAGES, TRAIN_LABELS),
            Split::Test => (TEST_IMAGES, TEST_LABELS),
        };
        let name = |kind: &str| format!("<embedded>/{}-{kind}-ubyte.gz", split.prefix());
        from_idx(
            idx::parse(images, Path::new(&name("images-idx3")))?,
            idx::parse(labels, Path::new(&name("labels-idx1")))?,
            &Self::CLASSES,
            Source::Embedded,
            Path::new("<embedded>"),
        )
    }

    /// A split from a directory holding the genuine files
    /// (`train-images-idx3-ubyte[.gz]`, ...; gzip or raw).
    pub fn from_dir(dir: &Path, split: Split) -> Result<ImageDataset, DataError> {
        from_dir(dir, split, &Self::CLASSES)
    }

    /// The full set from `dir`, else from `<data dir>/fashion-mnist` (see
    /// [`data_dir`]), else the embedded subset. A directory that holds the
    /// files but fails to load is an error, never silently replaced.
    pub fn load(dir: Option<&Path>, split: Split) -> Result<ImageDataset, DataError> {
        if let Some(dir) = dir {
            return Self::from_dir(dir, split);
        }
        let default = data_dir().join(Self::DIR);
        if has_split(&default, split) {
            Self::from_dir(&default, split)
        } else {
            Self::embedded(split)
        }
    }
}

/// MNIST handwritten digits.
#[derive(Debug, Clone, Copy)]
pub struct Mnist;

impl Mnist {
    /// The class names, by label (as torchvision names them).
    pub const CLASSES: [&'static str; 10] = [
        "0 - zero",
        "1 - one",
        "2 - two",
        "3 - three",
        "4 - four",
        "5 - five",
        "6 - six",
        "7 - seven",
        "8 - eight",
        "9 - nine",
    ];

    /// The directory name under the data directory.
    pub const DIR: &'static str = "mnist";

    /// A split from a directory holding the IDX files (gzip or raw).
    pub fn from_dir(dir: &Path, split: Split) -> Result<ImageDataset, DataError> {
        from_dir(dir, split, &Self::CLASSES)
    }

    /// The set from `dir`, else from `<data dir>/mnist`; an error that says
    /// how to get it when neither holds it.
    pub fn load(dir: Option<&Path>, split: Split) -> Result<ImageDataset, DataError> {
        let dir = dir.map_or_else(|| data_dir().join(Self::DIR), Path::to_path_buf);
        if !has_split(&dir, split) {
            return Err(DataError::NotFound {
                what: format!("MNIST {} files", split.prefix()),
                looked: idx_paths(&dir, split).to_vec(),
                hint: "run `cargo xtask download mnist` (or pass the directory that holds them)"
                    .into(),
            });
        }
        Self::from_dir(&dir, split)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "embedded")]
    #[test]
    fn embedded_subset_is_balanced_and_real() {
        let train = FashionMnist::embedded(Split::Train).unwrap();
        let test = FashionMnist::embedded(Split::Test).unwrap();
        assert_eq!((train.len(), test.len()), (10_000, 2_000));
        let mut counts = [0usize; 10];
        for l in train.labels() {
            counts[l] += 1;
        }
        assert_eq!(counts, [1000; 10]);
        // The first training image of Fashion-MNIST is an ankle boot (label 9).
        assert_eq!(train.label(0), 9);
        assert_eq!(train.classes()[9], "ankle boot");
    }

    #[test]
    fn matches_the_genuine_files_when_installed() {
        let dir = Path::new("/usr/share/datasets/fashion-mnist");
        if !dir.exists() {
            eprintln!("skipped: the Debian package dataset-fashion-mnist is not installed");
            return;
        }
        let full = FashionMnist::from_dir(dir, Split::Test).unwrap();
        let sub = FashionMnist::embedded(Split::Test).unwrap();
        assert_eq!(full.len(), 10_000);
        // The subset keeps file order: its first image is the full set's first.
        assert_eq!(sub.pixels(0), full.pixels(0));
        assert_eq!(sub.label(0), full.label(0));
    }

    #[test]
    fn missing_mnist_says_how_to_get_it() {
        let e = Mnist::load(Some(Path::new("/nonexistent/mnist")), Split::Train)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/nonexistent/mnist/train-images-idx3-ubyte")
                && e.contains("cargo xtask download mnist"),
            "{e}"
        );
    }
}
