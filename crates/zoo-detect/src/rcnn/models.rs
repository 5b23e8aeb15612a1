//! torchvision's two-stage detectors (`models/detection/{faster_rcnn,
//! mask_rcnn,generalized_rcnn}.py`): [`FasterRcnn`] and [`MaskRcnn`]
//! assembled from a [`DetectionBackbone`] (zoo-models' ResNet-FPN), the
//! [`RegionProposalNetwork`], the [`RoIHeads`] and the
//! [`GeneralizedRcnnTransform`], with torchvision's builders
//! ([`fasterrcnn_resnet50_fpn`], [`fasterrcnn_resnet50_fpn_v2`],
//! [`maskrcnn_resnet50_fpn`]; [`FasterRcnnConfig`] for any other) and its
//! `state_dict` keys (`backbone.body.conv1.weight`,
//! `rpn.head.conv.0.0.weight`, `roi_heads.box_head.fc6.weight`, ...).
//!
//! Evaluation ([`FasterRcnn::forward`]) returns each image's boxes, scores
//! and labels (and Mask R-CNN's masks) in the original image's pixels;
//! training ([`FasterRcnn::forward_train`]) returns the losses of both
//! stages.

use burn::module::{Module, ModuleDisplay};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use zoo_models::fpn::{
    BackboneWithFpn, ConvNormActivation, DetectionBackbone, NormKind, ResNetFpnConfig,
    conv_norm_act_key,
};
use zoo_models::weights::{StateDict, WeightsError, load_state_dict, set_trainable};
use zoo_rng::Rng;

use super::anchors::AnchorGenerator;
use super::heads::{
    BoxHead, Detections, FastRCNNPredictorConfig, RoIHeads, RoIHeadsSettings, RoiTarget,
    TwoMLPHead, TwoMLPHeadConfig,
};
use super::masks::{MaskRCNNHeads, MaskRCNNHeadsConfig, MaskRCNNPredictorConfig};
use super::pooler::MultiScaleRoIAlign;
use super::rpn::{RegionProposalNetwork, RpnHeadConfig, RpnSettings};
use super::transform::{GeneralizedRcnnTransform, Target, resize_boxes};
use crate::DetectError;

const OP: &str = "rcnn";

/// A box head of a [`FasterRcnn`] with torchvision's keys.
pub trait BoxHeadKeys: BoxHead + ModuleDisplay {
    /// `fc6.weight` -> `fc6.weight` ([`TwoMLPHead`]), `convs.0.conv.weight`
    /// -> `0.0.weight` ([`FastRCNNConvFCHead`]).
    fn torch_key(&self, path: &str) -> String;
}

impl BoxHeadKeys for TwoMLPHead {
    fn torch_key(&self, path: &str) -> String {
        path.to_string()
    }
}

/// torchvision's `FastRCNNConvFCHead` (Faster R-CNN v2's box head): 3x3
/// `Conv2dNormActivation`s, flatten, then `Linear` + ReLU layers. Keys
/// `<i>.0.weight`, `<i>.1.running_mean` for the convolutions, then
/// `<n + 1 + 2j>.weight` for the linear layers (after `Flatten` at `n`).
#[derive(Module, Debug)]
pub struct FastRCNNConvFCHead {
    /// The convolutions (3x3, norm, ReLU).
    pub convs: Vec<ConvNormActivation>,
    /// The linear layers, each followed by ReLU.
    pub fcs: Vec<Linear>,
}

impl FastRCNNConvFCHead {
    /// `FastRCNNConvFCHead(input_size (C, H, W), conv_layers, fc_layers,
    /// norm_layer)` with torchvision's initialisation (convolutions
    /// `kaiming_normal_(mode="fan_out", nonlinearity="relu")`, biases 0;
    /// linear layers PyTorch's default).
    ///
    /// # Panics
    /// When a size is 0.
    pub fn new(
        input_size: [usize; 3],
        conv_layers: &[usize],
        fc_layers: &[usize],
        norm: Option<NormKind>,
        device: &Device,
    ) -> Self {
        let [c, h, w] = input_size;
        assert!(
            c > 0 && h > 0 && w > 0 && !conv_layers.contains(&0) && !fc_layers.contains(&0),
            "FastRCNNConvFCHead: input {input_size:?}, conv_layers {conv_layers:?}, fc_layers {fc_layers:?}: expected positive sizes"
        );
        let init = Initializer::KaimingNormal {
            gain: std::f64::consts::SQRT_2,
            fan_out_only: true,
        };
        let mut previous = c;
        let convs = conv_layers
            .iter()
            .map(|&out| {
                let block = ConvNormActivation::new([previous, out], 3, 1, 1, norm, true, device)
                    .with_init(&init, device);
                previous = out;
                block
            })
            .collect();
        let mut previous = previous * h * w;
        let fcs = fc_layers
            .iter()
            .map(|&out| {
                let fc = LinearConfig::new(previous, out).init(device);
                previous = out;
                fc
            })
            .collect();
        Self { convs, fcs }
    }
}

