//! The blocks against the shapes d2l prints and the parameter counts
//! torchvision's modules have (`sum(p.numel() for p in m.parameters())`).

use burn::module::{Module, Param};
use burn::tensor::{Distribution, Tensor};
use zoo_layers::blocks::dense::{DenseBlockConfig, TransitionConfig};
use zoo_layers::blocks::inception::InceptionConfig;
use zoo_layers::blocks::nin::NinBlockConfig;
use zoo_layers::blocks::residual::{BasicBlockConfig, BottleneckConfig, ResidualStyle};
use zoo_layers::params::num_trainable_params;

fn device() -> burn::tensor::Device {
    zoo_device::from_name("flex").unwrap()
}

fn rand(shape: [usize; 4]) -> Tensor<4> {
    Tensor::random(shape, Distribution::Uniform(0.0, 1.0), &device())
}

#[test]
fn residual_shapes_match_d2l() {
    // d2l 8.6: Residual(3) keeps (4, 3, 6, 6); Residual(6, use_1x1conv=True,
    // strides=2) gives (4, 6, 3, 3).
    let same = BasicBlockConfig::new(3, 3)
        .with_style(ResidualStyle::D2l)
        .init(&device());
    assert_eq!(same.forward(rand([4, 3, 6, 6])).dims(), [4, 3, 6, 6]);
    assert!(same.downsample.is_none());
    let down = BasicBlockConfig::new(3, 6)
        .with_stride(2)
        .with_style(ResidualStyle::D2l)
        .init(&device());
    assert_eq!(down.forward(rand([4, 3, 6, 6])).dims(), [4, 6, 3, 3]);
    assert!(down.downsample.as_ref().unwrap().bn.is_none());
}

#[test]
fn parameter_counts_match_torchvision() {
    // torchvision.models.resnet.BasicBlock(64, 64): 73,984 parameters;
    // resnet18's layer2[0] (64 -> 128, stride 2, downsample): 230,144;
    // Bottleneck(256, 64) (resnet50 layer1[1]): 70,400;
    // resnet50's layer1[0] (64 -> 256 with downsample): 75,008.
    let d = device();
    assert_eq!(
        num_trainable_params(&BasicBlockConfig::new(64, 64).init(&d)),
        73_984
    );
    assert_eq!(
        num_trainable_params(&BasicBlockConfig::new(64, 128).with_stride(2).init(&d)),
        230_144
    );
    assert_eq!(
        num_trainable_params(&BottleneckConfig::new(256, 64).init(&d)),
        70_400
    );
    assert_eq!(
        num_trainable_params(&BottleneckConfig::new(64, 64).init(&d)),
        75_008
    );
    // d2l's GoogLeNet b3: Inception(64, (96, 128), (16, 32), 32) on 192
    // channels: 163,696 parameters, 256 output channels.
    let inc = InceptionConfig::new(192, 64, [96, 128], [16, 32], 32);
    assert_eq!(inc.out_channels(), 256);
    assert_eq!(num_trainable_params(&inc.init(&d)), 163_696);
    // torchvision densenet121 denseblock1.denselayer1 (64 in, growth 32,
    // bn_size 4): norm1 128 + conv1 64*128 + norm2 256 + conv2 128*32*9 = 45,440.
    let dense = DenseBlockConfig::new(1, 64, 32)
        .with_bn_size(Some(4))
        .init(&d);
    assert_eq!(num_trainable_params(&dense), 45_440);
}

#[test]
fn dense_and_transition_shapes_match_d2l() {
    // d2l 8.7: DenseBlock(2, 10) on (4, 3, 8, 8) gives (4, 23, 8, 8);
    // transition_block(10) then gives (4, 10, 4, 4).
    let block = DenseBlockConfig::new(2, 3, 10);
    assert_eq!(block.out_channels(), 23);
    let y = block.init(&device()).forward(rand([4, 3, 8, 8]));
    assert_eq!(y.dims(), [4, 23, 8, 8]);
    let t = TransitionConfig::new(23, 10).init(&device());
    assert_eq!(t.forward(y).dims(), [4, 10, 4, 4]);
}

#[test]
fn nin_and_inception_shapes_match_d2l() {
    // d2l 8.3: nin_block(96, kernel 11, stride 4, padding 0) on 1x224x224
    // gives 96x54x54.
    let nin = NinBlockConfig::new(1, 96, 11)
        .with_stride(4)
        .init(&device());
    assert_eq!(nin.forward(rand([1, 1, 224, 224])).dims(), [1, 96, 54, 54]);
    let inc = InceptionConfig::new(192, 64, [96, 128], [16, 32], 32).init(&device());
    assert_eq!(inc.forward(rand([2, 192, 12, 12])).dims(), [2, 256, 12, 12]);
}

#[test]
fn zero_initialised_last_norm_makes_the_block_relu_of_its_input() {
    // torchvision's zero_init_residual: with bn2.weight = 0 the residual
    // branch is bn2's bias (0) and the block is relu(x).
    let d = device();
    let mut block = BasicBlockConfig::new(3, 3).init(&d);
    block.bn2.weight = Param::from_tensor(Tensor::zeros([3], &d));
    let x = Tensor::<4>::random([2, 3, 5, 5], Distribution::Uniform(-1.0, 1.0), &d);
    let y = block.valid().forward(x.clone());
    let want = burn::tensor::activation::relu(x);
    let diff: f32 = (y - want).abs().max().into_scalar::<f32>();
    assert!(diff < 1e-6, "{diff}");
}
