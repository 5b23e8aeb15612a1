//! Fully convolutional networks for semantic segmentation (Long, Shelhamer
//! & Darrell 2015):
//!
//! - [`D2lFcn`]: the course's FCN (d2l 14.11): torchvision's ResNet-18
//!   without its pooling and classifier, a 1x1 convolution to the classes and
//!   a transposed convolution (kernel 64, stride 32, padding 16) back to the
//!   input size, initialised by bilinear interpolation. Its `state_dict` keys
//!   are the course's `nn.Sequential`'s (`0` = conv1, `1` = bn1, `4`..`7` =
//!   layer1..layer4, `final_conv`, `transpose_conv`).
//! - [`Fcn`]: torchvision's `fcn_resnet50` / `fcn_resnet101`: a ResNet whose
//!   last two stages trade their stride for dilation (output stride 8),
//!   `FCNHead` (3x3 convolution to a quarter of the channels, batch norm,
//!   ReLU, dropout 0.1, 1x1 convolution to the classes) and an optional
//!   auxiliary head on the third stage, each upsampled bilinearly to the
//!   input size; torchvision's keys (`backbone.*`, `classifier.0/1/4`,
//!   `aux_classifier.*`).

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::{Device, Tensor, TensorData};
use zoo_layers::blocks::conv;
use zoo_layers::blocks::residual::BottleneckConfig;
use zoo_layers::init::bilinear_kernel;
use zoo_layers::norm::{BatchNorm, BatchNormConfig};
use zoo_layers::trace;

use crate::resnet::{Block, ResNet, ResNetConfig, trunk};
use crate::weights::{StateDict, WeightsError, load_state_dict};

/// Configuration of the course's [`D2lFcn`].
#[derive(Config, Debug)]
pub struct D2lFcnConfig {
    /// Classes (VOC: 21, background included).
    pub num_classes: usize,
    /// Input channels.
    #[config(default = 3)]
    pub in_channels: usize,
}

/// The course's FCN (d2l 14.11).
#[derive(Module, Debug)]
pub struct D2lFcn {
    /// ResNet-18's stem convolution (key `0`).
    pub conv1: Conv2d,
    /// Its batch norm (key `1`).
    pub bn1: BatchNorm,
    /// Stage 1 (key `4`).
    pub layer1: Vec<Block>,
    /// Stage 2 (key `5`).
    pub layer2: Vec<Block>,
    /// Stage 3 (key `6`).
    pub layer3: Vec<Block>,
    /// Stage 4 (key `7`).
    pub layer4: Vec<Block>,
    /// 1x1 convolution from 512 channels to the classes.
    pub final_conv: Conv2d,
    /// Kernel 64, stride 32, padding 16: back to the input size.
    pub transpose_conv: ConvTranspose2d,
}

impl D2lFcnConfig {
    /// The network with PyTorch's default initialisation, the transposed
    /// convolution's weight set to the bilinear kernel as the course does
    /// (its bias keeps PyTorch's default). The course then loads ImageNet
    /// weights into the ResNet-18 part ([`D2lFcn::load_resnet18`]).
    ///
    /// # Panics
    /// When `num_classes` is 0.
    pub fn init(&self, device: &Device) -> D2lFcn {
        let c = self.num_classes;
        assert!(c > 0, "D2lFcnConfig: num_classes is 0, expected > 0");
        let r = ResNetConfig::torchvision(18, 1000)
            .expect("resnet18")
            .with_in_channels(self.in_channels)
            .init(device);
        let mut transpose_conv = ConvTranspose2dConfig::new([c, c], [64, 64])
            .with_stride([32, 32])
            .with_padding([16, 16])
            .init(device);
        transpose_conv.weight = Param::from_tensor(bilinear_kernel(c, c, 64, device));
        D2lFcn {
            conv1: r.conv1,
            bn1: r.bn1,
            layer1: r.layer1,
            layer2: r.layer2,
            layer3: r.layer3,
            layer4: r.layer4,
            final_conv: conv([512, c], 1, 1, 0, true, device),
            transpose_conv,
        }
    }
}

