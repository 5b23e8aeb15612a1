//! Multi-sample augmentation: MixUp (Zhang et al. 2018), CutMix (Yun et al.
//! 2019) as torchvision's `v2.MixUp` / `v2.CutMix` apply them — each sample's
//! partner is the batch rolled by one (sample `i` with sample `i - 1`) and
//! the labels become soft targets for the soft-target cross-entropy — and
//! SamplePairing (Inoue 2018).
//!
//! [`MixUp`], [`CutMix`] and [`SamplePairing`] are the random versions: one
//! draw per batch from a seeded [`Rng`], as v2 draws one per call.

use burn::tensor::{Int, Tensor, TensorData};

use crate::{AugmentError, Rng};

/// `labels [N]` as one-hot rows `[N, num_classes]`.
pub fn one_hot(labels: Tensor<1, Int>, num_classes: usize) -> Tensor<2> {
    labels.one_hot(num_classes).float()
}

/// Refuses soft labels `[N, num_classes]` with no class or larger than a
/// tensor may be, before the one-hot rows are made.
fn check_classes(op: &'static str, n: usize, num_classes: usize) -> Result<(), AugmentError> {
    if num_classes == 0 {
        return Err(AugmentError::new(op, "num_classes 0, expected at least 1"));
    }
    AugmentError::check_size(op, &[n as u128, num_classes as u128])
}

/// The batch rolled by one along dim 0: row `i` is row `i - 1`.
fn roll<const D: usize>(t: Tensor<D>) -> Tensor<D> {
    t.roll(&[1], &[0])
}

fn check_batch(
    op: &'static str,
    images: &Tensor<4>,
    labels: &Tensor<1, Int>,
) -> Result<(), AugmentError> {
    let n = images.dims()[0];
    if n == 0 {
        return Err(AugmentError::new(op, "an empty batch"));
    }
    if labels.dims()[0] != n {
        return Err(AugmentError::new(
            op,
            format!("{n} images but {} labels", labels.dims()[0]),
        ));
    }
    Ok(())
}

/// MixUp with mixing weight `lam`: `lam * x + (1 - lam) * roll(x)` and the
/// same mix of the one-hot labels.
pub fn mixup(
    images: Tensor<4>,
    labels: Tensor<1, Int>,
    lam: f64,
    num_classes: usize,
) -> Result<(Tensor<4>, Tensor<2>), AugmentError> {
    check_batch("mixup", &images, &labels)?;
    check_classes("mixup", images.dims()[0], num_classes)?;
    if !(0.0..=1.0).contains(&lam) {
        return Err(AugmentError::new(
            "mixup",
            format!("lambda {lam}, expected a value in [0, 1]"),
        ));
    }
    let y = one_hot(labels, num_classes);
    let x = images.clone().mul_scalar(lam) + roll(images).mul_scalar(1.0 - lam);
    let y = y.clone().mul_scalar(lam) + roll(y).mul_scalar(1.0 - lam);
    Ok((x, y))
}

/// CutMix: the box `[x1, y1, x2, y2)` of each image replaced by the same
/// box of its partner; labels mixed with weight `1 - box_area / (H * W)`.
pub fn cutmix(
    images: Tensor<4>,
    labels: Tensor<1, Int>,
    bbox: [usize; 4],
    num_classes: usize,
) -> Result<(Tensor<4>, Tensor<2>), AugmentError> {
    check_batch("cutmix", &images, &labels)?;
    check_classes("cutmix", images.dims()[0], num_classes)?;
    let [n, c, h, w] = images.dims();
    let [x1, y1, x2, y2] = bbox;
    if x1 > x2 || y1 > y2 || x2 > w || y2 > h {
        return Err(AugmentError::new(
            "cutmix",
            format!("box {bbox:?} (x1, y1, x2, y2), expected x1 <= x2 <= {w} and y1 <= y2 <= {h}"),
        ));
    }
    let region = [0..n, 0..c, y1..y2, x1..x2];
    let patch = roll(images.clone()).slice(region.clone());
    let x = if x1 < x2 && y1 < y2 {
        images.slice_assign(region, patch)
    } else {
        images
    };
    let lam = 1.0 - ((x2 - x1) * (y2 - y1)) as f64 / (h * w) as f64;
    let y = one_hot(labels, num_classes);
    let y = y.clone().mul_scalar(lam) + roll(y).mul_scalar(1.0 - lam);
    Ok((x, y))
}

/// SamplePairing: each image averaged with a partner image, keeping the
/// first image's label.
pub fn sample_pairing(
    images_a: Tensor<4>,
    images_b: Tensor<4>,
    labels_a: Tensor<1, Int>,
) -> Result<(Tensor<4>, Tensor<1, Int>), AugmentError> {
    check_batch("sample_pairing", &images_a, &labels_a)?;
    if images_a.dims() != images_b.dims() {
        return Err(AugmentError::new(
            "sample_pairing",
            format!(
                "images {:?} and partners {:?}, expected the same shape",
                images_a.dims(),
                images_b.dims()
            ),
        ));
    }
    Ok(((images_a + images_b).mul_scalar(0.5), labels_a))
}

fn check_alpha(op: &'static str, alpha: f64, num_classes: usize) -> Result<(), AugmentError> {
    if !(alpha.is_finite() && alpha > 0.0) || num_classes == 0 {
        return Err(AugmentError::new(
            op,
            format!(
                "alpha {alpha}, num_classes {num_classes}: expected alpha > 0 and at least one class"
            ),
        ));
    }
    Ok(())
}

