//! A [`Transform`] as a stage of burn's data pipeline: [`Augmented`] wraps
//! any burn [`Batcher`] and applies the transform to each batch it makes,
//! on the batch's device, in one pass per batch (the per-sample draws are
//! made on the host, the pixels never leave the device).
//!
//! The draws come from one seeded [`Rng`] shared by the batches in the order
//! they are made: with burn's single-threaded `DataLoader` (the default, no
//! `num_workers`) a seed replays the same augmented epoch exactly.
//!
//! ```
//! use std::sync::Arc;
//! use burn::data::dataloader::batcher::Batcher;
//! use burn::tensor::{Device, Tensor};
//! use zoo_augment::stage::Augmented;
//! use zoo_augment::transforms::RandomHorizontalFlip;
//!
//! /// Stacks `[C, H, W]` rows into a batch.
//! #[derive(Clone)]
//! struct Stack;
//! impl Batcher<Vec<f32>, Tensor<4>> for Stack {
//!     fn batch(&self, items: Vec<Vec<f32>>, device: &Device) -> Tensor<4> {
//!         let n = items.len();
//!         Tensor::<1>::from_floats(items.concat().as_slice(), device).reshape([n, 1, 1, 2])
//!     }
//! }
//! let device = zoo_device::from_name("flex").unwrap();
//! let stage = Augmented::new(Stack, Arc::new(RandomHorizontalFlip { p: 1.0 }), 7);
//! let x = stage.batch(vec![vec![1.0, 2.0]], &device);
//! assert_eq!(x.into_data().to_vec::<f32>().unwrap(), [2.0, 1.0]);
//! ```

use std::sync::{Arc, Mutex};

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Int, Tensor};

use crate::Rng;
use crate::transforms::Transform;

/// A batch whose images a transform can replace.
pub trait BatchImages: Sized {
    /// The batch with its images `[N, C, H, W]` mapped by `f`.
    fn map_images<E>(self, f: impl FnOnce(Tensor<4>) -> Result<Tensor<4>, E>) -> Result<Self, E>;
}

impl BatchImages for Tensor<4> {
    fn map_images<E>(self, f: impl FnOnce(Tensor<4>) -> Result<Tensor<4>, E>) -> Result<Self, E> {
        f(self)
    }
}

impl BatchImages for zoo_datasets::ImageBatch {
    fn map_images<E>(self, f: impl FnOnce(Tensor<4>) -> Result<Tensor<4>, E>) -> Result<Self, E> {
        Ok(Self {
            images: f(self.images)?,
            targets: self.targets,
        })
    }
}

impl BatchImages for (Tensor<4>, Tensor<1, Int>) {
    fn map_images<E>(self, f: impl FnOnce(Tensor<4>) -> Result<Tensor<4>, E>) -> Result<Self, E> {
        Ok((f(self.0)?, self.1))
    }
}

/// `inner`'s batches transformed by `transform`, drawing from a seeded [`Rng`].
#[derive(Clone)]
pub struct Augmented<Bt> {
    inner: Bt,
    transform: Arc<dyn Transform + Send + Sync>,
    rng: Arc<Mutex<Rng>>,
}

impl<Bt> Augmented<Bt> {
    /// `inner` followed by `transform`, the draws seeded by `seed`.
    pub fn new(inner: Bt, transform: Arc<dyn Transform + Send + Sync>, seed: u64) -> Self {
        Self {
            inner,
            transform,
            rng: Arc::new(Mutex::new(Rng::new(seed))),
        }
    }
}

impl<I, O: BatchImages, Bt: Batcher<I, O>> Batcher<I, O> for Augmented<Bt> {
    /// # Panics
    /// When the transform rejects the batch (burn's `Batcher` cannot return
    /// an error): the message names the op and the values, as
    /// [`crate::AugmentError`] does. Check a pipeline on one batch first.
    fn batch(&self, items: Vec<I>, device: &Device) -> O {
        let batch = self.inner.batch(items, device);
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        batch
            .map_images(|x| self.transform.apply(x, &mut rng))
            .unwrap_or_else(|e| panic!("augmentation stage: {e}"))
    }
}
