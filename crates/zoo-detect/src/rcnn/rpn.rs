//! torchvision's region proposal network (`models/detection/rpn.py`, Ren et
//! al. 2015): the head that scores and refines an anchor at every location
//! of every feature level, the proposals it keeps, its training targets and
//! its loss.
//!
//! - [`RpnHead`]: a 3x3 convolution + ReLU shared by the levels (torchvision
//!   wraps it in `Conv2dNormActivation`: keys `conv.0.0.weight`), then 1x1
//!   convolutions to one objectness logit and four box deltas per anchor.
//! - [`concat_box_prediction_layers`]: the per-level outputs flattened to
//!   the anchors' order (level, then `y`, `x`, anchor) and concatenated.
//! - [`filter_proposals`]: per level the `pre_nms_top_n` best logits, then
//!   per image clipping, small-box and score filtering, NMS per level and the
//!   first `post_nms_top_n`.
//! - [`assign_targets_to_anchors`]: IoU matching (`Matcher(0.7, 0.3, True)`).
//! - [`rpn_loss`]: binary cross-entropy on the sampled anchors plus
//!   smooth L1 (`beta = 1/9`) on the sampled positives.
//! - [`RegionProposalNetwork`]: the whole module, evaluation and training.
//!
//! Tensor arithmetic stays on the device (gradients flow into the head);
//! the discrete decisions (top-k, thresholds, NMS, matching, sampling) run
//! on the host from values read back, as [`crate::nms`] does.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::tensor::activation::{log_sigmoid, relu, sigmoid};
use burn::tensor::{Device, Int, Tensor, TensorData};
use zoo_rng::Rng;

use super::anchors::AnchorGenerator;
use super::box_coder::BoxCoder;
use super::matcher::{BELOW_LOW_THRESHOLD, BETWEEN_THRESHOLDS, Matcher, box_iou_host};
use super::sampler::BalancedPositiveNegativeSampler;
use super::transform::{ImageList, check_target_boxes};
use crate::DetectError;
use crate::boxes::clip_boxes_to_image;
use crate::nms::batched_nms_host;

/// The configuration of an [`RpnHead`].
#[derive(burn::config::Config, Debug)]
pub struct RpnHeadConfig {
    /// Channels of every feature level (the FPN's 256).
    pub in_channels: usize,
    /// Anchors per location (3 with the FPN's default generator).
    pub num_anchors: usize,
    /// 3x3 convolutions before the predictors (1; Faster R-CNN v2: 2).
    #[config(default = 1)]
    pub conv_depth: usize,
}

impl RpnHeadConfig {
    /// The head with torchvision's initialisation: every weight normal with
    /// standard deviation 0.01, every bias zero.
    pub fn init(&self, device: &Device) -> RpnHead {
        let c = self.in_channels;
        let conv = |out: usize, k: usize| {
            let mut conv = Conv2dConfig::new([c, out], [k, k])
                .with_padding(if k == 3 {
                    PaddingConfig2d::Explicit(1, 1, 1, 1)
                } else {
                    PaddingConfig2d::Valid
                })
                .with_initializer(Initializer::Normal {
                    mean: 0.0,
                    std: 0.01,
                })
                .init(device);
            conv.bias = Some(Initializer::Zeros.init([out], device));
            conv
        };
        RpnHead {
            conv: (0..self.conv_depth).map(|_| conv(c, 3)).collect(),
            cls_logits: conv(self.num_anchors, 1),
            bbox_pred: conv(self.num_anchors * 4, 1),
        }
    }
}

/// torchvision's `RPNHead`.
#[derive(Module, Debug)]
pub struct RpnHead {
    /// The 3x3 convolutions, each followed by a ReLU (keys `conv.<i>.0.*`).
    pub conv: Vec<Conv2d>,
    /// One objectness logit per anchor (`cls_logits.*`).
    pub cls_logits: Conv2d,
    /// Four box deltas per anchor (`bbox_pred.*`).
    pub bbox_pred: Conv2d,
}

impl RpnHead {
    /// The logits `[N, A, h, w]` and deltas `[N, 4A, h, w]` of every level.
    pub fn forward(&self, features: &[Tensor<4>]) -> (Vec<Tensor<4>>, Vec<Tensor<4>>) {
        features
            .iter()
            .map(|f| {
                let t = self
                    .conv
                    .iter()
                    .fold(f.clone(), |x, c| relu(zoo_layers::trace::conv2d(c, x)));
                (
                    zoo_layers::trace::conv2d(&self.cls_logits, t.clone()),
                    zoo_layers::trace::conv2d(&self.bbox_pred, t),
                )
            })
            .unzip()
    }

    /// torchvision's `state_dict` key of a parameter path of this head
    /// (`conv.0.weight` -> `conv.0.0.weight`; the predictors unchanged).
    pub fn torchvision_key(path: &str) -> String {
        if let Some(rest) = path.strip_prefix("conv.")
            && let Some((i, tail)) = rest.split_once('.')
        {
            return format!("conv.{i}.0.{tail}");
        }
        path.to_string()
    }
}

