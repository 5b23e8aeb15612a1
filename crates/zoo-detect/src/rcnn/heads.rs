//! Faster R-CNN's second stage with torchvision 0.29's semantics
//! (`torchvision/models/detection/{roi_heads,faster_rcnn}.py`): the box
//! head ([`TwoMLPHead`], [`FastRCNNPredictor`], torchvision's `state_dict`
//! keys), the training targets of the proposals
//! ([`RoIHeadsSettings::assign_targets`],
//! [`RoIHeadsSettings::select_training_samples`]), the loss
//! ([`fastrcnn_loss`]), the detections ([`RoIHeadsSettings::postprocess_detections`])
//! and the whole [`RoIHeads`] in evaluation and training, with Mask
//! R-CNN's mask branch when it has one.
//!
//! Matching, sampling, thresholds and NMS are discrete decisions taken on
//! the host from values read back (IoU in float64, as the references);
//! everything that carries a gradient (pooling, heads, decoding, losses) is
//! tensor ops on the device.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::{log_softmax, relu, softmax};
use burn::tensor::{Device, Int, Tensor, TensorData};
use zoo_rng::Rng;

use super::box_coder::BoxCoder;
use super::masks::{MaskRCNNHeads, MaskRCNNPredictor, maskrcnn_inference, maskrcnn_loss};
use super::matcher::{BELOW_LOW_THRESHOLD, BETWEEN_THRESHOLDS, Matcher, box_iou_host};
use super::pooler::MultiScaleRoIAlign;
use super::sampler::BalancedPositiveNegativeSampler;
use super::transform::Target;
use crate::DetectError;
use crate::boxes::clip_boxes_to_image;
use crate::nms::batched_nms_host;

/// Configuration of [`TwoMLPHead`].
#[derive(Config, Debug)]
pub struct TwoMLPHeadConfig {
    /// Flattened input size (`channels * 7 * 7` for a 7x7 RoI pool).
    pub in_channels: usize,
    /// Width of both layers (1024 in torchvision's models).
    pub representation_size: usize,
}

impl TwoMLPHeadConfig {
    /// The head with PyTorch's default `nn.Linear` initialisation.
    pub fn init(&self, device: &Device) -> TwoMLPHead {
        TwoMLPHead {
            fc6: LinearConfig::new(self.in_channels, self.representation_size).init(device),
            fc7: LinearConfig::new(self.representation_size, self.representation_size).init(device),
        }
    }
}

/// torchvision's `TwoMLPHead`: flatten, `relu(fc6)`, `relu(fc7)`. Keys
/// `fc6.weight`, `fc6.bias`, `fc7.weight`, `fc7.bias` (the field names;
/// burn stores linear weights transposed, `[in, out]`).
#[derive(Module, Debug)]
pub struct TwoMLPHead {
    /// `Linear(in_channels, representation_size)`.
    pub fc6: Linear,
    /// `Linear(representation_size, representation_size)`.
    pub fc7: Linear,
}

impl TwoMLPHead {
    /// Pooled RoI features `[K, C, h, w]` to `[K, representation_size]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x: Tensor<2> = x.flatten(1, 3);
        relu(self.fc7.forward(relu(self.fc6.forward(x))))
    }
}

/// The box head of [`RoIHeads`] (torchvision's `box_head` argument): pooled
/// RoI features `[K, C, h, w]` to `[K, representation_size]`.
/// [`TwoMLPHead`] by default; Faster R-CNN v2 has `FastRCNNConvFCHead`
/// ([`super::models`]).
pub trait BoxHead: Module {
    /// The representation of each RoI.
    fn forward(&self, x: Tensor<4>) -> Tensor<2>;
}

impl BoxHead for TwoMLPHead {
    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        TwoMLPHead::forward(self, x)
    }
}

/// Configuration of [`FastRCNNPredictor`].
#[derive(Config, Debug)]
pub struct FastRCNNPredictorConfig {
    /// Input width (the box head's representation size).
    pub in_channels: usize,
    /// Classes, background (0) included.
    pub num_classes: usize,
}

impl FastRCNNPredictorConfig {
    /// The predictor with PyTorch's default `nn.Linear` initialisation.
    pub fn init(&self, device: &Device) -> FastRCNNPredictor {
        FastRCNNPredictor {
            cls_score: LinearConfig::new(self.in_channels, self.num_classes).init(device),
            bbox_pred: LinearConfig::new(self.in_channels, self.num_classes * 4).init(device),
        }
    }
}

/// torchvision's `FastRCNNPredictor`: class scores and per-class box
/// offsets. Keys `cls_score.*`, `bbox_pred.*` (the field names).
#[derive(Module, Debug)]
pub struct FastRCNNPredictor {
    /// `Linear(in_channels, num_classes)`.
    pub cls_score: Linear,
    /// `Linear(in_channels, num_classes * 4)`.
    pub bbox_pred: Linear,
}

impl FastRCNNPredictor {
    /// `[K, in_channels]` to `(class_logits [K, C], box_regression [K, 4C])`.
    pub fn forward(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        (self.cls_score.forward(x.clone()), self.bbox_pred.forward(x))
    }
}

