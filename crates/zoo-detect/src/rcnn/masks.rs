//! Mask R-CNN's mask branch with torchvision 0.29's semantics
//! (`torchvision/models/detection/{mask_rcnn,roi_heads}.py`): the head
//! ([`MaskRCNNHeads`], [`MaskRCNNPredictor`], torchvision's `state_dict`
//! keys), the loss ([`maskrcnn_loss`]: the ground-truth masks RoI-aligned
//! onto the proposals, binary cross-entropy on the label's channel), the
//! inference ([`maskrcnn_inference`]) and the pasting of the `M x M`
//! probabilities into the image ([`paste_masks_in_image`]).
//!
//! Index decisions (labels, matched ground truth, the integer boxes of the
//! paste) are taken on the host; the values stay tensor ops on the device,
//! differentiable where torchvision's are.

use burn::config::Config;
use burn::module::{Initializer, Module};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::tensor::activation::{log_sigmoid, relu, sigmoid};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::DetectError;
use crate::roi::{RoiAlignOptions, roi_align};

/// torch's `kaiming_normal_(mode="fan_out", nonlinearity="relu")`.
fn kaiming_fan_out() -> Initializer {
    Initializer::KaimingNormal {
        gain: std::f64::consts::SQRT_2,
        fan_out_only: true,
    }
}

/// Configuration of [`MaskRCNNHeads`].
#[derive(Config, Debug)]
pub struct MaskRCNNHeadsConfig {
    /// Input channels (the FPN's, 256).
    pub in_channels: usize,
    /// Output channels of each 3x3 convolution (`(256, 256, 256, 256)`).
    pub layers: Vec<usize>,
    /// Dilation (and padding) of the convolutions (1).
    #[config(default = 1)]
    pub dilation: usize,
}

impl MaskRCNNHeadsConfig {
    /// The head with torchvision's initialisation: weights
    /// `kaiming_normal_(fan_out, relu)`, biases zero.
    ///
    /// # Panics
    /// When a channel count or the dilation is 0.
    pub fn init(&self, device: &Device) -> MaskRCNNHeads {
        assert!(
            self.in_channels > 0 && !self.layers.contains(&0) && self.dilation > 0,
            "MaskRCNNHeads: in_channels {}, layers {:?}, dilation {}: expected positive values",
            self.in_channels,
            self.layers,
            self.dilation
        );
        let d = self.dilation;
        let mut next = self.in_channels;
        let layers = self
            .layers
            .iter()
            .map(|&out| {
                let mut conv = Conv2dConfig::new([next, out], [3, 3])
                    .with_dilation([d, d])
                    .with_padding(PaddingConfig2d::Explicit(d, d, d, d))
                    .with_initializer(kaiming_fan_out())
                    .init(device);
                conv.bias = Some(Initializer::Zeros.init([out], device));
                next = out;
                conv
            })
            .collect();
        MaskRCNNHeads { layers }
    }
}

/// torchvision's `MaskRCNNHeads`: 3x3 convolutions (padding = dilation),
/// each followed by ReLU. Its `state_dict` keys are `<i>.0.weight` /
/// `<i>.0.bias` (each layer a `Conv2dNormActivation` without norm; the
/// pre-0.13 `mask_fcn<i+1>` names are not used): [`Self::torchvision_key`].
#[derive(Module, Debug)]
pub struct MaskRCNNHeads {
    /// The convolutions, in order (keys `0.0`, `1.0`, ...).
    pub layers: Vec<Conv2d>,
}

impl MaskRCNNHeads {
    /// `[K, C, h, w]` RoI features to `[K, layers.last, h, w]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.layers.iter().fold(x, |x, conv| relu(conv.forward(x)))
    }

    /// torchvision's key of a parameter path: `layers.<i>.<name>` ->
    /// `<i>.0.<name>`; other paths unchanged.
    pub fn torchvision_key(path: &str) -> String {
        match path
            .strip_prefix("layers.")
            .and_then(|rest| rest.split_once('.'))
        {
            Some((i, name)) => format!("{i}.0.{name}"),
            None => path.to_string(),
        }
    }
}