/// `concat_box_prediction_layers(box_cls, box_regression)`: each level's
/// `[N, A C, h, w]` scores and `[N, 4A, h, w]` deltas put in the anchors'
/// order (`[N, h, w, A, .]`), the levels concatenated per image, as
/// `[N * sum(A h w), C]` and `[N * sum(A h w), 4]` (image after image).
pub fn concat_box_prediction_layers(
    box_cls: &[Tensor<4>],
    box_regression: &[Tensor<4>],
) -> Result<(Tensor<2>, Tensor<2>), DetectError> {
    let op = "concat_box_prediction_layers";
    if box_cls.len() != box_regression.len() || box_cls.is_empty() {
        return Err(DetectError::new(
            op,
            format!(
                "{} levels of scores and {} of deltas: expected as many, at least one",
                box_cls.len(),
                box_regression.len()
            ),
        ));
    }
    let n = box_cls[0].dims()[0];
    let mut cls = Vec::with_capacity(box_cls.len());
    let mut reg = Vec::with_capacity(box_cls.len());
    let mut c_all = None;
    for (l, (s, d)) in box_cls.iter().zip(box_regression).enumerate() {
        let [sn, ac, h, w] = s.dims();
        let [dn, a4, dh, dw] = d.dims();
        let a = a4 / 4;
        if sn != n || dn != n || [dh, dw] != [h, w] || a4 % 4 != 0 || a == 0 || ac % a != 0 {
            return Err(DetectError::new(
                op,
                format!(
                    "level {l}: scores {:?} and deltas {:?}, expected [{n}, A C, h, w] and [{n}, 4 A, h, w]",
                    s.dims(),
                    d.dims()
                ),
            ));
        }
        let c = ac / a;
        if *c_all.get_or_insert(c) != c {
            return Err(DetectError::new(
                op,
                format!("level {l} has {c} scores per anchor, an earlier level {c_all:?}"),
            ));
        }
        cls.push(permute_and_flatten(s.clone(), [n, a, c, h, w]));
        reg.push(permute_and_flatten(d.clone(), [n, a, 4, h, w]));
    }
    let c = c_all.expect("at least one level");
    let cls = Tensor::cat(cls, 1);
    let reg = Tensor::cat(reg, 1);
    let total = cls.dims()[1];
    Ok((cls.reshape([n * total, c]), reg.reshape([n * total, 4])))
}

/// `permute_and_flatten`: `[N, A C, h, w]` -> `[N, h w A, C]`.
fn permute_and_flatten(layer: Tensor<4>, [n, a, c, h, w]: [usize; 5]) -> Tensor<3> {
    layer
        .reshape([n, a, c, h, w])
        .permute([0, 3, 4, 1, 2])
        .reshape([n, h * w * a, c])
}

/// The settings of [`filter_proposals`] (one mode's of the RPN).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FilterOptions {
    /// Best logits kept per level and image before NMS.
    pub pre_nms_top_n: usize,
    /// Proposals kept per image after NMS.
    pub post_nms_top_n: usize,
    /// NMS suppresses IoU `>` this (per level).
    pub nms_thresh: f64,
    /// Proposals keep `sigmoid(logit) >=` this.
    pub score_thresh: f64,
    /// Proposals keep both sides `>=` this after clipping (torchvision: 1e-3).
    pub min_size: f64,
}

/// One image's proposals: `[K, 4]` boxes and `[K]` objectness
/// probabilities, by decreasing score.
#[derive(Clone, Debug)]
pub struct ImageProposals {
    /// The boxes, clipped to the image.
    pub boxes: Tensor<2>,
    /// `sigmoid` of their logits.
    pub scores: Tensor<1>,
}

