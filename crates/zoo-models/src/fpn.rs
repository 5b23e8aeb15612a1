//! Feature pyramid networks (Lin et al. 2017) as torchvision builds them
//! for its detectors: `FrozenBatchNorm2d`, `Conv2dNormActivation`,
//! `FeaturePyramidNetwork` with `LastLevelMaxPool`, and the ResNet-FPN
//! backbone `BackboneWithFPN` of `resnet_fpn_backbone` /
//! `_resnet_fpn_extractor` (freezing all but the last `trainable_layers`
//! stages), with torchvision's `state_dict` keys (`body.conv1.weight`,
//! `body.layer1.0.bn1.running_var`, `fpn.inner_blocks.0.0.weight`, ...).
//!
//! The detectors themselves (Faster / Mask R-CNN) live in zoo-detect and
//! take any [`DetectionBackbone`].

use burn::config::Config;
use burn::module::{Module, ModuleDisplay, Param, RunningState};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::tensor::{Device, Int, Tensor, TensorData};
use zoo_layers::blocks::residual::Norm2d;
use zoo_layers::norm::{BatchNorm, BatchNormConfig};
use zoo_layers::trace;

use crate::parts::max_pool;
use crate::resnet::{Block, ResNet, ResNetConfig, run_stage, stem};
use crate::weights::{StateDict, WeightsError, load_state_dict, set_trainable};

/// Why a backbone could not be built: the argument and its value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{what}: {reason}")]
pub struct BackboneError {
    /// The argument.
    pub what: &'static str,
    /// What is wrong, with the values.
    pub reason: String,
}

impl BackboneError {
    fn new(what: &'static str, reason: impl Into<String>) -> Self {
        Self {
            what,
            reason: reason.into(),
        }
    }
}

/// torchvision's `FrozenBatchNorm2d`: batch norm whose statistics and
/// affine parameters are fixed buffers (`weight`, `bias`, `running_mean`,
/// `running_var`; no `num_batches_tracked`), in training as in evaluation:
/// `x * (w / sqrt(rv + eps)) + (b - rm * w / sqrt(rv + eps))`.
#[derive(Module, Debug)]
pub struct FrozenBatchNorm2d {
    /// Scale, `[C]` (a buffer).
    pub weight: RunningState<Tensor<1>>,
    /// Shift, `[C]` (a buffer).
    pub bias: RunningState<Tensor<1>>,
    /// Mean, `[C]`.
    pub running_mean: RunningState<Tensor<1>>,
    /// Variance, `[C]`.
    pub running_var: RunningState<Tensor<1>>,
    /// Added to the variance (torchvision: 1e-5; 0 once its COCO detector
    /// weights are loaded, `overwrite_eps`).
    pub eps: f64,
}

impl FrozenBatchNorm2d {
    /// Weight 1, bias 0, mean 0, variance 1.
    ///
    /// # Panics
    /// When `num_features` is 0 or `eps` is negative.
    pub fn new(num_features: usize, eps: f64, device: &Device) -> Self {
        assert!(
            num_features > 0 && eps >= 0.0,
            "FrozenBatchNorm2d: {num_features} features and eps {eps}, expected > 0 and >= 0"
        );
        let c = num_features;
        Self {
            weight: RunningState::new(Tensor::ones([c], device)),
            bias: RunningState::new(Tensor::zeros([c], device)),
            running_mean: RunningState::new(Tensor::zeros([c], device)),
            running_var: RunningState::new(Tensor::ones([c], device)),
            eps,
        }
    }

    /// Normalises `[N, C, H, W]` with the fixed statistics.
    ///
    /// # Panics
    /// When the channels are not the layer's.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let c = self.weight.value().dims()[0];
        assert_eq!(
            x.dims()[1],
            c,
            "FrozenBatchNorm2d: input {:?}, expected {c} channels",
            x.dims()
        );
        trace::layer(
            "FrozenBatchNorm2d",
            || 0,
            |_| 0,
            x,
            |x| {
                let device = x.device();
                let at = |s: &RunningState<Tensor<1>>| s.value().to_device(&device);
                let scale =
                    at(&self.weight).mul(at(&self.running_var).add_scalar(self.eps).sqrt().recip());
                let shift = at(&self.bias).sub(at(&self.running_mean).mul(scale.clone()));
                x.mul(scale.reshape([1, c, 1, 1]))
                    .add(shift.reshape([1, c, 1, 1]))
            },
        )
    }
}