/// Configuration of [`MaskRCNNPredictor`].
#[derive(Config, Debug)]
pub struct MaskRCNNPredictorConfig {
    /// Input channels (256).
    pub in_channels: usize,
    /// Channels of the upsampled features (256).
    pub dim_reduced: usize,
    /// Classes, background included.
    pub num_classes: usize,
}

impl MaskRCNNPredictorConfig {
    /// The predictor with torchvision's initialisation: every weight
    /// `kaiming_normal_(fan_out, relu)` (torch's fan-out of the transposed
    /// convolution's `[in, out, 2, 2]` weight is `in * 4`), biases as
    /// PyTorch's default (uniform `+-1/sqrt(fan_in)`).
    ///
    /// # Panics
    /// When a size is 0.
    pub fn init(&self, device: &Device) -> MaskRCNNPredictor {
        let (c, d, k) = (self.in_channels, self.dim_reduced, self.num_classes);
        assert!(
            c > 0 && d > 0 && k > 0,
            "MaskRCNNPredictor: in_channels {c}, dim_reduced {d}, num_classes {k}: expected positive sizes"
        );
        let mut conv5_mask = ConvTranspose2dConfig::new([c, d], [2, 2])
            .with_stride([2, 2])
            .init(device);
        conv5_mask.weight =
            kaiming_fan_out().init_with([c, d, 2, 2], Some(d * 4), Some(c * 4), device);
        let mut mask_fcn_logits = Conv2dConfig::new([d, k], [1, 1]).init(device);
        mask_fcn_logits.weight =
            kaiming_fan_out().init_with([k, d, 1, 1], Some(d), Some(k), device);
        MaskRCNNPredictor {
            conv5_mask,
            mask_fcn_logits,
        }
    }
}

/// torchvision's `MaskRCNNPredictor`: `conv5_mask` (transposed 2x2
/// convolution, stride 2), ReLU, `mask_fcn_logits` (1x1 convolution to the
/// classes). Keys `conv5_mask.weight`, `mask_fcn_logits.bias`, ... as the
/// field names.
#[derive(Module, Debug)]
pub struct MaskRCNNPredictor {
    /// `ConvTranspose2d(in_channels, dim_reduced, 2, 2, 0)`.
    pub conv5_mask: ConvTranspose2d,
    /// `Conv2d(dim_reduced, num_classes, 1, 1, 0)`.
    pub mask_fcn_logits: Conv2d,
}

impl MaskRCNNPredictor {
    /// `[K, C, h, w]` to mask logits `[K, num_classes, 2h, 2w]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.mask_fcn_logits
            .forward(relu(self.conv5_mask.forward(x)))
    }
}

/// Integers read back from the device.
fn ints<const D: usize>(t: Tensor<D, Int>) -> Vec<i64> {
    t.into_data().iter::<i64>().collect()
}

/// `mask_logits [K, C, ...]` rows `k`, channel `labels[k]`: `[K, ...]`.
fn label_channels(
    op: &'static str,
    mask_logits: Tensor<4>,
    labels: &[i64],
) -> Result<Tensor<3>, DetectError> {
    let [k, c, h, w] = mask_logits.dims();
    if labels.len() != k {
        return Err(DetectError::new(
            op,
            format!(
                "{} labels for {k} mask logits, expected one per row",
                labels.len()
            ),
        ));
    }
    if let Some((i, l)) = labels
        .iter()
        .enumerate()
        .find(|&(_, &l)| !(0..c as i64).contains(&l))
    {
        return Err(DetectError::new(
            op,
            format!(
                "label {l} of row {i}: expected a class in [0, {c}) (mask logits of shape {:?})",
                [k, c, h, w]
            ),
        ));
    }
    let device = mask_logits.device();
    let idx: Vec<i64> = labels
        .iter()
        .enumerate()
        .map(|(i, &l)| i as i64 * c as i64 + l)
        .collect();
    Ok(mask_logits.reshape([k * c, h, w]).select(
        0,
        Tensor::<1, Int>::from_data(TensorData::new(idx, [k]), &device),
    ))
}