/// `RegionProposalNetwork.filter_proposals`: `proposals [B, A, 4]` (the
/// decoded anchors), `objectness [B A]` logits, each image's `(height,
/// width)` and the number of anchors of each level (consecutive slices of
/// `A`). Nothing here carries a gradient (torchvision detaches both).
pub fn filter_proposals(
    proposals: Tensor<3>,
    objectness: Tensor<1>,
    image_sizes: &[[usize; 2]],
    num_anchors_per_level: &[usize],
    options: FilterOptions,
) -> Result<Vec<ImageProposals>, DetectError> {
    let op = "rpn_filter_proposals";
    let [b, a, four] = proposals.dims();
    let [no] = objectness.dims();
    if four != 4 || no != b * a || image_sizes.len() != b {
        return Err(DetectError::new(
            op,
            format!(
                "proposals {:?}, objectness [{no}], {} image sizes: expected [B, A, 4], [B A] and B sizes",
                [b, a, four],
                image_sizes.len()
            ),
        ));
    }
    if num_anchors_per_level.iter().sum::<usize>() != a {
        return Err(DetectError::new(
            op,
            format!(
                "anchors per level {num_anchors_per_level:?} add up to {}, the proposals have {a} per image",
                num_anchors_per_level.iter().sum::<usize>()
            ),
        ));
    }
    if !(0.0..=1.0).contains(&options.nms_thresh) {
        return Err(DetectError::new(
            op,
            format!(
                "nms_thresh {}, expected a value in [0, 1]",
                options.nms_thresh
            ),
        ));
    }
    let device = proposals.device();
    let flat = proposals.detach().reshape([b * a, 4]);
    let objectness = objectness.detach();
    let boxes_host = crate::read_rows::<4>(op, "proposals", flat.clone())?;
    let logits = crate::read_floats(op, objectness.clone())?;
    let (min_size, score_thresh) = (options.min_size as f32, options.score_thresh as f32);
    let mut out = Vec::with_capacity(b);
    for (i, &[h, w]) in image_sizes.iter().enumerate() {
        let row = &logits[i * a..(i + 1) * a];
        // The best `pre_nms_top_n` of each level, levels in order.
        let mut cand: Vec<(usize, i64)> = Vec::new();
        let mut offset = 0;
        for (level, &n) in num_anchors_per_level.iter().enumerate() {
            let mut idx: Vec<usize> = (offset..offset + n).collect();
            idx.sort_by(|&x, &y| row[y].total_cmp(&row[x]).then(x.cmp(&y)));
            cand.extend(
                idx.into_iter()
                    .take(options.pre_nms_top_n.min(n))
                    .map(|j| (j, level as i64)),
            );
            offset += n;
        }
        let (wf, hf) = (w as f32, h as f32);
        let mut kept_boxes = Vec::new();
        let mut kept_scores = Vec::new();
        let mut kept_levels = Vec::new();
        let mut kept_rows = Vec::new();
        for (j, level) in cand {
            let p = boxes_host[i * a + j];
            let c = [
                p[0].clamp(0.0, wf),
                p[1].clamp(0.0, hf),
                p[2].clamp(0.0, wf),
                p[3].clamp(0.0, hf),
            ];
            // torchvision keeps `w >= min_size & h >= min_size` and
            // `score >= score_thresh` (a NaN fails both).
            let (bw, bh) = (c[2] - c[0], c[3] - c[1]);
            if bw < min_size || bh < min_size || bw.is_nan() || bh.is_nan() {
                continue;
            }
            let s = 1.0 / (1.0 + (-row[j]).exp());
            if s < score_thresh || s.is_nan() {
                continue;
            }
            kept_boxes.push(c);
            kept_scores.push(s);
            kept_levels.push(level);
            kept_rows.push((i * a + j) as i64);
        }
        let mut keep =
            batched_nms_host(&kept_boxes, &kept_scores, &kept_levels, options.nms_thresh)
                .map_err(|e| DetectError::new(op, e.reason))?;
        keep.truncate(options.post_nms_top_n);
        if keep.is_empty() {
            out.push(ImageProposals {
                boxes: Tensor::zeros([0, 4], &device),
                scores: Tensor::zeros([0], &device),
            });
            continue;
        }
        let rows: Vec<i64> = keep.iter().map(|&k| kept_rows[k]).collect();
        let idx = index(rows, &device);
        let boxes = clip_boxes_to_image(flat.clone().select(0, idx.clone()), h, w)?;
        let scores = sigmoid(objectness.clone().select(0, idx));
        out.push(ImageProposals { boxes, scores });
    }
    Ok(out)
}

fn index(v: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let n = v.len();
    Tensor::from_data(TensorData::new(v, [n]), device)
}

/// One image's RPN training targets.
#[derive(Clone, Debug)]
pub struct AnchorTargets {
    /// `[A]`: 1 foreground, 0 background, -1 ignored.
    pub labels: Tensor<1>,
    /// `[A, 4]`: the ground-truth box matched to each anchor (box 0 for the
    /// background and ignored anchors, as torchvision; zeros without ground truth).
    pub matched_gt_boxes: Tensor<2>,
    /// The labels on the host (1, 0, -1), for the sampler.
    pub labels_host: Vec<i64>,
}

/// `RegionProposalNetwork.assign_targets_to_anchors` for one image:
/// `anchors [A, 4]` matched to `gt_boxes [G, 4]` by IoU (computed on the
/// host in float64) with `matcher`. With no ground truth every anchor is
/// background. A ground-truth box without positive width and height is
/// refused (torchvision refuses it before the RPN), named by its index.
pub fn assign_targets_to_anchors(
    anchors: Tensor<2>,
    gt_boxes: Tensor<2>,
    matcher: &Matcher,
) -> Result<AnchorTargets, DetectError> {
    let op = "rpn_assign_targets";
    let device = anchors.device();
    let anchors_host = crate::read_rows::<4>(op, "anchors", anchors)?;
    let gt_host = crate::read_rows::<4>(op, "ground-truth boxes", gt_boxes.clone())?;
    let a = anchors_host.len();
    if gt_host.is_empty() {
        return Ok(AnchorTargets {
            labels: Tensor::zeros([a], &device),
            matched_gt_boxes: Tensor::zeros([a, 4], &device),
            labels_host: vec![0; a],
        });
    }
    if let Some((j, g)) = gt_host
        .iter()
        .enumerate()
        .find(|(_, g)| !(g[2] > g[0] && g[3] > g[1]))
    {
        return Err(DetectError::new(
            op,
            format!(
                "ground-truth box {j} is {g:?}: expected positive width and height (x1 < x2, y1 < y2)"
            ),
        ));
    }
    if a == 0 {
        return Err(DetectError::new(op, "no anchors to assign"));
    }
    let quality = box_iou_host(&gt_host, &anchors_host);
    let matches = matcher.match_host(&quality, gt_host.len(), a)?;
    let labels_host: Vec<i64> = matches
        .iter()
        .map(|&m| match m {
            BELOW_LOW_THRESHOLD => 0,
            BETWEEN_THRESHOLDS => -1,
            m if m >= 0 => 1,
            _ => 0,
        })
        .collect();
    let labels: Vec<f32> = labels_host.iter().map(|&l| l as f32).collect();
    let gathered = index(matches.iter().map(|&m| m.max(0)).collect(), &device);
    Ok(AnchorTargets {
        labels: Tensor::from_data(TensorData::new(labels, [a]), &device),
        matched_gt_boxes: gt_boxes.select(0, gathered),
        labels_host,
    })
}

