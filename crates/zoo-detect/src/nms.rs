//! Non-maximum suppression with `torchvision.ops.nms` semantics: boxes in
//! order of decreasing score, each kept unless its IoU with an already kept
//! box is greater than the threshold. It runs on the host from the boxes
//! read back (one transfer), so every device gives the same answer
//! (burn-vision's NMS has no ndarray path).

use burn::tensor::{Int, Tensor};

use crate::DetectError;

fn check(
    op: &'static str,
    boxes: &[[f32; 4]],
    scores: &[f32],
    iou_threshold: f64,
) -> Result<(), DetectError> {
    if boxes.len() != scores.len() {
        return Err(DetectError::new(
            op,
            format!(
                "{} boxes and {} scores, expected as many",
                boxes.len(),
                scores.len()
            ),
        ));
    }
    if !(0.0..=1.0).contains(&iou_threshold) {
        return Err(DetectError::new(
            op,
            format!("iou_threshold {iou_threshold}, expected a value in [0, 1]"),
        ));
    }
    if let Some((i, b)) = boxes
        .iter()
        .enumerate()
        .find(|(_, b)| !(b[2] >= b[0] && b[3] >= b[1]))
    {
        return Err(DetectError::new(
            op,
            format!("box {i} is {b:?}: expected x1 <= x2 and y1 <= y2 (xyxy)"),
        ));
    }
    Ok(())
}

/// Indices of `scores` by decreasing score (ties: lower index first).
fn order(scores: &[f32], among: impl Iterator<Item = usize>) -> Vec<usize> {
    let mut idx: Vec<usize> = among.collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    idx
}

/// Greedy suppression over `candidates` (already by decreasing score).
pub(crate) fn suppress_sorted(
    boxes: &[[f32; 4]],
    candidates: &[usize],
    iou_threshold: f32,
) -> Vec<usize> {
    let mut keep: Vec<usize> = Vec::new();
    let mut removed = vec![false; candidates.len()];
    let area = |b: &[f32; 4]| (b[2] - b[0]) * (b[3] - b[1]);
    for (a, &i) in candidates.iter().enumerate() {
        if removed[a] {
            continue;
        }
        keep.push(i);
        let bi = &boxes[i];
        let ai = area(bi);
        for (r, &j) in removed[a + 1..].iter_mut().zip(&candidates[a + 1..]) {
            if *r {
                continue;
            }
            let bj = &boxes[j];
            let w = (bi[2].min(bj[2]) - bi[0].max(bj[0])).max(0.0);
            let h = (bi[3].min(bj[3]) - bi[1].max(bj[1])).max(0.0);
            let inter = w * h;
            let iou = inter / (ai + area(bj) - inter);
            if iou > iou_threshold {
                *r = true;
            }
        }
    }
    keep
}

/// `ops.nms` on host data: the indices kept, by decreasing score.
pub fn nms_host(
    boxes: &[[f32; 4]],
    scores: &[f32],
    iou_threshold: f64,
) -> Result<Vec<usize>, DetectError> {
    check("nms", boxes, scores, iou_threshold)?;
    let candidates = order(scores, 0..scores.len());
    Ok(suppress_sorted(boxes, &candidates, iou_threshold as f32))
}

/// `ops.batched_nms` on host data: NMS within each category of `idxs`, the
/// kept indices of all categories by decreasing score.
pub fn batched_nms_host(
    boxes: &[[f32; 4]],
    scores: &[f32],
    idxs: &[i64],
    iou_threshold: f64,
) -> Result<Vec<usize>, DetectError> {
    check("batched_nms", boxes, scores, iou_threshold)?;
    if idxs.len() != boxes.len() {
        return Err(DetectError::new(
            "batched_nms",
            format!(
                "{} boxes and {} category indices, expected as many",
                boxes.len(),
                idxs.len()
            ),
        ));
    }
    let mut categories: Vec<i64> = idxs.to_vec();
    categories.sort_unstable();
    categories.dedup();
    let mut keep = Vec::new();
    for c in categories {
        let candidates = order(scores, (0..idxs.len()).filter(|&i| idxs[i] == c));
        keep.extend(suppress_sorted(boxes, &candidates, iou_threshold as f32));
    }
    Ok(order(scores, keep.into_iter()))
}

fn indices(keep: Vec<usize>, device: &burn::tensor::Device) -> Tensor<1, Int> {
    let n = keep.len();
    let v: Vec<i64> = keep.into_iter().map(|i| i as i64).collect();
    Tensor::from_data(burn::tensor::TensorData::new(v, [n]), device)
}

/// `ops.nms(boxes [N, 4] xyxy, scores [N], iou_threshold)`: the indices
/// kept, `[K]`, by decreasing score. Empty input gives an empty result.
pub fn nms(
    boxes: Tensor<2>,
    scores: Tensor<1>,
    iou_threshold: f64,
) -> Result<Tensor<1, Int>, DetectError> {
    let device = boxes.device();
    let b = crate::read_rows::<4>("nms", "boxes", boxes)?;
    let s = crate::read_floats("nms", scores)?;
    Ok(indices(nms_host(&b, &s, iou_threshold)?, &device))
}

/// `ops.batched_nms(boxes, scores, idxs [N], iou_threshold)`: NMS within
/// each category, the indices kept by decreasing score.
pub fn batched_nms(
    boxes: Tensor<2>,
    scores: Tensor<1>,
    idxs: Tensor<1, Int>,
    iou_threshold: f64,
) -> Result<Tensor<1, Int>, DetectError> {
    let device = boxes.device();
    let b = crate::read_rows::<4>("batched_nms", "boxes", boxes)?;
    let s = crate::read_floats("batched_nms", scores)?;
    let c: Vec<i64> = idxs.into_data().iter::<i64>().collect();
    Ok(indices(
        batched_nms_host(&b, &s, &c, iou_threshold)?,
        &device,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suppresses_overlaps_above_the_threshold_only() {
        // IoU of the first two: 81 / 119 = 0.68; the third is disjoint.
        let boxes = [
            [0.0, 0.0, 10.0, 10.0],
            [1.0, 1.0, 11.0, 11.0],
            [20.0, 20.0, 30.0, 30.0],
        ];
        let scores = [0.9, 0.95, 0.5];
        assert_eq!(nms_host(&boxes, &scores, 0.5).unwrap(), [1, 2]);
        assert_eq!(nms_host(&boxes, &scores, 0.7).unwrap(), [1, 0, 2]);
        assert_eq!(nms_host(&[], &[], 0.5).unwrap(), Vec::<usize>::new());
        let e = nms_host(&[[5.0, 0.0, 1.0, 2.0]], &[0.1], 0.5).unwrap_err();
        assert!(e.to_string().contains("box 0"), "{e}");
        let e = nms_host(&boxes, &scores[..2], 0.5).unwrap_err();
        assert!(e.to_string().contains("3 boxes and 2 scores"), "{e}");
        let e = nms_host(&boxes, &scores, 1.5).unwrap_err();
        assert!(e.to_string().contains("1.5"), "{e}");
        // Per category, the overlapping pair survives when in two categories.
        let kept = batched_nms_host(&boxes, &scores, &[0, 1, 0], 0.5).unwrap();
        assert_eq!(kept, [1, 0, 2]);
    }
}