impl Norm2d for FrozenBatchNorm2d {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        FrozenBatchNorm2d::forward(self, x)
    }
}

/// Which normalisation layer a backbone or head is built with
/// (torchvision's `norm_layer` argument).
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum NormKind {
    /// `nn.BatchNorm2d` (trains its statistics and affine parameters).
    BatchNorm,
    /// `FrozenBatchNorm2d` (fixed buffers).
    Frozen,
}

/// A normalisation layer of either kind (the variant is not part of the
/// `state_dict` keys).
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Norm {
    /// `nn.BatchNorm2d`.
    Batch(BatchNorm),
    /// `FrozenBatchNorm2d`.
    Frozen(FrozenBatchNorm2d),
}

impl Norm {
    /// A fresh layer of `kind` over `channels` (`eps` of the frozen kind;
    /// batch norm keeps PyTorch's 1e-5).
    pub fn new(kind: NormKind, channels: usize, eps: f64, device: &Device) -> Self {
        match kind {
            NormKind::BatchNorm => Norm::Batch(BatchNormConfig::new(channels).init(device)),
            NormKind::Frozen => Norm::Frozen(FrozenBatchNorm2d::new(channels, eps, device)),
        }
    }
}

impl Norm2d for Norm {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Norm::Batch(bn) => bn.forward(x),
            Norm::Frozen(bn) => bn.forward(x),
        }
    }

    fn forward_relu(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Norm::Batch(bn) => bn.forward_relu(x),
            Norm::Frozen(bn) => trace::relu(bn.forward(x)),
        }
    }

    fn forward_conv(
        &self,
        conv: &Conv2d,
        x: Tensor<4>,
        residual: Option<Tensor<4>>,
        relu: bool,
    ) -> Tensor<4> {
        match self {
            Norm::Batch(bn) => Norm2d::forward_conv(bn, conv, x, residual, relu),
            Norm::Frozen(bn) => {
                let y = bn.forward(trace::conv2d(conv, x));
                let y = match residual {
                    Some(r) => y + r,
                    None => y,
                };
                if relu { trace::relu(y) } else { y }
            }
        }
    }
}

/// torchvision's `Conv2dNormActivation`: a convolution (padding
/// `(k - 1) / 2 * dilation`, biased only without a norm layer), an optional
/// norm layer and an optional ReLU. Keys: `0.weight` (`0.bias`), `1.*`
/// for the norm (see [`conv_norm_act_key`]).
#[derive(Module, Debug)]
pub struct ConvNormActivation {
    /// The convolution (key `0`).
    pub conv: Conv2d,
    /// The norm layer (key `1`), if any.
    pub norm: Option<Norm>,
    /// Whether a ReLU follows.
    pub relu: bool,
}

impl ConvNormActivation {
    /// `Conv2dNormActivation(in, out, kernel, stride, norm_layer=norm,
    /// activation_layer=ReLU if relu else None, dilation)` with burn's
    /// (= PyTorch's) default initialisation.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        channels: [usize; 2],
        kernel: usize,
        stride: usize,
        dilation: usize,
        norm: Option<NormKind>,
        relu: bool,
        device: &Device,
    ) -> Self {
        let p = (kernel - 1) / 2 * dilation;
        Self {
            conv: Conv2dConfig::new(channels, [kernel, kernel])
                .with_stride([stride, stride])
                .with_dilation([dilation, dilation])
                .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                .with_bias(norm.is_none())
                .init(device),
            norm: norm.map(|k| Norm::new(k, channels[1], 1e-5, device)),
            relu,
        }
    }

    /// The same block with its convolution's weight drawn by `init` and its
    /// bias (if any) zero, as torchvision re-initialises the FPN
    /// (`kaiming_uniform_(a=1)`) and the detection heads
    /// (`kaiming_normal_(mode="fan_out")`, `normal_(std=0.01)`).
    pub fn with_init(mut self, init: &Initializer, device: &Device) -> Self {
        self.conv = reinit_conv(self.conv, init, device);
        self
    }

    /// `act(norm(conv(x)))`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = trace::conv2d(&self.conv, x);
        match (&self.norm, self.relu) {
            (Some(n), true) => n.forward_relu(y),
            (Some(n), false) => Norm2d::forward(n, y),
            (None, true) => trace::relu(y),
            (None, false) => y,
        }
    }
}