/// The RPN's two losses, each `[1]`.
#[derive(Clone, Debug)]
pub struct RpnLosses {
    /// `loss_objectness`: binary cross-entropy on the sampled anchors.
    pub objectness: Tensor<1>,
    /// `loss_rpn_box_reg`: smooth L1 on the sampled positives over the sample size.
    pub box_reg: Tensor<1>,
}

impl RpnLosses {
    /// The sum of the two.
    pub fn total(&self) -> Tensor<1> {
        self.objectness.clone() + self.box_reg.clone()
    }
}

/// `RegionProposalNetwork.compute_loss` with the sampler's draw given:
/// `objectness [N]` logits, `pred_bbox_deltas [N, 4]`, `labels [N]`
/// (1 / 0), `regression_targets [N, 4]`, the sampled positive and
/// negative indices (ascending, as torchvision has them). Binary
/// cross-entropy with logits, mean over the `P + Q` sampled anchors
/// (positives then negatives); smooth L1 (`beta = 1/9`) summed over the
/// positives' deltas and divided by `P + Q`.
pub fn rpn_loss(
    objectness: Tensor<1>,
    pred_bbox_deltas: Tensor<2>,
    labels: Tensor<1>,
    regression_targets: Tensor<2>,
    sampled_pos_inds: &[usize],
    sampled_neg_inds: &[usize],
) -> Result<RpnLosses, DetectError> {
    let op = "rpn_loss";
    let [n] = objectness.dims();
    let (dd, ld, td) = (
        pred_bbox_deltas.dims(),
        labels.dims(),
        regression_targets.dims(),
    );
    if dd != [n, 4] || ld != [n] || td != [n, 4] {
        return Err(DetectError::new(
            op,
            format!(
                "objectness [{n}], deltas {dd:?}, labels {ld:?}, targets {td:?}: expected [N], [N, 4], [N], [N, 4]"
            ),
        ));
    }
    if let Some(&i) = sampled_pos_inds
        .iter()
        .chain(sampled_neg_inds)
        .find(|&&i| i >= n)
    {
        return Err(DetectError::new(
            op,
            format!("sampled index {i} for {n} anchors"),
        ));
    }
    let sampled = sampled_pos_inds.len() + sampled_neg_inds.len();
    if sampled == 0 {
        return Err(DetectError::new(
            op,
            "no sampled anchor: the losses are means over the sample (torchvision gives NaN)",
        ));
    }
    let device = objectness.device();
    let all: Vec<i64> = sampled_pos_inds
        .iter()
        .chain(sampled_neg_inds)
        .map(|&i| i as i64)
        .collect();
    let idx = index(all, &device);
    let x = objectness.select(0, idx.clone());
    let t = labels.select(0, idx);
    let bce = (t.neg().add_scalar(1.0)) * x.clone() - log_sigmoid(x);
    let objectness_loss = bce.mean();
    let box_reg = if sampled_pos_inds.is_empty() {
        pred_bbox_deltas.sum().mul_scalar(0.0)
    } else {
        let pos = index(
            sampled_pos_inds.iter().map(|&i| i as i64).collect(),
            &device,
        );
        let d = pred_bbox_deltas.select(0, pos.clone()) - regression_targets.select(0, pos);
        smooth_l1(d, 1.0 / 9.0).sum().div_scalar(sampled as f64)
    };
    Ok(RpnLosses {
        objectness: objectness_loss,
        box_reg,
    })
}

/// Smooth L1 of the differences `d` (`F.smooth_l1_loss(reduction="none")`):
/// `0.5 d^2 / beta` where `|d| < beta`, else `|d| - beta / 2`. (zoo-losses
/// has it too, but zoo-losses depends on this crate.)
fn smooth_l1(d: Tensor<2>, beta: f64) -> Tensor<2> {
    let abs = d.clone().abs();
    let quadratic = d.square().mul_scalar(0.5 / beta);
    let linear = abs.clone().sub_scalar(0.5 * beta);
    linear.mask_where(abs.lower_elem(beta), quadratic)
}

