//! Anchor boxes and their training targets as the course builds SSD (d2l
//! 14.4 "Anchor Boxes"): `multibox_prior`, `assign_anchor_to_bbox`,
//! `offset_boxes` / `offset_inverse`, `multibox_target`, `multibox_detection`.
//! Coordinates are normalised `xyxy` (fractions of the image).
//!
//! The offsets are tensor ops (differentiable); the assignment and the
//! detection's NMS run on the host from values read back, once per image.

use burn::tensor::{Int, Tensor, TensorData};

use crate::DetectError;
use crate::boxes::{BoxFormat, box_convert};

/// d2l's `multibox_prior` for a `height x width` feature map: at every
/// pixel centre, `n + m - 1` anchors — every size with the first ratio,
/// then the first size with every other ratio (width `s sqrt(r) H / W`,
/// height `s / sqrt(r)`). `[1, H W (n + m - 1), 4]`, pixel by pixel.
pub fn multibox_prior(
    height: usize,
    width: usize,
    sizes: &[f64],
    ratios: &[f64],
    device: &burn::tensor::Device,
) -> Result<Tensor<3>, DetectError> {
    if height == 0 || width == 0 || sizes.is_empty() || ratios.is_empty() {
        return Err(DetectError::new(
            "multibox_prior",
            format!(
                "a {height}x{width} map, {} sizes and {} ratios: expected a non-empty map and at least one of each",
                sizes.len(),
                ratios.len()
            ),
        ));
    }
    if let Some(v) = sizes
        .iter()
        .chain(ratios)
        .find(|v| !(v.is_finite() && **v > 0.0))
    {
        return Err(DetectError::new(
            "multibox_prior",
            format!("sizes {sizes:?}, ratios {ratios:?}: {v} is not a positive number"),
        ));
    }
    // The course computes in float32; so do we, for the same anchors.
    let aspect = height as f32 / width as f32;
    let r0 = (ratios[0] as f32).sqrt();
    let mut half: Vec<(f32, f32)> = sizes
        .iter()
        .map(|&s| (s as f32 * r0 * aspect, s as f32 / r0))
        .collect();
    half.extend(ratios[1..].iter().map(|&r| {
        let r = (r as f32).sqrt();
        (sizes[0] as f32 * r * aspect, sizes[0] as f32 / r)
    }));
    let k = half.len();
    DetectError::check_size(
        "multibox_prior",
        "the anchors",
        &[height as u128, width as u128, k as u128, 4],
    )?;
    let mut v = Vec::with_capacity(height * width * k * 4);
    for i in 0..height {
        let cy = (i as f32 + 0.5) * (1.0 / height as f32);
        for j in 0..width {
            let cx = (j as f32 + 0.5) * (1.0 / width as f32);
            for &(w, h) in &half {
                v.extend([cx + -w / 2.0, cy + -h / 2.0, cx + w / 2.0, cy + h / 2.0]);
            }
        }
    }
    Ok(Tensor::from_data(
        TensorData::new(v, [1, height * width * k, 4]),
        device,
    ))
}

/// The anchors of several feature maps in order, `[1, sum(H W (n + m - 1)), 4]`:
/// [`multibox_prior`] of map `i` (`[h, w]`) with `sizes[i]` and the shared
/// `ratios` (TinySSD's five scales).
pub fn multibox_priors(
    maps: &[[usize; 2]],
    sizes: &[&[f64]],
    ratios: &[f64],
    device: &burn::tensor::Device,
) -> Result<Tensor<3>, DetectError> {
    if maps.len() != sizes.len() || maps.is_empty() {
        return Err(DetectError::new(
            "multibox_priors",
            format!(
                "{} feature maps and {} size lists, expected as many (at least one)",
                maps.len(),
                sizes.len()
            ),
        ));
    }
    let parts = maps
        .iter()
        .zip(sizes)
        .map(|(&[h, w], s)| multibox_prior(h, w, s, ratios, device))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Tensor::cat(parts, 1))
}

/// d2l's `assign_anchor_to_bbox`: for each anchor the index of its ground
/// truth box, or -1. Every anchor whose best IoU is at least
/// `iou_threshold` takes that box; then, as many times as there are boxes,
/// the largest remaining IoU of the whole matrix assigns its anchor to its
/// box and both are struck out (so every box gets at least one anchor).
pub fn assign_anchor_to_bbox(
    ground_truth: Tensor<2>,
    anchors: Tensor<2>,
    iou_threshold: f64,
) -> Result<Vec<i64>, DetectError> {
    let op = "assign_anchor_to_bbox";
    let gt = crate::read_rows::<4>(op, "ground-truth boxes", ground_truth)?;
    let anchors = crate::read_rows::<4>(op, "anchors", anchors)?;
    Ok(assign_host(&anchors, &gt, iou_threshold as f32))
}

