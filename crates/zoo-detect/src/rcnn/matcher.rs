//! torchvision's `Matcher` (`models/detection/_utils.py`): each prediction
//! (anchor, proposal) gets the ground-truth box it overlaps best, or a
//! negative code when that overlap is too low.
//!
//! On an `M x N` quality matrix (ground truth x predictions, usually IoU):
//! the best ground truth of each prediction (the first on ties); quality
//! `< low` gives [`BELOW_LOW_THRESHOLD`], `[low, high)` gives
//! [`BETWEEN_THRESHOLDS`]. With `allow_low_quality_matches`, every
//! prediction whose quality with some ground truth equals that ground
//! truth's best quality (ties included) gets its best match back, so every
//! ground-truth box has at least one prediction. The matching is a discrete
//! decision and runs on the host; [`box_iou_host`] gives the IoU matrix in
//! float64 as the references compute it.

use burn::tensor::Tensor;

use crate::DetectError;

/// The code of a prediction whose best quality is below the low threshold.
pub const BELOW_LOW_THRESHOLD: i64 = -1;
/// The code of a prediction whose best quality is in `[low, high)`.
pub const BETWEEN_THRESHOLDS: i64 = -2;

const OP: &str = "matcher";

/// `Matcher(high_threshold, low_threshold, allow_low_quality_matches)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Matcher {
    /// Quality `>=` this is a match.
    pub high_threshold: f64,
    /// Quality `<` this is background; between the two, ignored.
    pub low_threshold: f64,
    /// Give each ground truth its best predictions back even when low.
    pub allow_low_quality_matches: bool,
}

impl Matcher {
    /// A matcher; `low_threshold <= high_threshold` as torchvision asserts.
    pub fn new(
        high_threshold: f64,
        low_threshold: f64,
        allow_low_quality_matches: bool,
    ) -> Result<Self, DetectError> {
        if low_threshold > high_threshold || low_threshold.is_nan() || high_threshold.is_nan() {
            return Err(DetectError::new(
                OP,
                format!(
                    "low_threshold {low_threshold} above high_threshold {high_threshold}: expected low <= high"
                ),
            ));
        }
        Ok(Self {
            high_threshold,
            low_threshold,
            allow_low_quality_matches,
        })
    }

    /// The match of each of `n` predictions given the `m x n` row-major
    /// `quality` (ground truth x predictions): a ground-truth index, or
    /// [`BELOW_LOW_THRESHOLD`] / [`BETWEEN_THRESHOLDS`].
    pub fn match_host(&self, quality: &[f64], m: usize, n: usize) -> Result<Vec<i64>, DetectError> {
        if quality.len() != m * n {
            return Err(DetectError::new(
                OP,
                format!("{} quality values for {m} x {n}", quality.len()),
            ));
        }
        if m == 0 {
            return Err(DetectError::new(
                OP,
                "no ground-truth boxes available for one of the images during training",
            ));
        }
        if n == 0 {
            return Err(DetectError::new(
                OP,
                "no proposal boxes available for one of the images during training",
            ));
        }
        if let Some(i) = quality.iter().position(|q| q.is_nan()) {
            return Err(DetectError::new(
                OP,
                format!(
                    "the quality of ground truth {} and prediction {} is NaN",
                    i / n,
                    i % n
                ),
            ));
        }
        // Best ground truth of each prediction (the first on ties).
        let mut best = vec![(f64::NEG_INFINITY, 0i64); n];
        for g in 0..m {
            for (p, b) in best.iter_mut().enumerate() {
                let q = quality[g * n + p];
                if q > b.0 {
                    *b = (q, g as i64);
                }
            }
        }
        let all_matches: Vec<i64> = best.iter().map(|b| b.1).collect();
        let mut matches: Vec<i64> = best
            .iter()
            .map(|&(q, g)| {
                if q < self.low_threshold {
                    BELOW_LOW_THRESHOLD
                } else if q < self.high_threshold {
                    BETWEEN_THRESHOLDS
                } else {
                    g
                }
            })
            .collect();
        if self.allow_low_quality_matches {
            for g in 0..m {
                let row = &quality[g * n..(g + 1) * n];
                let highest = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                for (p, &q) in row.iter().enumerate() {
                    if q == highest {
                        matches[p] = all_matches[p];
                    }
                }
            }
        }
        Ok(matches)
    }