impl D2lFcn {
    /// Per-pixel class scores `[N, classes, H, W]` of images `[N, C, H, W]`
    /// (`H` and `W` multiples of 32 come back at their own size; others at
    /// `32 * ceil(H / 32)`, as in the course).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let f = trunk(
            &self.conv1,
            &self.bn1,
            [&self.layer1, &self.layer2, &self.layer3, &self.layer4],
            x,
        );
        let y = trace::conv2d(&self.final_conv, f);
        trace::conv_transpose2d(&self.transpose_conv, y)
    }

    /// The course's `state_dict` key of a parameter path (`conv1.weight` ->
    /// `0.weight`, `layer1.0.conv1.weight` -> `4.0.conv1.weight`, ...).
    pub fn torch_key(path: &str) -> String {
        let p = ResNet::torchvision_key(path);
        for (field, index) in [
            ("conv1.", "0."),
            ("bn1.", "1."),
            ("layer1.", "4."),
            ("layer2.", "5."),
            ("layer3.", "6."),
            ("layer4.", "7."),
        ] {
            if let Some(rest) = p.strip_prefix(field) {
                return format!("{index}{rest}");
            }
        }
        p
    }

    /// Loads a `state_dict` of the course's `net` (every key, torch layout).
    pub fn load_torch(self, sd: &StateDict) -> Result<Self, WeightsError> {
        load_state_dict(self, sd, &|p| Some(Self::torch_key(p)))
    }

    /// Loads torchvision's `resnet18` weights (an ImageNet checkpoint) into
    /// the trunk, leaving `final_conv` and `transpose_conv` as they are:
    /// the course's `pretrained_net` step. The checkpoint's `fc.*` are not used.
    pub fn load_resnet18(self, sd: &StateDict) -> Result<Self, WeightsError> {
        let mut trunk = StateDict::new();
        for key in sd.keys().filter(|k| !k.starts_with("fc.")) {
            trunk.insert(key, sd.get(key).expect("listed").clone());
        }
        load_state_dict(self, &trunk, &|p| {
            (!p.starts_with("final_conv.") && !p.starts_with("transpose_conv."))
                .then(|| ResNet::torchvision_key(p))
        })
    }
}

/// Configuration of torchvision's [`Fcn`].
#[derive(Config, Debug)]
pub struct FcnConfig {
    /// 50 (`fcn_resnet50`) or 101 (`fcn_resnet101`).
    pub depth: usize,
    /// Classes (torchvision: 21).
    #[config(default = 21)]
    pub num_classes: usize,
    /// The auxiliary head on the third stage (`aux_loss`).
    #[config(default = false)]
    pub aux_loss: bool,
}

/// torchvision's `FCNHead`: `Conv2d(in, in / 4, 3, padding 1, no bias)`,
/// batch norm, ReLU, dropout 0.1, `Conv2d(in / 4, classes, 1)` (keys `0`,
/// `1`, `4`).
#[derive(Module, Debug)]
pub struct FcnHead {
    /// The 3x3 convolution (key `0`).
    pub conv: Conv2d,
    /// Its batch norm (key `1`).
    pub bn: BatchNorm,
    /// Dropout 0.1 (training only).
    pub dropout: Dropout,
    /// The 1x1 convolution to the classes (key `4`).
    pub out: Conv2d,
}

impl FcnHead {
    fn new(in_channels: usize, classes: usize, device: &Device) -> Self {
        let inter = in_channels / 4;
        Self {
            conv: conv([in_channels, inter], 3, 1, 1, false, device),
            bn: BatchNormConfig::new(inter).init(device),
            dropout: DropoutConfig::new(0.1).init(),
            out: conv([inter, classes], 1, 1, 0, true, device),
        }
    }

    /// Class scores at the feature map's resolution.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self.bn.forward_conv(&self.conv, x, None, true);
        trace::conv2d(&self.out, self.dropout.forward(y))
    }
}

/// The dilated ResNet trunk of [`Fcn`] (torchvision's `IntermediateLayerGetter`
/// of a ResNet built with `replace_stride_with_dilation=[False, True, True]`).
#[derive(Module, Debug)]
pub struct FcnBackbone {
    /// 7x7 stride-2 stem convolution.
    pub conv1: Conv2d,
    /// Its batch norm.
    pub bn1: BatchNorm,
    /// Stage 1.
    pub layer1: Vec<Block>,
    /// Stage 2 (stride 2).
    pub layer2: Vec<Block>,
    /// Stage 3 (dilation 2 instead of stride).
    pub layer3: Vec<Block>,
    /// Stage 4 (dilation 4 instead of stride).
    pub layer4: Vec<Block>,
}

/// The output of [`Fcn::forward`].
#[derive(Debug, Clone)]
pub struct FcnOutput {
    /// Class scores `[N, classes, H, W]` at the input's size (`"out"`).
    pub out: Tensor<4>,
    /// The auxiliary head's scores, when it has one (`"aux"`).
    pub aux: Option<Tensor<4>>,
}

/// torchvision's `fcn_resnet50` / `fcn_resnet101`.
#[derive(Module, Debug)]
pub struct Fcn {
    /// The dilated ResNet.
    pub backbone: FcnBackbone,
    /// The head on the last stage (2048 channels).
    pub classifier: FcnHead,
    /// The head on the third stage (1024 channels), with `aux_loss`.
    pub aux_classifier: Option<FcnHead>,
}