/// The index and value of the first maximum (`torch.max` / `argmax` on the CPU).
fn first_max(values: impl Iterator<Item = f32>) -> (usize, f32) {
    values.enumerate().fold(
        (0, f32::NEG_INFINITY),
        |acc, (i, v)| if v > acc.1 { (i, v) } else { acc },
    )
}

/// The assignment on host rows, through the `[A, G]` IoU matrix (computed
/// as [`box_iou`](crate::boxes::box_iou) does, in the same order).
fn assign_host(anchors: &[[f32; 4]], gt: &[[f32; 4]], threshold: f32) -> Vec<i64> {
    let (num_anchors, num_gt) = (anchors.len(), gt.len());
    let mut map = vec![-1i64; num_anchors];
    if num_gt == 0 {
        return map;
    }
    let area = |b: &[f32; 4]| (b[2] - b[0]) * (b[3] - b[1]);
    let mut iou: Vec<f32> = anchors
        .iter()
        .flat_map(|a| {
            gt.iter().map(move |g| {
                let w = (a[2].min(g[2]) - a[0].max(g[0])).max(0.0);
                let h = (a[3].min(g[3]) - a[1].max(g[1])).max(0.0);
                let inter = w * h;
                inter / (area(a) + area(g) - inter)
            })
        })
        .collect();
    for (a, row) in iou.chunks(num_gt).enumerate() {
        let (j, best) = first_max(row.iter().copied());
        if best >= threshold {
            map[a] = j as i64;
        }
    }
    for _ in 0..num_gt {
        let (idx, _) = first_max(iou.iter().copied());
        let (anc, gt) = (idx / num_gt, idx % num_gt);
        map[anc] = gt as i64;
        for a in 0..num_anchors {
            iou[a * num_gt + gt] = -1.0;
        }
        for g in 0..num_gt {
            iou[anc * num_gt + g] = -1.0;
        }
    }
    map
}

/// d2l's `offset_boxes`: the offsets of `assigned_bb` from `anchors`
/// (`[A, 4]` xyxy each): `10 (c_b - c_a) / wh_a` and
/// `5 log(1e-6 + wh_b / wh_a)`.
pub fn offset_boxes(anchors: Tensor<2>, assigned_bb: Tensor<2>) -> Result<Tensor<2>, DetectError> {
    let a = box_convert(anchors, BoxFormat::Xyxy, BoxFormat::Cxcywh)?;
    let b = box_convert(assigned_bb, BoxFormat::Xyxy, BoxFormat::Cxcywh)?;
    let n = a.dims()[0];
    let (axy, awh) = (a.clone().slice([0..n, 0..2]), a.slice([0..n, 2..4]));
    let (bxy, bwh) = (b.clone().slice([0..n, 0..2]), b.slice([0..n, 2..4]));
    let xy = (bxy - axy).mul_scalar(10.0) / awh.clone();
    let wh = (bwh / awh).add_scalar(1e-6).log().mul_scalar(5.0);
    Ok(Tensor::cat(vec![xy, wh], 1))
}

/// d2l's `offset_inverse`: boxes `[A, 4]` (xyxy) from `anchors` and offsets
/// as [`offset_boxes`] encodes them.
pub fn offset_inverse(
    anchors: Tensor<2>,
    offset_preds: Tensor<2>,
) -> Result<Tensor<2>, DetectError> {
    let a = box_convert(anchors, BoxFormat::Xyxy, BoxFormat::Cxcywh)?;
    let n = a.dims()[0];
    if offset_preds.dims() != [n, 4] {
        return Err(DetectError::new(
            "offset_inverse",
            format!(
                "offsets {:?} for {n} anchors, expected [{n}, 4]",
                offset_preds.dims()
            ),
        ));
    }
    let (axy, awh) = (a.clone().slice([0..n, 0..2]), a.slice([0..n, 2..4]));
    let (oxy, owh) = (
        offset_preds.clone().slice([0..n, 0..2]),
        offset_preds.slice([0..n, 2..4]),
    );
    let xy = oxy * awh.clone().div_scalar(10.0) + axy;
    let wh = owh.div_scalar(5.0).exp() * awh;
    box_convert(
        Tensor::cat(vec![xy, wh], 1),
        BoxFormat::Cxcywh,
        BoxFormat::Xyxy,
    )
}

