//! Data sets of the zoo.
//!
//! - [`idx`]: the IDX format of MNIST and Fashion-MNIST, gzip or raw, with
//!   errors that name the file, the offset and what was expected.
//! - [`fashion_mnist`]: Fashion-MNIST from a directory of the genuine files,
//!   or the real 10,000 + 2,000 image subset embedded in this crate, so the
//!   examples run on a fresh machine with no network.
//!
//! ```
//! use zoo_datasets::fashion_mnist::{FashionMnist, Split};
//! let train = FashionMnist::embedded(Split::Train).unwrap();
//! assert_eq!(train.len(), 10_000);
//! let device = zoo_device::from_name("flex").unwrap();
//! let (images, labels) = train.batch(&[0, 1, 2], &device);
//! assert_eq!(images.dims(), [3, 1, 28, 28]);
//! assert_eq!(labels.dims(), [3]);
//! ```

pub mod fashion_mnist;
pub mod idx;