impl BoxHead for FastRCNNConvFCHead {
    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.convs.iter().fold(x, |x, c| c.forward(x));
        let x: Tensor<2> = x.flatten(1, 3);
        self.fcs.iter().fold(x, |x, fc| relu(fc.forward(x)))
    }
}

impl BoxHeadKeys for FastRCNNConvFCHead {
    fn torch_key(&self, path: &str) -> String {
        Self::torch_key_with(self.convs.len(), path)
    }
}

impl FastRCNNConvFCHead {
    /// torchvision's key of a path of a head with `n_convs` convolutions:
    /// `convs.<i>.conv.weight` -> `<i>.0.weight`, `convs.<i>.norm.bias` ->
    /// `<i>.1.bias`, `fcs.<j>.weight` -> `<n_convs + 1 + 2j>.weight`.
    pub fn torch_key_with(n_convs: usize, path: &str) -> String {
        if let Some(rest) = path.strip_prefix("convs.") {
            return conv_norm_act_key(rest);
        }
        if let Some(rest) = path.strip_prefix("fcs.")
            && let Some((j, tail)) = rest.split_once('.')
            && let Ok(j) = j.parse::<usize>()
        {
            return format!("{}.{tail}", n_convs + 1 + 2 * j);
        }
        path.to_string()
    }
}

/// The settings of a Faster / Mask R-CNN: torchvision's `FasterRCNN`
/// keyword arguments (the defaults are its; `Default` gives them).
#[derive(Clone, Debug, PartialEq)]
pub struct FasterRcnnConfig {
    /// Classes, background (0) included (91 for COCO).
    pub num_classes: usize,
    /// The image transform (`min_size` 800, `max_size` 1333, ImageNet's
    /// mean and std, `size_divisible` 32).
    pub transform: GeneralizedRcnnTransform,
    /// Anchor sizes per level (`((32,), (64,), (128,), (256,), (512,))`).
    pub anchor_sizes: Vec<Vec<f64>>,
    /// Aspect ratios per level (`(0.5, 1, 2)` on each).
    pub aspect_ratios: Vec<Vec<f64>>,
    /// 3x3 convolutions of the RPN head (1; v2: 2).
    pub rpn_conv_depth: usize,
    /// The RPN's thresholds and counts.
    pub rpn: RpnSettings,
    /// The box head's pooler (`MultiScaleRoIAlign(["0".."3"], 7, 2)`).
    pub box_roi_pool: MultiScaleRoIAlign,
    /// Width of [`TwoMLPHead`] (1024).
    pub representation_size: usize,
    /// The box head's thresholds and counts.
    pub roi_heads: RoIHeadsSettings,
    /// Mask R-CNN's pooler (`MultiScaleRoIAlign(["0".."3"], 14, 2)`).
    pub mask_roi_pool: MultiScaleRoIAlign,
    /// Mask R-CNN's head layers (`(256, 256, 256, 256)`).
    pub mask_layers: Vec<usize>,
    /// Mask R-CNN's head dilation (1).
    pub mask_dilation: usize,
    /// Mask R-CNN's predictor width (256).
    pub mask_dim_reduced: usize,
}

impl Default for FasterRcnnConfig {
    fn default() -> Self {
        Self {
            num_classes: 91,
            transform: GeneralizedRcnnTransform::new(
                800,
                1333,
                vec![0.485, 0.456, 0.406],
                vec![0.229, 0.224, 0.225],
            ),
            anchor_sizes: vec![
                vec![32.0],
                vec![64.0],
                vec![128.0],
                vec![256.0],
                vec![512.0],
            ],
            aspect_ratios: vec![vec![0.5, 1.0, 2.0]; 5],
            rpn_conv_depth: 1,
            rpn: RpnSettings::default(),
            box_roi_pool: MultiScaleRoIAlign::new(&["0", "1", "2", "3"], [7, 7], 2),
            representation_size: 1024,
            roi_heads: RoIHeadsSettings::default(),
            mask_roi_pool: MultiScaleRoIAlign::new(&["0", "1", "2", "3"], [14, 14], 2),
            mask_layers: vec![256; 4],
            mask_dilation: 1,
            mask_dim_reduced: 256,
        }
    }
}

impl FasterRcnnConfig {
    /// torchvision's defaults with `num_classes` classes.
    pub fn new(num_classes: usize) -> Self {
        Self {
            num_classes,
            ..Self::default()
        }
    }

    fn rpn_for(
        &self,
        channels: usize,
        device: &Device,
    ) -> Result<RegionProposalNetwork, DetectError> {
        let anchors = AnchorGenerator::new(self.anchor_sizes.clone(), self.aspect_ratios.clone())?;
        let per_location = anchors.num_anchors_per_location();
        let num_anchors = per_location.first().copied().ok_or_else(|| {
            DetectError::new(OP, "no anchor sizes: expected one list per feature level")
        })?;
        if self.rpn_conv_depth == 0 {
            return Err(DetectError::new(
                OP,
                "rpn_conv_depth 0, expected at least 1",
            ));
        }
        let head = RpnHeadConfig::new(channels, num_anchors)
            .with_conv_depth(self.rpn_conv_depth)
            .init(device);
        RegionProposalNetwork::new(anchors, head, self.rpn)
    }