/// torchvision's `project_masks_on_boxes`: the ground-truth masks
/// `gt_masks [G, H, W]` RoI-aligned onto `boxes [K, 4]` (box `k` from mask
/// `matched_idxs[k]`), `(M, M)` at scale 1, adaptive sampling,
/// `aligned=False`: `[K, M, M]`.
pub fn project_masks_on_boxes(
    gt_masks: Tensor<3>,
    boxes: Tensor<2>,
    matched_idxs: &[i64],
    m: usize,
) -> Result<Tensor<3>, DetectError> {
    const OP: &str = "project_masks_on_boxes";
    let [g, h, w] = gt_masks.dims();
    let rows = crate::read_rows::<4>(OP, "boxes", boxes)?;
    if rows.len() != matched_idxs.len() {
        return Err(DetectError::new(
            OP,
            format!(
                "{} boxes and {} matched indices, expected as many",
                rows.len(),
                matched_idxs.len()
            ),
        ));
    }
    if let Some((k, i)) = matched_idxs
        .iter()
        .enumerate()
        .find(|&(_, &i)| !(0..g as i64).contains(&i))
    {
        return Err(DetectError::new(
            OP,
            format!("box {k} is matched to mask {i}, expected an index in [0, {g})"),
        ));
    }
    let k = rows.len();
    let device = gt_masks.device();
    let flat: Vec<f32> = rows
        .iter()
        .zip(matched_idxs)
        .flat_map(|(b, &i)| [i as f32, b[0], b[1], b[2], b[3]])
        .collect();
    let rois = Tensor::<2>::from_data(TensorData::new(flat, [k, 5]), &device);
    let options = RoiAlignOptions {
        output_size: [m, m],
        spatial_scale: 1.0,
        sampling_ratio: -1,
        aligned: false,
    };
    Ok(roi_align(gt_masks.reshape([g, 1, h, w]), rois, options)?.reshape([k, m, m]))
}

/// `roi_heads.maskrcnn_loss(mask_logits, proposals, gt_masks, gt_labels,
/// mask_matched_idxs)`, per image `i`: the positive `proposals[i] [K_i, 4]`,
/// the image's `gt_masks[i] [G_i, H, W]` (0/1) and `gt_labels[i] [G_i]`, and
/// `mask_matched_idxs[i] [K_i]` (into `G_i`); `mask_logits [sum K_i, C, M, M]`.
/// The target of proposal `k` is its matched mask RoI-aligned onto it
/// ([`project_masks_on_boxes`]); the loss is the binary cross-entropy with
/// logits of `mask_logits[k, label_k]`, mean over `sum K_i * M * M` (0, with
/// a zero gradient, without proposals). Shape `[1]`.
pub fn maskrcnn_loss(
    mask_logits: Tensor<4>,
    proposals: &[Tensor<2>],
    gt_masks: &[Tensor<3>],
    gt_labels: &[Tensor<1, Int>],
    mask_matched_idxs: &[Tensor<1, Int>],
) -> Result<Tensor<1>, DetectError> {
    const OP: &str = "maskrcnn_loss";
    let n = proposals.len();
    if gt_masks.len() != n || gt_labels.len() != n || mask_matched_idxs.len() != n {
        return Err(DetectError::new(
            OP,
            format!(
                "{n} proposal sets, {} mask sets, {} label sets, {} matched-index sets: expected one of each per image",
                gt_masks.len(),
                gt_labels.len(),
                mask_matched_idxs.len()
            ),
        ));
    }
    let [k, _, mh, mw] = mask_logits.dims();
    if mh != mw {
        return Err(DetectError::new(
            OP,
            format!(
                "mask logits of shape {:?}: expected square M x M masks",
                mask_logits.dims()
            ),
        ));
    }
    let mut labels = Vec::with_capacity(k);
    let mut targets = Vec::with_capacity(n);
    for i in 0..n {
        let idx = ints(mask_matched_idxs[i].clone());
        let gl = ints(gt_labels[i].clone());
        let g = gt_masks[i].dims()[0];
        if gl.len() != g {
            return Err(DetectError::new(
                OP,
                format!(
                    "image {i} has {} gt labels for {g} gt masks, expected as many",
                    gl.len()
                ),
            ));
        }
        if let Some(&bad) = idx.iter().find(|&&j| !(0..g as i64).contains(&j)) {
            return Err(DetectError::new(
                OP,
                format!("image {i}: matched index {bad}, expected an index in [0, {g})"),
            ));
        }
        labels.extend(idx.iter().map(|&j| gl[j as usize]));
        if !idx.is_empty() {
            targets.push(project_masks_on_boxes(
                gt_masks[i].clone(),
                proposals[i].clone(),
                &idx,
                mh,
            )?);
        }
    }
    if labels.len() != k {
        return Err(DetectError::new(
            OP,
            format!(
                "{} proposals in all for {k} mask logits, expected as many",
                labels.len()
            ),
        ));
    }
    if k == 0 || mh == 0 {
        return Ok(mask_logits.sum().mul_scalar(0.0));
    }
    let x = label_channels(OP, mask_logits, &labels)?;
    let t = Tensor::cat(targets, 0).detach();
    let loss = t.neg().add_scalar(1.0) * x.clone() - log_sigmoid(x);
    Ok(loss.mean())
}

