//! GoogLeNet (Szegedy et al. 2015): the course's 96x96 variant (d2l 8.4:
//! biased convolutions, no batch norm, Inception blocks with a 5x5 branch)
//! and torchvision's (`BasicConv2d` = bias-free convolution + batch norm with
//! eps 0.001, a 3x3 convolution in the "5x5" branch, ceil-mode pooling,
//! optional auxiliary classifiers on inception4a and 4d, `transform_input`).

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::{Device, Tensor};
use zoo_layers::blocks::inception::{Inception, InceptionConfig};
use zoo_layers::trace::{self, relu};

use zoo_layers::blocks::conv;

use crate::parts::{global_avg, imagenet_to_half_range, linear, max_pool};

/// The Inception widths of both GoogLeNets, in order: `(in, c1, c2 reduce,
/// c2, c3 reduce, c3, c4)` for 3a, 3b, 4a..4e, 5a, 5b.
const INCEPTIONS: [[usize; 7]; 9] = [
    [192, 64, 96, 128, 16, 32, 32],
    [256, 128, 128, 192, 32, 96, 64],
    [480, 192, 96, 208, 16, 48, 64],
    [512, 160, 112, 224, 24, 64, 64],
    [512, 128, 128, 256, 24, 64, 64],
    [512, 112, 144, 288, 32, 64, 64],
    [528, 256, 160, 320, 32, 128, 128],
    [832, 256, 160, 320, 32, 128, 128],
    [832, 384, 192, 384, 48, 128, 128],
];

/// Configuration of the course's [`D2lGoogLeNet`].
#[derive(Config, Debug)]
pub struct D2lGoogLeNetConfig {
    /// Input channels.
    #[config(default = 1)]
    pub in_channels: usize,
    /// Output classes.
    #[config(default = 10)]
    pub num_classes: usize,
}

/// The course's GoogLeNet.
#[derive(Module, Debug)]
pub struct D2lGoogLeNet {
    /// 7x7 stride-2 stem.
    pub conv1: Conv2d,
    /// 1x1.
    pub conv2: Conv2d,
    /// 3x3.
    pub conv3: Conv2d,
    /// The nine Inception blocks.
    pub inceptions: Vec<Inception>,
    /// The classifier.
    pub fc: Linear,
}

impl D2lGoogLeNetConfig {
    /// The network, with PyTorch's default initialisation.
    pub fn init(&self, device: &Device) -> D2lGoogLeNet {
        D2lGoogLeNet {
            conv1: conv([self.in_channels, 64], 7, 2, 3, true, device),
            conv2: conv([64, 64], 1, 1, 0, true, device),
            conv3: conv([64, 192], 3, 1, 1, true, device),
            inceptions: INCEPTIONS
                .iter()
                .map(|&[i, c1, r2, c2, r3, c3, c4]| {
                    InceptionConfig::new(i, c1, [r2, c2], [r3, c3], c4).init(device)
                })
                .collect(),
            fc: linear(1024, self.num_classes, device),
        }
    }
}

impl D2lGoogLeNet {
    /// Logits `[N, classes]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = max_pool(relu(trace::conv2d(&self.conv1, x)), 3, 2, 1, false);
        let x = relu(trace::conv2d(&self.conv2, x));
        let mut x = max_pool(relu(trace::conv2d(&self.conv3, x)), 3, 2, 1, false);
        for (i, block) in self.inceptions.iter().enumerate() {
            x = trace::scope(format_args!("inceptions.{i}"), "Inception", x, |x| {
                block.forward(x)
            });
            if i == 1 || i == 6 {
                x = max_pool(x, 3, 2, 1, false);
            }
        }
        trace::linear(&self.fc, global_avg(x))
    }
}

pub use crate::parts::BasicConv2d;