    fn check(&self, channels: usize) -> Result<(), DetectError> {
        if self.num_classes < 2 {
            return Err(DetectError::new(
                OP,
                format!(
                    "num_classes {}, expected at least 2 (the background and one class)",
                    self.num_classes
                ),
            ));
        }
        if channels == 0 || self.representation_size == 0 {
            return Err(DetectError::new(
                OP,
                format!(
                    "backbone channels {channels}, representation_size {}: expected positive sizes",
                    self.representation_size
                ),
            ));
        }
        let [oh, ow] = self.box_roi_pool.output_size;
        if oh == 0 || ow == 0 {
            return Err(DetectError::new(
                OP,
                format!(
                    "box_roi_pool output size {:?}, expected positive sides",
                    [oh, ow]
                ),
            ));
        }
        Ok(())
    }

    /// `FasterRCNN(backbone, num_classes, ...)`: the RPN head on the
    /// backbone's channels, `TwoMLPHead(channels * oh * ow,
    /// representation_size)`, `FastRCNNPredictor(representation_size,
    /// num_classes)`, with torchvision's initialisation.
    ///
    /// # Errors
    /// Fewer than 2 classes, a zero size, anchor sizes and ratios of
    /// different lengths, thresholds out of range.
    pub fn init<B: DetectionBackbone>(
        &self,
        backbone: B,
        device: &Device,
    ) -> Result<FasterRcnn<B>, DetectError> {
        let channels = backbone.out_channels();
        self.check(channels)?;
        let [oh, ow] = self.box_roi_pool.output_size;
        let box_head =
            TwoMLPHeadConfig::new(channels * oh * ow, self.representation_size).init(device);
        self.init_with_box_head(backbone, box_head, self.representation_size, device)
    }

    /// [`init`](Self::init) with another box head of output width
    /// `representation_size` (Faster R-CNN v2's [`FastRCNNConvFCHead`]).
    ///
    /// # Errors
    /// As [`init`](Self::init).
    pub fn init_with_box_head<B: DetectionBackbone, H: BoxHeadKeys>(
        &self,
        backbone: B,
        box_head: H,
        representation_size: usize,
        device: &Device,
    ) -> Result<FasterRcnn<B, H>, DetectError> {
        let channels = backbone.out_channels();
        self.check(channels)?;
        let rpn = self.rpn_for(channels, device)?;
        let predictor =
            FastRCNNPredictorConfig::new(representation_size, self.num_classes).init(device);
        self.roi_heads.proposal_matcher()?;
        let roi_heads = RoIHeads::new(
            self.box_roi_pool.clone(),
            box_head,
            predictor,
            self.roi_heads,
        );
        let model = FasterRcnn {
            backbone,
            rpn,
            roi_heads,
            transform: self.transform.clone(),
        };
        Ok(model.refreeze())
    }

    /// `MaskRCNN(backbone, num_classes, ...)`: [`init`](Self::init) with
    /// the mask branch (`MaskRCNNHeads(channels, mask_layers,
    /// mask_dilation)`, `MaskRCNNPredictor(mask_layers[-1],
    /// mask_dim_reduced, num_classes)`, the mask pooler).
    ///
    /// # Errors
    /// As [`init`](Self::init), or no mask layer.
    pub fn init_mask<B: DetectionBackbone>(
        &self,
        backbone: B,
        device: &Device,
    ) -> Result<MaskRcnn<B>, DetectError> {
        let channels = backbone.out_channels();
        let last = self.mask_layers.last().copied().unwrap_or(0);
        if last == 0
            || self.mask_layers.contains(&0)
            || self.mask_dilation == 0
            || self.mask_dim_reduced == 0
        {
            return Err(DetectError::new(
                OP,
                format!(
                    "mask_layers {:?}, mask_dilation {}, mask_dim_reduced {}: expected positive sizes, one layer at least",
                    self.mask_layers, self.mask_dilation, self.mask_dim_reduced
                ),
            ));
        }
        let mut model = self.init(backbone, device)?;
        let head = MaskRCNNHeadsConfig::new(channels, self.mask_layers.clone())
            .with_dilation(self.mask_dilation)
            .init(device);
        let predictor = MaskRCNNPredictorConfig::new(last, self.mask_dim_reduced, self.num_classes)
            .init(device);
        model.roi_heads = model
            .roi_heads
            .with_masks(self.mask_roi_pool.clone(), head, predictor);
        Ok(model.refreeze())
    }
}

/// torchvision's `FasterRCNN` (`GeneralizedRCNN`): a backbone, the RPN,
/// the RoI heads and the image transform. With the mask branch in its
/// RoI heads it is Mask R-CNN ([`MaskRcnn`]).
#[derive(Module, Debug)]
pub struct FasterRcnn<B: DetectionBackbone = BackboneWithFpn, H: BoxHeadKeys = TwoMLPHead> {
    /// The backbone (keys `backbone.*`).
    pub backbone: B,
    /// The region proposal network (keys `rpn.*`).
    pub rpn: RegionProposalNetwork,
    /// The box (and mask) heads (keys `roi_heads.*`).
    pub roi_heads: RoIHeads<H>,
    /// Normalisation, resizing and batching of the images.
    #[module(skip)]
    pub transform: GeneralizedRcnnTransform,
}

