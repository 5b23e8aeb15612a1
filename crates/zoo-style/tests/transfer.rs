//! The transfer loop on small images with fixed (random, seeded) VGG-19
//! weights: both optimisers lower the loss, the result's Gram matrices move
//! toward the style's while its content features stay near the content's.
//! (ImageNet weights cannot be downloaded here; the loop's behaviour does
//! not depend on which weights the trunk has.)

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Device, Tensor, TensorData};
use zoo_style::features::{Vgg19Config, Vgg19Features};
use zoo_style::transfer::{Optimizer, Transfer, TransferConfig};

/// Deterministic He-uniform weights (`±sqrt(6 / fan_in)`: activations keep their
/// scale through the sixteen ReLU layers, as trained weights roughly do), biases small.
struct Fill(u64);

impl ModuleMapper for Fill {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let t = param.val();
        let shape = t.dims();
        let n: usize = shape.iter().product();
        let fan_in = if D > 1 { n / shape[0] } else { 100 };
        let scale = (6.0 / fan_in as f32).sqrt();
        let v: Vec<f32> = (0..n)
            .map(|_| {
                self.0 = self
                    .0
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((self.0 >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
            })
            .collect();
        Param::from_tensor(Tensor::from_data(TensorData::new(v, shape), &t.device()))
    }
}

fn image(seed: u64, h: usize, w: usize, device: &Device) -> Tensor<4> {
    let mut s = seed;
    // Smooth stripes plus noise: structure for the Gram matrices to see.
    let v: Vec<f32> = (0..3 * h * w)
        .map(|i| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let (c, y, x) = (i / (h * w), (i / w) % h, i % w);
            let wave = ((x as f32 * (0.3 + 0.2 * c as f32) + y as f32 * 0.1 * seed as f32).sin()
                + 1.0)
                / 2.0;
            (0.7 * wave + 0.3 * ((s >> 40) as f32 / (1u64 << 24) as f32)).clamp(0.0, 1.0)
        })
        .collect();
    Tensor::from_data(TensorData::new(v, [1, 3, h, w]), device)
}

type Run = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, f64);

fn run(optimizer: Optimizer, steps: usize) -> Run {
    let device = zoo_device::from_name("flex").unwrap();
    let extractor: Vgg19Features = Vgg19Config::new().init(&device).map(&mut Fill(3));
    let content = image(1, 32, 48, &device);
    let style = image(7, 32, 48, &device);
    // How far the style image's content features are from the content's.
    let k = zoo_style::features::layer_index("conv4_2").unwrap();
    let feats = |x: Tensor<4>| {
        extractor
            .extract(Vgg19Features::preprocess(x), &[k])
            .remove(0)
    };
    let apart: f64 = zoo_style::losses::content_loss(feats(style.clone()), feats(content.clone()))
        .into_scalar::<f32>() as f64;
    let config = TransferConfig {
        optimizer,
        ..TransferConfig::default()
    };
    let mut t = Transfer::new(extractor, content, style, config, &device).unwrap();
    let (style0, content0) = t.distances();
    let totals: Vec<f64> = (0..steps).map(|_| t.step().total).collect();
    let (style1, content1) = t.distances();
    let img: Vec<f32> = t.image().into_data().try_to_vec().unwrap();
    assert!(
        img.iter().all(|p| (0.0..=1.0).contains(p)),
        "the image leaves [0, 1]"
    );
    (totals, style0, style1, content0, content1, apart)
}

#[test]
fn adam_lowers_the_loss_and_moves_the_grams_toward_the_style() {
    let (totals, style0, style1, content0, content1, apart) = run(Optimizer::course_adam(), 15);
    assert!(totals[14] < 0.7 * totals[0], "{totals:?}");
    // Every style layer's Gram distance shrinks.
    for (a, b) in style0.iter().zip(&style1) {
        assert!(b < a, "style {style0:?} -> {style1:?}");
    }
    // Starting from the content, its content features stay far nearer the
    // content's than the style image's are (less than half as far).
    assert_eq!(content0[0], 0.0);
    assert!(
        content1[0] < 0.5 * apart,
        "content {content1:?}, style image {apart}"
    );
}

#[test]
fn lbfgs_lowers_the_loss() {
    let (totals, style0, style1, _, _, _) = run(Optimizer::Lbfgs { lr: 1.0 }, 10);
    assert!(totals[9] < totals[0], "{totals:?}");
    assert!(
        style1.iter().sum::<f64>() < style0.iter().sum::<f64>(),
        "{style0:?} -> {style1:?}"
    );
}

#[test]
fn bad_layers_weights_and_images_are_errors() {
    let device = zoo_device::from_name("flex").unwrap();
    let config = TransferConfig {
        content_layers: vec!["relu4_2".into()],
        ..TransferConfig::default()
    };
    let e = Transfer::new(
        Vgg19Config::new().init(&device),
        image(1, 32, 32, &device),
        image(2, 32, 32, &device),
        config,
        &device,
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("relu4_2"), "{e}");
    let e = Transfer::new(
        Vgg19Config::new().init(&device),
        Tensor::zeros([1, 1, 32, 32], &device),
        image(2, 32, 32, &device),
        TransferConfig::default(),
        &device,
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("[1, 1, 32, 32]"), "{e}");
}
