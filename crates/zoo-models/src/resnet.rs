//! ResNet (He et al. 2016): the course's ResNet-18 (d2l 8.6: biased
//! convolutions, bare 1x1 projection shortcuts, configurable stages) and
//! torchvision's resnet18/34/50/101/152, ResNeXt and Wide ResNet, with torchvision's field names
//! (`conv1`, `bn1`, `layer1`..`layer4`, `fc`).

use burn::config::Config;
use burn::module::Module;
use burn::nn::Linear;
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Tensor};
use zoo_layers::blocks::residual::{
    BasicBlock, BasicBlockConfig, Bottleneck, BottleneckConfig, Norm2d, ResidualStyle,
};
use zoo_layers::norm::{BatchNorm, BatchNormConfig};
use zoo_layers::trace;

use zoo_layers::blocks::conv;

use crate::parts::{global_avg, linear, max_pool};

/// The block type of a ResNet.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// Two 3x3 convolutions (ResNet-18/34).
    Basic,
    /// 1x1, 3x3, 1x1 with expansion 4 (ResNet-50 and deeper).
    Bottleneck,
}

/// Configuration of a [`ResNet`].
#[derive(Config, Debug)]
pub struct ResNetConfig {
    /// Blocks per stage and stage widths, e.g. `[[2, 64], [2, 128], [2, 256], [2, 512]]`.
    pub stages: Vec<[usize; 2]>,
    /// The block type.
    #[config(default = "BlockKind::Basic")]
    pub block: BlockKind,
    /// torchvision's or d2l's form of the blocks and stem.
    #[config(default = "ResidualStyle::Torchvision")]
    pub style: ResidualStyle,
    /// Input channels.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Output classes.
    #[config(default = 1000)]
    pub num_classes: usize,
    /// Groups of the bottleneck's 3x3 convolution (ResNeXt's cardinality).
    #[config(default = 1)]
    pub groups: usize,
    /// Bottleneck width per group at 64 planes (ResNeXt's `d`; 64 for
    /// ResNet, 128 for Wide ResNet-50-2).
    #[config(default = 64)]
    pub width_per_group: usize,
}

/// One residual block of either kind, normalised by `N` (batch norm unless
/// chosen otherwise, see [`ResNetConfig::stages_with_norm`]).
// The variants differ in size, but a network holds a few dozen blocks built
// once; boxing would only add indirection to every forward.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Block<N: Norm2d = BatchNorm> {
    /// A basic block.
    Basic(BasicBlock<N>),
    /// A bottleneck block.
    Bottleneck(Bottleneck<N>),
}

impl<N: Norm2d> Block<N> {
    /// The block's output.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Block::Basic(b) => b.forward(x),
            Block::Bottleneck(b) => b.forward(x),
        }
    }
}

/// A ResNet.
#[derive(Module, Debug)]
pub struct ResNet {
    /// 7x7 stride-2 stem convolution.
    pub conv1: Conv2d,
    /// Its batch norm.
    pub bn1: BatchNorm,
    /// Stage 1 (no downsampling).
    pub layer1: Vec<Block>,
    /// Stage 2.
    pub layer2: Vec<Block>,
    /// Stage 3.
    pub layer3: Vec<Block>,
    /// Stage 4.
    pub layer4: Vec<Block>,
    /// The classifier.
    pub fc: Linear,
}

impl ResNetConfig {
    /// torchvision's `resnet18` .. `resnet152` by depth; `None` for other depths.
    pub fn torchvision(depth: usize, num_classes: usize) -> Option<Self> {
        let (blocks, kind) = match depth {
            18 => ([2, 2, 2, 2], BlockKind::Basic),
            34 => ([3, 4, 6, 3], BlockKind::Basic),
            50 => ([3, 4, 6, 3], BlockKind::Bottleneck),
            101 => ([3, 4, 23, 3], BlockKind::Bottleneck),
            152 => ([3, 8, 36, 3], BlockKind::Bottleneck),
            _ => return None,
        };
        let widths = [64, 128, 256, 512];
        Some(
            Self::new(blocks.iter().zip(widths).map(|(&b, w)| [b, w]).collect())
                .with_block(kind)
                .with_num_classes(num_classes),
        )
    }

