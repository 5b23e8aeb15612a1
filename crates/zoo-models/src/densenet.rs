//! DenseNet (Huang et al. 2017): the course's (d2l 8.7: a ResNet stem with
//! a biased 7x7 convolution, four dense blocks of four single 3x3
//! convolutions at growth 32, transitions halving the channels) and
//! torchvision's densenet121/161/169/201 (bottleneck layers of width
//! `bn_size * growth`, compression 0.5, field names `conv0`, `norm0`,
//! `denseblock1`.., `transition1`.., `norm5`, `classifier`).

use burn::config::Config;
use burn::module::Module;
use burn::nn::Linear;
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Tensor};
use zoo_layers::blocks::dense::{DenseBlock, DenseBlockConfig, Transition, TransitionConfig};
use zoo_layers::norm::{BatchNorm, BatchNormConfig};
use zoo_layers::trace::{self, relu};

use zoo_layers::blocks::conv;

use crate::parts::{global_avg, linear, max_pool};

/// Configuration of a [`DenseNet`].
#[derive(Config, Debug)]
pub struct DenseNetConfig {
    /// Layers per dense block.
    pub blocks: Vec<usize>,
    /// Channels each layer adds.
    #[config(default = 32)]
    pub growth_rate: usize,
    /// Channels of the stem.
    #[config(default = 64)]
    pub num_init_features: usize,
    /// Bottleneck width factor (torchvision: 4); `None`: the course's
    /// single 3x3 convolution per layer, with biases.
    #[config(default = "Some(4)")]
    pub bn_size: Option<usize>,
    /// Input channels.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Output classes.
    #[config(default = 1000)]
    pub num_classes: usize,
}

/// A DenseNet.
#[derive(Module, Debug)]
pub struct DenseNet {
    /// Stem convolution (7x7, stride 2).
    pub conv0: Conv2d,
    /// Its batch norm.
    pub norm0: BatchNorm,
    /// The dense blocks.
    pub blocks: Vec<DenseBlock>,
    /// The transitions between them.
    pub transitions: Vec<Transition>,
    /// Final batch norm.
    pub norm5: BatchNorm,
    /// The classifier.
    pub classifier: Linear,
}

impl DenseNetConfig {
    /// torchvision's `densenet121`, `161`, `169`, `201` by depth.
    pub fn torchvision(depth: usize, num_classes: usize) -> Option<Self> {
        let (blocks, growth, init) = match depth {
            121 => (vec![6, 12, 24, 16], 32, 64),
            161 => (vec![6, 12, 36, 24], 48, 96),
            169 => (vec![6, 12, 32, 32], 32, 64),
            201 => (vec![6, 12, 48, 32], 32, 64),
            _ => return None,
        };
        Some(
            Self::new(blocks)
                .with_growth_rate(growth)
                .with_num_init_features(init)
                .with_num_classes(num_classes),
        )
    }

    /// The course's DenseNet: four blocks of four convolutions, growth 32,
    /// one grey channel, 10 classes.
    pub fn d2l() -> Self {
        Self::new(vec![4, 4, 4, 4])
            .with_bn_size(None)
            .with_in_channels(1)
            .with_num_classes(10)
    }

    /// The network, with PyTorch's default initialisation.
    pub fn init(&self, device: &Device) -> DenseNet {
        let d2l = self.bn_size.is_none();
        let mut c = self.num_init_features;
        let mut blocks = Vec::new();
        let mut transitions = Vec::new();
        for (i, &n) in self.blocks.iter().enumerate() {
            let cfg = DenseBlockConfig::new(n, c, self.growth_rate).with_bn_size(self.bn_size);
            blocks.push(cfg.init(device));
            c = cfg.out_channels();
            if i + 1 < self.blocks.len() {
                transitions.push(TransitionConfig::new(c, c / 2).with_bias(d2l).init(device));
                c /= 2;
            }
        }
        DenseNet {
            conv0: conv(
                [self.in_channels, self.num_init_features],
                7,
                2,
                3,
                d2l,
                device,
            ),
            norm0: BatchNormConfig::new(self.num_init_features).init(device),
            blocks,
            transitions,
            norm5: BatchNormConfig::new(c).init(device),
            classifier: linear(c, self.num_classes, device),
        }
    }
}

impl DenseNet {
    /// torchvision's current key for a legacy one: the early DenseNet
    /// weight files name `denselayerN.norm1` as `denselayerN.norm.1`
    /// (torchvision rewrites them with the same rule when loading).
    pub fn modern_key(key: &str) -> String {
        let parts: Vec<&str> = key.split('.').collect();
        let n = parts.len();
        if n >= 4
            && parts[n - 4].starts_with("denselayer")
            && ["norm", "relu", "conv"].contains(&parts[n - 3])
            && ["1", "2"].contains(&parts[n - 2])
        {
            let mut out: Vec<String> = parts[..n - 3].iter().map(|s| s.to_string()).collect();
            out.push(format!("{}{}", parts[n - 3], parts[n - 2]));
            out.push(parts[n - 1].to_string());
            out.join(".")
        } else {
            key.to_string()
        }
    }

