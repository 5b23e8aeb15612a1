//! Classification metrics from a confusion matrix: accuracy, per-class and
//! macro precision / recall / F1 (scikit-learn's definitions, with 0 where a
//! denominator is 0, as its `zero_division=0`); and the segmentation
//! measures of torchvision's references (`ConfusionMatrix` in
//! `references/segmentation/utils.py`): pixel accuracy, per-class accuracy,
//! IoU and mean IoU, NaN where a class is undefined.

use burn::tensor::{Int, Tensor};

/// Counts `counts[target][prediction]` over `k` classes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfusionMatrix {
    k: usize,
    counts: Vec<u64>,
}

impl ConfusionMatrix {
    /// An empty matrix for `k` classes.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            counts: vec![0; k * k],
        }
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.k
    }

    /// Adds predictions and targets (class indices).
    ///
    /// # Panics
    /// When the lengths differ or a class is out of range.
    pub fn add(&mut self, predictions: &[usize], targets: &[usize]) {
        assert_eq!(
            predictions.len(),
            targets.len(),
            "ConfusionMatrix::add: {} predictions for {} targets",
            predictions.len(),
            targets.len()
        );
        for (&p, &t) in predictions.iter().zip(targets) {
            assert!(
                p < self.k && t < self.k,
                "class {p} or {t} outside 0..{}",
                self.k
            );
            self.counts[t * self.k + p] += 1;
        }
    }

    /// Adds a batch of logits `[N, k]` (arg-max is the prediction) and targets `[N]`.
    pub fn add_logits(&mut self, logits: Tensor<2>, targets: Tensor<1, Int>) {
        let [n, _] = logits.dims();
        let pred: Vec<i64> = logits
            .argmax(1)
            .reshape([n])
            .into_data()
            .try_into_vec_as::<i64>()
            .unwrap();
        let tgt: Vec<i64> = targets.into_data().try_into_vec_as::<i64>().unwrap();
        let to_usize = |v: Vec<i64>| v.into_iter().map(|x| x as usize).collect::<Vec<_>>();
        self.add(&to_usize(pred), &to_usize(tgt));
    }

    /// `counts[target][prediction]`.
    pub fn count(&self, target: usize, prediction: usize) -> u64 {
        self.counts[target * self.k + prediction]
    }

    /// Samples counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Fraction of correct predictions (0 when empty).
    pub fn accuracy(&self) -> f64 {
        let right: u64 = (0..self.k).map(|c| self.count(c, c)).sum();
        ratio(right, self.total())
    }

    /// Precision of class `c`: `TP / (TP + FP)`.
    pub fn precision(&self, c: usize) -> f64 {
        let predicted: u64 = (0..self.k).map(|t| self.count(t, c)).sum();
        ratio(self.count(c, c), predicted)
    }

    /// Recall of class `c`: `TP / (TP + FN)`.
    pub fn recall(&self, c: usize) -> f64 {
        let actual: u64 = (0..self.k).map(|p| self.count(c, p)).sum();
        ratio(self.count(c, c), actual)
    }

    /// F1 of class `c`: the harmonic mean of precision and recall.
    pub fn f1(&self, c: usize) -> f64 {
        let (p, r) = (self.precision(c), self.recall(c));
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    /// Adds a segmentation's predicted and target class maps (any shape,
    /// flattened alike), as torchvision's references do: pixels whose target
    /// is outside `0..k` (VOC's 255 boundary) are not counted.
    ///
    /// # Errors
    /// When the lengths differ, or a counted pixel's prediction is outside `0..k`.
    pub fn add_pixels(&mut self, predictions: &[i64], targets: &[i64]) -> Result<(), String> {
        if predictions.len() != targets.len() {
            return Err(format!(
                "{} predicted pixels for {} target pixels",
                predictions.len(),
                targets.len()
            ));
        }
        let k = self.k as i64;
        for (&p, &t) in predictions.iter().zip(targets) {
            if !(0..k).contains(&t) {
                continue;
            }
            if !(0..k).contains(&p) {
                return Err(format!("predicted class {p} outside 0..{k}"));
            }
            self.counts[(t * k + p) as usize] += 1;
        }
        Ok(())
    }

    /// [`Self::add_pixels`] of class maps on a device (read back once each):
    /// `predictions` and `targets` of the same shape, e.g. `[N, H, W]`.
    pub fn add_maps<const D: usize>(
        &mut self,
        predictions: Tensor<D, Int>,
        targets: Tensor<D, Int>,
    ) -> Result<(), String> {
        let read = |t: Tensor<D, Int>| -> Result<Vec<i64>, String> {
            t.into_data()
                .try_into_vec_as::<i64>()
                .map_err(|e| format!("{e:?}"))
        };
        self.add_pixels(&read(predictions)?, &read(targets)?)
    }

    /// Pixel accuracy: the correct fraction of the counted pixels (NaN when none).
    pub fn pixel_accuracy(&self) -> f64 {
        let right: u64 = (0..self.k).map(|c| self.count(c, c)).sum();
        right as f64 / self.total() as f64
    }

    /// Accuracy of class `c` (the correct fraction of its target pixels;
    /// NaN when it has none, as torchvision's `acc`).
    pub fn class_accuracy(&self, c: usize) -> f64 {
        let actual: u64 = (0..self.k).map(|p| self.count(c, p)).sum();
        self.count(c, c) as f64 / actual as f64
    }

    /// Intersection over union of class `c`: `TP / (TP + FP + FN)` (NaN
    /// when the class is neither predicted nor present).
    pub fn iou(&self, c: usize) -> f64 {
        let actual: u64 = (0..self.k).map(|p| self.count(c, p)).sum();
        let predicted: u64 = (0..self.k).map(|t| self.count(t, c)).sum();
        let tp = self.count(c, c);
        tp as f64 / (actual + predicted - tp) as f64
    }

    /// The mean IoU over the classes whose IoU is defined (`numpy.nanmean`;
    /// NaN when none is).
    pub fn mean_iou(&self) -> f64 {
        let defined: Vec<f64> = (0..self.k)
            .map(|c| self.iou(c))
            .filter(|v| !v.is_nan())
            .collect();
        defined.iter().sum::<f64>() / defined.len() as f64
    }

    /// Unweighted mean over classes of precision, recall and F1 (`average="macro"`).
    pub fn macro_prf(&self) -> (f64, f64, f64) {
        let k = self.k as f64;
        let sum = |f: &dyn Fn(usize) -> f64| (0..self.k).map(f).sum::<f64>() / k;
        (
            sum(&|c| self.precision(c)),
            sum(&|c| self.recall(c)),
            sum(&|c| self.f1(c)),
        )
    }
}