/// The non-learned settings of a [`RegionProposalNetwork`]; the defaults
/// are Faster R-CNN's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RpnSettings {
    /// Anchors with IoU `>=` this are foreground (0.7).
    pub fg_iou_thresh: f64,
    /// Anchors with IoU `<` this are background (0.3).
    pub bg_iou_thresh: f64,
    /// Anchors sampled per image for the loss (256).
    pub batch_size_per_image: usize,
    /// The largest share of positives in the sample (0.5).
    pub positive_fraction: f64,
    /// `pre_nms_top_n` in training (2000).
    pub pre_nms_top_n_train: usize,
    /// `pre_nms_top_n` in evaluation (1000).
    pub pre_nms_top_n_test: usize,
    /// `post_nms_top_n` in training (2000).
    pub post_nms_top_n_train: usize,
    /// `post_nms_top_n` in evaluation (1000).
    pub post_nms_top_n_test: usize,
    /// NMS threshold of the proposals (0.7).
    pub nms_thresh: f64,
    /// Smallest objectness probability kept (0.0).
    pub score_thresh: f64,
    /// Smallest side kept (torchvision's fixed 1e-3).
    pub min_size: f64,
}

impl Default for RpnSettings {
    fn default() -> Self {
        Self {
            fg_iou_thresh: 0.7,
            bg_iou_thresh: 0.3,
            batch_size_per_image: 256,
            positive_fraction: 0.5,
            pre_nms_top_n_train: 2000,
            pre_nms_top_n_test: 1000,
            post_nms_top_n_train: 2000,
            post_nms_top_n_test: 1000,
            nms_thresh: 0.7,
            score_thresh: 0.0,
            min_size: 1e-3,
        }
    }
}

impl RpnSettings {
    fn filter(&self, training: bool) -> FilterOptions {
        FilterOptions {
            pre_nms_top_n: if training {
                self.pre_nms_top_n_train
            } else {
                self.pre_nms_top_n_test
            },
            post_nms_top_n: if training {
                self.post_nms_top_n_train
            } else {
                self.post_nms_top_n_test
            },
            nms_thresh: self.nms_thresh,
            score_thresh: self.score_thresh,
            min_size: self.min_size,
        }
    }
}

/// Everything the RPN computes for a batch before filtering.
struct Raw {
    objectness: Tensor<1>,
    deltas: Tensor<2>,
    anchors: Tensor<2>,
    proposals: Vec<ImageProposals>,
}

/// torchvision's `RegionProposalNetwork` with its `BoxCoder((1, 1, 1, 1))`.
#[derive(Module, Debug)]
pub struct RegionProposalNetwork {
    /// The head (keys `head.*`).
    pub head: RpnHead,
    /// The anchors.
    #[module(skip)]
    pub anchor_generator: AnchorGenerator,
    /// Thresholds and counts.
    #[module(skip)]
    pub settings: RpnSettings,
}

impl RegionProposalNetwork {
    /// The RPN; the head must predict as many anchors per location as the
    /// generator makes on every level.
    pub fn new(
        anchor_generator: AnchorGenerator,
        head: RpnHead,
        settings: RpnSettings,
    ) -> Result<Self, DetectError> {
        let per_location = anchor_generator.num_anchors_per_location();
        let head_anchors = head.cls_logits.weight.val().dims()[0];
        if per_location.iter().any(|&n| n != head_anchors) {
            return Err(DetectError::new(
                "region_proposal_network",
                format!(
                    "the head predicts {head_anchors} anchors per location, the generator makes {per_location:?}"
                ),
            ));
        }
        Matcher::new(settings.fg_iou_thresh, settings.bg_iou_thresh, true)?;
        BalancedPositiveNegativeSampler::new(
            settings.batch_size_per_image,
            settings.positive_fraction,
        )?;
        Ok(Self {
            head,
            anchor_generator,
            settings,
        })
    }

    /// torchvision's key of a parameter path (`head.conv.0.weight` ->
    /// `head.conv.0.0.weight`); prefix `rpn.` inside a detector.
    pub fn torchvision_key(path: &str) -> String {
        match path.strip_prefix("head.") {
            Some(rest) => format!("head.{}", RpnHead::torchvision_key(rest)),
            None => path.to_string(),
        }
    }

    fn raw(
        &self,
        images: &ImageList,
        features: &[Tensor<4>],
        training: bool,
    ) -> Result<Raw, DetectError> {
        let op = "region_proposal_network";
        let [n, _, ih, iw] = images.tensors.dims();
        if features.is_empty()
            || features.iter().any(|f| f.dims()[0] != n)
            || images.image_sizes.len() != n
        {
            return Err(DetectError::new(
                op,
                format!(
                    "{} feature levels of batches {:?} for {n} images ({} sizes): expected at least one level, every batch {n}",
                    features.len(),
                    features.iter().map(|f| f.dims()[0]).collect::<Vec<_>>(),
                    images.image_sizes.len()
                ),
            ));
        }
        let device = features[0].device();
        let (logits, deltas) = self.head.forward(features);
        let shapes: Vec<[usize; 2]> = features
            .iter()
            .map(|f| {
                let [_, _, h, w] = f.dims();
                [h, w]
            })
            .collect();
        let anchors = self.anchor_generator.forward([ih, iw], &shapes, &device)?;
        let per_level = self.anchor_generator.num_anchors_per_level(&shapes);
        let a: usize = per_level.iter().sum();
        let (objectness, deltas) = concat_box_prediction_layers(&logits, &deltas)?;
        let objectness = objectness.reshape([n * a]);
        let proposals = BoxCoder::new([1.0; 4])
            .decode_single(deltas.clone().detach(), anchors.clone().repeat_dim(0, n))?
            .reshape([n, a, 4]);
        let proposals = filter_proposals(
            proposals,
            objectness.clone().detach(),
            &images.image_sizes,
            &per_level,
            self.settings.filter(training),
        )?;
        Ok(Raw {
            objectness,
            deltas,
            anchors,
            proposals,
        })
    }

