//! Every architecture maps images to `[N, classes]` at the course's input
//! sizes (or a small input where torchvision's adaptive pooling allows it),
//! in training (autodiff) and evaluation modes, with trunk shapes as the
//! course traces them.

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor};
use zoo_models::alexnet::AlexNetConfig;
use zoo_models::densenet::DenseNetConfig;
use zoo_models::googlenet::{D2lGoogLeNetConfig, GoogLeNetConfig};
use zoo_models::nin::NinConfig;
use zoo_models::resnet::ResNetConfig;
use zoo_models::vgg::VggConfig;

fn device() -> Device {
    zoo_device::from_name("flex").unwrap()
}

fn x(shape: [usize; 4], d: &Device) -> Tensor<4> {
    Tensor::random(shape, Distribution::Uniform(0.0, 1.0), d)
}

#[test]
fn course_variants_classify_fashion_mnist_sized_inputs() {
    let d = device();
    // d2l 8.1: AlexNet's trunk ends at 256 x 5 x 5 for 224 x 224 input.
    let alex = AlexNetConfig::d2l().init(&d);
    assert_eq!(
        alex.features(x([1, 1, 224, 224], &d)).dims(),
        [1, 256, 5, 5]
    );
    assert_eq!(alex.forward(x([1, 1, 224, 224], &d)).dims(), [1, 10]);
    // d2l 8.3: NiN on 224 x 224 ends in 10 x 1 x 1.
    assert_eq!(
        NinConfig::new()
            .init(&d)
            .forward(x([1, 1, 224, 224], &d))
            .dims(),
        [1, 10]
    );
    // d2l 8.4 / 8.6 / 8.7 train GoogLeNet, ResNet and DenseNet at 96 x 96.
    let g = D2lGoogLeNetConfig::new().init(&d);
    assert_eq!(g.forward(x([2, 1, 96, 96], &d)).dims(), [2, 10]);
    let r = ResNetConfig::d2l_resnet18().init(&d);
    // 96 -> stem /4 -> 24 -> stages /8 -> 3.
    assert_eq!(r.features(x([2, 1, 96, 96], &d)).dims(), [2, 512, 3, 3]);
    let dn = DenseNetConfig::d2l().init(&d);
    assert_eq!(dn.forward(x([2, 1, 96, 96], &d)).dims(), [2, 10]);
    // The course's small VGG ratio (channels / 4) on 32 x 32: 5 halvings -> 1 x 1.
    let mut small = VggConfig::d2l_vgg11().with_input_size([32, 32]);
    small.blocks = vec![[1, 16], [1, 32], [2, 64], [2, 128], [2, 128]];
    assert_eq!(small.flat_features(), 128);
    assert_eq!(
        small.init(&d).forward(x([2, 1, 32, 32], &d)).dims(),
        [2, 10]
    );
}

#[test]
fn torchvision_variants_run_in_training_and_evaluation() {
    let d = device();
    let ad = d.clone().autodiff();
    let r = ResNetConfig::torchvision(50, 7).unwrap().init(&ad);
    assert_eq!(r.features(x([2, 3, 64, 64], &ad)).dims(), [2, 2048, 2, 2]);
    assert_eq!(r.valid().forward(x([1, 3, 64, 64], &d)).dims(), [1, 7]);
    let v = VggConfig::torchvision(11, true, 5).unwrap().init(&d);
    assert_eq!(v.forward(x([1, 3, 32, 32], &d)).dims(), [1, 5]);
    let g = GoogLeNetConfig::new()
        .with_aux_logits(true)
        .with_num_classes(4)
        .init(&ad);
    let (trunk, aux) = g.features_with_aux(x([2, 3, 224, 224], &ad));
    assert_eq!(trunk.dims(), [2, 1024, 7, 7]);
    assert_eq!(
        aux.iter().map(|a| a.dims()).collect::<Vec<_>>(),
        vec![[2, 4], [2, 4]]
    );
    let dn = DenseNetConfig::torchvision(121, 3).unwrap().init(&d);
    assert_eq!(dn.features(x([1, 3, 64, 64], &d)).dims(), [1, 1024, 2, 2]);
    let a = AlexNetConfig::new().with_num_classes(6).init(&d);
    assert_eq!(a.forward(x([1, 3, 96, 96], &d)).dims(), [1, 6]);
}
