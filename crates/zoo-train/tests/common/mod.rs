//! What the loop's tests share: the device, a small real data set, the
//! ReLU LeNet they train and its classifier weights.

use std::sync::{Arc, Mutex};

use burn::tensor::{Device, Tensor};
use zoo_datasets::{FashionMnist, ImageDataset, Split};
use zoo_models::lenet::{LeNet, LeNetActivation, LeNetConfig, LeNetPool};

/// The tests share the device's random generator (weight initialisation):
/// they run one at a time so each run draws the same numbers.
pub static SERIAL: Mutex<()> = Mutex::new(());

pub fn device() -> Device {
    zoo_device::from_name("flex").unwrap()
}

/// Every 16th of the first `train * 16` embedded training images and every
/// 10th of the first `test * 10` test images.
pub fn data(train: usize, test: usize) -> (Arc<ImageDataset>, ImageDataset) {
    let train_set = FashionMnist::embedded(Split::Train).unwrap();
    let test_set = FashionMnist::embedded(Split::Test).unwrap();
    let every = |n: usize, step: usize| (0..n).map(|i| i * step).collect::<Vec<_>>();
    (
        Arc::new(train_set.subset(&every(train, 16))),
        test_set.subset(&every(test, 10)),
    )
}

pub fn model(seed: u64) -> LeNet {
    let d = device().autodiff();
    d.seed(seed);
    LeNetConfig::new()
        .with_activation(LeNetActivation::Relu)
        .with_pool(LeNetPool::Max)
        .init(&d)
}

pub fn forward(m: &LeNet, x: Tensor<4>) -> Tensor<2> {
    m.forward(x)
}

pub fn weights(m: &LeNet) -> Vec<f32> {
    m.fc3
        .weight
        .val()
        .into_data()
        .try_into_vec_as::<f32>()
        .unwrap()
}