    /// The matches for a quality matrix `[M, N]` on any device (read back).
    pub fn forward(&self, match_quality_matrix: Tensor<2>) -> Result<Vec<i64>, DetectError> {
        let [m, n] = match_quality_matrix.dims();
        let q: Vec<f64> = crate::read_floats(OP, match_quality_matrix)?
            .into_iter()
            .map(f64::from)
            .collect();
        self.match_host(&q, m, n)
    }
}

/// `box_iou(boxes1, boxes2)` on the host in float64, `[M * N]` row-major,
/// with torchvision's operations in its order (so equal overlaps tie
/// exactly as they do in the float64 references).
pub fn box_iou_host(boxes1: &[[f32; 4]], boxes2: &[[f32; 4]]) -> Vec<f64> {
    let area =
        |b: &[f32; 4]| (f64::from(b[2]) - f64::from(b[0])) * (f64::from(b[3]) - f64::from(b[1]));
    let a2: Vec<f64> = boxes2.iter().map(area).collect();
    let mut out = Vec::with_capacity(boxes1.len() * boxes2.len());
    for b1 in boxes1 {
        let a1 = area(b1);
        let b1 = b1.map(f64::from);
        for (b2, &a2) in boxes2.iter().zip(&a2) {
            let b2 = b2.map(f64::from);
            let w = (b1[2].min(b2[2]) - b1[0].max(b2[0])).max(0.0);
            let h = (b1[3].min(b2[3]) - b1[1].max(b2[1])).max(0.0);
            let inter = w * h;
            out.push(inter / (a1 + a2 - inter));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_and_low_quality_ties() {
        // m = Matcher(0.7, 0.3, allow_low_quality_matches=True)
        // q = torch.tensor([[0.9, 0.5, 0.2, 0.4, 0.4],
        //                   [0.1, 0.25, 0.25, 0.1, 0.0]])
        // m(q)  -> tensor([ 0,  0,  1, -2, -2])
        // (ground truth 1's best, 0.25, ties at predictions 1 and 2: both
        // get their own best match back, 0 and 1)
        // Matcher(0.7, 0.3, False)(q) -> tensor([ 0, -2, -1, -2, -2])
        let q = [0.9, 0.5, 0.2, 0.4, 0.4, 0.1, 0.25, 0.25, 0.1, 0.0];
        let m = Matcher::new(0.7, 0.3, true).unwrap();
        assert_eq!(m.match_host(&q, 2, 5).unwrap(), [0, 0, 1, -2, -2]);
        let m = Matcher::new(0.7, 0.3, false).unwrap();
        assert_eq!(m.match_host(&q, 2, 5).unwrap(), [0, -2, -1, -2, -2]);
        assert!(Matcher::new(0.3, 0.7, false).is_err());
        let e = m.match_host(&[], 0, 5).unwrap_err();
        assert!(e.to_string().contains("no ground-truth"), "{e}");
    }

    #[test]
    fn host_iou_is_torchvisions() {
        // box_iou(torch.tensor([[0., 0., 2., 2.]], dtype=torch.float64),
        //         torch.tensor([[1., 0., 3., 2.], [4., 4., 5., 5.]], dtype=torch.float64))
        // tensor([[0.3333, 0.0000]], dtype=torch.float64)
        let iou = box_iou_host(
            &[[0.0, 0.0, 2.0, 2.0]],
            &[[1.0, 0.0, 3.0, 2.0], [4.0, 4.0, 5.0, 5.0]],
        );
        assert_eq!(iou, [2.0 / 6.0, 0.0]);
    }
}