/// `roi_heads.maskrcnn_inference(mask_logits, labels)`: for image `i`'s
/// `labels[i] [K_i]`, `sigmoid(mask_logits[k, labels[k]])` as
/// `[K_i, 1, M, M]` (the rows of `mask_logits [sum K_i, C, M, M]` in order).
pub fn maskrcnn_inference(
    mask_logits: Tensor<4>,
    labels: &[Tensor<1, Int>],
) -> Result<Vec<Tensor<4>>, DetectError> {
    const OP: &str = "maskrcnn_inference";
    let [_, _, h, w] = mask_logits.dims();
    let per_image: Vec<Vec<i64>> = labels.iter().map(|l| ints(l.clone())).collect();
    let all: Vec<i64> = per_image.iter().flatten().copied().collect();
    let probs = sigmoid(label_channels(OP, mask_logits, &all)?);
    let mut out = Vec::with_capacity(per_image.len());
    let mut start = 0;
    for l in &per_image {
        let end = start + l.len();
        out.push(probs.clone().slice(start..end).reshape([l.len(), 1, h, w]));
        start = end;
    }
    Ok(out)
}

/// The `[out, size]` matrix of `F.interpolate(mode="bilinear",
/// align_corners=False)` along one axis from `size` to `out` values, the
/// input zero-padded by `pad` on each side (the padding's taps dropped).
/// Row `r` is filled only for `r` in `rows`; the others stay zero. Row
/// `r`'s output position in the resized axis is `r - origin`.
fn resize_rows(
    size: usize,
    pad: usize,
    out: usize,
    origin: i64,
    rows: std::ops::Range<usize>,
    total: usize,
) -> Vec<f32> {
    let padded = size + 2 * pad;
    let mut m = vec![0f32; total * size];
    let scale = padded as f64 / out as f64;
    for r in rows {
        let dst = (r as i64 - origin) as f64;
        let src = (scale * (dst + 0.5) - 0.5).max(0.0);
        let i0 = (src.floor() as usize).min(padded - 1);
        let l1 = (src - i0 as f64).clamp(0.0, 1.0);
        let i1 = if i0 < padded - 1 { i0 + 1 } else { i0 };
        for (i, wt) in [(i0, 1.0 - l1), (i1, l1)] {
            if i >= pad && i < pad + size {
                m[r * size + i - pad] += wt as f32;
            }
        }
    }
    m
}