/// torchvision's Inception block (the "5x5" branch is a 3x3 convolution).
#[derive(Module, Debug)]
pub struct TvInception {
    /// 1x1.
    pub branch1: BasicConv2d,
    /// 1x1 then 3x3.
    pub branch2: Vec<BasicConv2d>,
    /// 1x1 then 3x3.
    pub branch3: Vec<BasicConv2d>,
    /// 1x1 after a 3x3 stride-1 max pool.
    pub branch4: BasicConv2d,
}

impl TvInception {
    fn new(&[i, c1, r2, c2, r3, c3, c4]: &[usize; 7], device: &Device) -> Self {
        Self {
            branch1: BasicConv2d::new([i, c1], 1, 0, 1, device),
            branch2: vec![
                BasicConv2d::new([i, r2], 1, 0, 1, device),
                BasicConv2d::new([r2, c2], 3, 1, 1, device),
            ],
            branch3: vec![
                BasicConv2d::new([i, r3], 1, 0, 1, device),
                BasicConv2d::new([r3, c3], 3, 1, 1, device),
            ],
            branch4: BasicConv2d::new([i, c4], 1, 0, 1, device),
        }
    }

    /// The four branches concatenated on the channels.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b1 = self.branch1.forward(x.clone());
        let b2 = self.branch2[1].forward(self.branch2[0].forward(x.clone()));
        let b3 = self.branch3[1].forward(self.branch3[0].forward(x.clone()));
        let b4 = self.branch4.forward(max_pool(x, 3, 1, 1, true));
        Tensor::cat(vec![b1, b2, b3, b4], 1)
    }
}

/// torchvision's auxiliary classifier.
#[derive(Module, Debug)]
pub struct InceptionAux {
    /// 1x1 to 128 channels after 4x4 adaptive average pooling.
    pub conv: BasicConv2d,
    /// 2048 -> 1024.
    pub fc1: Linear,
    /// 1024 -> classes.
    pub fc2: Linear,
    /// Dropout 0.7.
    pub dropout: Dropout,
}

impl InceptionAux {
    fn new(in_channels: usize, num_classes: usize, device: &Device) -> Self {
        Self {
            conv: BasicConv2d::new([in_channels, 128], 1, 0, 1, device),
            fc1: linear(2048, 1024, device),
            fc2: linear(1024, num_classes, device),
            dropout: DropoutConfig::new(0.7).init(),
        }
    }

    /// Auxiliary logits.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.conv.forward(trace::adaptive_avg_pool2d(x, [4, 4]));
        let x = relu(trace::linear(&self.fc1, trace::flatten(x)));
        trace::linear(&self.fc2, self.dropout.forward(x))
    }
}

/// Configuration of torchvision's [`GoogLeNet`].
#[derive(Config, Debug)]
pub struct GoogLeNetConfig {
    /// Output classes.
    #[config(default = 1000)]
    pub num_classes: usize,
    /// The two auxiliary classifiers (used in training only).
    #[config(default = false)]
    pub aux_logits: bool,
    /// Re-normalise ImageNet-normalised input to the (0.5, 0.5) scaling of
    /// the original weights, as torchvision does for its pretrained model.
    #[config(default = false)]
    pub transform_input: bool,
    /// Input channels.
    #[config(default = 3)]
    pub in_channels: usize,
}

/// torchvision's GoogLeNet.
#[derive(Module, Debug)]
pub struct GoogLeNet {
    /// 7x7 stride-2 stem.
    pub conv1: BasicConv2d,
    /// 1x1.
    pub conv2: BasicConv2d,
    /// 3x3.
    pub conv3: BasicConv2d,
    /// inception3a .. inception5b.
    pub inceptions: Vec<TvInception>,
    /// Auxiliary classifier on inception4a.
    pub aux1: Option<InceptionAux>,
    /// Auxiliary classifier on inception4d.
    pub aux2: Option<InceptionAux>,
    /// Dropout 0.2 before the classifier.
    pub dropout: Dropout,
    /// The classifier.
    pub fc: Linear,
    /// See [`GoogLeNetConfig::transform_input`].
    #[module(skip)]
    pub transform_input: bool,
}

