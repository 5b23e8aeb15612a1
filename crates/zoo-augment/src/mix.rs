//! Multi-sample augmentation: MixUp (Zhang et al. 2018), CutMix (Yun et al.
//! 2019) as torchvision's `v2.MixUp` / `v2.CutMix` apply them — each sample's
//! partner is the batch rolled by one (sample `i` with sample `i - 1`) and
//! the labels become soft targets for the soft-target cross-entropy — and
//! SamplePairing (Inoue 2018).

use burn::tensor::{Int, Tensor};

use crate::AugmentError;

/// `labels [N]` as one-hot rows `[N, num_classes]`.
pub fn one_hot(labels: Tensor<1, Int>, num_classes: usize) -> Tensor<2> {
    labels.one_hot(num_classes).float()
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