/// A convolution's weight redrawn by `init` (fan-in / fan-out as torch
/// counts them for `[out, in / groups, kh, kw]`), its bias (if any) zero.
pub fn reinit_conv(mut conv: Conv2d, init: &Initializer, device: &Device) -> Conv2d {
    let shape = conv.weight.shape();
    let dims: [usize; 4] = shape.dims();
    let receptive = dims[2] * dims[3];
    let weight = init.init_with(
        dims,
        Some(dims[1] * receptive),
        Some(dims[0] * receptive),
        device,
    );
    conv.weight = weight;
    if let Some(b) = conv.bias.take() {
        let n = b.shape().dims::<1>()[0];
        conv.bias = Some(Param::from_tensor(Tensor::zeros([n], device)));
    }
    conv
}

/// The torchvision key of a path inside a [`ConvNormActivation`]: `conv.`
/// is `0.`, `norm.` is `1.` (`inner_blocks.0.conv.weight` ->
/// `inner_blocks.0.0.weight`). Other paths are returned unchanged.
pub fn conv_norm_act_key(path: &str) -> String {
    for (field, index) in [("conv.", "0."), ("norm.", "1.")] {
        if let Some(at) = path.rfind(&format!(".{field}"))
            && !path[at + field.len() + 1..].contains('.')
        {
            return format!("{}.{index}{}", &path[..at], &path[at + field.len() + 1..]);
        }
        if let Some(rest) = path.strip_prefix(field)
            && !rest.contains('.')
        {
            return format!("{index}{rest}");
        }
    }
    path.to_string()
}

/// torchvision's `LastLevelMaxPool`: `max_pool2d(kernel 1, stride 2)` of
/// the last FPN output, added as the level `"pool"`.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum ExtraBlocks {
    /// No extra level.
    None,
    /// `LastLevelMaxPool`.
    LastLevelMaxPool,
}

/// `F.max_pool2d(x, kernel_size=1, stride=2)`: every second row and column
/// from the first (`ceil(h / 2) x ceil(w / 2)`).
pub fn last_level_max_pool(x: Tensor<4>) -> Tensor<4> {
    max_pool(x, 1, 2, 0, false)
}

/// `F.interpolate(x, size, mode="nearest")`: output pixel `i` takes input
/// `floor(i * (in / out))` (the scale in float32, as PyTorch computes it).
pub fn upsample_nearest(x: Tensor<4>, size: [usize; 2]) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    if [h, w] == size {
        return x;
    }
    let device = x.device();
    let index = |n_in: usize, n_out: usize| {
        let scale = n_in as f32 / n_out as f32;
        let v: Vec<i64> = (0..n_out)
            .map(|i| ((i as f32 * scale).floor() as usize).min(n_in - 1) as i64)
            .collect();
        Tensor::<1, Int>::from_data(TensorData::new(v, [n_out]), &device)
    };
    x.select(2, index(h, size[0])).select(3, index(w, size[1]))
}

/// torchvision's `FeaturePyramidNetwork`: per input level a 1x1 lateral
/// convolution (`inner_blocks`) and a 3x3 output convolution
/// (`layer_blocks`), top-down nearest upsampling and sums, then the extra
/// blocks.
#[derive(Module, Debug)]
pub struct FeaturePyramidNetwork {
    /// The lateral 1x1 convolutions, finest level first.
    pub inner_blocks: Vec<ConvNormActivation>,
    /// The 3x3 output convolutions.
    pub layer_blocks: Vec<ConvNormActivation>,
    /// The level added after the last (`"pool"`), if any.
    #[module(skip)]
    pub extra_blocks: ExtraBlocks,
}

impl FeaturePyramidNetwork {
    /// `FeaturePyramidNetwork(in_channels_list, out_channels, extra_blocks,
    /// norm_layer)` with torchvision's initialisation (`kaiming_uniform_`
    /// with `a = 1`, biases 0).
    ///
    /// # Panics
    /// When a level has 0 channels (torchvision refuses it too).
    pub fn new(
        in_channels: &[usize],
        out_channels: usize,
        extra_blocks: ExtraBlocks,
        norm: Option<NormKind>,
        device: &Device,
    ) -> Self {
        assert!(
            in_channels.iter().all(|&c| c > 0),
            "FeaturePyramidNetwork: in_channels {in_channels:?}, 0 is not supported"
        );
        let init = Initializer::KaimingUniform {
            gain: 1.0,
            fan_out_only: false,
        };
        let block = |i: usize, k: usize| {
            ConvNormActivation::new([i, out_channels], k, 1, 1, norm, false, device)
                .with_init(&init, device)
        };
        Self {
            inner_blocks: in_channels.iter().map(|&c| block(c, 1)).collect(),
            layer_blocks: in_channels.iter().map(|_| block(out_channels, 3)).collect(),
            extra_blocks,
        }
    }