/// Integers read back from the device.
fn ints<const D: usize>(t: Tensor<D, Int>) -> Vec<i64> {
    t.into_data().iter::<i64>().collect()
}

/// Host indices as an index tensor.
fn index(v: &[usize], device: &Device) -> Tensor<1, Int> {
    let ix: Vec<i64> = v.iter().map(|&i| i as i64).collect();
    Tensor::from_data(TensorData::new(ix, [v.len()]), device)
}

/// Host integers as an `Int` tensor.
fn int_tensor(v: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let n = v.len();
    Tensor::from_data(TensorData::new(v, [n]), device)
}

/// `F.smooth_l1_loss(x, y, beta, reduction="sum")`: `0.5 d^2 / beta` where
/// `|d| < beta`, else `|d| - 0.5 beta`, summed. Shape `[1]`.
fn smooth_l1_sum<const D: usize>(x: Tensor<D>, y: Tensor<D>, beta: f64) -> Tensor<1> {
    let d = x - y;
    let a = d.clone().abs();
    let quadratic = d.powi_scalar(2).mul_scalar(0.5 / beta);
    let linear = a.clone().sub_scalar(0.5 * beta);
    quadratic
        .mask_where(a.greater_equal_elem(beta), linear)
        .sum()
}

/// The two losses of [`fastrcnn_loss`], each of shape `[1]`.
#[derive(Clone, Debug)]
pub struct FastRCNNLosses {
    /// Cross-entropy of the class logits, mean over the proposals.
    pub loss_classifier: Tensor<1>,
    /// Smooth L1 of the positives' boxes, summed and divided by the proposals.
    pub loss_box_reg: Tensor<1>,
}

/// `roi_heads.fastrcnn_loss(class_logits [K, C], box_regression [K, 4C],
/// labels, regression_targets)` with each image's `labels [K_i]` (in
/// `[0, C)`) and `regression_targets [K_i, 4]` (concatenated in order,
/// `sum K_i = K`): cross-entropy mean over `K`; smooth L1 (`beta = 1/9`,
/// sum) between the label's four columns of `box_regression` and the
/// targets over the rows with `label > 0`, divided by `K`.
pub fn fastrcnn_loss(
    class_logits: Tensor<2>,
    box_regression: Tensor<2>,
    labels: &[Tensor<1, Int>],
    regression_targets: &[Tensor<2>],
) -> Result<FastRCNNLosses, DetectError> {
    const OP: &str = "fastrcnn_loss";
    let [k, c] = class_logits.dims();
    let [kb, w] = box_regression.dims();
    let labels: Vec<i64> = labels.iter().flat_map(|l| ints(l.clone())).collect();
    let t_rows: usize = regression_targets.iter().map(|t| t.dims()[0]).sum();
    if kb != k || w % 4 != 0 || w / 4 != c || labels.len() != k || t_rows != k {
        return Err(DetectError::new(
            OP,
            format!(
                "class logits {:?}, box regression {:?}, {} labels, {t_rows} regression targets: expected [K, C], [K, 4C], K and K",
                [k, c],
                [kb, w],
                labels.len()
            ),
        ));
    }
    if k == 0 {
        return Err(DetectError::new(
            OP,
            "no proposals: the mean over zero rows is undefined (torchvision gives NaN)",
        ));
    }
    if let Some((i, l)) = labels
        .iter()
        .enumerate()
        .find(|&(_, &l)| !(0..c as i64).contains(&l))
    {
        return Err(DetectError::new(
            OP,
            format!("label {l} of proposal {i}: expected a class in [0, {c})"),
        ));
    }
    let device = class_logits.device();
    let targets = Tensor::cat(regression_targets.to_vec(), 0);
    let picked = log_softmax(class_logits, 1).gather(
        1,
        Tensor::<2, Int>::from_data(TensorData::new(labels.clone(), [k, 1]), &device),
    );
    let loss_classifier = picked.mean().neg();
    let positive: Vec<usize> = (0..k).filter(|&i| labels[i] > 0).collect();
    let loss_box_reg = if positive.is_empty() {
        box_regression.sum().mul_scalar(0.0)
    } else {
        let rows: Vec<usize> = positive
            .iter()
            .map(|&i| i * c + labels[i] as usize)
            .collect();
        let pred = box_regression
            .reshape([k * c, 4])
            .select(0, index(&rows, &device));
        let target = targets.select(0, index(&positive, &device));
        smooth_l1_sum(pred, target, 1.0 / 9.0).div_scalar(k as f64)
    };
    Ok(FastRCNNLosses {
        loss_classifier,
        loss_box_reg,
    })
}

