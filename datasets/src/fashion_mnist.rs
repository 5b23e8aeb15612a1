//! Fashion-MNIST (Xiao et al. 2017): 28x28 grey images of 10 clothing classes.

use std::path::Path;

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::idx::{self, IdxError};

/// The class names, by label.
pub const CLASSES: [&str; 10] = [
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

/// Image side in pixels.
pub const SIDE: usize = 28;

/// Which part of the data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// The training images (60,000; 10,000 in the embedded subset).
    Train,
    /// The test images (10,000; 2,000 in the embedded subset).
    Test,
}

impl Split {
    fn prefix(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "t10k",
        }
    }
}

const EMBEDDED_TRAIN_IMAGES: &[u8] =
    include_bytes!("../data/fashion-mnist-subset/train-images-idx3-ubyte.gz");
const EMBEDDED_TRAIN_LABELS: &[u8] =
    include_bytes!("../data/fashion-mnist-subset/train-labels-idx1-ubyte.gz");
const EMBEDDED_TEST_IMAGES: &[u8] =
    include_bytes!("../data/fashion-mnist-subset/t10k-images-idx3-ubyte.gz");
const EMBEDDED_TEST_LABELS: &[u8] =
    include_bytes!("../data/fashion-mnist-subset/t10k-labels-idx1-ubyte.gz");

/// Images (bytes, row-major `[N, 28, 28]`) and labels of one split.
#[derive(Debug, Clone)]
pub struct FashionMnist {
    images: Vec<u8>,
    labels: Vec<u8>,
}

impl FashionMnist {
    /// The real subset embedded in this crate (first 1000 training / 200 test
    /// images of each class of the genuine files; see its ORIGIN.md).
    pub fn embedded(split: Split) -> Result<Self, IdxError> {
        let (images, labels) = match split {
            Split::Train => (EMBEDDED_TRAIN_IMAGES, EMBEDDED_TRAIN_LABELS),
            Split::Test => (EMBEDDED_TEST_IMAGES, EMBEDDED_TEST_LABELS),
        };
        let name = |kind: &str| format!("<embedded>/{}-{kind}-ubyte.gz", split.prefix());
        Self::from_parts(
            idx::parse(images, Path::new(&name("images-idx3")))?,
            idx::parse(labels, Path::new(&name("labels-idx1")))?,
            Path::new("<embedded>"),
        )
    }

    /// Loads a split from a directory holding the genuine files
    /// (`train-images-idx3-ubyte[.gz]`, ...; gzip or raw).
    pub fn from_dir(dir: &Path, split: Split) -> Result<Self, IdxError> {
        let find = |kind: &str| {
            let base = dir.join(format!("{}-{kind}-ubyte", split.prefix()));
            let gz = dir.join(format!("{}-{kind}-ubyte.gz", split.prefix()));
            if gz.exists() { gz } else { base }
        };
        Self::from_parts(
            idx::read_file(&find("images-idx3"))?,
            idx::read_file(&find("labels-idx1"))?,
            dir,
        )
    }

    fn from_parts(
        images: idx::IdxArray,
        labels: idx::IdxArray,
        src: &Path,
    ) -> Result<Self, IdxError> {
        let bad = |what: String| IdxError::Format {
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
        if let Some(l) = labels.data.iter().find(|&&l| l as usize >= CLASSES.len()) {
            return Err(bad(format!("label {l}, expected 0..9")));
        }
        Ok(Self {
            images: images.data,
            labels: labels.data,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The label of image `i`.
    pub fn label(&self, i: usize) -> usize {
        self.labels[i] as usize
    }

    /// The pixels of image `i` (784 bytes, row-major).
    pub fn pixels(&self, i: usize) -> &[u8] {
        &self.images[i * SIDE * SIDE..(i + 1) * SIDE * SIDE]
    }

    /// Images `indices` as floats in `[0, 1]`, `[B, 1, 28, 28]`, and their
    /// labels `[B]`, on `device`.
    ///
    /// # Panics
    /// When an index is out of range.
    pub fn batch(&self, indices: &[usize], device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
        let mut pixels = Vec::with_capacity(indices.len() * SIDE * SIDE);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            pixels.extend(self.pixels(i).iter().map(|&p| p as f32 / 255.0));
            labels.push(self.labels[i] as i64);
        }
        let b = indices.len();
        (
            Tensor::from_data(TensorData::new(pixels, [b, 1, SIDE, SIDE]), device),
            Tensor::from_data(TensorData::new(labels, [b]), device),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_subset_is_balanced_and_real() {
        let train = FashionMnist::embedded(Split::Train).unwrap();
        let test = FashionMnist::embedded(Split::Test).unwrap();
        assert_eq!((train.len(), test.len()), (10_000, 2_000));
        let mut counts = [0usize; 10];
        for i in 0..train.len() {
            counts[train.label(i)] += 1;
        }
        assert_eq!(counts, [1000; 10]);
        // The first training image of Fashion-MNIST is an ankle boot (label 9).
        assert_eq!(train.label(0), 9);
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
}