/// torchvision's `MaskRCNN`: a [`FasterRcnn`] whose RoI heads carry the
/// mask branch (as torchvision's class adds `mask_roi_pool`, `mask_head`
/// and `mask_predictor` to them); its detections have masks.
pub type MaskRcnn<B = BackboneWithFpn> = FasterRcnn<B, TwoMLPHead>;

/// The losses of [`FasterRcnn::forward_train`], each of shape `[1]`
/// (torchvision's dict, in its order).
#[derive(Clone, Debug)]
pub struct RcnnLosses {
    /// The box head's cross-entropy.
    pub loss_classifier: Tensor<1>,
    /// The box head's smooth L1.
    pub loss_box_reg: Tensor<1>,
    /// Mask R-CNN's mask loss.
    pub loss_mask: Option<Tensor<1>>,
    /// The RPN's binary cross-entropy.
    pub loss_objectness: Tensor<1>,
    /// The RPN's smooth L1.
    pub loss_rpn_box_reg: Tensor<1>,
}

impl RcnnLosses {
    /// The losses by torchvision's names, in its dict's order.
    pub fn named(&self) -> Vec<(&'static str, Tensor<1>)> {
        let mut v = vec![
            ("loss_classifier", self.loss_classifier.clone()),
            ("loss_box_reg", self.loss_box_reg.clone()),
        ];
        if let Some(m) = &self.loss_mask {
            v.push(("loss_mask", m.clone()));
        }
        v.push(("loss_objectness", self.loss_objectness.clone()));
        v.push(("loss_rpn_box_reg", self.loss_rpn_box_reg.clone()));
        v
    }

    /// Their sum (what torchvision's training loop backpropagates).
    pub fn total(&self) -> Tensor<1> {
        self.named()
            .into_iter()
            .map(|(_, t)| t)
            .reduce(|a, b| a + b)
            .expect("four losses at least")
    }
}

impl<B: DetectionBackbone, H: BoxHeadKeys> FasterRcnn<B, H> {
    /// Whether the RoI heads carry Mask R-CNN's mask branch.
    pub fn has_masks(&self) -> bool {
        self.roi_heads.mask_head.is_some()
    }

    /// torchvision's key of a parameter path (`backbone.body.layer1.0.downsample.conv.weight`
    /// -> `backbone.body.layer1.0.downsample.0.weight`, `rpn.head.conv.0.weight`
    /// -> `rpn.head.conv.0.0.weight`, `roi_heads.mask_head.layers.0.weight` ->
    /// `roi_heads.mask_head.0.0.weight`, ...).
    pub fn torch_key(&self, path: &str) -> String {
        if let Some(rest) = path.strip_prefix("backbone.") {
            return format!("backbone.{}", B::torch_key(rest));
        }
        if let Some(rest) = path.strip_prefix("rpn.") {
            return format!("rpn.{}", RegionProposalNetwork::torchvision_key(rest));
        }
        if let Some(rest) = path.strip_prefix("roi_heads.box_head.") {
            return format!(
                "roi_heads.box_head.{}",
                self.roi_heads.box_head.torch_key(rest)
            );
        }
        if let Some(rest) = path.strip_prefix("roi_heads.mask_head.") {
            return format!(
                "roi_heads.mask_head.{}",
                MaskRCNNHeads::torchvision_key(rest)
            );
        }
        path.to_string()
    }

    /// The model with `requires_grad` as torchvision sets it: the
    /// backbone's frozen stages off, everything else on (norm layers'
    /// buffers never train).
    pub fn refreeze(self) -> Self {
        let backbone = self.backbone.clone();
        set_trainable(self, &|p| match p.strip_prefix("backbone.") {
            Some(rest) => backbone.trainable(rest),
            None => true,
        })
    }

    /// Loads a `state_dict` of torchvision's model (every key, torch layout:
    /// `fasterrcnn_resnet50_fpn_coco-258fb6c6.pth`, a case's `w.*`), keeping
    /// the backbone's freezing. torchvision's COCO weights of the v1 models
    /// expect frozen norm layers with eps 0
    /// ([`BackboneWithFpn::with_frozen_bn_eps`]).
    ///
    /// # Errors
    /// A missing or unexpected key, or a key of another shape (another
    /// class count: `roi_heads.box_predictor.cls_score.weight` of shape
    /// `[91, 1024]` for a model of 5 classes), named with both shapes.
    pub fn load_torch(self, sd: &StateDict) -> Result<Self, WeightsError> {
        let keys = self.clone();
        let model = load_state_dict(self, sd, &|p| Some(keys.torch_key(p)))?;
        Ok(model.refreeze())
    }