/// The settings of [`RoIHeads`] (torchvision's `RoIHeads` arguments; the
/// defaults are `FasterRCNN`'s).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoIHeadsSettings {
    /// IoU from which a proposal is a positive (0.5).
    pub fg_iou_thresh: f64,
    /// IoU below which a proposal is a negative (0.5).
    pub bg_iou_thresh: f64,
    /// Proposals sampled per image in training (512).
    pub batch_size_per_image: usize,
    /// The largest share of positives in the sample (0.25).
    pub positive_fraction: f64,
    /// The box coder's weights (`(10, 10, 5, 5)`).
    pub bbox_reg_weights: [f64; 4],
    /// Detections keep a class probability `>` this (0.05).
    pub score_thresh: f64,
    /// NMS threshold per class (0.5).
    pub nms_thresh: f64,
    /// Detections kept per image (100).
    pub detections_per_img: usize,
}

impl Default for RoIHeadsSettings {
    fn default() -> Self {
        Self {
            fg_iou_thresh: 0.5,
            bg_iou_thresh: 0.5,
            batch_size_per_image: 512,
            positive_fraction: 0.25,
            bbox_reg_weights: [10.0, 10.0, 5.0, 5.0],
            score_thresh: 0.05,
            nms_thresh: 0.5,
            detections_per_img: 100,
        }
    }
}

/// One image's ground truth for the RoI heads (torchvision's target
/// dicts): the transform's [`Target`] (`boxes`, `labels`, `masks`).
pub type RoiTarget = Target;

/// One image's proposals with their training targets
/// ([`RoIHeadsSettings::assign_targets`]).
#[derive(Clone, Debug)]
pub struct ProposalTargets {
    /// The proposals with the ground-truth boxes appended, `[K + G, 4]`.
    pub proposals: Tensor<2>,
    /// The matched ground truth of each (0 for a background or ignored one).
    pub matched_idxs: Vec<i64>,
    /// Its class: the matched label, 0 for background, -1 for ignored.
    pub labels: Vec<i64>,
    /// The box coder's offsets from each proposal to its matched box, `[K + G, 4]`.
    pub regression_targets: Tensor<2>,
}

/// One image's detections.
#[derive(Clone, Debug)]
pub struct Detections {
    /// `[D, 4]` `xyxy` boxes in the image, by score descending.
    pub boxes: Tensor<2>,
    /// `[D]` class probabilities.
    pub scores: Tensor<1>,
    /// `[D]` classes (`>= 1`).
    pub labels: Tensor<1, Int>,
    /// Mask R-CNN: `[D, 1, M, M]` mask probabilities in the box.
    pub masks: Option<Tensor<4>>,
}

impl RoIHeadsSettings {
    /// The box coder of the box head.
    pub fn box_coder(&self) -> BoxCoder {
        BoxCoder::new(self.bbox_reg_weights)
    }

    /// `Matcher(fg_iou_thresh, bg_iou_thresh, allow_low_quality_matches=False)`.
    pub fn proposal_matcher(&self) -> Result<Matcher, DetectError> {
        Matcher::new(self.fg_iou_thresh, self.bg_iou_thresh, false)
    }

    /// `add_gt_proposals`, `assign_targets_to_proposals` and the box
    /// coder's `encode` of `select_training_samples` for one image, every
    /// proposal kept (no sampling): the proposals `[K, 4]` with `gt_boxes
    /// [G, 4]` appended; each matched (IoU in float64) to its best ground
    /// truth, label `gt_labels[idx]`, 0 below `bg_iou_thresh`, -1 in
    /// `[bg, fg)`; `matched_idxs` clamped at 0. Without ground truth every
    /// label and index is 0 and the matched box is `[0, 0, 0, 0]` (so the
    /// size offsets are `-inf`, as torchvision's).
    pub fn assign_targets(
        &self,
        proposals: Tensor<2>,
        gt_boxes: Tensor<2>,
        gt_labels: Tensor<1, Int>,
    ) -> Result<ProposalTargets, DetectError> {
        const OP: &str = "roi_heads_assign_targets";
        let device = proposals.device();
        let g = gt_boxes.dims()[0];
        let gt_labels = ints(gt_labels);
        if gt_labels.len() != g {
            return Err(DetectError::new(
                OP,
                format!(
                    "{} gt labels for {g} gt boxes, expected as many",
                    gt_labels.len()
                ),
            ));
        }
        let matcher = self.proposal_matcher()?;
        let gt_rows = crate::read_rows::<4>(OP, "gt boxes", gt_boxes.clone())?;
        let proposals = if g == 0 {
            proposals
        } else {
            Tensor::cat(vec![proposals, gt_boxes.clone()], 0)
        };
        let rows = crate::read_rows::<4>(OP, "proposals", proposals.clone())?;
        let n = rows.len();
        let (matched_idxs, labels, matched_boxes) = if g == 0 {
            (vec![0; n], vec![0; n], Tensor::zeros([n, 4], &device))
        } else {
            let quality = box_iou_host(&gt_rows, &rows);
            let matches = matcher.match_host(&quality, g, n)?;
            let clamped: Vec<i64> = matches.iter().map(|&m| m.max(0)).collect();
            let labels = matches
                .iter()
                .zip(&clamped)
                .map(|(&m, &c)| match m {
                    BELOW_LOW_THRESHOLD => 0,
                    BETWEEN_THRESHOLDS => -1,
                    _ => gt_labels[c as usize],
                })
                .collect();
            let idx: Vec<usize> = clamped.iter().map(|&c| c as usize).collect();
            let boxes = gt_boxes.select(0, index(&idx, &device));
            (clamped, labels, boxes)
        };
        let regression_targets = self
            .box_coder()
            .encode_single(matched_boxes, proposals.clone())?;
        Ok(ProposalTargets {
            proposals,
            matched_idxs,
            labels,
            regression_targets,
        })
    }