    /// torchvision's ResNeXt (Xie et al. 2017) and Wide ResNet builders by
    /// name: `resnext50_32x4d`, `resnext101_32x8d`, `resnext101_64x4d`,
    /// `wide_resnet50_2`, `wide_resnet101_2`.
    pub fn torchvision_variant(name: &str, num_classes: usize) -> Option<Self> {
        let (depth, groups, width) = match name {
            "resnext50_32x4d" => (50, 32, 4),
            "resnext101_32x8d" => (101, 32, 8),
            "resnext101_64x4d" => (101, 64, 4),
            "wide_resnet50_2" => (50, 1, 128),
            "wide_resnet101_2" => (101, 1, 128),
            _ => return None,
        };
        Some(
            Self::torchvision(depth, num_classes)?
                .with_groups(groups)
                .with_width_per_group(width),
        )
    }

    /// The course's ResNet-18 (d2l 8.6): one grey channel, 10 classes.
    pub fn d2l_resnet18() -> Self {
        Self::new(vec![[2, 64], [2, 128], [2, 256], [2, 512]])
            .with_style(ResidualStyle::D2l)
            .with_in_channels(1)
            .with_num_classes(10)
    }

    /// Channels out of the last stage.
    pub fn features(&self) -> usize {
        let last = self.stages.last().map_or(64, |s| s[1]);
        match self.block {
            BlockKind::Basic => last,
            BlockKind::Bottleneck => 4 * last,
        }
    }

    /// The network, with PyTorch's default initialisation.
    ///
    /// # Panics
    /// When there are not exactly four stages, or the style is d2l with
    /// bottleneck blocks (the course has none).
    pub fn init(&self, device: &Device) -> ResNet {
        let channels = self.features();
        let [layer1, layer2, layer3, layer4] =
            self.stages_with_norm(&|c| BatchNormConfig::new(c).init(device), device);
        ResNet {
            conv1: conv(
                [self.in_channels, 64],
                7,
                2,
                3,
                self.style == ResidualStyle::D2l,
                device,
            ),
            bn1: BatchNormConfig::new(64).init(device),
            layer1,
            layer2,
            layer3,
            layer4,
            fc: linear(channels, self.num_classes, device),
        }
    }

    /// The four stages (`layer1` .. `layer4`) with `norm(channels)` as every
    /// block's normalisation layer: the trunk of [`init`](Self::init), and
    /// of torchvision's detection backbones with `FrozenBatchNorm2d`.
    ///
    /// # Panics
    /// As [`init`](Self::init).
    pub fn stages_with_norm<N: Norm2d>(
        &self,
        norm: &dyn Fn(usize) -> N,
        device: &Device,
    ) -> [Vec<Block<N>>; 4] {
        assert_eq!(
            self.stages.len(),
            4,
            "ResNetConfig: {} stages, expected 4",
            self.stages.len()
        );
        assert!(
            !(self.block == BlockKind::Bottleneck && self.style == ResidualStyle::D2l),
            "ResNetConfig: the course's ResNet has basic blocks only"
        );
        let mut channels = 64;
        let mut layers: Vec<Vec<Block<N>>> = Vec::new();
        for (i, &[n, width]) in self.stages.iter().enumerate() {
            let mut stage = Vec::new();
            for j in 0..n {
                let stride = if j == 0 && i > 0 { 2 } else { 1 };
                let block = match self.block {
                    BlockKind::Basic => {
                        let b = BasicBlockConfig::new(channels, width)
                            .with_stride(stride)
                            .with_style(self.style)
                            .init_with_norm(norm, device);
                        channels = width;
                        Block::Basic(b)
                    }
                    BlockKind::Bottleneck => {
                        let b = BottleneckConfig::new(channels, width)
                            .with_stride(stride)
                            .with_groups(self.groups)
                            .with_base_width(self.width_per_group)
                            .init_with_norm(norm, device);
                        channels = 4 * width;
                        Block::Bottleneck(b)
                    }
                };
                stage.push(block);
            }
            layers.push(stage);
        }
        layers.try_into().expect("4 stages")
    }
}