/// The targets of [`multibox_target`].
#[derive(Debug, Clone)]
pub struct MultiboxTargets {
    /// `[B, A * 4]` offsets of each anchor's assigned box (0 for background).
    pub bbox_offset: Tensor<2>,
    /// `[B, A * 4]`: 1 for anchors assigned to an object, 0 for background.
    pub bbox_mask: Tensor<2>,
    /// `[B, A]`: the assigned class + 1, 0 for background.
    pub class_labels: Tensor<2, Int>,
}

/// d2l's `multibox_target`: `anchors [1, A, 4]`, `labels [B, G, 5]` rows
/// (class, x1, y1, x2, y2). Rows with a negative class are padding and are
/// ignored (the course's sets have none; its code would assign them).
pub fn multibox_target(
    anchors: Tensor<3>,
    labels: Tensor<3>,
) -> Result<MultiboxTargets, DetectError> {
    let [_, num_anchors, _] = anchors.dims();
    let [batch, num_gt, five] = labels.dims();
    if five != 5 {
        return Err(DetectError::new(
            "multibox_target",
            format!(
                "labels {:?}, expected [B, G, 5] (class, x1, y1, x2, y2)",
                labels.dims()
            ),
        ));
    }
    let device = anchors.device();
    let anchors = anchors.reshape([num_anchors, 4]);
    // One read-back of the anchors and labels; the assignment on the host;
    // the offsets of the whole batch in one pass on the device.
    let anchor_rows = crate::read_rows::<4>("multibox_target", "anchors", anchors.clone())?;
    let rows = crate::read_rows::<5>(
        "multibox_target",
        "labels",
        labels.reshape([batch * num_gt, 5]),
    )?;
    let mut assigned = Vec::with_capacity(batch * num_anchors * 4);
    let mut masks = Vec::with_capacity(batch * num_anchors * 4);
    let mut classes = Vec::with_capacity(batch * num_anchors);
    for image in rows.chunks(num_gt.max(1)).take(batch) {
        let objects: Vec<&[f32; 5]> = image.iter().filter(|r| r[0] >= 0.0).collect();
        let gt: Vec<[f32; 4]> = objects.iter().map(|r| [r[1], r[2], r[3], r[4]]).collect();
        for m in assign_host(&anchor_rows, &gt, 0.5) {
            if m >= 0 {
                let r = objects[m as usize];
                classes.push(r[0] as i64 + 1);
                assigned.extend_from_slice(&r[1..5]);
                masks.extend([1.0f32; 4]);
            } else {
                classes.push(0);
                assigned.extend([0.0f32; 4]);
                masks.extend([0.0f32; 4]);
            }
        }
    }
    // Batches without objects (G = 0) still get their background rows.
    classes.resize(batch * num_anchors, 0);
    assigned.resize(batch * num_anchors * 4, 0.0);
    masks.resize(batch * num_anchors * 4, 0.0);
    let assigned =
        Tensor::<2>::from_data(TensorData::new(assigned, [batch * num_anchors, 4]), &device);
    let offsets =
        offset_boxes(anchors.repeat_dim(0, batch), assigned)?.reshape([batch, num_anchors * 4]);
    let bbox_mask =
        Tensor::<2>::from_data(TensorData::new(masks, [batch, num_anchors * 4]), &device);
    Ok(MultiboxTargets {
        bbox_offset: offsets * bbox_mask.clone(),
        bbox_mask,
        class_labels: Tensor::from_data(TensorData::new(classes, [batch, num_anchors]), &device),
    })
}

/// d2l's own `nms` (class-agnostic; suppress IoU `> threshold`), on host rows.
fn d2l_nms(boxes: &[[f32; 4]], scores: &[f32], threshold: f32) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    crate::nms::suppress_sorted(boxes, &order, threshold)
}