impl GoogLeNetConfig {
    /// The network, with PyTorch's default initialisation (torchvision
    /// initialises with a truncated normal; the values differ, not the shapes).
    pub fn init(&self, device: &Device) -> GoogLeNet {
        GoogLeNet {
            conv1: BasicConv2d::new([self.in_channels, 64], 7, 3, 2, device),
            conv2: BasicConv2d::new([64, 64], 1, 0, 1, device),
            conv3: BasicConv2d::new([64, 192], 3, 1, 1, device),
            inceptions: INCEPTIONS
                .iter()
                .map(|s| TvInception::new(s, device))
                .collect(),
            aux1: self
                .aux_logits
                .then(|| InceptionAux::new(512, self.num_classes, device)),
            aux2: self
                .aux_logits
                .then(|| InceptionAux::new(528, self.num_classes, device)),
            dropout: DropoutConfig::new(0.2).init(),
            fc: linear(1024, self.num_classes, device),
            transform_input: self.transform_input,
        }
    }
}

/// torchvision's names of GoogLeNet's nine Inception blocks.
const INCEPTION_NAMES: [&str; 9] = [
    "inception3a",
    "inception3b",
    "inception4a",
    "inception4b",
    "inception4c",
    "inception4d",
    "inception4e",
    "inception5a",
    "inception5b",
];

/// An auxiliary head traced under its name.
fn aux_head(name: &str, head: &InceptionAux, x: &Tensor<4>) -> Tensor<2> {
    trace::scope(name, "InceptionAux", x.clone(), |x| head.forward(x))
}

impl GoogLeNet {
    /// torchvision's `state_dict` key of a parameter path
    /// (`inceptions.i` to `inception3a`..`inception5b`, `branch4` to
    /// `branch4.1` after its pooling).
    pub fn torchvision_key(path: &str) -> String {
        let parts: Vec<&str> = path.splitn(3, '.').collect();
        match parts.as_slice() {
            ["inceptions", i, rest] => {
                let name = INCEPTION_NAMES
                    .get(i.parse::<usize>().unwrap_or(99))
                    .unwrap_or(&"inception?");
                let rest = match rest.strip_prefix("branch4.") {
                    Some(r) => format!("branch4.1.{r}"),
                    None => rest.to_string(),
                };
                format!("{name}.{rest}")
            }
            _ => path.to_string(),
        }
    }

    fn transform(&self, x: Tensor<4>) -> Tensor<4> {
        if self.transform_input {
            imagenet_to_half_range(x)
        } else {
            x
        }
    }

    /// The trunk up to inception5b, and the auxiliary logits when present
    /// and training (on an autodiff device).
    pub fn features_with_aux(&self, x: Tensor<4>) -> (Tensor<4>, Vec<Tensor<2>>) {
        let training = x.device().is_autodiff();
        self.trunk(x, training)
    }

    /// The trunk, evaluating the auxiliary heads only when `with_aux`.
    fn trunk(&self, x: Tensor<4>, with_aux: bool) -> (Tensor<4>, Vec<Tensor<2>>) {
        let x = self.transform(x);
        let x = max_pool(self.conv1.forward(x), 3, 2, 0, true);
        let x = self.conv3.forward(self.conv2.forward(x));
        let mut x = max_pool(x, 3, 2, 0, true);
        let mut aux = Vec::new();
        for (i, block) in self.inceptions.iter().enumerate() {
            x = trace::scope(INCEPTION_NAMES[i], "Inception", x, |x| block.forward(x));
            match i {
                1 => x = max_pool(x, 3, 2, 0, true),
                2 if with_aux => aux.extend(self.aux1.as_ref().map(|a| aux_head("aux1", a, &x))),
                5 if with_aux => aux.extend(self.aux2.as_ref().map(|a| aux_head("aux2", a, &x))),
                6 => x = max_pool(x, 2, 2, 0, true),
                _ => {}
            }
        }
        (x, aux)
    }