    /// The pyramid of named feature maps (finest first): the outputs keep
    /// the inputs' names, `"pool"` is appended by `LastLevelMaxPool`.
    ///
    /// # Panics
    /// When the number of inputs is not the number of levels.
    pub fn forward(&self, x: Vec<(String, Tensor<4>)>) -> Vec<(String, Tensor<4>)> {
        let n = self.inner_blocks.len();
        assert_eq!(
            x.len(),
            n,
            "FeaturePyramidNetwork: {} feature maps, expected {n}",
            x.len()
        );
        let (mut names, feats): (Vec<String>, Vec<Tensor<4>>) = x.into_iter().unzip();
        let mut results: Vec<Tensor<4>> = Vec::with_capacity(n + 1);
        let mut last_inner = self.inner_blocks[n - 1].forward(feats[n - 1].clone());
        results.push(self.layer_blocks[n - 1].forward(last_inner.clone()));
        for idx in (0..n - 1).rev() {
            let lateral = self.inner_blocks[idx].forward(feats[idx].clone());
            let [_, _, h, w] = lateral.dims();
            let top_down = upsample_nearest(last_inner, [h, w]);
            last_inner = lateral + top_down;
            results.insert(0, self.layer_blocks[idx].forward(last_inner.clone()));
        }
        if self.extra_blocks == ExtraBlocks::LastLevelMaxPool {
            let last = results.last().expect("one level at least").clone();
            results.push(trace::op("LastLevelMaxPool", last, last_level_max_pool));
            names.push("pool".to_string());
        }
        names.into_iter().zip(results).collect()
    }
}

/// What a two-stage detector needs of its backbone (torchvision:
/// a module returning an `OrderedDict` of feature maps with an
/// `out_channels` attribute).
pub trait DetectionBackbone: Module + ModuleDisplay {
    /// The named feature maps of a batch `[N, 3, H, W]`, finest first.
    fn features(&self, x: Tensor<4>) -> Vec<(String, Tensor<4>)>;
    /// Channels of every feature map.
    fn out_channels(&self) -> usize;
    /// torchvision's key of a parameter path inside the backbone.
    fn torch_key(path: &str) -> String;
    /// Whether the parameter at `path` trains (torchvision's freezing of
    /// the first stages sets `requires_grad` false on the others).
    fn trainable(&self, path: &str) -> bool;
}

/// Configuration of a ResNet-FPN [`BackboneWithFpn`]
/// (`resnet_fpn_backbone`, `_resnet_fpn_extractor`).
#[derive(Config, Debug)]
pub struct ResNetFpnConfig {
    /// The ResNet: `resnet18`, `resnet34`, `resnet50`, `resnet101`,
    /// `resnet152`, `resnext50_32x4d`, `resnext101_32x8d`,
    /// `resnext101_64x4d`, `wide_resnet50_2`, `wide_resnet101_2`.
    pub backbone_name: String,
    /// The ResNet's norm layer (torchvision: `FrozenBatchNorm2d`, or
    /// `nn.BatchNorm2d` when the detector starts untrained).
    #[config(default = "NormKind::Frozen")]
    pub norm: NormKind,
    /// `eps` of the frozen norm layers.
    #[config(default = 1e-5)]
    pub frozen_bn_eps: f64,
    /// Stages that train, counted from the last of `layer4, layer3, layer2,
    /// layer1, conv1` (`bn1` too at 5); 0 to 5.
    #[config(default = 3)]
    pub trainable_layers: usize,
    /// The stages returned to the FPN (each in 1..=4, increasing); the
    /// FPN's levels are named `"0"`, `"1"`, ... in this order.
    #[config(default = "vec![1, 2, 3, 4]")]
    pub returned_layers: Vec<usize>,
    /// Channels of every FPN output (torchvision: 256).
    #[config(default = 256)]
    pub out_channels: usize,
    /// The FPN's extra level.
    #[config(default = "ExtraBlocks::LastLevelMaxPool")]
    pub extra_blocks: ExtraBlocks,
    /// The FPN's norm layer (`fasterrcnn_resnet50_fpn_v2`: batch norm).
    #[config(default = "None")]
    pub fpn_norm: Option<NormKind>,
}