    /// Evaluation (`model.eval()(images)`): each image `[3, H, W]` (values
    /// in `[0, 1]`, sizes may differ) to its detections, boxes in the
    /// original image's pixels by score descending; Mask R-CNN's masks
    /// `[D, 1, H, W]` pasted into the original image (probabilities).
    /// On an autodiff device call it on `model.valid()`, as torchvision's
    /// `model.eval()` (batch norm layers would otherwise use the batch's
    /// statistics).
    ///
    /// # Errors
    /// No image, an image that is not `[3, H, W]` with positive sides, or
    /// what the stages refuse.
    pub fn forward(&self, images: Vec<Tensor<3>>) -> Result<Vec<Detections>, DetectError> {
        let original = original_sizes(&images, self.transform.image_mean.len())?;
        let list = self.transform.forward(images)?;
        let features = self.backbone.features(list.tensors.clone());
        let maps: Vec<Tensor<4>> = features.iter().map(|(_, t)| t.clone()).collect();
        let proposals: Vec<Tensor<2>> = self
            .rpn
            .forward(&list, &maps)?
            .into_iter()
            .map(|p| p.boxes)
            .collect();
        let detections = self
            .roi_heads
            .forward_eval(&features, &proposals, &list.image_sizes)?;
        detections
            .into_iter()
            .zip(list.image_sizes.iter().zip(&original))
            .map(|(d, (&resized, &size))| {
                let boxes = resize_boxes(d.boxes, resized, size)?;
                let masks = match d.masks {
                    Some(m) => Some(self.transform.postprocess_masks(m, boxes.clone(), size)?),
                    None => None,
                };
                Ok(Detections {
                    boxes,
                    scores: d.scores,
                    labels: d.labels,
                    masks,
                })
            })
            .collect()
    }

    /// Training (`model.train()(images, targets)`): the images resized
    /// with their targets (boxes `[G, 4]` in pixels, labels `>= 1`, Mask
    /// R-CNN's masks `[G, H, W]`), the RPN's and the heads' losses; the
    /// training size, the RPN's anchors and the heads' proposals are drawn
    /// with `rng`. Run it on an autodiff device to backpropagate
    /// [`RcnnLosses::total`].
    ///
    /// # Errors
    /// Not one target per image, a degenerate box (torchvision's message),
    /// Mask R-CNN without target masks, or what the stages refuse.
    pub fn forward_train(
        &self,
        images: Vec<Tensor<3>>,
        targets: Vec<Target>,
        rng: &mut Rng,
    ) -> Result<RcnnLosses, DetectError> {
        original_sizes(&images, self.transform.image_mean.len())?;
        if self.has_masks()
            && let Some(i) = targets.iter().position(|t| t.masks.is_none())
        {
            return Err(DetectError::new(
                OP,
                format!("target {i} has no masks: Mask R-CNN's training needs them"),
            ));
        }
        let (list, targets) = self.transform.forward_train(images, targets, rng)?;
        let features = self.backbone.features(list.tensors.clone());
        let maps: Vec<Tensor<4>> = features.iter().map(|(_, t)| t.clone()).collect();
        let gt: Vec<Tensor<2>> = targets.iter().map(|t| t.boxes.clone()).collect();
        let (proposals, rpn_losses) = self.rpn.forward_train(&list, &maps, &gt, rng)?;
        let proposals: Vec<Tensor<2>> = proposals.into_iter().map(|p| p.boxes).collect();
        let roi_targets: Vec<RoiTarget> = targets
            .into_iter()
            .map(|t| RoiTarget {
                boxes: t.boxes,
                labels: t.labels,
                masks: t.masks,
            })
            .collect();
        let heads = self.roi_heads.forward_train(
            &features,
            &proposals,
            &list.image_sizes,
            &roi_targets,
            rng,
        )?;
        Ok(RcnnLosses {
            loss_classifier: heads.loss_classifier,
            loss_box_reg: heads.loss_box_reg,
            loss_mask: heads.loss_mask,
            loss_objectness: rpn_losses.objectness,
            loss_rpn_box_reg: rpn_losses.box_reg,
        })
    }
}

/// Each image's `(H, W)`, checking `[C, H, W]` with `channels` channels.
fn original_sizes(images: &[Tensor<3>], channels: usize) -> Result<Vec<[usize; 2]>, DetectError> {
    if images.is_empty() {
        return Err(DetectError::new(
            OP,
            "no image, expected at least one [3, H, W]",
        ));
    }
    images
        .iter()
        .enumerate()
        .map(|(i, im)| {
            let [c, h, w] = im.dims();
            if c != channels || h == 0 || w == 0 {
                return Err(DetectError::new(
                    OP,
                    format!(
                        "image {i} of shape {:?}, expected [{channels}, H, W] with H, W > 0",
                        [c, h, w]
                    ),
                ));
            }
            Ok([h, w])
        })
        .collect()
}

/// torchvision's `_validate_trainable_layers`: with pretrained weights the
/// given count (3 when `None`), without them 5 (every layer trains; a
/// count given is overridden, as torchvision warns); a count above 5 is
/// refused where it applies, as `_resnet_fpn_extractor` refuses it.
fn trainable_layers(pretrained: bool, given: Option<usize>) -> Result<usize, DetectError> {
    let n = if pretrained { given.unwrap_or(3) } else { 5 };
    if n > 5 {
        return Err(DetectError::new(
            OP,
            format!("trainable_backbone_layers {n}, expected 0 to 5"),
        ));
    }
    Ok(n)
}

