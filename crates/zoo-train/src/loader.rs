//! A burn `DataLoader` over an order of item indices, for tasks whose data
//! already sits in memory with a batching of its own (a detection set's
//! `batch(indices, device)`, a token stream's windows): the task decides the
//! order of each epoch, the loader cuts it into batches and makes each one
//! when the loop reaches it.

use std::sync::Arc;

use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::DatasetError;
use burn::tensor::Device;

/// Makes the batch of the given item indices.
pub type MakeBatch<B> = Arc<dyn Fn(&[usize]) -> B + Send + Sync>;

/// Batches of `batch_size` consecutive entries of `order` (the last one
/// shorter), each made by `make`.
pub struct IndexLoader<B> {
    order: Arc<Vec<usize>>,
    batch_size: usize,
    make: MakeBatch<B>,
}

impl<B> Clone for IndexLoader<B> {
    fn clone(&self) -> Self {
        Self {
            order: self.order.clone(),
            batch_size: self.batch_size,
            make: self.make.clone(),
        }
    }
}

impl<B> IndexLoader<B> {
    /// The loader of `order` in batches of `batch_size` (at least 1).
    pub fn new(order: Vec<usize>, batch_size: usize, make: MakeBatch<B>) -> Self {
        Self {
            order: Arc::new(order),
            batch_size: batch_size.max(1),
            make,
        }
    }
}

struct Iter<'a, B> {
    loader: &'a IndexLoader<B>,
    next: usize,
}

impl<B> Iterator for Iter<'_, B> {
    type Item = Result<B, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        let order = &self.loader.order;
        if self.next >= order.len() {
            return None;
        }
        let end = (self.next + self.loader.batch_size).min(order.len());
        let batch = (self.loader.make)(&order[self.next..end]);
        self.next = end;
        Some(Ok(batch))
    }
}

impl<B> DataLoaderIterator<B> for Iter<'_, B> {
    fn progress(&self) -> Progress {
        Progress::new(self.next, self.loader.order.len(), Some("items".into()))
    }
}

impl<B: Send + 'static> DataLoader<B> for IndexLoader<B> {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<B> + 'a> {
        Box::new(Iter {
            loader: self,
            next: 0,
        })
    }

    fn num_items(&self) -> usize {
        self.order.len()
    }

    /// The same loader: its batches are made where `make` makes them.
    fn to_device(&self, _device: &Device) -> Arc<dyn DataLoader<B>> {
        Arc::new(self.clone())
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<B>> {
        let end = end.min(self.order.len());
        let start = start.min(end);
        Arc::new(Self {
            order: Arc::new(self.order[start..end].to_vec()),
            batch_size: self.batch_size,
            make: self.make.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_the_order_into_batches_and_slices_it() {
        let make: MakeBatch<Vec<usize>> = Arc::new(|ix: &[usize]| ix.to_vec());
        let loader = IndexLoader::new(vec![4, 2, 0, 3, 1], 2, make);
        let got: Vec<Vec<usize>> = loader.iter().map(|b| b.unwrap()).collect();
        assert_eq!(got, vec![vec![4, 2], vec![0, 3], vec![1]]);
        assert_eq!(loader.num_items(), 5);
        let part: Vec<Vec<usize>> = loader.slice(1, 4).iter().map(|b| b.unwrap()).collect();
        assert_eq!(part, vec![vec![2, 0], vec![3]]);
    }
}