/// The ResNet body of a [`BackboneWithFpn`] (torchvision's
/// `IntermediateLayerGetter`: the stages after the last returned one are
/// dropped, so they have no keys).
#[derive(Module, Debug)]
pub struct ResNetBody {
    /// 7x7 stride-2 stem convolution.
    pub conv1: Conv2d,
    /// Its norm layer.
    pub bn1: Norm,
    /// Stage 1.
    pub layer1: Vec<Block<Norm>>,
    /// Stage 2.
    pub layer2: Vec<Block<Norm>>,
    /// Stage 3.
    pub layer3: Vec<Block<Norm>>,
    /// Stage 4.
    pub layer4: Vec<Block<Norm>>,
    /// The returned stages (1..=4), increasing.
    pub returned_layers: Vec<usize>,
}

impl ResNetBody {
    /// The returned stages' outputs, named `"0"`, `"1"`, ... in order.
    pub fn forward(&self, x: Tensor<4>) -> Vec<(String, Tensor<4>)> {
        let mut x = stem(&self.conv1, &self.bn1, x);
        let mut out = Vec::new();
        let last = self.returned_layers.last().copied().unwrap_or(0);
        for (s, stage) in [&self.layer1, &self.layer2, &self.layer3, &self.layer4]
            .into_iter()
            .enumerate()
            .take(last)
        {
            x = run_stage(s + 1, stage, x);
            if let Some(i) = self.returned_layers.iter().position(|&r| r == s + 1) {
                out.push((i.to_string(), x.clone()));
            }
        }
        out
    }
}

/// torchvision's `BackboneWithFPN` over a ResNet: `body` (the ResNet's
/// stages) and `fpn`.
#[derive(Module, Debug)]
pub struct BackboneWithFpn {
    /// The ResNet.
    pub body: ResNetBody,
    /// The feature pyramid.
    pub fpn: FeaturePyramidNetwork,
    /// Channels of every output level.
    pub out_channels: usize,
    /// torchvision's `trainable_layers` (0 to 5).
    pub trainable_layers: usize,
}

impl ResNetFpnConfig {
    /// The backbone, with torchvision's initialisation and freezing.
    ///
    /// # Errors
    /// An unknown ResNet, `trainable_layers` above 5, `returned_layers`
    /// empty, outside 1..=4 or not increasing, or 0 output channels.
    pub fn init(&self, device: &Device) -> Result<BackboneWithFpn, BackboneError> {
        let name = self.backbone_name.as_str();
        let resnet = name
            .strip_prefix("resnet")
            .and_then(|d| d.parse::<usize>().ok())
            .and_then(|d| ResNetConfig::torchvision(d, 1000))
            .or_else(|| ResNetConfig::torchvision_variant(name, 1000))
            .ok_or_else(|| {
                BackboneError::new(
                    "backbone_name",
                    format!("no ResNet `{name}` (resnet18/34/50/101/152, resnext50_32x4d, resnext101_32x8d, resnext101_64x4d, wide_resnet50_2, wide_resnet101_2)"),
                )
            })?;
        if self.trainable_layers > 5 {
            return Err(BackboneError::new(
                "trainable_layers",
                format!("{}, expected 0 to 5", self.trainable_layers),
            ));
        }
        let r = &self.returned_layers;
        if r.is_empty()
            || r.iter().any(|&l| !(1..=4).contains(&l))
            || r.windows(2).any(|w| w[0] >= w[1])
        {
            return Err(BackboneError::new(
                "returned_layers",
                format!("{r:?}, expected increasing stages in 1..=4"),
            ));
        }
        if self.out_channels == 0 {
            return Err(BackboneError::new("out_channels", "0, expected > 0"));
        }
        let (kind, eps) = (self.norm, self.frozen_bn_eps);
        if eps < 0.0 || !eps.is_finite() {
            return Err(BackboneError::new(
                "frozen_bn_eps",
                format!("{eps}, expected a finite value >= 0"),
            ));
        }
        let norm = |c: usize| Norm::new(kind, c, eps, device);
        let [l1, l2, l3, l4] = resnet.stages_with_norm(&norm, device);
        let last = *r.last().expect("not empty");
        let keep = |s: usize, blocks: Vec<Block<Norm>>| if s <= last { blocks } else { Vec::new() };
        // torchvision: in_channels_stage2 = inplanes // 8, stage i has
        // in_channels_stage2 * 2^(i - 1) channels.
        let stage2 = resnet.features() / 8;
        let in_channels: Vec<usize> = r.iter().map(|&i| stage2 << (i - 1)).collect();
        let body = ResNetBody {
            conv1: zoo_layers::blocks::conv([3, 64], 7, 2, 3, false, device),
            bn1: norm(64),
            layer1: keep(1, l1),
            layer2: keep(2, l2),
            layer3: keep(3, l3),
            layer4: keep(4, l4),
            returned_layers: r.clone(),
        };
        let fpn = FeaturePyramidNetwork::new(
            &in_channels,
            self.out_channels,
            self.extra_blocks,
            self.fpn_norm,
            device,
        );
        let backbone = BackboneWithFpn {
            body,
            fpn,
            out_channels: self.out_channels,
            trainable_layers: self.trainable_layers,
        };
        Ok(backbone.freeze())
    }
}