impl ResNet {
    /// torchvision's `state_dict` key of a parameter path (`downsample.conv`
    /// is torchvision's `downsample.0`, `downsample.bn` its `downsample.1`).
    pub fn torchvision_key(path: &str) -> String {
        path.replace(".downsample.conv.", ".downsample.0.")
            .replace(".downsample.bn.", ".downsample.1.")
    }

    /// The convolutional trunk: `[N, C, H, W]` to the last stage's feature map.
    pub fn features(&self, x: Tensor<4>) -> Tensor<4> {
        trunk(
            &self.conv1,
            &self.bn1,
            [&self.layer1, &self.layer2, &self.layer3, &self.layer4],
            x,
        )
    }

    /// Logits `[N, classes]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        trace::linear(&self.fc, global_avg(self.features(x)))
    }
}

/// torchvision's ResNet stem (`conv1`, `bn1`, ReLU, 3x3/2 max pool) then
/// the four stages, each block traced as `layer<s>.<j>`: the trunk of
/// [`ResNet`] and of the segmentation networks built on it.
pub fn trunk<N: Norm2d>(
    conv1: &Conv2d,
    bn1: &N,
    stages: [&[Block<N>]; 4],
    x: Tensor<4>,
) -> Tensor<4> {
    let x = stem(conv1, bn1, x);
    stages
        .into_iter()
        .enumerate()
        .fold(x, |x, (s, blocks)| run_stage(s + 1, blocks, x))
}

/// torchvision's ResNet stem: `conv1`, `bn1`, ReLU, 3x3/2 max pool.
pub fn stem<N: Norm2d>(conv1: &Conv2d, bn1: &N, x: Tensor<4>) -> Tensor<4> {
    max_pool(bn1.forward_conv(conv1, x, None, true), 3, 2, 1, false)
}

/// One stage's blocks in order, each traced as `layer<stage>.<j>`
/// (`stage` counted from 1).
pub fn run_stage<N: Norm2d>(stage: usize, blocks: &[Block<N>], x: Tensor<4>) -> Tensor<4> {
    blocks.iter().enumerate().fold(x, |x, (j, b)| {
        let kind = match b {
            Block::Basic(_) => "BasicBlock",
            Block::Bottleneck(_) => "Bottleneck",
        };
        trace::scope(format_args!("layer{stage}.{j}"), kind, x, |x| b.forward(x))
    })
}

// The registry's entries for this family (see `crate::registry`).

use crate::registry::{Build, Classifier, Model, Registration, RegistryError, TV_ARGS, d2l, tv};

const RESNET: &str = "He et al. 2016, Deep residual learning for image recognition";
const RESNEXT: &str =
    "Xie et al. 2017, Aggregated residual transformations for deep neural networks";
const WRN: &str = "Zagoruyko & Komodakis 2016, Wide residual networks";

