//! A seeded augmentation pipeline replays exactly on every device: the
//! parameters are drawn on the host from the seed, the pixels computed on
//! the device. The batch is host-made, so every device sees the same input.

use burn::tensor::{Tensor, TensorData};
use zoo_augment::mix;
use zoo_augment::transforms::{
    ColorJitter, Compose, RandomResizedCrop, RandomVerticalFlip, Rng, Transform,
};
use zoo_tests::{assert_devices_agree, on_every_device, read};

#[test]
fn seeded_pipelines_agree_across_devices() {
    let n = 6;
    let pixels: Vec<f32> = (0..n * 3 * 20 * 24)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
        .collect();
    let results = on_every_device(|device| {
        let x = Tensor::<4>::from_data(TensorData::new(pixels.clone(), [n, 3, 20, 24]), device);
        let mut pipeline = Compose::imagenet_train(16);
        pipeline
            .transforms
            .insert(1, Box::new(RandomVerticalFlip { p: 0.5 }));
        pipeline.transforms.insert(
            2,
            Box::new(ColorJitter {
                hue: 0.1,
                ..ColorJitter::default()
            }),
        );
        let y = pipeline.apply(x.clone(), &mut Rng::new(42)).unwrap();
        let again = pipeline.apply(x.clone(), &mut Rng::new(42)).unwrap();
        let course = RandomResizedCrop::course([8, 8])
            .apply(x.clone(), &mut Rng::new(1))
            .unwrap();
        let labels = Tensor::from_data(TensorData::new(vec![0i64, 1, 2, 0, 1, 2], [n]), device);
        let (mixed, soft) = mix::mixup(x, labels, 0.3, 3).unwrap();
        vec![
            ("pipeline".to_string(), read(y)),
            ("replay".to_string(), read(again)),
            ("course crop".to_string(), read(course)),
            ("mixup".to_string(), read(mixed)),
            ("mixup labels".to_string(), read(soft)),
        ]
    });
    for (backend, readings) in &results {
        assert_eq!(
            readings[0].1, readings[1].1,
            "{backend}: the same seed did not replay"
        );
    }
    assert_devices_agree(&results, 1e-4);
}