    /// `RoIHeads.select_training_samples`: per image
    /// [`assign_targets`](Self::assign_targets), then the
    /// `BalancedPositiveNegativeSampler(batch_size_per_image,
    /// positive_fraction)` draw (with `rng`), the sampled rows in ascending
    /// order as torchvision keeps them.
    pub fn select_training_samples(
        &self,
        proposals: &[Tensor<2>],
        targets: &[Target],
        rng: &mut Rng,
    ) -> Result<Vec<ProposalTargets>, DetectError> {
        if proposals.len() != targets.len() {
            return Err(DetectError::new(
                "select_training_samples",
                format!(
                    "{} proposal sets for {} targets, expected one per image",
                    proposals.len(),
                    targets.len()
                ),
            ));
        }
        let sampler = BalancedPositiveNegativeSampler::new(
            self.batch_size_per_image,
            self.positive_fraction,
        )?;
        proposals
            .iter()
            .zip(targets)
            .map(|(p, t)| {
                let all = self.assign_targets(p.clone(), t.boxes.clone(), t.labels.clone())?;
                let s = sampler.sample_image(&all.labels, rng);
                let mut keep: Vec<usize> = s.positive.into_iter().chain(s.negative).collect();
                keep.sort_unstable();
                let device = all.proposals.device();
                let ix = index(&keep, &device);
                Ok(ProposalTargets {
                    proposals: all.proposals.select(0, ix.clone()),
                    matched_idxs: keep.iter().map(|&i| all.matched_idxs[i]).collect(),
                    labels: keep.iter().map(|&i| all.labels[i]).collect(),
                    regression_targets: all.regression_targets.select(0, ix),
                })
            })
            .collect()
    }

    /// `RoIHeads.postprocess_detections(class_logits [K, C], box_regression
    /// [K, 4C], proposals, image_sizes)` with each image's `proposals[i]
    /// [K_i, 4]` (`sum K_i = K`) and `image_sizes[i] = (height, width)`:
    /// every class's box decoded, softmax scores; per image the boxes
    /// clipped to the image, class 0 dropped, flattened proposal-major /
    /// class-minor, `score > score_thresh` kept, sides `>= 1e-2` kept, NMS
    /// per class (IoU `>` `nms_thresh` suppressed), by score descending,
    /// the first `detections_per_img`.
    pub fn postprocess_detections(
        &self,
        class_logits: Tensor<2>,
        box_regression: Tensor<2>,
        proposals: &[Tensor<2>],
        image_sizes: &[[usize; 2]],
    ) -> Result<Vec<Detections>, DetectError> {
        const OP: &str = "roi_heads_postprocess";
        let [k, c] = class_logits.dims();
        let [kb, w] = box_regression.dims();
        if kb != k || w != 4 * c || c == 0 {
            return Err(DetectError::new(
                OP,
                format!(
                    "class logits {:?} and box regression {:?}: expected [K, C] and [K, 4C], C >= 1",
                    [k, c],
                    [kb, w]
                ),
            ));
        }
        if proposals.len() != image_sizes.len() {
            return Err(DetectError::new(
                OP,
                format!(
                    "{} proposal sets for {} image sizes, expected one per image",
                    proposals.len(),
                    image_sizes.len()
                ),
            ));
        }
        let device = class_logits.device();
        let pred_boxes = self.box_coder().decode(box_regression, proposals)?;
        let pred_scores = softmax(class_logits, 1);
        let mut out = Vec::with_capacity(proposals.len());
        let mut start = 0;
        for (p, &[h, w]) in proposals.iter().zip(image_sizes) {
            let n = p.dims()[0];
            let end = start + n;
            let m = n * (c - 1);
            if m == 0 {
                out.push(Detections {
                    boxes: Tensor::zeros([0, 4], &device),
                    scores: Tensor::zeros([0], &device),
                    labels: int_tensor(Vec::new(), &device),
                    masks: None,
                });
                start = end;
                continue;
            }
            let boxes = pred_boxes.clone().slice(start..end).reshape([n * c, 4]);
            let boxes = clip_boxes_to_image(boxes, h, w)?
                .reshape([n, c, 4])
                .slice([0..n, 1..c])
                .reshape([m, 4]);
            let scores = pred_scores.clone().slice([start..end, 1..c]).reshape([m]);
            start = end;
            let b = crate::read_rows::<4>(OP, "boxes", boxes.clone())?;
            let s = crate::read_floats(OP, scores.clone())?;
            let candidates: Vec<usize> = (0..m)
                .filter(|&i| {
                    let bw = b[i][2] - b[i][0];
                    let bh = b[i][3] - b[i][1];
                    f64::from(s[i]) > self.score_thresh && bw >= 1e-2 && bh >= 1e-2
                })
                .collect();
            let cb: Vec<[f32; 4]> = candidates.iter().map(|&i| b[i]).collect();
            let cs: Vec<f32> = candidates.iter().map(|&i| s[i]).collect();
            let cl: Vec<i64> = candidates
                .iter()
                .map(|&i| (i % (c - 1)) as i64 + 1)
                .collect();
            let mut keep = batched_nms_host(&cb, &cs, &cl, self.nms_thresh)?;
            keep.truncate(self.detections_per_img);
            let rows: Vec<usize> = keep.iter().map(|&i| candidates[i]).collect();
            let labels: Vec<i64> = keep.iter().map(|&i| cl[i]).collect();
            let (boxes, scores) = if rows.is_empty() {
                (Tensor::zeros([0, 4], &device), Tensor::zeros([0], &device))
            } else {
                let ix = index(&rows, &device);
                (boxes.select(0, ix.clone()), scores.select(0, ix))
            };
            out.push(Detections {
                boxes,
                scores,
                labels: int_tensor(labels, &device),
                masks: None,
            });
        }
        Ok(out)
    }
}