    /// The evaluation forward: each image's proposals.
    pub fn forward(
        &self,
        images: &ImageList,
        features: &[Tensor<4>],
    ) -> Result<Vec<ImageProposals>, DetectError> {
        Ok(self.raw(images, features, false)?.proposals)
    }

    /// The training forward: the proposals (with the training counts) and
    /// the losses against each image's ground-truth boxes `[G, 4]` (`G` may
    /// be 0), the anchors sampled with `rng`.
    pub fn forward_train(
        &self,
        images: &ImageList,
        features: &[Tensor<4>],
        gt_boxes: &[Tensor<2>],
        rng: &mut Rng,
    ) -> Result<(Vec<ImageProposals>, RpnLosses), DetectError> {
        let n = images.image_sizes.len();
        if gt_boxes.len() != n {
            return Err(DetectError::new(
                "region_proposal_network",
                format!(
                    "{} targets for {n} images, expected one per image",
                    gt_boxes.len()
                ),
            ));
        }
        for (i, b) in gt_boxes.iter().enumerate() {
            check_target_boxes(i, b)?;
        }
        let raw = self.raw(images, features, true)?;
        let s = &self.settings;
        let matcher = Matcher::new(s.fg_iou_thresh, s.bg_iou_thresh, true)?;
        let sampler =
            BalancedPositiveNegativeSampler::new(s.batch_size_per_image, s.positive_fraction)?;
        let coder = BoxCoder::new([1.0; 4]);
        let a = raw.anchors.dims()[0];
        let mut labels = Vec::with_capacity(n);
        let mut targets = Vec::with_capacity(n);
        let (mut pos, mut neg) = (Vec::new(), Vec::new());
        for (i, gt) in gt_boxes.iter().enumerate() {
            let t = assign_targets_to_anchors(raw.anchors.clone(), gt.clone(), &matcher)?;
            targets.push(coder.encode_single(t.matched_gt_boxes, raw.anchors.clone())?);
            let drawn = sampler.sample_image(&t.labels_host, rng);
            pos.extend(drawn.positive.iter().map(|&j| i * a + j));
            neg.extend(drawn.negative.iter().map(|&j| i * a + j));
            labels.push(t.labels);
        }
        let losses = rpn_loss(
            raw.objectness,
            raw.deltas,
            Tensor::cat(labels, 0),
            Tensor::cat(targets, 0),
            &pos,
            &neg,
        )?;
        Ok((raw.proposals, losses))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev() -> Device {
        zoo_device::from_name("flex").unwrap()
    }

    fn floats<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_into_vec_as::<f32>().unwrap()
    }

    #[test]
    fn keys_are_torchvisions() {
        assert_eq!(RpnHead::torchvision_key("conv.0.weight"), "conv.0.0.weight");
        assert_eq!(RpnHead::torchvision_key("conv.1.bias"), "conv.1.0.bias");
        assert_eq!(
            RpnHead::torchvision_key("cls_logits.bias"),
            "cls_logits.bias"
        );
        assert_eq!(
            RegionProposalNetwork::torchvision_key("head.conv.0.bias"),
            "head.conv.0.0.bias"
        );
    }

    #[test]
    fn predictions_flatten_in_the_anchors_order() {
        // from torchvision.models.detection.rpn import concat_box_prediction_layers
        // c = torch.arange(2 * 2 * 1 * 3.).reshape(2, 2, 1, 3)   # N 2, A 2, h 1, w 3
        // r = torch.arange(2 * 8 * 1 * 3.).reshape(2, 8, 1, 3)
        // o, d = concat_box_prediction_layers([c], [r])
        // o.flatten() -> tensor([ 0.,  3.,  1.,  4.,  2.,  5.,  6.,  9.,  7., 10.,  8., 11.])
        // d[:2] -> tensor([[ 0.,  3.,  6.,  9.], [12., 15., 18., 21.]])
        let d = dev();
        let c = Tensor::<1>::from_floats(std::array::from_fn::<f32, 12, _>(|i| i as f32), &d)
            .reshape([2, 2, 1, 3]);
        let r = Tensor::<1>::from_floats(std::array::from_fn::<f32, 48, _>(|i| i as f32), &d)
            .reshape([2, 8, 1, 3]);
        let (o, dl) = concat_box_prediction_layers(&[c], &[r]).unwrap();
        assert_eq!(o.dims(), [12, 1]);
        assert_eq!(
            floats(o),
            [0.0, 3.0, 1.0, 4.0, 2.0, 5.0, 6.0, 9.0, 7.0, 10.0, 8.0, 11.0]
        );
        assert_eq!(
            floats(dl.slice([0..2, 0..4])),
            [0.0, 3.0, 6.0, 9.0, 12.0, 15.0, 18.0, 21.0]
        );
    }