impl FcnConfig {
    /// The network with PyTorch's default initialisation.
    ///
    /// # Panics
    /// When `depth` is not 50 or 101, or `num_classes` is 0.
    pub fn init(&self, device: &Device) -> Fcn {
        let blocks = match self.depth {
            50 => [3, 4, 6, 3],
            101 => [3, 4, 23, 3],
            d => panic!("FcnConfig: depth {d}, expected 50 or 101"),
        };
        assert!(self.num_classes > 0, "FcnConfig: num_classes is 0");
        // torchvision's _make_layer with replace_stride_with_dilation = [F, T, T].
        let mut in_channels = 64;
        let mut dilation = 1;
        let mut stages = Vec::new();
        for (s, (&n, planes)) in blocks.iter().zip([64, 128, 256, 512]).enumerate() {
            let (mut stride, dilate) = match s {
                0 => (1, false),
                1 => (2, false),
                _ => (2, true),
            };
            let previous = dilation;
            if dilate {
                dilation *= stride;
                stride = 1;
            }
            let stage: Vec<Block> = (0..n)
                .map(|j| {
                    let b = BottleneckConfig::new(in_channels, planes)
                        .with_stride(if j == 0 { stride } else { 1 })
                        .with_dilation(if j == 0 { previous } else { dilation })
                        .init(device);
                    in_channels = 4 * planes;
                    Block::Bottleneck(b)
                })
                .collect();
            stages.push(stage);
        }
        let mut stages = stages.into_iter();
        let mut stage = || stages.next().expect("4 stages");
        Fcn {
            backbone: FcnBackbone {
                conv1: conv([3, 64], 7, 2, 3, false, device),
                bn1: BatchNormConfig::new(64).init(device),
                layer1: stage(),
                layer2: stage(),
                layer3: stage(),
                layer4: stage(),
            },
            classifier: FcnHead::new(2048, self.num_classes, device),
            aux_classifier: self
                .aux_loss
                .then(|| FcnHead::new(1024, self.num_classes, device)),
        }
    }
}

impl Fcn {
    /// Class scores at the input's size, and the auxiliary head's.
    pub fn forward(&self, x: Tensor<4>) -> FcnOutput {
        let [_, _, h, w] = x.dims();
        let b = &self.backbone;
        let stages = [&b.layer1, &b.layer2, &b.layer3];
        let x = crate::parts::max_pool(b.bn1.forward_conv(&b.conv1, x, None, true), 3, 2, 1, false);
        let mid = stages
            .into_iter()
            .flat_map(|stage| stage.iter())
            .fold(x, |x, block| block.forward(x));
        let last = b
            .layer4
            .iter()
            .fold(mid.clone(), |x, block| block.forward(x));
        FcnOutput {
            out: upsample_bilinear(self.classifier.forward(last), [h, w]),
            aux: self
                .aux_classifier
                .as_ref()
                .map(|head| upsample_bilinear(head.forward(mid), [h, w])),
        }
    }

    /// torchvision's `state_dict` key of a parameter path (`classifier.conv`
    /// is `classifier.0`, `classifier.bn` `classifier.1`, `classifier.out`
    /// `classifier.4`; the projections as in ResNet).
    pub fn torch_key(path: &str) -> String {
        let p = ResNet::torchvision_key(path);
        for head in ["classifier.", "aux_classifier."] {
            if let Some(rest) = p.strip_prefix(head) {
                for (field, index) in [("conv.", "0."), ("bn.", "1."), ("out.", "4.")] {
                    if let Some(tail) = rest.strip_prefix(field) {
                        return format!("{head}{index}{tail}");
                    }
                }
            }
        }
        p
    }

    /// Loads a torchvision `state_dict` (`fcn_resnet50_coco-1167a1af.pth`, ...).
    pub fn load_torch(self, sd: &StateDict) -> Result<Self, WeightsError> {
        load_state_dict(self, sd, &|p| Some(Self::torch_key(p)))
    }
}

/// torchvision's published weights of the segmentation models (COCO
/// val2017 restricted to VOC's 20 classes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegmentationWeights {
    /// The builder's name.
    pub name: &'static str,
    /// torchvision's URL.
    pub url: &'static str,
    /// Parameters, with the auxiliary head (as torchvision's metadata counts them).
    pub num_params: usize,
    /// Mean IoU (%) on COCO-val2017-VOC-labels.
    pub miou: f64,
    /// Pixel accuracy (%) there.
    pub pixel_acc: f64,
}

