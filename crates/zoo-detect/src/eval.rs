//! Detection metrics: mean average precision at one IoU threshold with
//! Pascal VOC's all-point interpolation (VOC 2010+ devkit, `use_07_metric =
//! False`), and COCO-style mAP@[.5:.95] (ten thresholds, 101-point
//! interpolated precision, as `pycocotools` computes AP for "all" areas).
//!
//! Boxes are `xyxy` in continuous coordinates (IoU without the VOC devkit's
//! "+1 pixel", as torchvision, torchmetrics and COCO compute it).

use crate::DetectError;

/// One predicted box.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Detection {
    /// Which image.
    pub image: usize,
    /// Predicted class.
    pub class: usize,
    /// Confidence.
    pub score: f32,
    /// `[x1, y1, x2, y2]`.
    pub bbox: [f32; 4],
}

/// One true box.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GroundTruth {
    /// Which image.
    pub image: usize,
    /// Its class.
    pub class: usize,
    /// `[x1, y1, x2, y2]`.
    pub bbox: [f32; 4],
    /// VOC's "difficult" flag: neither a hit nor a miss.
    pub difficult: bool,
}

/// Average precision per class and their mean.
#[derive(Clone, Debug, PartialEq)]
pub struct ApReport {
    /// `(class, AP)` for every class that has a non-difficult true box.
    pub per_class: Vec<(usize, f64)>,
    /// The mean over those classes (0 when there are none).
    pub map: f64,
}

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f64 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0) as f64;
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0) as f64;
    let inter = w * h;
    let area = |r: &[f32; 4]| ((r[2] - r[0]) * (r[3] - r[1])) as f64;
    let union = area(a) + area(b) - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

fn check(dets: &[Detection], gts: &[GroundTruth]) -> Result<(), DetectError> {
    for (k, b) in dets
        .iter()
        .map(|d| d.bbox)
        .chain(gts.iter().map(|g| g.bbox))
        .enumerate()
    {
        if !(b[2] >= b[0] && b[3] >= b[1]) || b.iter().any(|v| !v.is_finite()) {
            let which = if k < dets.len() {
                format!("detection {k}")
            } else {
                format!("ground truth {}", k - dets.len())
            };
            return Err(DetectError::new(
                "mean_average_precision",
                format!("{which} has box {b:?}: expected finite x1 <= x2, y1 <= y2"),
            ));
        }
    }
    if let Some((k, d)) = dets.iter().enumerate().find(|(_, d)| !d.score.is_finite()) {
        return Err(DetectError::new(
            "mean_average_precision",
            format!("detection {k} has score {}", d.score),
        ));
    }
    Ok(())
}

/// For one class: the detections by decreasing score (ties: input order)
/// as true / false positives, difficult matches dropped, and the number of
/// non-difficult true boxes. A detection matches the true box of its image
/// with the highest IoU; it is a hit when that IoU reaches `threshold`
/// (`>=`, COCO's rule; VOC's devkit uses `>`) and the box is not taken yet.
fn matches(dets: &[&Detection], gts: &[&GroundTruth], threshold: f64) -> (Vec<bool>, usize) {
    let mut order: Vec<usize> = (0..dets.len()).collect();
    order.sort_by(|&a, &b| dets[b].score.total_cmp(&dets[a].score).then(a.cmp(&b)));
    let mut taken = vec![false; gts.len()];
    let mut hits = Vec::with_capacity(dets.len());
    for i in order {
        let d = dets[i];
        let best = gts
            .iter()
            .enumerate()
            .filter(|(_, g)| g.image == d.image)
            .map(|(j, g)| (j, iou(&d.bbox, &g.bbox)))
            .fold(None, |acc: Option<(usize, f64)>, (j, v)| match acc {
                Some((_, b)) if b >= v => acc,
                _ => Some((j, v)),
            });
        match best {
            Some((j, v)) if v >= threshold => {
                if gts[j].difficult {
                    continue;
                }
                hits.push(!taken[j]);
                taken[j] = true;
            }
            _ => hits.push(false),
        }
    }
    (hits, gts.iter().filter(|g| !g.difficult).count())
}