    /// torchvision's `state_dict` key of a parameter path.
    pub fn torchvision_key(path: &str) -> String {
        let parts: Vec<&str> = path.splitn(5, '.').collect();
        match parts.as_slice() {
            ["blocks", b, "layers", l, rest] => {
                let (b, l) = (
                    b.parse::<usize>().unwrap_or(0),
                    l.parse::<usize>().unwrap_or(0),
                );
                format!("features.denseblock{}.denselayer{}.{rest}", b + 1, l + 1)
            }
            ["transitions", t, ..] => {
                let t = t.parse::<usize>().unwrap_or(0);
                let rest = path.splitn(3, '.').nth(2).unwrap_or("");
                format!("features.transition{}.{rest}", t + 1)
            }
            ["classifier", ..] => path.to_string(),
            _ => format!("features.{path}"),
        }
    }

    /// The convolutional trunk, up to and including `norm5` (no ReLU).
    pub fn features(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = max_pool(
            relu(self.norm0.forward(trace::conv2d(&self.conv0, x))),
            3,
            2,
            1,
            false,
        );
        for (i, block) in self.blocks.iter().enumerate() {
            let name = format_args!("denseblock{}", i + 1);
            x = trace::scope(name, "DenseBlock", x, |x| block.forward(x));
            if let Some(t) = self.transitions.get(i) {
                let name = format_args!("transition{}", i + 1);
                x = trace::scope(name, "Transition", x, |x| t.forward(x));
            }
        }
        self.norm5.forward(x)
    }

    /// Logits `[N, classes]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        trace::linear(&self.classifier, global_avg(relu(self.features(x))))
    }
}

// The registry's entries for this family (see `crate::registry`).

use crate::registry::{Build, Classifier, Model, Registration, RegistryError, TV_ARGS, d2l, tv};

const DENSENET: &str = "Huang et al. 2017, Densely connected convolutional networks";

/// The registered models of this family.
pub(crate) const MODELS: &[Registration] = &[
    Registration::new(
        d2l("d2l_densenet", "densenet", DENSENET, 96, (0.1, 10, 256)),
        &[
            "num_classes",
            "in_channels",
            "input_size",
            "blocks",
            "num_channels",
            "growth_rate",
        ],
        build_d2l,
    ),
    Registration::new(
        tv(
            "densenet121",
            "densenet",
            DENSENET,
            224,
            (
                "https://download.pytorch.org/models/densenet121-a639ec97.pth",
                7_978_856,
                2.834,
                74.434,
                91.972,
                30.845,
            ),
        ),
        TV_ARGS,
        build_tv,
    ),
    Registration::new(
        tv(
            "densenet161",
            "densenet",
            DENSENET,
            224,
            (
                "https://download.pytorch.org/models/densenet161-8d451a50.pth",
                28_681_000,
                7.728,
                77.138,
                93.56,
                110.369,
            ),
        ),
        TV_ARGS,
        build_tv,
    ),
    Registration::new(
        tv(
            "densenet169",
            "densenet",
            DENSENET,
            224,
            (
                "https://download.pytorch.org/models/densenet169-b2777c0a.pth",
                14_149_480,
                3.36,
                75.6,
                92.806,
                54.708,
            ),
        ),
        TV_ARGS,
        build_tv,
    ),
    Registration::new(
        tv(
            "densenet201",
            "densenet",
            DENSENET,
            224,
            (
                "https://download.pytorch.org/models/densenet201-c1103571.pth",
                20_013_928,
                4.291,
                76.896,
                93.37,
                77.373,
            ),
        ),
        TV_ARGS,
        build_tv,
    ),
];

fn build_d2l(b: &Build) -> Result<Model, RegistryError> {
    let mut c = DenseNetConfig::d2l()
        .with_in_channels(b.in_channels)
        .with_num_classes(b.num_classes)
        .with_num_init_features(b.args.num_channels.unwrap_or(64))
        .with_growth_rate(b.args.growth_rate.unwrap_or(32));
    if let Some(blocks) = &b.args.blocks {
        c.blocks = blocks
            .iter()
            .map(|e| match e.as_slice() {
                [n] => Ok(*n),
                _ => Err(b.arg_err("blocks", format!("expected [convs, ...], got {blocks:?}"))),
            })
            .collect::<Result<_, _>>()?;
    }
    Ok(Model::DenseNet(c.init(b.device)))
}

fn build_tv(b: &Build) -> Result<Model, RegistryError> {
    let depth = b.depth("densenet").unwrap_or(0);
    DenseNetConfig::torchvision(depth, b.num_classes)
        .map(|c| Model::DenseNet(c.with_in_channels(b.in_channels).init(b.device)))
        .ok_or_else(|| b.arg_err("name", format!("no DenseNet of depth {depth}")))
}

impl Classifier for DenseNet {
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        DenseNet::forward(self, x)
    }
    fn trunk(&self, x: Tensor<4>) -> Option<Tensor<4>> {
        Some(DenseNet::features(self, x))
    }
    fn state_dict_key(&self, path: &str) -> String {
        DenseNet::torchvision_key(path)
    }
    fn legacy_key(&self, key: &str) -> Option<String> {
        let modern = DenseNet::modern_key(key);
        (modern != key).then_some(modern)
    }
    fn head_prefixes(&self) -> &'static [&'static str] {
        &["classifier"]
    }
    fn reset_head(&mut self, num_classes: usize, device: &Device) {
        self.classifier = crate::parts::new_head(&self.classifier, num_classes, device);
    }
}