    #[test]
    fn assigns_like_torchvision() {
        // rpn.assign_targets_to_anchors([anchors], [{"boxes": gt}]) with
        // Matcher(0.7, 0.3, True):
        // anchors = torch.tensor([[0., 0., 10., 10.], [1., 1., 11., 11.],
        //                         [20., 20., 30., 30.], [5., 0., 15., 10.],
        //                         [40., 40., 50., 50.]])
        // gt = torch.tensor([[0., 0., 10., 10.], [22., 22., 34., 34.]])
        // labels -> tensor([ 1., -1.,  1., -1.,  0.])
        // matched -> rows gt[0], gt[0], gt[1], gt[0], gt[0]
        let d = dev();
        let anchors = Tensor::<2>::from_floats(
            [
                [0.0, 0.0, 10.0, 10.0],
                [1.0, 1.0, 11.0, 11.0],
                [20.0, 20.0, 30.0, 30.0],
                [5.0, 0.0, 15.0, 10.0],
                [40.0, 40.0, 50.0, 50.0],
            ],
            &d,
        );
        let gt = Tensor::<2>::from_floats([[0.0, 0.0, 10.0, 10.0], [22.0, 22.0, 34.0, 34.0]], &d);
        let m = Matcher::new(0.7, 0.3, true).unwrap();
        let t = assign_targets_to_anchors(anchors.clone(), gt, &m).unwrap();
        assert_eq!(floats(t.labels), [1.0, -1.0, 1.0, -1.0, 0.0]);
        let g0 = [0.0, 0.0, 10.0, 10.0];
        let g1 = [22.0, 22.0, 34.0, 34.0];
        let want: Vec<f32> = [g0, g0, g1, g0, g0].concat();
        assert_eq!(floats(t.matched_gt_boxes), want);
        let none =
            assign_targets_to_anchors(anchors.clone(), Tensor::zeros([0, 4], &d), &m).unwrap();
        assert_eq!(floats(none.labels), [0.0; 5]);
        let bad = Tensor::<2>::from_floats([[0.0, 0.0, 10.0, 10.0], [5.0, 5.0, 5.0, 9.0]], &d);
        let e = assign_targets_to_anchors(anchors, bad, &m).unwrap_err();
        assert!(e.to_string().contains("ground-truth box 1"), "{e}");
    }

    #[test]
    fn loss_is_torchvisions() {
        // objectness = torch.tensor([0.5, -1.0, 2.0, 0.0])
        // deltas = torch.tensor([[0.1, 0.2, 0.0, -0.3], [1.0, 1.0, 1.0, 1.0],
        //                        [0.05, -0.5, 0.2, 0.0], [0.0, 0.0, 0.0, 0.0]])
        // targets = torch.zeros(4, 4); labels = torch.tensor([1., 0., 1., 0.])
        // pos = [0, 2], neg = [1, 3]
        // F.binary_cross_entropy_with_logits(objectness[[0, 2, 1, 3]], labels[[0, 2, 1, 3]])
        //   -> 0.4018535017967224
        // F.smooth_l1_loss(deltas[[0, 2]], targets[[0, 2]], beta=1/9, reduction="sum") / 4
        //   -> 0.2585069537162781
        let d = dev();
        let obj = Tensor::<1>::from_floats([0.5, -1.0, 2.0, 0.0], &d);
        let deltas = Tensor::<2>::from_floats(
            [
                [0.1, 0.2, 0.0, -0.3],
                [1.0, 1.0, 1.0, 1.0],
                [0.05, -0.5, 0.2, 0.0],
                [0.0, 0.0, 0.0, 0.0],
            ],
            &d,
        );
        let labels = Tensor::<1>::from_floats([1.0, 0.0, 1.0, 0.0], &d);
        let l = rpn_loss(
            obj,
            deltas,
            labels,
            Tensor::zeros([4, 4], &d),
            &[0, 2],
            &[1, 3],
        )
        .unwrap();
        let (o, b) = (floats(l.objectness)[0], floats(l.box_reg)[0]);
        assert!((o - 0.401_853_5).abs() < 1e-6, "{o}");
        assert!((b - 0.258_507).abs() < 1e-6, "{b}");
    }