/// `roi_heads.paste_masks_in_image(masks [K, 1, M, M], boxes [K, 4],
/// img_shape (H, W), padding)`: `[K, 1, H, W]`, each mask pasted into zeros
/// at its box. As torchvision: the masks are zero-padded by `padding` on
/// each side and the boxes expanded about their centres by
/// `(M + 2 padding) / M`, then cast to integers (truncation toward zero);
/// box `(x1, y1, x2, y2)` gets the padded mask resized bilinearly
/// (`align_corners=False`) to `max(y2 - y1 + 1, 1) x max(x2 - x1 + 1, 1)`,
/// written at rows `max(y1, 0) .. min(y2 + 1, H)` and columns
/// `max(x1, 0) .. min(x2 + 1, W)` (nothing where that range is empty).
///
/// The integer boxes and the resize's taps are computed on the host; the
/// paste is two matrix products per mask on the device
/// (`rows [H, M] x mask x cols [M, W]`), linear in the masks.
pub fn paste_masks_in_image(
    masks: Tensor<4>,
    boxes: Tensor<2>,
    img_shape: [usize; 2],
    padding: usize,
) -> Result<Tensor<4>, DetectError> {
    const OP: &str = "paste_masks_in_image";
    let [k, one, mh, mw] = masks.dims();
    let [ih, iw] = img_shape;
    if one != 1 {
        return Err(DetectError::new(
            OP,
            format!("masks of shape {:?}: expected [K, 1, M, M]", masks.dims()),
        ));
    }
    let rows = crate::read_rows::<4>(OP, "boxes", boxes)?;
    if rows.len() != k {
        return Err(DetectError::new(
            OP,
            format!("{} boxes for {k} masks, expected one per mask", rows.len()),
        ));
    }
    if let Some((i, b)) = rows
        .iter()
        .enumerate()
        .find(|(_, b)| !b.iter().all(|v| v.is_finite()))
    {
        return Err(DetectError::new(
            OP,
            format!("box {i} is {b:?}: expected finite coordinates"),
        ));
    }
    let u = |v: usize| v as u128;
    DetectError::check_size(OP, "the pasted masks", &[u(k), u(ih), u(iw)])?;
    DetectError::check_size(
        OP,
        "the row and column matrices",
        &[u(k), u(ih.max(iw)), u(mh.max(mw))],
    )?;
    let device = masks.device();
    if k == 0 || ih == 0 || iw == 0 || mh == 0 || mw == 0 {
        return Ok(Tensor::zeros([k, 1, ih, iw], &device));
    }
    // torchvision's expand_masks / expand_boxes: the scale from the width.
    let scale = (mw + 2 * padding) as f64 / mw as f64;
    let mut ry = Vec::with_capacity(k * ih * mh);
    let mut rx = Vec::with_capacity(k * iw * mw);
    for b in &rows {
        let b = b.map(f64::from);
        let (w_half, h_half) = ((b[2] - b[0]) * 0.5 * scale, (b[3] - b[1]) * 0.5 * scale);
        let (xc, yc) = ((b[2] + b[0]) * 0.5, (b[3] + b[1]) * 0.5);
        // `.to(torch.int64)`: truncation toward zero (saturating here).
        let [x1, y1, x2, y2] =
            [xc - w_half, yc - h_half, xc + w_half, yc + h_half].map(|v| v as i64);
        let w = (x2 - x1 + 1).max(1) as usize;
        let h = (y2 - y1 + 1).max(1) as usize;
        let span = |lo: i64, hi: i64, n: usize| {
            let a = lo.max(0).min(n as i64) as usize;
            let z = (hi + 1).min(n as i64).max(0) as usize;
            a..z.max(a)
        };
        ry.extend(resize_rows(mh, padding, h, y1, span(y1, y2, ih), ih));
        rx.extend(resize_rows(mw, padding, w, x1, span(x1, x2, iw), iw));
    }
    let ry = Tensor::<3>::from_data(TensorData::new(ry, [k, ih, mh]), &device);
    let rx = Tensor::<3>::from_data(TensorData::new(rx, [k, iw, mw]), &device);
    let pasted = ry
        .matmul(masks.reshape([k, mh, mw]))
        .matmul(rx.swap_dims(1, 2));
    Ok(pasted.reshape([k, 1, ih, iw]))
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
    fn mask_loss_and_targets_are_torchvisions() {
        // gt = torch.zeros(2, 8, 8); gt[0, 2:6, 1:5] = 1; gt[1, 4:8, 4:8] = 1
        // props = torch.tensor([[1., 2., 5., 6.], [3., 3., 8., 8.], [0., 0., 8., 8.]])
        // ml = torch.linspace(-2, 2, 96).reshape(3, 2, 4, 4).requires_grad_()
        // idx = torch.tensor([0, 1, 1]); gl = torch.tensor([1, 1])
        // l = roi_heads.maskrcnn_loss(ml, [props], [gt], [gl], [idx]); l.backward()
        // l -> 0.989220142364502; ml.grad[0, 1, 0] -> [-0.016463136, -0.01631595, -0.016165214, -0.005594266]
        // project_masks_on_boxes(gt, props, idx, 4)[2].flatten()
        let d = dev().autodiff();
        let mut gt = Tensor::<3>::zeros([2, 8, 8], &d);
        gt = gt.slice_assign([0..1, 2..6, 1..5], Tensor::ones([1, 4, 4], &d));
        gt = gt.slice_assign([1..2, 4..8, 4..8], Tensor::ones([1, 4, 4], &d));
        let props = Tensor::<2>::from_floats(
            [
                [1.0, 2.0, 5.0, 6.0],
                [3.0, 3.0, 8.0, 8.0],
                [0.0, 0.0, 8.0, 8.0],
            ],
            &d,
        );
        let v: Vec<f32> = (0..96).map(|i| -2.0 + 4.0 * i as f32 / 95.0).collect();
        let ml = Tensor::<4>::from_data(TensorData::new(v, [3, 2, 4, 4]), &d).require_grad();
        let idx = Tensor::<1, Int>::from_ints([0, 1, 1], &d);
        let gl = Tensor::<1, Int>::from_ints([1, 1], &d);
        let t = project_masks_on_boxes(gt.clone(), props.clone(), &[0, 1, 1], 4).unwrap();
        close(
            &floats(t).split_off(32),
            &[
                0.0, 0.0, 0.0, 0.0, 0.0, 0.0625, 0.25, 0.25, 0.0, 0.25, 1.0, 1.0, 0.0, 0.25, 1.0,
                1.0,
            ],
            1e-6,
        );
        let l = maskrcnn_loss(ml.clone(), &[props], &[gt], &[gl], &[idx]).unwrap();
        close(&floats(l.clone()), &[0.989_220_14], 1e-5);
        let g = floats(ml.grad(&l.backward()).unwrap());
        close(
            &g[16..20],
            &[
                -0.016_463_136,
                -0.016_315_95,
                -0.016_165_214,
                -0.005_594_266,
            ],
            1e-5,
        );
        // Channel 0 is no proposal's label: no gradient.
        assert!(g[..16].iter().all(|&x| x == 0.0));
    }

    #[test]
    fn paste_is_torchvisions() {
        // masks = torch.tensor([[[[0., 1.], [1., .5]]], [[[1., 1.], [1., 1.]]]])
        // boxes = torch.tensor([[1., 1., 5., 4.], [-3.7, 6., 2.2, 9.5]])
        // roi_heads.paste_masks_in_image(masks, boxes, (10, 7), padding=1)
        let d = dev();
        let masks =
            Tensor::<4>::from_floats([[[[0.0, 1.0], [1.0, 0.5]]], [[[1.0, 1.0], [1.0, 1.0]]]], &d);
        let boxes = Tensor::<2>::from_floats([[1.0, 1.0, 5.0, 4.0], [-3.7, 6.0, 2.2, 9.5]], &d);
        let p = paste_masks_in_image(masks, boxes, [10, 7], 1).unwrap();
        assert_eq!(p.dims(), [2, 1, 10, 7]);
        let p = floats(p);
        let first: [[f32; 7]; 5] = [
            [0.0; 7],
            [
                0.0,
                0.0,
                0.027_777_79,
                0.25,
                0.472_222_2,
                0.305_555_6,
                0.083_333_37,
            ],
            [
                0.027_777_79,
                0.101_851_9,
                0.208_333_4,
                0.541_666_7,
                0.875,
                0.560_185_25,
                0.152_777_84,
            ],
            [
                0.138_888_9,
                0.509_259_3,
                0.819_444_5,
                0.708_333_4,
                0.597_222_2,
                0.356_481_5,
                0.097_222_26,
            ],
            [
                0.083_333_336,
                0.305_555_55,
                0.486_111_1,
                0.375,
                0.263_888_9,
                0.152_777_8,
                0.041_666_687,
            ],
        ];
        close(&p[..35], first.as_flattened(), 1e-5);
        assert!(p[35..70].iter().all(|&x| x == 0.0));
        let second: [[f32; 7]; 5] = [
            [0.25, 0.25, 0.166_666_63, 0.083_333_31, 0.0, 0.0, 0.0],
            [0.75, 0.75, 0.5, 0.25, 0.0, 0.0, 0.0],
            [1.0, 1.0, 0.666_666_5, 0.333_333_25, 0.0, 0.0, 0.0],
            [1.0, 1.0, 0.666_666_5, 0.333_333_25, 0.0, 0.0, 0.0],
            [0.75, 0.75, 0.5, 0.25, 0.0, 0.0, 0.0],
        ];
        assert!(p[70..105].iter().all(|&x| x == 0.0));
        close(&p[105..], second.as_flattened(), 1e-5);
        let e = paste_masks_in_image(
            Tensor::zeros([2, 1, 4, 4], &d),
            Tensor::zeros([1, 4], &d),
            [8, 8],
            1,
        )
        .unwrap_err();
        assert!(e.to_string().contains("1 boxes for 2 masks"), "{e}");
    }

    #[test]
    fn inference_picks_the_label_channel() {
        let d = dev();
        let v: Vec<f32> = (0..3 * 2 * 2 * 2).map(|i| i as f32 - 12.0).collect();
        let logits = Tensor::<4>::from_data(TensorData::new(v.clone(), [3, 2, 2, 2]), &d);
        let a = Tensor::<1, Int>::from_ints([1, 0], &d);
        let b = Tensor::<1, Int>::from_ints([1], &d);
        let out = maskrcnn_inference(logits, &[a, b]).unwrap();
        assert_eq!((out[0].dims(), out[1].dims()), ([2, 1, 2, 2], [1, 1, 2, 2]));
        let s = |x: f32| 1.0 / (1.0 + (-x).exp());
        let want: Vec<f32> = [4, 5, 6, 7, 8, 9, 10, 11]
            .iter()
            .map(|&i| s(v[i]))
            .collect();
        close(&floats(out[0].clone()), &want, 1e-6);
        let want: Vec<f32> = [20, 21, 22, 23].iter().map(|&i| s(v[i])).collect();
        close(&floats(out[1].clone()), &want, 1e-6);
    }

    #[test]
    fn heads_keys_and_shapes() {
        let d = dev();
        let h = MaskRCNNHeadsConfig::new(3, vec![5, 6]).init(&d);
        let p = MaskRCNNPredictorConfig::new(6, 4, 3).init(&d);
        let y = p.forward(h.forward(Tensor::ones([2, 3, 7, 7], &d)));
        assert_eq!(y.dims(), [2, 3, 14, 14]);
        assert_eq!(
            MaskRCNNHeads::torchvision_key("layers.3.weight"),
            "3.0.weight"
        );
        assert_eq!(p.conv5_mask.weight.dims(), [6, 4, 2, 2]);
    }
}