/// The losses of [`RoIHeads::forward_train`], each of shape `[1]`.
#[derive(Clone, Debug)]
pub struct RoIHeadsLosses {
    /// The box head's classification loss.
    pub loss_classifier: Tensor<1>,
    /// The box head's regression loss.
    pub loss_box_reg: Tensor<1>,
    /// Mask R-CNN's mask loss.
    pub loss_mask: Option<Tensor<1>>,
}

/// torchvision's `RoIHeads` with the [`TwoMLPHead`] box head (Faster R-CNN)
/// and optionally the mask branch (Mask R-CNN). Parameter paths
/// `box_head.fc6.weight`, `box_predictor.cls_score.bias`,
/// `mask_predictor.conv5_mask.weight`, ... are torchvision's keys under
/// `roi_heads.`, except the mask head's (`mask_head.layers.<i>.weight` is
/// `mask_head.<i>.0.weight`: [`MaskRCNNHeads::torchvision_key`]).
#[derive(Module, Debug)]
pub struct RoIHeads<H: BoxHead = TwoMLPHead> {
    /// The pooler of the box head (`MultiScaleRoIAlign(["0".."3"], 7, 2)`).
    #[module(skip)]
    pub box_roi_pool: MultiScaleRoIAlign,
    /// The box head.
    pub box_head: H,
    /// The box predictor.
    pub box_predictor: FastRCNNPredictor,
    /// Matching, sampling and detection settings.
    #[module(skip)]
    pub settings: RoIHeadsSettings,
    /// The pooler of the mask head (`MultiScaleRoIAlign(["0".."3"], 14, 2)`).
    #[module(skip)]
    pub mask_roi_pool: Option<MultiScaleRoIAlign>,
    /// Mask R-CNN's mask head.
    pub mask_head: Option<MaskRCNNHeads>,
    /// Mask R-CNN's mask predictor.
    pub mask_predictor: Option<MaskRCNNPredictor>,
}

impl<H: BoxHead> RoIHeads<H> {
    /// Faster R-CNN's heads.
    pub fn new(
        box_roi_pool: MultiScaleRoIAlign,
        box_head: H,
        box_predictor: FastRCNNPredictor,
        settings: RoIHeadsSettings,
    ) -> Self {
        Self {
            box_roi_pool,
            box_head,
            box_predictor,
            settings,
            mask_roi_pool: None,
            mask_head: None,
            mask_predictor: None,
        }
    }

    /// The same heads with Mask R-CNN's mask branch.
    pub fn with_masks(
        mut self,
        mask_roi_pool: MultiScaleRoIAlign,
        mask_head: MaskRCNNHeads,
        mask_predictor: MaskRCNNPredictor,
    ) -> Self {
        self.mask_roi_pool = Some(mask_roi_pool);
        self.mask_head = Some(mask_head);
        self.mask_predictor = Some(mask_predictor);
        self
    }

    /// The mask branch, when all three parts are there.
    fn mask_branch(&self) -> Option<(&MultiScaleRoIAlign, &MaskRCNNHeads, &MaskRCNNPredictor)> {
        match (&self.mask_roi_pool, &self.mask_head, &self.mask_predictor) {
            (Some(p), Some(h), Some(m)) => Some((p, h, m)),
            _ => None,
        }
    }

    /// The box head on `proposals`: `(class_logits, box_regression)`.
    fn box_forward<S: AsRef<str>>(
        &self,
        features: &[(S, Tensor<4>)],
        proposals: &[Tensor<2>],
        image_sizes: &[[usize; 2]],
    ) -> Result<(Tensor<2>, Tensor<2>), DetectError> {
        let pooled = self
            .box_roi_pool
            .forward(features, proposals, image_sizes)?;
        Ok(self
            .box_predictor
            .forward(BoxHead::forward(&self.box_head, pooled)))
    }