    /// `0.5 sin(0.71 j + k)` / `sin(0.37 j + b)` over the flat index `j`,
    /// in float32 as the reference script computes them.
    fn wave<const D: usize>(
        shape: [usize; D],
        a: f32,
        b: f32,
        scale: f32,
        d: &Device,
    ) -> Tensor<D> {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|j| scale * (j as f32 * a + b).sin()).collect();
        Tensor::from_data(TensorData::new(v, shape), d)
    }

    #[test]
    fn the_network_matches_torchvision_in_evaluation_and_training() {
        use burn::module::Param;
        // def f(shape, a, b):
        //     return torch.sin(torch.arange(math.prod(shape), dtype=torch.float32) * a + b).reshape(shape)
        // head = RPNHead(2, 3); every state_dict entry k (in order) set to 0.5 * f(shape, 0.71, k)
        // ag = AnchorGenerator(((16,), (32,)), ((0.5, 1.0, 2.0),) * 2)
        // rpn = RegionProposalNetwork(ag, head, 0.7, 0.3, 100000, 0.5,
        //     dict(training=50, testing=50), dict(training=20, testing=20), 0.7)
        // feats = {"0": f((2, 2, 16, 16), 0.37, 0.), "1": f((2, 2, 8, 8), 0.37, 1.)}
        // il = ImageList(torch.zeros(2, 3, 64, 64), [(64, 60), (50, 64)])
        // rpn.eval(); boxes, _ = rpn(il, feats)
        // boxes[0][:3] -> [[0, 0, 51.718613, 53.342407], [0, 0, 15.920528, 64], [0, 0, 30.870392, 42.904049]]
        // boxes[1][:3] -> [[0, 4.778965, 63.513958, 50], [0, 0, 46.578995, 20.901684], [0, 0, 53.222832, 50]]
        // rpn.train(); _, losses = rpn(il, feats, [{"boxes": [[5, 6, 30, 40], [33, 10, 60, 30]]},
        //                                          {"boxes": [[10, 10, 40, 45]]}])
        // {'loss_objectness': 0.5976805686950684, 'loss_rpn_box_reg': 0.004307305905967951}
        // (a batch of 100000 samples every labelled anchor: no draw)
        let d = dev();
        let mut head = RpnHeadConfig::new(2, 3).init(&d);
        head.conv[0].weight = Param::from_tensor(wave([2, 2, 3, 3], 0.71, 0.0, 0.5, &d));
        head.conv[0].bias = Some(Param::from_tensor(wave([2], 0.71, 1.0, 0.5, &d)));
        head.cls_logits.weight = Param::from_tensor(wave([3, 2, 1, 1], 0.71, 2.0, 0.5, &d));
        head.cls_logits.bias = Some(Param::from_tensor(wave([3], 0.71, 3.0, 0.5, &d)));
        head.bbox_pred.weight = Param::from_tensor(wave([12, 2, 1, 1], 0.71, 4.0, 0.5, &d));
        head.bbox_pred.bias = Some(Param::from_tensor(wave([12], 0.71, 5.0, 0.5, &d)));
        let generator =
            AnchorGenerator::new(vec![vec![16.0], vec![32.0]], vec![vec![0.5, 1.0, 2.0]; 2])
                .unwrap();
        let settings = RpnSettings {
            batch_size_per_image: 100_000,
            pre_nms_top_n_train: 50,
            pre_nms_top_n_test: 50,
            post_nms_top_n_train: 20,
            post_nms_top_n_test: 20,
            ..RpnSettings::default()
        };
        let rpn = RegionProposalNetwork::new(generator, head, settings).unwrap();
        let feats = [
            wave([2, 2, 16, 16], 0.37, 0.0, 1.0, &d),
            wave([2, 2, 8, 8], 0.37, 1.0, 1.0, &d),
        ];
        let images = ImageList {
            tensors: Tensor::zeros([2, 3, 64, 64], &d),
            image_sizes: vec![[64, 60], [50, 64]],
        };
        let close = |got: Vec<f32>, want: &[f32]| {
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 1e-4, "{got:?} vs {want:?}");
            }
        };
        let out = rpn.forward(&images, &feats).unwrap();
        assert_eq!(out[0].boxes.dims(), [20, 4]);
        assert_eq!(out[1].boxes.dims(), [20, 4]);
        close(
            floats(out[0].boxes.clone().slice([0..3, 0..4])),
            &[
                0.0, 0.0, 51.718_613, 53.342_407, 0.0, 0.0, 15.920_528, 64.0, 0.0, 0.0, 30.870_392,
                42.904_05,
            ],
        );
        close(
            floats(out[1].boxes.clone().slice([0..3, 0..4])),
            &[
                0.0, 4.778_965, 63.513_958, 50.0, 0.0, 0.0, 46.578_995, 20.901_684, 0.0, 0.0,
                53.222_83, 50.0,
            ],
        );
        let gt = [
            Tensor::<2>::from_floats([[5.0, 6.0, 30.0, 40.0], [33.0, 10.0, 60.0, 30.0]], &d),
            Tensor::<2>::from_floats([[10.0, 10.0, 40.0, 45.0]], &d),
        ];
        let (proposals, losses) = rpn
            .forward_train(&images, &feats, &gt, &mut Rng::new(0))
            .unwrap();
        assert_eq!(proposals.len(), 2);
        close(floats(losses.objectness), &[0.597_680_6]);
        close(floats(losses.box_reg), &[0.004_307_306]);
        let bad = [
            gt[0].clone(),
            Tensor::<2>::from_floats([[10.0, 10.0, 4.0, 45.0]], &d),
        ];
        let e = rpn
            .forward_train(&images, &feats, &bad, &mut Rng::new(0))
            .unwrap_err();
        assert!(e.to_string().contains("target at index 1"), "{e}");
    }
}
