//! Data sets of the zoo.
//!
//! - [`mnist`]: MNIST and Fashion-MNIST (the IDX format, [`idx`]), with the
//!   real 10,000 + 2,000 image Fashion-MNIST subset embedded in this crate so
//!   the examples run on a fresh machine with no network.
//! - [`cifar`]: CIFAR-10, binary version.
//! - [`folder`]: image folders (one sub-folder of PNG/JPEG files per class).
//! - [`images`]: what every loader returns, an in-memory [`ImageDataset`]
//!   that is a burn `Dataset`; [`batcher`] makes `[N, C, H, W]` tensors and
//!   labels on any device, with optional resize and normalisation.
//! - [`photo`]: a user's photo decoded as PIL's `Image.open(..).convert("RGB")`,
//!   within a decode budget (the first step of torchvision's inference presets).
//! - [`segmentation`]: VOC's segmentation classes and colour map, both ways.
//! - [`text`]: d2l's text pipeline (preprocessing, char / word tokens,
//!   `Vocab`, the corpus) and the random and sequential minibatch samplers.
//! - [`catalog`], [`store`] and (feature `download`) `download`: what
//!   `cargo xtask download` fetches, verifies and installs under
//!   [`data_dir`], where the loaders look.
//!
//! Every error names the file and what was expected ([`DataError`]).
//!
//! ```
//! use burn::data::dataloader::batcher::Batcher;
//! use zoo_datasets::{FashionMnist, ImageBatcher, Split};
//! let train = FashionMnist::embedded(Split::Train).unwrap();
//! assert_eq!(train.len(), 10_000);
//! let device = zoo_device::from_name("flex").unwrap();
//! let batcher = ImageBatcher::new().resize(96, 96).normalize(&[0.286], &[0.353]);
//! let batch = batcher.batch_indices(&train, &[0, 1, 2], &device);
//! assert_eq!(batch.images.dims(), [3, 1, 96, 96]);
//! assert_eq!(batch.targets.dims(), [3]);
//! ```

use std::path::PathBuf;

pub mod batcher;
pub mod catalog;
pub mod cifar;
pub mod detection;
#[cfg(feature = "download")]
pub mod download;
mod error;
pub mod folder;
#[doc(hidden)]
pub mod fuzzing;
pub mod gzip;
pub mod idx;
pub mod images;
pub mod jpeg;
pub mod mnist;
pub mod photo;
pub mod segmentation;
pub mod store;
pub mod text;

pub use batcher::{ImageBatch, ImageBatcher};
pub use cifar::Cifar10;
pub use error::DataError;
pub use folder::{FolderOptions, ImageFolder};
pub use images::{ImageDataset, ImageItem, Source};
pub use mnist::{FashionMnist, Mnist, Split};

/// The environment variable that sets the data directory.
pub const DATA_DIR_VAR: &str = "ZOO_DATA_DIR";

/// Where downloaded data sets live: `$ZOO_DATA_DIR`, else `zoo/` in the
/// platform cache directory (`~/.cache/zoo` on Linux), else `./zoo-data`.
pub fn data_dir() -> PathBuf {
    match std::env::var_os(DATA_DIR_VAR) {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => dirs::cache_dir()
            .map(|d| d.join("zoo"))
            .unwrap_or_else(|| PathBuf::from("zoo-data")),
    }
}