    /// Evaluation (`RoIHeads.forward` with `training=False`): the
    /// detections of each image from its `proposals[i]` (image
    /// coordinates), `image_sizes[i] = (height, width)` of the resized
    /// images, and `features` (`(name, [N, C, h, w])`); with the mask
    /// branch, each detection's mask probabilities.
    pub fn forward_eval<S: AsRef<str>>(
        &self,
        features: &[(S, Tensor<4>)],
        proposals: &[Tensor<2>],
        image_sizes: &[[usize; 2]],
    ) -> Result<Vec<Detections>, DetectError> {
        let (class_logits, box_regression) = self.box_forward(features, proposals, image_sizes)?;
        let mut result = self.settings.postprocess_detections(
            class_logits,
            box_regression,
            proposals,
            image_sizes,
        )?;
        if let Some((pool, head, predictor)) = self.mask_branch() {
            let boxes: Vec<Tensor<2>> = result.iter().map(|d| d.boxes.clone()).collect();
            let labels: Vec<Tensor<1, Int>> = result.iter().map(|d| d.labels.clone()).collect();
            let pooled = pool.forward(features, &boxes, image_sizes)?;
            let logits = predictor.forward(head.forward(pooled));
            for (d, m) in result.iter_mut().zip(maskrcnn_inference(logits, &labels)?) {
                d.masks = Some(m);
            }
        }
        Ok(result)
    }