/// Recall and precision after each ranked detection.
fn curve(hits: &[bool], positives: usize) -> (Vec<f64>, Vec<f64>) {
    let (mut tp, mut fp) = (0.0, 0.0);
    hits.iter()
        .map(|&h| {
            if h {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            (tp / positives as f64, tp / (tp + fp))
        })
        .unzip()
}

/// VOC's all-point interpolated AP: the area under the precision envelope
/// (precision made non-increasing from the right), summed where recall changes.
pub fn voc_ap(recall: &[f64], precision: &[f64]) -> f64 {
    let mut mrec = vec![0.0];
    mrec.extend_from_slice(recall);
    mrec.push(1.0);
    let mut mpre = vec![0.0];
    mpre.extend_from_slice(precision);
    mpre.push(0.0);
    for i in (0..mpre.len() - 1).rev() {
        mpre[i] = mpre[i].max(mpre[i + 1]);
    }
    (1..mrec.len())
        .filter(|&i| mrec[i] != mrec[i - 1])
        .map(|i| (mrec[i] - mrec[i - 1]) * mpre[i])
        .sum()
}

/// COCO's 101-point AP: the precision envelope read at recall 0, 0.01, ..., 1
/// (0 beyond the largest recall), averaged.
pub fn coco_ap(recall: &[f64], precision: &[f64]) -> f64 {
    let mut env = precision.to_vec();
    for i in (0..env.len().saturating_sub(1)).rev() {
        env[i] = env[i].max(env[i + 1]);
    }
    (0..=100)
        .map(|t| {
            let t = t as f64 / 100.0;
            recall
                .iter()
                .position(|&r| r >= t - 1e-12)
                .map_or(0.0, |i| env[i])
        })
        .sum::<f64>()
        / 101.0
}

fn per_class(
    dets: &[Detection],
    gts: &[GroundTruth],
    threshold: f64,
    ap: fn(&[f64], &[f64]) -> f64,
) -> Vec<(usize, f64)> {
    let mut classes: Vec<usize> = gts
        .iter()
        .filter(|g| !g.difficult)
        .map(|g| g.class)
        .collect();
    classes.sort_unstable();
    classes.dedup();
    classes
        .into_iter()
        .map(|c| {
            let d: Vec<&Detection> = dets.iter().filter(|d| d.class == c).collect();
            let g: Vec<&GroundTruth> = gts.iter().filter(|g| g.class == c).collect();
            let (hits, positives) = matches(&d, &g, threshold);
            let (r, p) = curve(&hits, positives);
            (c, ap(&r, &p))
        })
        .collect()
}

fn report(per_class: Vec<(usize, f64)>) -> ApReport {
    let map = if per_class.is_empty() {
        0.0
    } else {
        per_class.iter().map(|c| c.1).sum::<f64>() / per_class.len() as f64
    };
    ApReport { per_class, map }
}

/// mAP at `iou_threshold` (0.5 for VOC) with VOC's all-point interpolation.
pub fn mean_average_precision(
    dets: &[Detection],
    gts: &[GroundTruth],
    iou_threshold: f64,
) -> Result<ApReport, DetectError> {
    check(dets, gts)?;
    if !(0.0..=1.0).contains(&iou_threshold) {
        return Err(DetectError::new(
            "mean_average_precision",
            format!("iou_threshold {iou_threshold}, expected a value in [0, 1]"),
        ));
    }
    Ok(report(per_class(dets, gts, iou_threshold, voc_ap)))
}

/// COCO-style mAP@[.5:.95]: 101-point AP averaged over the IoU thresholds
/// 0.50, 0.55, ..., 0.95, then over the classes. Every detection counts
/// (no per-image cap, no area ranges).
pub fn coco_map(dets: &[Detection], gts: &[GroundTruth]) -> Result<ApReport, DetectError> {
    check(dets, gts)?;
    let runs: Vec<Vec<(usize, f64)>> = (0..10)
        .map(|k| per_class(dets, gts, 0.5 + 0.05 * k as f64, coco_ap))
        .collect();
    let per_class = runs[0]
        .iter()
        .enumerate()
        .map(|(i, &(c, _))| (c, runs.iter().map(|r| r[i].1).sum::<f64>() / 10.0))
        .collect();
    Ok(report(per_class))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(image: usize, score: f32, bbox: [f32; 4]) -> Detection {
        Detection {
            image,
            class: 0,
            score,
            bbox,
        }
    }

    fn gt(image: usize, bbox: [f32; 4]) -> GroundTruth {
        GroundTruth {
            image,
            class: 0,
            bbox,
            difficult: false,
        }
    }

    /// Worked by hand: 3 true boxes, 5 detections ranked
    /// hit, miss, hit, duplicate, miss.
    #[test]
    fn voc_all_point_ap_of_a_hand_worked_ranking() {
        let gts = [
            gt(0, [0.0, 0.0, 10.0, 10.0]),
            gt(0, [20.0, 20.0, 30.0, 30.0]),
            gt(1, [0.0, 0.0, 10.0, 10.0]),
        ];
        let dets = [
            det(0, 0.9, [0.0, 0.0, 10.0, 10.0]),   // hit box 0
            det(0, 0.8, [50.0, 50.0, 60.0, 60.0]), // miss
            det(1, 0.7, [1.0, 0.0, 10.0, 10.0]),   // hit (IoU 0.9)
            det(0, 0.6, [0.0, 0.0, 10.0, 9.0]),    // box 0 again: false positive
            det(1, 0.5, [5.0, 5.0, 15.0, 15.0]),   // IoU 25/175: miss
        ];
        // Recall 1/3, 1/3, 2/3, 2/3, 2/3; precision 1, 1/2, 2/3, 1/2, 2/5.
        // Envelope at recall 1/3: 1; at 2/3: 2/3. AP = 1/3 * 1 + 1/3 * 2/3 = 5/9.
        let r = mean_average_precision(&dets, &gts, 0.5).unwrap();
        assert!((r.map - 5.0 / 9.0).abs() < 1e-12, "{r:?}");
        // COCO's 101 points: recall thresholds 0..=0.33 (34 points) read 1,
        // 0.34..=0.66 (33 points) read 2/3, the rest 0: (34 + 22) / 101.
        let c = coco_ap(
            &[1.0 / 3.0, 1.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0],
            &[1.0, 0.5, 2.0 / 3.0, 0.5, 0.4],
        );
        assert!((c - 56.0 / 101.0).abs() < 1e-12, "{c}");
        // Perfect detections: 1 at every threshold.
        let perfect: Vec<Detection> = gts.iter().map(|g| det(g.image, 0.9, g.bbox)).collect();
        assert_eq!(coco_map(&perfect, &gts).unwrap().map, 1.0);
        assert_eq!(mean_average_precision(&[], &gts, 0.5).unwrap().map, 0.0);
    }

    #[test]
    fn difficult_boxes_are_neither_hits_nor_misses_and_classes_average() {
        let mut gts = vec![gt(0, [0.0, 0.0, 10.0, 10.0])];
        gts.push(GroundTruth {
            difficult: true,
            ..gt(0, [20.0, 20.0, 30.0, 30.0])
        });
        gts.push(GroundTruth {
            class: 1,
            ..gt(0, [0.0, 0.0, 4.0, 4.0])
        });
        let dets = [
            det(0, 0.9, [20.0, 20.0, 30.0, 30.0]), // the difficult box: ignored
            det(0, 0.8, [0.0, 0.0, 10.0, 10.0]),   // hit
        ];
        let r = mean_average_precision(&dets, &gts, 0.5).unwrap();
        // Class 0: AP 1; class 1: no detections, AP 0.
        assert_eq!(r.per_class, vec![(0, 1.0), (1, 0.0)]);
        assert_eq!(r.map, 0.5);
        let e =
            mean_average_precision(&[det(0, 0.5, [5.0, 0.0, 1.0, 1.0])], &gts, 0.5).unwrap_err();
        assert!(e.to_string().contains("detection 0"), "{e}");
    }
}