impl BackboneWithFpn {
    /// The named FPN levels (`"0"` .. and `"pool"`) of a batch `[N, 3, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Vec<(String, Tensor<4>)> {
        self.fpn.forward(self.body.forward(x))
    }

    /// The prefixes of the body's parameters that train: the last
    /// `trainable_layers` of `layer4, layer3, layer2, layer1, conv1`, and
    /// `bn1` when all five do.
    pub fn trainable_prefixes(trainable_layers: usize) -> Vec<&'static str> {
        let mut p: Vec<&'static str> = ["layer4", "layer3", "layer2", "layer1", "conv1"]
            .into_iter()
            .take(trainable_layers)
            .collect();
        if trainable_layers == 5 {
            p.push("bn1");
        }
        p
    }

    /// torchvision's rule: a body parameter trains when its name starts
    /// with one of [`trainable_prefixes`](Self::trainable_prefixes); the
    /// FPN always trains.
    pub fn is_trainable(trainable_layers: usize, path: &str) -> bool {
        match path.strip_prefix("body.") {
            Some(rest) => Self::trainable_prefixes(trainable_layers)
                .iter()
                .any(|p| rest.starts_with(p)),
            None => true,
        }
    }

    /// The backbone with `requires_grad` set by [`is_trainable`](Self::is_trainable)
    /// (frozen norm layers hold buffers only, which never train).
    pub fn freeze(self) -> Self {
        let n = self.trainable_layers;
        set_trainable(self, &|p| Self::is_trainable(n, p))
    }

    /// The same backbone with `eps` in every frozen norm layer:
    /// torchvision's `overwrite_eps(model, 0.0)`, which its COCO weights of
    /// Faster / Mask R-CNN (v1) were trained with.
    pub fn with_frozen_bn_eps(mut self, eps: f64) -> Self {
        fn set(n: &mut Norm, eps: f64) {
            if let Norm::Frozen(f) = n {
                f.eps = eps;
            }
        }
        let b = &mut self.body;
        set(&mut b.bn1, eps);
        for block in [&mut b.layer1, &mut b.layer2, &mut b.layer3, &mut b.layer4]
            .into_iter()
            .flat_map(|s| s.iter_mut())
        {
            let (norms, down): (Vec<&mut Norm>, _) = match block {
                Block::Basic(x) => (vec![&mut x.bn1, &mut x.bn2], x.downsample.as_mut()),
                Block::Bottleneck(x) => (
                    vec![&mut x.bn1, &mut x.bn2, &mut x.bn3],
                    x.downsample.as_mut(),
                ),
            };
            for n in norms {
                set(n, eps);
            }
            if let Some(n) = down.and_then(|d| d.bn.as_mut()) {
                set(n, eps);
            }
        }
        for c in self
            .fpn
            .inner_blocks
            .iter_mut()
            .chain(self.fpn.layer_blocks.iter_mut())
        {
            if let Some(n) = c.norm.as_mut() {
                set(n, eps);
            }
        }
        self
    }

    /// torchvision's key of a parameter path: `body.layer2.0.downsample.conv.weight`
    /// -> `body.layer2.0.downsample.0.weight`, `fpn.inner_blocks.0.conv.weight`
    /// -> `fpn.inner_blocks.0.0.weight`.
    pub fn torch_key(path: &str) -> String {
        if path.starts_with("fpn.") {
            conv_norm_act_key(path)
        } else {
            ResNet::torchvision_key(path)
        }
    }

    /// Loads a `state_dict` of torchvision's `BackboneWithFPN` (every key,
    /// torch layout), keeping the freezing.
    ///
    /// # Errors
    /// A missing or unexpected key, or a shape that differs (both named).
    pub fn load_torch(self, sd: &StateDict) -> Result<Self, WeightsError> {
        Ok(load_state_dict(self, sd, &|p| Some(Self::torch_key(p)))?.freeze())
    }

    /// Loads torchvision's ImageNet weights of the ResNet (`resnet50-0676ba61.pth`,
    /// ...) into the body, as the builders' `weights_backbone` does; the
    /// checkpoint's `fc.*` and the stages the body dropped are not used.
    ///
    /// # Errors
    /// As [`load_torch`](Self::load_torch).
    pub fn load_resnet(self, sd: &StateDict) -> Result<Self, WeightsError> {
        let last = self.body.returned_layers.last().copied().unwrap_or(0);
        let dropped = |k: &str| {
            k.starts_with("fc.") || (last + 1..=4).any(|s| k.starts_with(&format!("layer{s}.")))
        };
        let mut body = StateDict::new();
        for key in sd.keys().filter(|k| !dropped(k)) {
            body.insert(format!("body.{key}"), sd.get(key).expect("listed").clone());
        }
        let loaded = load_state_dict(self, &body, &|p| {
            p.starts_with("body.").then(|| Self::torch_key(p))
        })?;
        Ok(loaded.freeze())
    }
}