/// d2l's `multibox_detection`: `cls_probs [B, C + 1, A]` (class 0 the
/// background), `offset_preds [B, A * 4]`, `anchors [1, A, 4]`. Per image,
/// each anchor's best non-background class and its probability, the boxes
/// decoded, NMS over all of them; rows `(class, confidence, x1, y1, x2, y2)`,
/// `[B, A, 6]`: the kept boxes by decreasing confidence, then the others
/// with class -1; a kept box below `pos_threshold` also becomes class -1
/// with confidence `1 - p`.
pub fn multibox_detection(
    cls_probs: Tensor<3>,
    offset_preds: Tensor<2>,
    anchors: Tensor<3>,
    nms_threshold: f64,
    pos_threshold: f64,
) -> Result<Tensor<3>, DetectError> {
    let [batch, classes, num_anchors] = cls_probs.dims();
    if classes < 2
        || offset_preds.dims() != [batch, num_anchors * 4]
        || anchors.dims() != [1, num_anchors, 4]
    {
        return Err(DetectError::new(
            "multibox_detection",
            format!(
                "cls_probs {:?}, offset_preds {:?}, anchors {:?}: expected [B, C + 1, A] with C >= 1, [B, A * 4], [1, A, 4]",
                cls_probs.dims(),
                offset_preds.dims(),
                anchors.dims()
            ),
        ));
    }
    if !(0.0..=1.0).contains(&nms_threshold) {
        return Err(DetectError::new(
            "multibox_detection",
            format!("nms_threshold {nms_threshold}, expected a value in [0, 1]"),
        ));
    }
    let device = cls_probs.device();
    let anchors = anchors.reshape([num_anchors, 4]);
    let probs = crate::read_floats("multibox_detection", cls_probs)?;
    let mut out = Vec::with_capacity(batch * num_anchors * 6);
    for b in 0..batch {
        let offsets = offset_preds
            .clone()
            .slice([b..b + 1, 0..num_anchors * 4])
            .reshape([num_anchors, 4]);
        let boxes = crate::read_rows::<4>(
            "multibox_detection",
            "decoded boxes",
            offset_inverse(anchors.clone(), offsets)?,
        )?;
        let p = &probs[b * classes * num_anchors..(b + 1) * classes * num_anchors];
        // torch.max over the classes 1..: the first of equal maxima.
        let (mut class_id, conf): (Vec<i64>, Vec<f32>) = (0..num_anchors)
            .map(|a| {
                let (c, v) = first_max((1..classes).map(|c| p[c * num_anchors + a]));
                (c as i64, v)
            })
            .unzip();
        let keep = d2l_nms(&boxes, &conf, nms_threshold as f32);
        let mut kept = vec![false; num_anchors];
        for &k in &keep {
            kept[k] = true;
        }
        let mut rows = keep.clone();
        rows.extend((0..num_anchors).filter(|&a| !kept[a]));
        for a in 0..num_anchors {
            if !kept[a] {
                class_id[a] = -1;
            }
        }
        for a in rows {
            let (mut c, mut s) = (class_id[a], conf[a]);
            if (s as f64) < pos_threshold {
                c = -1;
                s = 1.0 - s;
            }
            out.extend([c as f32, s]);
            out.extend(boxes[a]);
        }
    }
    Ok(Tensor::from_data(
        TensorData::new(out, [batch, num_anchors, 6]),
        &device,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_courses_worked_example_assigns_and_labels_its_anchors() {
        // d2l 14.4.3: ground truth dog (0) and cat (1), five anchors.
        let device = zoo_device::from_name("flex").unwrap();
        let gt = [[0.0, 0.1, 0.08, 0.52, 0.92], [1.0, 0.55, 0.2, 0.9, 0.88]];
        let anchors = [
            [0.0, 0.1, 0.2, 0.3],
            [0.15, 0.2, 0.4, 0.4],
            [0.63, 0.05, 0.88, 0.98],
            [0.66, 0.45, 0.8, 0.8],
            [0.57, 0.3, 0.92, 0.9],
        ];
        let labels = Tensor::<3>::from_floats([gt], &device);
        let anchors = Tensor::<3>::from_floats([anchors], &device);
        let t = multibox_target(anchors, labels).unwrap();
        // The course prints class labels [[0, 1, 2, 0, 2]].
        let classes: Vec<i64> = t.class_labels.into_data().iter::<i64>().collect();
        assert_eq!(classes, [0, 1, 2, 0, 2]);
        let mask: Vec<f32> = t.bbox_mask.into_data().try_to_vec().unwrap();
        assert_eq!(mask[4..8], [1.0; 4]);
        assert_eq!(mask[12..16], [0.0; 4]);
    }
}