/// Perplexity accumulated over batches: `exp(total NLL / total tokens)`,
/// what d2l reports for language models (the exponential of the mean
/// cross-entropy, in nats).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Perplexity {
    nll: f64,
    tokens: u64,
}

impl Perplexity {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a batch: its mean cross-entropy (nats) over `tokens` predictions.
    ///
    /// # Panics
    /// When `mean_nll` is negative or not finite.
    pub fn add(&mut self, mean_nll: f64, tokens: u64) {
        assert!(
            mean_nll.is_finite() && mean_nll >= 0.0,
            "Perplexity::add: mean NLL {mean_nll}, expected a finite value >= 0"
        );
        self.nll += mean_nll * tokens as f64;
        self.tokens += tokens;
    }

    /// `exp(mean NLL)`; 1 (a certain model) when nothing was added.
    pub fn value(&self) -> f64 {
        if self.tokens == 0 {
            1.0
        } else {
            (self.nll / self.tokens as f64).exp()
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_scikit_learn_on_a_worked_example() {
        // y_true = [0, 0, 1, 1, 2, 2], y_pred = [0, 1, 1, 1, 0, 2]:
        // sklearn precision_recall_fscore_support(average=None):
        //   precision [0.5, 0.6667, 1.0], recall [0.5, 1.0, 0.5], f1 [0.5, 0.8, 0.6667];
        // macro: precision 0.7222, recall 0.6667, f1 0.6556; accuracy 4/6.
        let mut cm = ConfusionMatrix::new(3);
        cm.add(&[0, 1, 1, 1, 0, 2], &[0, 0, 1, 1, 2, 2]);
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        close(cm.accuracy(), 4.0 / 6.0);
        close(cm.precision(1), 2.0 / 3.0);
        close(cm.recall(2), 0.5);
        close(cm.f1(1), 0.8);
        let (p, r, f) = cm.macro_prf();
        close(p, 0.7222);
        close(r, 0.6667);
        close(f, 0.6556);
        // A class never predicted nor present gives 0, not NaN.
        let empty = ConfusionMatrix::new(2);
        assert_eq!(empty.accuracy(), 0.0);
        assert_eq!(empty.f1(1), 0.0);
    }

    #[test]
    fn segmentation_measures_follow_torchvision_on_a_worked_example() {
        // targets [0, 0, 1, 1, 2, 255] (255 ignored), predictions [0, 1, 1, 1, 0, 2]:
        // counts (t, p): (0,0) 1, (0,1) 1, (1,1) 2, (2,0) 1; class 3 absent.
        let mut cm = ConfusionMatrix::new(4);
        cm.add_pixels(&[0, 1, 1, 1, 0, 2], &[0, 0, 1, 1, 2, 255])
            .unwrap();
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        assert_eq!(cm.total(), 5);
        close(cm.pixel_accuracy(), 3.0 / 5.0);
        close(cm.class_accuracy(0), 0.5);
        close(cm.class_accuracy(1), 1.0);
        close(cm.class_accuracy(2), 0.0);
        close(cm.iou(0), 1.0 / 3.0);
        close(cm.iou(1), 2.0 / 3.0);
        close(cm.iou(2), 0.0);
        // Undefined for the absent class: NaN, left out of the mean (numpy.nanmean).
        assert!(cm.iou(3).is_nan() && cm.class_accuracy(3).is_nan());
        close(cm.mean_iou(), 1.0 / 3.0);
        // A prediction outside the classes is an error, naming it.
        let e = cm.add_pixels(&[7], &[0]).unwrap_err();
        assert!(e.contains("predicted class 7"), "{e}");
        assert!(cm.add_pixels(&[0, 1], &[0]).is_err());
    }

    #[test]
    fn perplexity_is_the_exponential_of_the_token_weighted_mean_nll() {
        // A uniform model over 10 symbols has perplexity 10 (d2l 9.3).
        let mut p = Perplexity::new();
        p.add(10f64.ln(), 7);
        assert!((p.value() - 10.0).abs() < 1e-12);
        // Batches weigh by their token counts: (1 * 3 + 2 * 1) / 4 nats.
        let mut q = Perplexity::new();
        q.add(1.0, 3);
        q.add(2.0, 1);
        assert!((q.value() - (5.0f64 / 4.0).exp()).abs() < 1e-12);
    }

    #[test]
    fn logits_are_arg_maxed() {
        let device = zoo_device::from_name("flex").unwrap();
        let logits = Tensor::<2>::from_floats([[0.1, 2.0], [3.0, -1.0], [0.0, 1.0]], &device);
        let targets = Tensor::<1, Int>::from_ints([1, 1, 1], &device);
        let mut cm = ConfusionMatrix::new(2);
        cm.add_logits(logits, targets);
        assert_eq!((cm.count(1, 1), cm.count(1, 0)), (2, 1));
    }
}