impl DetectionBackbone for BackboneWithFpn {
    fn features(&self, x: Tensor<4>) -> Vec<(String, Tensor<4>)> {
        self.forward(x)
    }

    fn out_channels(&self) -> usize {
        self.out_channels
    }

    fn torch_key(path: &str) -> String {
        BackboneWithFpn::torch_key(path)
    }

    fn trainable(&self, path: &str) -> bool {
        Self::is_trainable(self.trainable_layers, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zoo_layers::params::num_trainable_params;

    fn device() -> Device {
        zoo_device::from_name("flex").unwrap()
    }

    #[test]
    fn frozen_batch_norm_is_the_torchvision_formula() {
        let d = device();
        let mut bn = FrozenBatchNorm2d::new(2, 1e-5, &d);
        bn.weight = RunningState::new(Tensor::from_floats([2.0, 0.5], &d));
        bn.bias = RunningState::new(Tensor::from_floats([1.0, -1.0], &d));
        bn.running_mean = RunningState::new(Tensor::from_floats([0.5, 3.0], &d));
        bn.running_var = RunningState::new(Tensor::from_floats([4.0, 0.25], &d));
        let x = Tensor::<4>::from_floats([[[[1.0]], [[2.0]]]], &d);
        let y: Vec<f32> = bn.forward(x).into_data().try_into_vec_as().unwrap();
        let f = |x: f64, w: f64, b: f64, m: f64, v: f64| {
            let s = w / (v + 1e-5).sqrt();
            (x * s + (b - m * s)) as f32
        };
        let want = [f(1.0, 2.0, 1.0, 0.5, 4.0), f(2.0, 0.5, -1.0, 3.0, 0.25)];
        for (a, b) in y.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{y:?} vs {want:?}");
        }
        // Buffers, not parameters.
        assert_eq!(num_trainable_params(&bn), 0);
    }

    #[test]
    fn nearest_upsampling_is_torch_interpolate() {
        // F.interpolate(arange(4.).view(1,1,1,4), size=(1,7), mode="nearest")
        // = [0, 0, 1, 1, 2, 2, 3].
        let d = device();
        let x = Tensor::<4>::from_floats([[[[0.0, 1.0, 2.0, 3.0]]]], &d);
        let y: Vec<f32> = upsample_nearest(x, [1, 7])
            .into_data()
            .try_into_vec_as()
            .unwrap();
        assert_eq!(y, vec![0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0]);
    }

    #[test]
    fn conv_norm_activation_keys() {
        assert_eq!(
            conv_norm_act_key("fpn.inner_blocks.0.conv.weight"),
            "fpn.inner_blocks.0.0.weight"
        );
        assert_eq!(
            conv_norm_act_key("fpn.layer_blocks.3.norm.running_var"),
            "fpn.layer_blocks.3.1.running_var"
        );
        assert_eq!(conv_norm_act_key("conv.bias"), "0.bias");
        assert_eq!(
            BackboneWithFpn::torch_key("body.layer2.0.downsample.bn.running_mean"),
            "body.layer2.0.downsample.1.running_mean"
        );
        assert_eq!(
            BackboneWithFpn::torch_key("body.layer1.0.conv1.weight"),
            "body.layer1.0.conv1.weight"
        );
    }

    #[test]
    fn resnet18_fpn_levels_channels_and_freezing() {
        let d = device();
        let b = ResNetFpnConfig::new("resnet18".into())
            .with_out_channels(32)
            .init(&d)
            .unwrap();
        let out = b.forward(Tensor::zeros([1, 3, 64, 96], &d));
        let shapes: Vec<(String, [usize; 4])> =
            out.into_iter().map(|(n, t)| (n, t.dims())).collect();
        assert_eq!(
            shapes,
            vec![
                ("0".to_string(), [1, 32, 16, 24]),
                ("1".to_string(), [1, 32, 8, 12]),
                ("2".to_string(), [1, 32, 4, 6]),
                ("3".to_string(), [1, 32, 2, 3]),
                ("pool".to_string(), [1, 32, 1, 2]),
            ]
        );
        // torchvision: resnet_fpn_backbone("resnet18", weights=None,
        // trainable_layers=3) with out_channels 32: layer2..4 (FrozenBN: convs
        // only) and the FPN train.
        let convs = |layers: &[usize]| -> usize {
            // resnet18 stage conv weights (3x3 convs, 1x1 projections)
            layers
                .iter()
                .map(|&s| match s {
                    2 => 64 * 128 * 9 + 128 * 128 * 9 * 3 + 64 * 128,
                    3 => 128 * 256 * 9 + 256 * 256 * 9 * 3 + 128 * 256,
                    4 => 256 * 512 * 9 + 512 * 512 * 9 * 3 + 256 * 512,
                    _ => unreachable!(),
                })
                .sum()
        };
        let fpn: usize = [64, 128, 256, 512]
            .iter()
            .map(|c| c * 32 + 32 + 32 * 32 * 9 + 32)
            .sum();
        assert_eq!(num_trainable_params(&b), convs(&[2, 3, 4]) + fpn);
    }

    #[test]
    fn imagenet_resnet_weights_load_into_the_body() {
        let d = device();
        let resnet = ResNetConfig::torchvision(18, 1000).unwrap().init(&d);
        let sd = crate::weights::export_state_dict(&resnet, &|p| Some(ResNet::torchvision_key(p)));
        // layer4 is dropped by the body (returned_layers [1, 2, 3]): its
        // keys, like fc's, are not used.
        let b = ResNetFpnConfig::new("resnet18".into())
            .with_returned_layers(vec![1, 2, 3])
            .with_out_channels(8)
            .init(&d)
            .unwrap();
        let before = num_trainable_params(&b);
        let b = b.load_resnet(&sd).unwrap();
        assert_eq!(num_trainable_params(&b), before);
        let want: Vec<f32> = resnet.layer3[1]
            .forward(Tensor::ones([1, 256, 4, 4], &d))
            .into_data()
            .try_into_vec_as()
            .unwrap();
        let got: Vec<f32> = b.body.layer3[1]
            .forward(Tensor::ones([1, 256, 4, 4], &d))
            .into_data()
            .try_into_vec_as()
            .unwrap();
        assert!(want.iter().zip(&got).all(|(x, y)| (x - y).abs() < 1e-4));
        // A torchvision key of another shape is named with both shapes.
        let mut bad = sd.clone();
        bad.insert(
            "conv1.weight",
            TensorData::new(vec![0.0f32; 64 * 49], [64, 1, 7, 7]),
        );
        let b = ResNetFpnConfig::new("resnet18".into()).init(&d).unwrap();
        let e = b.load_resnet(&bad).unwrap_err().to_string();
        assert!(
            e.contains("body.conv1.weight")
                && e.contains("[64, 1, 7, 7]")
                && e.contains("[64, 3, 7, 7]"),
            "{e}"
        );
    }

    #[test]
    fn returned_layers_drop_the_later_stages() {
        let d = device();
        let b = ResNetFpnConfig::new("resnet18".into())
            .with_returned_layers(vec![2, 3])
            .with_out_channels(8)
            .with_extra_blocks(ExtraBlocks::None)
            .init(&d)
            .unwrap();
        assert!(b.body.layer4.is_empty());
        let out = b.forward(Tensor::zeros([1, 3, 64, 64], &d));
        let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["0", "1"]);
        assert_eq!(out[0].1.dims(), [1, 8, 8, 8]);
        let bad = ResNetFpnConfig::new("resnet18".into())
            .with_returned_layers(vec![0, 5])
            .init(&d);
        assert!(bad.unwrap_err().to_string().contains("returned_layers"));
    }
}