    /// Training (`RoIHeads.forward` with `training=True`): the proposals
    /// sampled against `targets` ([`RoIHeadsSettings::select_training_samples`],
    /// drawn with `rng`), the box head's [`fastrcnn_loss`], and with the
    /// mask branch [`maskrcnn_loss`] on the positive proposals (every target
    /// then needs its masks).
    pub fn forward_train<S: AsRef<str>>(
        &self,
        features: &[(S, Tensor<4>)],
        proposals: &[Tensor<2>],
        image_sizes: &[[usize; 2]],
        targets: &[Target],
        rng: &mut Rng,
    ) -> Result<RoIHeadsLosses, DetectError> {
        let samples = self
            .settings
            .select_training_samples(proposals, targets, rng)?;
        let sampled: Vec<Tensor<2>> = samples.iter().map(|s| s.proposals.clone()).collect();
        let (class_logits, box_regression) = self.box_forward(features, &sampled, image_sizes)?;
        let device = class_logits.device();
        let labels: Vec<Tensor<1, Int>> = samples
            .iter()
            .map(|s| int_tensor(s.labels.clone(), &device))
            .collect();
        let targets_reg: Vec<Tensor<2>> = samples
            .iter()
            .map(|s| s.regression_targets.clone())
            .collect();
        let box_losses = fastrcnn_loss(class_logits, box_regression, &labels, &targets_reg)?;
        let loss_mask = match self.mask_branch() {
            None => None,
            Some((pool, head, predictor)) => {
                let mut mask_proposals = Vec::with_capacity(samples.len());
                let mut pos_matched = Vec::with_capacity(samples.len());
                let mut gt_masks = Vec::with_capacity(samples.len());
                let mut gt_labels = Vec::with_capacity(samples.len());
                for (i, (s, t)) in samples.iter().zip(targets).enumerate() {
                    let pos: Vec<usize> =
                        (0..s.labels.len()).filter(|&j| s.labels[j] > 0).collect();
                    mask_proposals.push(if pos.is_empty() {
                        Tensor::zeros([0, 4], &device)
                    } else {
                        s.proposals.clone().select(0, index(&pos, &device))
                    });
                    pos_matched.push(int_tensor(
                        pos.iter().map(|&j| s.matched_idxs[j]).collect(),
                        &device,
                    ));
                    gt_masks.push(t.masks.clone().ok_or_else(|| {
                        DetectError::new(
                            "roi_heads",
                            format!("target {i} has no masks: Mask R-CNN's training needs them"),
                        )
                    })?);
                    gt_labels.push(t.labels.clone());
                }
                let pooled = pool.forward(features, &mask_proposals, image_sizes)?;
                let logits = predictor.forward(head.forward(pooled));
                Some(maskrcnn_loss(
                    logits,
                    &mask_proposals,
                    &gt_masks,
                    &gt_labels,
                    &pos_matched,
                )?)
            }
        };
        Ok(RoIHeadsLosses {
            loss_classifier: box_losses.loss_classifier,
            loss_box_reg: box_losses.loss_box_reg,
            loss_mask,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev() -> Device {
        zoo_device::from_name("flex").unwrap()
    }

    fn floats<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_into_vec_as().unwrap()
    }

    fn close(got: &[f32], want: &[f32], tol: f32) {
        assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g - w).abs() <= tol * (1.0 + w.abs()),
                "{got:?} vs {want:?}"
            );
        }
    }

    #[test]
    fn fastrcnn_loss_and_its_gradient_are_torchvisions() {
        // cl = torch.tensor([[1., 2., .5], [.2, -1., .3], [0., 0., 3.]], requires_grad=True)
        // br = torch.tensor([[.1, .2, .3, .4, .5, -.5, .05, 0., 1, 1, 1, 1], [0.] * 12,
        //                    [2, 2, 2, 2, 0, 0, 0, 0, .01, -.02, .5, -1.]], requires_grad=True)
        // lab = torch.tensor([1, 0, 2])
        // rt = torch.tensor([[.45, -.45, 0., .2], [0.] * 4, [0.] * 4])
        // a, b = roi_heads.fastrcnn_loss(cl, br, [lab], [rt]); (a + b).backward()
        let d = dev().autodiff();
        let cl = Tensor::<2>::from_floats([[1.0, 2.0, 0.5], [0.2, -1.0, 0.3], [0.0, 0.0, 3.0]], &d)
            .require_grad();
        let br = Tensor::<2>::from_floats(
            [
                [0.1, 0.2, 0.3, 0.4, 0.5, -0.5, 0.05, 0.0, 1.0, 1.0, 1.0, 1.0],
                [0.0; 12],
                [
                    2.0, 2.0, 2.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.01, -0.02, 0.5, -1.0,
                ],
            ],
            &d,
        )
        .require_grad();
        let lab = Tensor::<1, Int>::from_ints([1, 0, 2], &d);
        let rt = Tensor::<2>::from_floats([[0.45, -0.45, 0.0, 0.2], [0.0; 4], [0.0; 4]], &d);
        let l = fastrcnn_loss(cl.clone(), br.clone(), &[lab], &[rt]).unwrap();
        close(&floats(l.loss_classifier.clone()), &[0.479_136_35], 1e-5);
        close(&floats(l.loss_box_reg.clone()), &[0.523_111_1], 1e-5);
        let g = (l.loss_classifier + l.loss_box_reg).backward();
        close(
            &floats(cl.grad(&g).unwrap()),
            &[
                0.077_074_63,
                -0.123_822_77,
                0.046_748_13,
                -0.194_811_82,
                0.041_721_88,
                0.153_089_97,
                0.015_092_83,
                0.015_092_83,
                -0.030_185_66,
            ],
            1e-5,
        );
        let gb = floats(br.grad(&g).unwrap());
        close(&gb[4..8], &[0.15, -0.15, 0.15, -1.0 / 3.0], 1e-5);
        close(&gb[32..36], &[0.03, -0.06, 1.0 / 3.0, -1.0 / 3.0], 1e-5);
        assert!(gb[..4].iter().chain(&gb[8..32]).all(|&v| v == 0.0));
    }

    #[test]
    fn assigns_targets_as_torchvision() {
        // heads = RoIHeads(None, None, None, 0.5, 0.3, 512, 0.25, None, 0.05, 0.5, 100)
        // props = [torch.tensor([[0., 0., 10., 10.], [1., 1., 11., 11.], [20., 20., 30., 30.], [4., 4., 14., 14.]])]
        // gtb = torch.tensor([[0., 0., 10., 10.], [20., 22., 30., 30.]]); gtl = torch.tensor([3, 1])
        // p2 = heads.add_gt_proposals(props, [gtb])
        // mi, lb = heads.assign_targets_to_proposals(p2, [gtb], [gtl])
        // heads.box_coder.encode([gtb[mi[0]]], p2)
        let d = dev();
        let s = RoIHeadsSettings {
            bg_iou_thresh: 0.3,
            ..RoIHeadsSettings::default()
        };
        let props = Tensor::<2>::from_floats(
            [
                [0.0, 0.0, 10.0, 10.0],
                [1.0, 1.0, 11.0, 11.0],
                [20.0, 20.0, 30.0, 30.0],
                [4.0, 4.0, 14.0, 14.0],
            ],
            &d,
        );
        let gtb = Tensor::<2>::from_floats([[0.0, 0.0, 10.0, 10.0], [20.0, 22.0, 30.0, 30.0]], &d);
        let gtl = Tensor::<1, Int>::from_ints([3, 1], &d);
        let t = s.assign_targets(props.clone(), gtb, gtl).unwrap();
        assert_eq!(t.matched_idxs, [0, 0, 1, 0, 0, 1]);
        assert_eq!(t.labels, [3, 3, 1, 0, 3, 1]);
        assert_eq!(t.proposals.dims(), [6, 4]);
        let mut want = vec![0.0f32; 24];
        want[4..8].copy_from_slice(&[-1.0, -1.0, 0.0, 0.0]);
        want[8..12].copy_from_slice(&[0.0, 1.0, 0.0, -1.115_717_6]);
        want[12..16].copy_from_slice(&[-4.0, -4.0, 0.0, 0.0]);
        close(&floats(t.regression_targets), &want, 1e-5);
        // Without ground truth: background, matched box [0, 0, 0, 0].
        let none = s
            .assign_targets(
                props,
                Tensor::zeros([0, 4], &d),
                Tensor::<1, Int>::from_ints([0i64; 0], &d),
            )
            .unwrap();
        assert_eq!((none.labels, none.matched_idxs), (vec![0; 4], vec![0; 4]));
        let r = floats(none.regression_targets);
        assert_eq!((r[0], r[2]), (-5.0, f32::NEG_INFINITY));
    }

    #[test]
    fn postprocesses_as_torchvision() {
        // props = [torch.tensor([[0., 0., 10., 10.], [1., 1., 11., 11.], [20., 20., 30., 30.]]),
        //          torch.tensor([[5., 5., 15., 25.]])]
        // cl = torch.tensor([[0., 2., 1.], [0., 2., .5], [0., -1., 3.], [5., 0., 0.]])
        // br = torch.tensor([[0.] * 12, [0.] * 4 + [1., 0., 0., 0.] + [0.] * 4,
        //                    [0.] * 8 + [0., 0., 1., 1.], [0.] * 12])
        // heads.postprocess_detections(cl, br, props, [(28, 40), (20, 20)])  (thresholds 0.05, 0.5)
        let d = dev();
        let props = [
            Tensor::<2>::from_floats(
                [
                    [0.0, 0.0, 10.0, 10.0],
                    [1.0, 1.0, 11.0, 11.0],
                    [20.0, 20.0, 30.0, 30.0],
                ],
                &d,
            ),
            Tensor::<2>::from_floats([[5.0, 5.0, 15.0, 25.0]], &d),
        ];
        let cl = Tensor::<2>::from_floats(
            [
                [0.0, 2.0, 1.0],
                [0.0, 2.0, 0.5],
                [0.0, -1.0, 3.0],
                [5.0, 0.0, 0.0],
            ],
            &d,
        );
        let mut br = [[0.0f32; 12]; 4];
        br[1][4] = 1.0;
        br[2][10] = 1.0;
        br[2][11] = 1.0;
        let br = Tensor::<2>::from_floats(br, &d);
        let dets = RoIHeadsSettings::default()
            .postprocess_detections(cl, br, &props, &[[28, 40], [20, 20]])
            .unwrap();
        close(
            &floats(dets[0].boxes.clone()),
            &[
                18.892_986, 18.892_986, 31.107_014, 28.0, 2.0, 1.0, 12.0, 11.0, 0.0, 0.0, 10.0,
                10.0,
            ],
            1e-5,
        );
        close(
            &floats(dets[0].scores.clone()),
            &[0.936_239_5, 0.736_124_75, 0.244_728_45],
            1e-5,
        );
        assert_eq!(ints(dets[0].labels.clone()), [2, 1, 2]);
        assert_eq!(dets[1].boxes.dims(), [0, 4]);
        assert_eq!(dets[1].scores.dims(), [0]);
        assert_eq!(dets[1].labels.dims(), [0]);
    }

    #[test]
    fn heads_run_in_evaluation_and_training() {
        let d = dev().autodiff();
        let features = [
            ("0", Tensor::<4>::ones([1, 2, 16, 16], &d)),
            ("1", Tensor::<4>::ones([1, 2, 8, 8], &d)),
        ];
        let heads = RoIHeads::new(
            MultiScaleRoIAlign::new(&["0", "1"], [7, 7], 2),
            TwoMLPHeadConfig::new(2 * 49, 16).init(&d),
            FastRCNNPredictorConfig::new(16, 3).init(&d),
            RoIHeadsSettings {
                batch_size_per_image: 8,
                score_thresh: 0.0,
                ..RoIHeadsSettings::default()
            },
        )
        .with_masks(
            MultiScaleRoIAlign::new(&["0", "1"], [14, 14], 2),
            super::super::masks::MaskRCNNHeadsConfig::new(2, vec![4, 4]).init(&d),
            super::super::masks::MaskRCNNPredictorConfig::new(4, 4, 3).init(&d),
        );
        let proposals = [Tensor::<2>::from_floats(
            [
                [0.0, 0.0, 20.0, 20.0],
                [30.0, 30.0, 60.0, 50.0],
                [5.0, 5.0, 25.0, 30.0],
            ],
            &d,
        )];
        let dets = heads
            .forward_eval(&features, &proposals, &[[64, 64]])
            .unwrap();
        let k = dets[0].boxes.dims()[0];
        assert!(k > 0);
        assert_eq!(dets[0].masks.as_ref().unwrap().dims(), [k, 1, 28, 28]);
        let mut masks = Tensor::<3>::zeros([1, 64, 64], &d);
        masks = masks.slice_assign([0..1, 2..22, 0..18], Tensor::ones([1, 20, 18], &d));
        let target = Target {
            boxes: Tensor::from_floats([[0.0, 2.0, 18.0, 22.0]], &d),
            labels: Tensor::from_ints([2], &d),
            masks: Some(masks),
        };
        let losses = heads
            .forward_train(
                &features,
                &proposals,
                &[[64, 64]],
                &[target],
                &mut Rng::new(0),
            )
            .unwrap();
        let total = losses.loss_classifier + losses.loss_box_reg + losses.loss_mask.unwrap();
        let v = floats(total.clone())[0];
        assert!(v.is_finite() && v > 0.0, "{v}");
        let g = total.backward();
        let w = heads.box_predictor.cls_score.weight.grad(&g).unwrap();
        assert!(floats(w).iter().any(|&x| x != 0.0));
    }
}