/// `v2.MixUp(alpha, num_classes)`: `lam ~ Beta(alpha, alpha)` once per
/// batch, then [`mixup`].
#[derive(Clone, Debug)]
pub struct MixUp {
    /// The Beta distribution's parameter (v2's default 1).
    pub alpha: f64,
    /// Number of classes of the soft labels.
    pub num_classes: usize,
}

impl MixUp {
    /// The mixing weight for the next batch.
    pub fn lambda(&self, rng: &mut Rng) -> f64 {
        rng.beta(self.alpha, self.alpha)
    }

    /// The batch mixed, and its soft labels `[N, num_classes]`.
    pub fn apply(
        &self,
        images: Tensor<4>,
        labels: Tensor<1, Int>,
        rng: &mut Rng,
    ) -> Result<(Tensor<4>, Tensor<2>), AugmentError> {
        check_alpha("MixUp", self.alpha, self.num_classes)?;
        let lam = self.lambda(rng);
        mixup(images, labels, lam, self.num_classes)
    }
}

/// `v2.CutMix(alpha, num_classes)`: `lam ~ Beta(alpha, alpha)`, a box of
/// area `(1 - lam) H W` centred on a uniform pixel and clipped to the image
/// (v2's `_get_params`), then [`cutmix`] (labels weighted by the clipped box).
#[derive(Clone, Debug)]
pub struct CutMix {
    /// The Beta distribution's parameter (v2's default 1).
    pub alpha: f64,
    /// Number of classes of the soft labels.
    pub num_classes: usize,
}

impl CutMix {
    /// The box `[x1, y1, x2, y2]` for the next batch of `height x width` images.
    pub fn draw_box(&self, height: usize, width: usize, rng: &mut Rng) -> [usize; 4] {
        let lam = rng.beta(self.alpha, self.alpha);
        let rx = rng.below(width.max(1)) as i64;
        let ry = rng.below(height.max(1)) as i64;
        let r = 0.5 * (1.0 - lam).sqrt();
        let half_w = (r * width as f64) as i64;
        let half_h = (r * height as f64) as i64;
        [
            (rx - half_w).max(0) as usize,
            (ry - half_h).max(0) as usize,
            (rx + half_w).min(width as i64) as usize,
            (ry + half_h).min(height as i64) as usize,
        ]
    }

    /// The batch with boxes pasted, and its soft labels `[N, num_classes]`.
    pub fn apply(
        &self,
        images: Tensor<4>,
        labels: Tensor<1, Int>,
        rng: &mut Rng,
    ) -> Result<(Tensor<4>, Tensor<2>), AugmentError> {
        check_alpha("CutMix", self.alpha, self.num_classes)?;
        let [_, _, h, w] = images.dims();
        let bbox = self.draw_box(h, w, rng);
        cutmix(images, labels, bbox, self.num_classes)
    }
}

/// When SamplePairing is on, by epoch (counted from 0), as Inoue (2018)
/// trains: off for `warmup` epochs, then on for `on` epochs and off for
/// `off` epochs in turn (the paper: 8 on, 2 off on CIFAR), and off again
/// from `finetune_from` (the paper's final fine-tuning without it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairingSchedule {
    /// Epochs without SamplePairing first (the paper: 100, or 1 on ILSVRC).
    pub warmup: usize,
    /// Epochs on per cycle.
    pub on: usize,
    /// Epochs off per cycle (0: always on after the warm-up).
    pub off: usize,
    /// Off from this epoch on.
    pub finetune_from: Option<usize>,
}

impl PairingSchedule {
    /// Always on.
    pub fn always() -> Self {
        Self {
            warmup: 0,
            on: 1,
            off: 0,
            finetune_from: None,
        }
    }

    /// The paper's CIFAR schedule: `warmup` epochs off, then 8 on / 2 off,
    /// off from `finetune_from`.
    pub fn paper(warmup: usize, finetune_from: Option<usize>) -> Self {
        Self {
            warmup,
            on: 8,
            off: 2,
            finetune_from,
        }
    }

    /// Whether SamplePairing is applied in `epoch` (from 0).
    pub fn active(&self, epoch: usize) -> bool {
        if epoch < self.warmup || self.finetune_from.is_some_and(|f| epoch >= f) || self.on == 0 {
            return false;
        }
        (epoch - self.warmup) % (self.on + self.off) < self.on
    }
}

/// SamplePairing as a batch stage: in an epoch where the schedule is on,
/// every image is averaged with another image of the batch drawn uniformly
/// (never itself), keeping its own label.
#[derive(Clone, Debug)]
pub struct SamplePairing {
    /// When it is on.
    pub schedule: PairingSchedule,
}

impl SamplePairing {
    /// The partner of each of `n` samples.
    pub fn partners(n: usize, rng: &mut Rng) -> Vec<usize> {
        (0..n)
            .map(|i| {
                let j = rng.below(n - 1);
                if j >= i { j + 1 } else { j }
            })
            .collect()
    }

    /// The batch paired in an epoch where the schedule is on, unchanged otherwise.
    pub fn apply(
        &self,
        images: Tensor<4>,
        labels: Tensor<1, Int>,
        epoch: usize,
        rng: &mut Rng,
    ) -> Result<(Tensor<4>, Tensor<1, Int>), AugmentError> {
        check_batch("SamplePairing", &images, &labels)?;
        let n = images.dims()[0];
        if !self.schedule.active(epoch) {
            return Ok((images, labels));
        }
        if n < 2 {
            return Err(AugmentError::new(
                "SamplePairing",
                "a batch of 1: a partner needs at least 2 images",
            ));
        }
        let idx: Vec<i64> = Self::partners(n, rng)
            .into_iter()
            .map(|j| j as i64)
            .collect();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [n]), &images.device());
        let partners = images.clone().select(0, idx);
        sample_pairing(images, partners, labels)
    }
}