fn backbone_error(e: zoo_models::fpn::BackboneError) -> DetectError {
    DetectError::new(OP, e.to_string())
}

/// `fasterrcnn_resnet50_fpn(weights=None, num_classes,
/// weights_backbone=IMAGENET1K_V1 if pretrained_backbone else None,
/// trainable_backbone_layers)`: with a pretrained backbone the ResNet-50
/// has `FrozenBatchNorm2d` and trains its last `trainable_backbone_layers`
/// stages (3 when `None`); without, batch norm and every stage trains.
/// The ImageNet weights themselves are loaded with
/// [`BackboneWithFpn::load_resnet`] (`model.backbone = model.backbone.load_resnet(&sd)?`).
///
/// # Errors
/// `num_classes` below 2 or, with a pretrained backbone,
/// `trainable_backbone_layers` above 5.
pub fn fasterrcnn_resnet50_fpn(
    num_classes: usize,
    trainable_backbone_layers: Option<usize>,
    pretrained_backbone: bool,
    device: &Device,
) -> Result<FasterRcnn, DetectError> {
    let backbone = resnet50_fpn(
        trainable_backbone_layers,
        pretrained_backbone,
        false,
        device,
    )?;
    FasterRcnnConfig::new(num_classes).init(backbone, device)
}

/// `maskrcnn_resnet50_fpn(...)`: [`fasterrcnn_resnet50_fpn`] with Mask
/// R-CNN's mask branch.
///
/// # Errors
/// As [`fasterrcnn_resnet50_fpn`].
pub fn maskrcnn_resnet50_fpn(
    num_classes: usize,
    trainable_backbone_layers: Option<usize>,
    pretrained_backbone: bool,
    device: &Device,
) -> Result<MaskRcnn, DetectError> {
    let backbone = resnet50_fpn(
        trainable_backbone_layers,
        pretrained_backbone,
        false,
        device,
    )?;
    FasterRcnnConfig::new(num_classes).init_mask(backbone, device)
}

/// `fasterrcnn_resnet50_fpn_v2(...)` (Li et al. 2021's recipe): the
/// ResNet-50 keeps batch norm (its frozen stages' parameters do not train),
/// the FPN has batch norm, the RPN head two convolutions, the box head
/// [`FastRCNNConvFCHead`] with four 256-channel convolutions (batch norm)
/// and one 1024-wide linear layer.
///
/// # Errors
/// As [`fasterrcnn_resnet50_fpn`].
pub fn fasterrcnn_resnet50_fpn_v2(
    num_classes: usize,
    trainable_backbone_layers: Option<usize>,
    pretrained_backbone: bool,
    device: &Device,
) -> Result<FasterRcnn<BackboneWithFpn, FastRCNNConvFCHead>, DetectError> {
    let backbone = resnet50_fpn(trainable_backbone_layers, pretrained_backbone, true, device)?;
    let c = backbone.out_channels;
    let config = FasterRcnnConfig {
        rpn_conv_depth: 2,
        ..FasterRcnnConfig::new(num_classes)
    };
    let [oh, ow] = config.box_roi_pool.output_size;
    let head = FastRCNNConvFCHead::new(
        [c, oh, ow],
        &[256, 256, 256, 256],
        &[1024],
        Some(NormKind::BatchNorm),
        device,
    );
    config.init_with_box_head(backbone, head, 1024, device)
}