    /// The trunk to inception5b (no auxiliary heads).
    pub fn features(&self, x: Tensor<4>) -> Tensor<4> {
        self.trunk(x, false).0
    }

    /// Logits `[N, classes]` (the auxiliary heads are not evaluated).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let (x, _) = self.trunk(x, false);
        trace::linear(&self.fc, self.dropout.forward(global_avg(x)))
    }
}

// The registry's entries for this family (see `crate::registry`).

use crate::registry::{Build, Classifier, Model, ModelArgs, Registration, RegistryError, d2l, tv};

const GOOGLENET: &str = "Szegedy et al. 2015, Going deeper with convolutions";

/// The registered models of this family.
pub(crate) const MODELS: &[Registration] = &[
    Registration::new(
        d2l("d2l_googlenet", "googlenet", GOOGLENET, 96, (0.1, 10, 128)),
        &["num_classes", "in_channels", "input_size"],
        build_d2l,
    ),
    Registration::new(
        tv(
            "googlenet",
            "googlenet",
            GOOGLENET,
            224,
            (
                "https://download.pytorch.org/models/googlenet-1378be20.pth",
                6_624_904,
                1.498,
                69.778,
                89.53,
                49.731,
            ),
        ),
        &[
            "num_classes",
            "in_channels",
            "input_size",
            "aux_logits",
            "transform_input",
        ],
        build_tv,
    )
    .with_weights_args(tv_weights_args),
];

fn build_d2l(b: &Build) -> Result<Model, RegistryError> {
    Ok(Model::D2lGoogLeNet(
        D2lGoogLeNetConfig::new()
            .with_in_channels(b.in_channels)
            .with_num_classes(b.num_classes)
            .init(b.device),
    ))
}

fn build_tv(b: &Build) -> Result<Model, RegistryError> {
    Ok(Model::GoogLeNet(
        GoogLeNetConfig::new()
            .with_in_channels(b.in_channels)
            .with_num_classes(b.num_classes)
            .with_aux_logits(b.args.aux_logits.unwrap_or(true))
            .with_transform_input(b.args.transform_input.unwrap_or(false))
            .init(b.device),
    ))
}

/// torchvision loads GoogLeNet's weights without the auxiliary heads and
/// with `transform_input`.
fn tv_weights_args() -> ModelArgs {
    ModelArgs {
        aux_logits: Some(false),
        transform_input: Some(true),
        ..ModelArgs::default()
    }
}

impl Classifier for D2lGoogLeNet {
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        D2lGoogLeNet::forward(self, x)
    }
    fn head_prefixes(&self) -> &'static [&'static str] {
        &["fc"]
    }
    fn reset_head(&mut self, num_classes: usize, device: &Device) {
        self.fc = crate::parts::new_head(&self.fc, num_classes, device);
    }
}

impl Classifier for GoogLeNet {
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        GoogLeNet::forward(self, x)
    }
    fn logits_with_aux(&self, x: Tensor<4>) -> (Tensor<2>, Vec<(f64, Tensor<2>)>) {
        let (x, aux) = self.features_with_aux(x);
        let logits = trace::linear(&self.fc, self.dropout.forward(global_avg(x)));
        (logits, aux.into_iter().map(|a| (0.3, a)).collect())
    }
    fn trunk(&self, x: Tensor<4>) -> Option<Tensor<4>> {
        Some(GoogLeNet::features(self, x))
    }
    fn state_dict_key(&self, path: &str) -> String {
        GoogLeNet::torchvision_key(path)
    }
    fn head_prefixes(&self) -> &'static [&'static str] {
        &["fc", "aux1.fc2", "aux2.fc2"]
    }
    fn reset_head(&mut self, num_classes: usize, device: &Device) {
        self.fc = crate::parts::new_head(&self.fc, num_classes, device);
        for aux in [&mut self.aux1, &mut self.aux2].into_iter().flatten() {
            aux.fc2 = crate::parts::new_head(&aux.fc2, num_classes, device);
        }
    }
}