/// `FCN_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1` and `FCN_ResNet101_...`.
pub const FCN_WEIGHTS: [SegmentationWeights; 2] = [
    SegmentationWeights {
        name: "fcn_resnet50",
        url: "https://download.pytorch.org/models/fcn_resnet50_coco-1167a1af.pth",
        num_params: 35_322_218,
        miou: 60.5,
        pixel_acc: 91.4,
    },
    SegmentationWeights {
        name: "fcn_resnet101",
        url: "https://download.pytorch.org/models/fcn_resnet101_coco-7ecb50ca.pth",
        num_params: 54_314_346,
        miou: 63.7,
        pixel_acc: 91.9,
    },
];

/// `F.interpolate(x, size, mode="bilinear", align_corners=False)` of
/// `[N, C, H, W]`: on flex without autodiff each output's taps gathered
/// (`zoo_kernels::resample_separable`), elsewhere two batched products
/// with the axes' matrices (which carry gradients).
pub fn upsample_bilinear(x: Tensor<4>, size: [usize; 2]) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let [oh, ow] = size;
    if [oh, ow] == [h, w] {
        return x;
    }
    // On flex (no autodiff): each output's 2 x 2 taps gathered directly.
    let (row_taps, col_taps) = (
        zoo_kernels::axis_weights(h, oh, false),
        zoo_kernels::axis_weights(w, ow, false),
    );
    if let Some(y) = zoo_kernels::resample_separable(&x, &vec![row_taps; n], &vec![col_taps; n]) {
        return y;
    }
    let device = x.device();
    let b = n * c;
    let rows = Tensor::<3>::from_data(
        TensorData::new(zoo_kernels::axis_matrix(h, oh, false), [1, oh, h]),
        &device,
    )
    .expand([b, oh, h]);
    let cols = Tensor::<3>::from_data(
        TensorData::new(zoo_kernels::axis_matrix(w, ow, false), [1, ow, w]),
        &device,
    )
    .expand([b, ow, w]);
    rows.matmul(x.reshape([b, h, w]))
        .matmul(cols.swap_dims(1, 2))
        .reshape([n, c, oh, ow])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;

    fn device() -> Device {
        zoo_device::from_name("flex").unwrap()
    }

    #[test]
    fn bilinear_upsampling_is_torch_interpolate() {
        // F.interpolate(tensor([[[[1., 2.], [3., 4.]]]]), size=(4, 4),
        // mode="bilinear", align_corners=False):
        let want = [
            1.0, 1.25, 1.75, 2.0, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3.0, 3.25, 3.75, 4.0,
        ];
        let x = Tensor::<4>::from_floats([[[[1.0, 2.0], [3.0, 4.0]]]], &device());
        let y: Vec<f32> = upsample_bilinear(x, [4, 4])
            .into_data()
            .try_into_vec_as()
            .unwrap();
        for (a, b) in y.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{y:?}");
        }
    }

    #[test]
    fn the_course_fcn_returns_the_input_size_and_its_keys() {
        let d = device();
        let net = D2lFcnConfig::new(5).init(&d).valid();
        let y = net.forward(Tensor::zeros([1, 3, 64, 96], &d));
        assert_eq!(y.dims(), [1, 5, 64, 96]);
        assert_eq!(D2lFcn::torch_key("conv1.weight"), "0.weight");
        assert_eq!(
            D2lFcn::torch_key("layer2.0.downsample.conv.weight"),
            "5.0.downsample.0.weight"
        );
        assert_eq!(
            D2lFcn::torch_key("transpose_conv.bias"),
            "transpose_conv.bias"
        );
        assert_eq!(
            Fcn::torch_key("aux_classifier.out.weight"),
            "aux_classifier.4.weight"
        );
        assert_eq!(
            Fcn::torch_key("backbone.layer3.0.downsample.bn.running_mean"),
            "backbone.layer3.0.downsample.1.running_mean"
        );
    }

    #[test]
    fn torchvision_fcn_keeps_output_stride_8_and_both_heads() {
        let d = device();
        let net = FcnConfig::new(50)
            .with_num_classes(3)
            .with_aux_loss(true)
            .init(&d)
            .valid();
        let out = net.forward(Tensor::zeros([1, 3, 40, 56], &d));
        assert_eq!(out.out.dims(), [1, 3, 40, 56]);
        assert_eq!(out.aux.expect("aux head").dims(), [1, 3, 40, 56]);
        // The dilated stages keep their input's resolution: 40x56 / 8.
        let b = &net.backbone;
        let x = crate::parts::max_pool(
            b.bn1
                .forward_relu(trace::conv2d(&b.conv1, Tensor::zeros([1, 3, 40, 56], &d))),
            3,
            2,
            1,
            false,
        );
        let f = [&b.layer1, &b.layer2, &b.layer3, &b.layer4]
            .into_iter()
            .flat_map(|s| s.iter())
            .fold(x, |x, blk| blk.forward(x));
        assert_eq!(f.dims(), [1, 2048, 5, 7]);
    }
}