/// The ResNet-50-FPN of the builders (`v2`: batch norm everywhere).
fn resnet50_fpn(
    trainable: Option<usize>,
    pretrained: bool,
    v2: bool,
    device: &Device,
) -> Result<BackboneWithFpn, DetectError> {
    let n = trainable_layers(pretrained, trainable)?;
    let norm = if pretrained && !v2 {
        NormKind::Frozen
    } else {
        NormKind::BatchNorm
    };
    ResNetFpnConfig::new("resnet50".into())
        .with_norm(norm)
        .with_trainable_layers(n)
        .with_fpn_norm(v2.then_some(NormKind::BatchNorm))
        .init(device)
        .map_err(backbone_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zoo_layers::params::num_trainable_params;

    fn device() -> Device {
        zoo_device::from_name("flex").unwrap()
    }

    #[test]
    fn v2_box_head_keys() {
        assert_eq!(
            FastRCNNConvFCHead::torch_key_with(4, "convs.2.norm.running_var"),
            "2.1.running_var"
        );
        assert_eq!(
            FastRCNNConvFCHead::torch_key_with(4, "convs.0.conv.weight"),
            "0.0.weight"
        );
        assert_eq!(
            FastRCNNConvFCHead::torch_key_with(4, "fcs.0.bias"),
            "5.bias"
        );
    }

    #[test]
    fn torchvision_parameter_counts() {
        // torchvision 0.29.2: sum(p.numel() for p in m.parameters() if p.requires_grad)
        // of the builders with weights=None, weights_backbone=None, num_classes=91.
        let d = device();
        let m = fasterrcnn_resnet50_fpn(91, None, false, &d).unwrap();
        assert_eq!(num_trainable_params(&m), 41_808_406);
        let m = maskrcnn_resnet50_fpn(91, None, false, &d).unwrap();
        assert_eq!(num_trainable_params(&m), 44_454_513);
        let m = fasterrcnn_resnet50_fpn_v2(91, None, false, &d).unwrap();
        assert_eq!(num_trainable_params(&m), 43_712_278);
        // The weights' metadata counts every parameter of the model they
        // load into (frozen norm layers for v1): every stage trainable.
        let all = [
            num_trainable_params(&fasterrcnn_resnet50_fpn(91, Some(5), true, &d).unwrap()),
            num_trainable_params(&fasterrcnn_resnet50_fpn_v2(91, Some(5), true, &d).unwrap()),
            num_trainable_params(&maskrcnn_resnet50_fpn(91, Some(5), true, &d).unwrap()),
        ];
        for (name, n) in [
            "fasterrcnn_resnet50_fpn",
            "fasterrcnn_resnet50_fpn_v2",
            "maskrcnn_resnet50_fpn",
        ]
        .into_iter()
        .zip(all)
        {
            let entry = zoo_models::pretrained::default_weights(name).unwrap();
            assert_eq!(entry.num_params, n, "{name}");
        }
        // A count above 5 is refused, as torchvision refuses it.
        let e = fasterrcnn_resnet50_fpn(91, Some(6), true, &d).unwrap_err();
        assert!(e.to_string().contains("trainable_backbone_layers 6"), "{e}");
    }

    /// A small Mask R-CNN on resnet18 with 8 FPN channels and 64 px images.
    fn small(d: &Device) -> MaskRcnn {
        let backbone = ResNetFpnConfig::new("resnet18".into())
            .with_out_channels(8)
            .init(d)
            .unwrap();
        let mut config = FasterRcnnConfig::new(3);
        config.transform = GeneralizedRcnnTransform::new(64, 96, vec![0.5; 3], vec![0.25; 3]);
        config.representation_size = 16;
        config.mask_layers = vec![8, 8];
        config.mask_dim_reduced = 8;
        config.rpn.pre_nms_top_n_test = 50;
        config.rpn.post_nms_top_n_test = 20;
        config.rpn.pre_nms_top_n_train = 50;
        config.rpn.post_nms_top_n_train = 20;
        config.roi_heads.batch_size_per_image = 16;
        config.roi_heads.score_thresh = 0.0;
        config.init_mask(backbone, d).unwrap()
    }

    fn images(d: &Device) -> Vec<Tensor<3>> {
        let im = |h: usize, w: usize, k: f32| {
            let v: Vec<f32> = (0..3 * h * w)
                .map(|i| ((i as f32 * k).sin() + 1.0) / 2.0)
                .collect();
            Tensor::<3>::from_data(burn::tensor::TensorData::new(v, [3, h, w]), d)
        };
        vec![im(48, 64, 0.37), im(70, 50, 0.11)]
    }

    #[test]
    fn evaluation_gives_detections_in_the_original_pixels() {
        let d = device();
        let m = small(&d);
        let out = m.forward(images(&d)).unwrap();
        assert_eq!(out.len(), 2);
        for (det, [h, w]) in out.iter().zip([[48, 64], [70, 50]]) {
            let [n, four] = det.boxes.dims();
            assert_eq!(four, 4);
            assert_eq!(det.scores.dims(), [n]);
            assert_eq!(det.labels.dims(), [n]);
            assert_eq!(det.masks.as_ref().unwrap().dims(), [n, 1, h, w]);
            let b: Vec<f32> = det.boxes.clone().into_data().try_into_vec_as().unwrap();
            for r in b.chunks(4) {
                assert!(
                    r[0] >= 0.0
                        && r[2] <= w as f32 + 1e-3
                        && r[1] >= 0.0
                        && r[3] <= h as f32 + 1e-3,
                    "{r:?}"
                );
            }
            let labels: Vec<i64> = det.labels.clone().into_data().iter::<i64>().collect();
            assert!(labels.iter().all(|&l| (1..3).contains(&l)), "{labels:?}");
        }
        let bad = m.forward(vec![Tensor::zeros([1, 8, 8], &d)]).unwrap_err();
        assert!(bad.to_string().contains("expected [3, H, W]"), "{bad}");
    }

    #[test]
    fn training_returns_the_five_losses_and_their_gradients() {
        let d = device();
        let ad = d.clone().autodiff();
        let m = small(&d).fork(&ad).train();
        let boxes = |v: [[f32; 4]; 2]| Tensor::<2>::from_floats(v, &ad);
        let mask = |h: usize, w: usize| Tensor::<3>::ones([2, h, w], &ad);
        let targets = vec![
            Target {
                boxes: boxes([[4.0, 6.0, 30.0, 40.0], [20.0, 10.0, 60.0, 44.0]]),
                labels: Tensor::from_ints([1, 2], &ad),
                masks: Some(mask(48, 64)),
            },
            Target {
                boxes: boxes([[2.0, 2.0, 40.0, 30.0], [10.0, 30.0, 48.0, 68.0]]),
                labels: Tensor::from_ints([2, 2], &ad),
                masks: Some(mask(70, 50)),
            },
        ];
        let ims: Vec<Tensor<3>> = images(&d).into_iter().map(|t| t.to_device(&ad)).collect();
        let losses = m.forward_train(ims, targets, &mut Rng::new(0)).unwrap();
        let names: Vec<&str> = losses.named().iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "loss_classifier",
                "loss_box_reg",
                "loss_mask",
                "loss_objectness",
                "loss_rpn_box_reg"
            ]
        );
        let total = losses.total();
        let v: Vec<f32> = total.clone().into_data().try_into_vec_as().unwrap();
        assert!(v[0].is_finite() && v[0] > 0.0, "{v:?}");
        let grads = total.backward();
        // The box predictor and the last stage train; the stem is frozen
        // (trainable_layers 3) and its frozen norm has no parameters.
        assert!(
            m.roi_heads
                .box_predictor
                .cls_score
                .weight
                .grad(&grads)
                .is_some()
        );
        assert!(
            m.backbone.fpn.inner_blocks[0]
                .conv
                .weight
                .grad(&grads)
                .is_some()
        );
        assert!(m.backbone.body.conv1.weight.grad(&grads).is_none());
        // Mask R-CNN refuses targets without masks.
        let no_masks = vec![Target {
            boxes: boxes([[4.0, 6.0, 30.0, 40.0], [20.0, 10.0, 60.0, 44.0]]),
            labels: Tensor::from_ints([1, 2], &ad),
            masks: None,
        }];
        let one = vec![images(&d)[0].clone().to_device(&ad)];
        let e = m
            .forward_train(one, no_masks, &mut Rng::new(0))
            .unwrap_err();
        assert!(e.to_string().contains("has no masks"), "{e}");
    }

    #[test]
    fn torchvision_state_dicts_load_and_keep_the_freezing() {
        let d = device();
        let a = small(&d);
        let sd = zoo_models::weights::export_state_dict(&a, &|p| Some(a.torch_key(p)));
        assert!(sd.get("backbone.body.bn1.running_var").is_some());
        assert!(sd.get("backbone.fpn.inner_blocks.0.0.weight").is_some());
        assert!(sd.get("rpn.head.conv.0.0.weight").is_some());
        assert!(sd.get("roi_heads.mask_head.1.0.bias").is_some());
        let before = num_trainable_params(&a);
        let b = small(&d).load_torch(&sd).unwrap();
        assert_eq!(num_trainable_params(&b), before);
        let ya = a.forward(images(&d)).unwrap();
        let yb = b.forward(images(&d)).unwrap();
        for (p, q) in ya.iter().zip(&yb) {
            let p: Vec<f32> = p.scores.clone().into_data().try_into_vec_as().unwrap();
            let q: Vec<f32> = q.scores.clone().into_data().try_into_vec_as().unwrap();
            assert_eq!(p.len(), q.len());
            assert!(
                p.iter().zip(&q).all(|(x, y)| (x - y).abs() < 1e-5),
                "{p:?} {q:?}"
            );
        }
        // Weights of another class count: the key and both shapes.
        let mut other = sd.clone();
        other.insert(
            "roi_heads.box_predictor.cls_score.weight",
            burn::tensor::TensorData::new(vec![0.0f32; 91 * 16], [91, 16]),
        );
        let e = small(&d).load_torch(&other).unwrap_err().to_string();
        assert!(
            e.contains("roi_heads.box_predictor.cls_score.weight")
                && e.contains("[91, 16]")
                && e.contains("[3, 16]"),
            "{e}"
        );
    }

    #[test]
    fn keys_of_the_detector() {
        let d = device();
        let backbone = ResNetFpnConfig::new("resnet18".into())
            .with_out_channels(8)
            .init(&d)
            .unwrap();
        let m = FasterRcnnConfig::new(3).init_mask(backbone, &d).unwrap();
        for (path, key) in [
            (
                "backbone.body.layer2.0.downsample.bn.running_var",
                "backbone.body.layer2.0.downsample.1.running_var",
            ),
            (
                "backbone.fpn.layer_blocks.1.conv.bias",
                "backbone.fpn.layer_blocks.1.0.bias",
            ),
            ("rpn.head.conv.0.weight", "rpn.head.conv.0.0.weight"),
            (
                "roi_heads.box_head.fc6.weight",
                "roi_heads.box_head.fc6.weight",
            ),
            (
                "roi_heads.mask_head.layers.3.bias",
                "roi_heads.mask_head.3.0.bias",
            ),
            (
                "roi_heads.mask_predictor.conv5_mask.weight",
                "roi_heads.mask_predictor.conv5_mask.weight",
            ),
        ] {
            assert_eq!(m.torch_key(path), key);
        }
    }
}