/// The registered models of this family.
pub(crate) const MODELS: &[Registration] = &[
    Registration::new(
        d2l("d2l_resnet18", "resnet", RESNET, 96, (0.05, 10, 256)),
        &["num_classes", "in_channels", "input_size", "blocks"],
        build_d2l,
    ),
    Registration::new(
        tv(
            "resnet18",
            "resnet",
            RESNET,
            224,
            (
                "https://download.pytorch.org/models/resnet18-f37072fd.pth",
                11_689_512,
                1.814,
                69.758,
                89.078,
                44.661,
            ),
        ),
        TV_ARGS,
        build_tv,
    ),
    Registration::new(
        tv(
            "resnet34",
            "resnet",
            RESNET,
            224,
            (
                "https://download.pytorch.org/models/resnet34-b627a593.pth",
                21_797_672,
                3.664,
                73.314,
                91.42,
                83.275,
            ),
        ),
        TV_ARGS,
        build_tv,
    ),
    Registration::new(
        tv(
            "resnet50",
            "resnet",
            RESNET,
            224,
            (
                "https://download.pytorch.org/models/resnet50-0676ba61.pth",
                25_557_032,
                4.089,
                76.13,
                92.862,
                97.781,
            ),
        ),
        TV_ARGS,
        build_tv,
    ),
    Registration::new(
        tv(
            "resnet101",
            "resnet",
            RESNET,
            224,
            (
                "https://download.pytorch.org/models/resnet101-63fe2227.pth",
                44_549_160,
                7.801,
                77.374,
                93.546,
                170.511,
            ),
        ),
        TV_ARGS,
        build_tv,
    ),
    Registration::new(
        tv(
            "resnet152",
            "resnet",
            RESNET,
            224,
            (
                "https://download.pytorch.org/models/resnet152-394f9c45.pth",
                60_192_808,
                11.514,
                78.312,
                94.046,
                230.434,
            ),
        ),
        TV_ARGS,
        build_tv,
    ),
    Registration::new(
        tv(
            "resnext50_32x4d",
            "resnet",
            RESNEXT,
            224,
            (
                "https://download.pytorch.org/models/resnext50_32x4d-7cdf4587.pth",
                25_028_904,
                4.23,
                77.618,
                93.698,
                95.789,
            ),
        ),
        TV_ARGS,
        build_tv,
    ),
    Registration::new(
        tv(
            "resnext101_32x8d",
            "resnet",
            RESNEXT,
            224,
            (
                "https://download.pytorch.org/models/resnext101_32x8d-8ba56ff5.pth",
                88_791_336,
                16.414,
                79.312,
                94.526,
                339.586,
            ),
        ),
        TV_ARGS,
        build_tv,
    ),
    Registration::new(
        tv(
            "resnext101_64x4d",
            "resnet",
            RESNEXT,
            224,
            (
                "https://download.pytorch.org/models/resnext101_64x4d-173b62eb.pth",
                83_455_272,
                15.46,
                83.246,
                96.454,
                319.318,
            ),
        ),
        TV_ARGS,
        build_tv,
    ),
    Registration::new(
        tv(
            "wide_resnet50_2",
            "resnet",
            WRN,
            224,
            (
                "https://download.pytorch.org/models/wide_resnet50_2-95faca4d.pth",
                68_883_240,
                11.398,
                78.468,
                94.086,
                131.82,
            ),
        ),
        TV_ARGS,
        build_tv,
    ),
    Registration::new(
        tv(
            "wide_resnet101_2",
            "resnet",
            WRN,
            224,
            (
                "https://download.pytorch.org/models/wide_resnet101_2-32ee1156.pth",
                126_886_696,
                22.753,
                78.848,
                94.284,
                242.896,
            ),
        ),
        TV_ARGS,
        build_tv,
    ),
];

fn build_d2l(b: &Build) -> Result<Model, RegistryError> {
    let mut c = ResNetConfig::d2l_resnet18()
        .with_in_channels(b.in_channels)
        .with_num_classes(b.num_classes);
    if let Some(stages) = b.pairs()? {
        if stages.len() != 4 {
            return Err(b.arg_err("blocks", format!("{} stages, expected 4", stages.len())));
        }
        c.stages = stages;
    }
    Ok(Model::ResNet(c.init(b.device)))
}

fn build_tv(b: &Build) -> Result<Model, RegistryError> {
    let config = match b.depth("resnet") {
        Some(depth) => ResNetConfig::torchvision(depth, b.num_classes),
        None => ResNetConfig::torchvision_variant(b.name, b.num_classes),
    };
    config
        .map(|c| Model::ResNet(c.with_in_channels(b.in_channels).init(b.device)))
        .ok_or_else(|| b.arg_err("name", format!("no ResNet builder for `{}`", b.name)))
}

impl Classifier for ResNet {
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        ResNet::forward(self, x)
    }
    fn trunk(&self, x: Tensor<4>) -> Option<Tensor<4>> {
        Some(ResNet::features(self, x))
    }
    fn state_dict_key(&self, path: &str) -> String {
        ResNet::torchvision_key(path)
    }
    fn head_prefixes(&self) -> &'static [&'static str] {
        &["fc"]
    }
    fn reset_head(&mut self, num_classes: usize, device: &Device) {
        self.fc = crate::parts::new_head(&self.fc, num_classes, device);
    }
}
