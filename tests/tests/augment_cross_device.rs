//! A seeded augmentation pipeline replays exactly on every device: the
//! parameters are drawn on the host from the seed, the pixels computed on
//! the device. The batch is host-made, so every device sees the same input.

use burn::tensor::{Tensor, TensorData};
use zoo_augment::mix;
use zoo_augment::resize::Interpolation;
use zoo_augment::transforms::{
    ColorJitter, Compose, GaussianBlur, GaussianNoise, RandomCrop, RandomErasing,
    RandomResizedCrop, RandomRotation, RandomVerticalFlip, Rng, Transform,
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
        // Rotation (both interpolations), blur, noise, crop and erasing, per-sample draws.
        let geometric = Compose::new(vec![
            Box::new(RandomRotation::new(40.0)),
            Box::new(RandomRotation {
                interpolation: Interpolation::Bilinear,
                fill: None,
                ..RandomRotation::new(25.0)
            }),
            Box::new(GaussianBlur {
                kernel_size: [5, 3],
                sigma: [0.3, 2.0],
            }),
            Box::new(GaussianNoise::default()),
            Box::new(RandomCrop {
                size: [18, 18],
                padding: [2; 4],
                pad_if_needed: false,
                padding_mode: zoo_augment::functional::PadMode::Reflect,
            }),
            Box::new(RandomErasing {
                p: 0.7,
                ..RandomErasing::default()
            }),
        ])
        .apply(x.clone(), &mut Rng::new(7))
        .unwrap();
        let labels = Tensor::from_data(TensorData::new(vec![0i64, 1, 2, 0, 1, 2], [n]), device);
        let (cut, cut_soft) = mix::CutMix {
            alpha: 1.0,
            num_classes: 3,
        }
        .apply(x.clone(), labels.clone(), &mut Rng::new(3))
        .unwrap();
        let (mixed, soft) = mix::mixup(x, labels, 0.3, 3).unwrap();
        vec![
            ("pipeline".to_string(), read(y)),
            ("replay".to_string(), read(again)),
            ("course crop".to_string(), read(course)),
            ("mixup".to_string(), read(mixed)),
            ("mixup labels".to_string(), read(soft)),
            (
                "rotate, blur, noise, crop, erase".to_string(),
                read(geometric),
            ),
            ("cutmix".to_string(), read(cut)),
            ("cutmix labels".to_string(), read(cut_soft)),
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

/// The batch stage: a pipeline after burn's `DataLoader` and the datasets'
/// batcher draws exactly what the same transform draws on the same batches,
/// and the same seed replays the epoch.
#[test]
fn augmentation_as_a_batch_stage_replays_the_transform_on_each_batch() {
    use std::sync::Arc;

    use burn::data::dataloader::DataLoaderBuilder;
    use zoo_augment::stage::Augmented;
    use zoo_datasets::{FashionMnist, ImageBatch, ImageBatcher, Split};

    let device = zoo_device::from_name("flex").unwrap();
    let data = Arc::new(
        FashionMnist::embedded(Split::Test)
            .unwrap()
            .subset(&(0..70).collect::<Vec<_>>()),
    );
    let pipeline: Arc<dyn Transform + Send + Sync> = Arc::new(Compose::new(vec![
        Box::new(RandomRotation::new(20.0)),
        Box::new(RandomResizedCrop::course([24, 24])),
    ]));
    let epoch = |seed: u64| -> Vec<Vec<f32>> {
        let loader = DataLoaderBuilder::<_, ImageBatch>::new(Augmented::new(
            ImageBatcher::new(),
            pipeline.clone(),
            seed,
        ))
        .batch_size(32)
        .set_device(device.clone())
        .build(data.clone());
        loader.iter().map(|b| read(b.unwrap().images)).collect()
    };
    let got = epoch(5);
    assert_eq!(got.len(), 3);
    assert_eq!(got, epoch(5), "the same seed did not replay");
    assert_ne!(got, epoch(6));
    let mut rng = Rng::new(5);
    for (k, batch) in got.iter().enumerate() {
        let indices: Vec<usize> = (k * 32..((k + 1) * 32).min(70)).collect();
        let plain = ImageBatcher::new()
            .batch_indices(&data, &indices, &device)
            .images;
        let want = read(pipeline.apply(plain, &mut rng).unwrap());
        assert_eq!(batch, &want, "batch {k}");
        assert_eq!(batch.len(), indices.len() * 24 * 24);
    }
}
