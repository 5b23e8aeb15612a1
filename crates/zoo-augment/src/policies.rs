//! AutoAugment (Cubuk et al. 2019; ImageNet, CIFAR-10 and SVHN policies),
//! RandAugment (Cubuk et al. 2020) and TrivialAugmentWide (Müller & Hutter
//! 2021) with torchvision v2's op sets, magnitude bins and draws
//! (`transforms/v2/_auto_augment.py`), on float images in `[0, 1]`.
//!
//! Each sample draws its own ops, magnitudes and signs from the [`Rng`], so
//! the same seed replays the same augmentation on every device; the batch
//! is then transformed one op at a time, the samples that drew the same op
//! and magnitude together.

use std::collections::BTreeMap;

use burn::tensor::{Int, Tensor, TensorData};

use crate::functional::{adjust_brightness, adjust_contrast, adjust_saturation};
use crate::geometry::{Affine, affine, rotate};
use crate::photometric::{adjust_sharpness, autocontrast, equalize, invert, posterize, solarize};
use crate::resize::Interpolation;
use crate::transforms::Transform;
use crate::{AugmentError, Rng};

/// One of the ops the policies draw from (torchvision's `transform_id`s).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// The image as it is.
    Identity,
    /// `F.affine` with an x shear of `atan(m)`, about the top-left corner.
    ShearX,
    /// The same along y.
    ShearY,
    /// A horizontal shift of `int(m)` pixels.
    TranslateX,
    /// A vertical shift of `int(m)` pixels.
    TranslateY,
    /// `F.rotate` by `m` degrees.
    Rotate,
    /// `F.adjust_brightness(1 + m)`.
    Brightness,
    /// `F.adjust_saturation(1 + m)`.
    Color,
    /// `F.adjust_contrast(1 + m)`.
    Contrast,
    /// `F.adjust_sharpness(1 + m)`.
    Sharpness,
    /// `F.posterize(int(m))`.
    Posterize,
    /// `F.solarize(m)`.
    Solarize,
    /// `F.autocontrast`.
    AutoContrast,
    /// `F.equalize`.
    Equalize,
    /// `F.invert`.
    Invert,
}

/// Which magnitudes an op takes: `linspace(0, max, bins)` (signed: negated
/// with probability one half), posterize's bits, solarize's thresholds
/// `linspace(1, 0, bins)`, or none.
#[derive(Clone, Copy, Debug)]
enum Space {
    Signed(f64),
    Bits(f64),
    Threshold,
    None,
}

/// `torch.linspace(start, end, steps)[i]` in float32, as torch computes it
/// (from the start for the first half, from the end for the second).
fn linspace(start: f64, end: f64, steps: usize, i: usize) -> f64 {
    if steps <= 1 {
        return start as f32 as f64;
    }
    let (s, e) = (start as f32, end as f32);
    let step = (e - s) / (steps - 1) as f32;
    let half = steps / 2;
    let v = if i < half {
        s + step * i as f32
    } else {
        e - step * (steps - 1 - i) as f32
    };
    v as f64
}

impl Op {
    /// The op's magnitude at bin `index` of `bins`, unsigned.
    fn magnitude(space: Space, bins: usize, index: usize) -> f64 {
        match space {
            Space::Signed(max) => linspace(0.0, max, bins, index),
            Space::Bits(spread) => {
                let v = 8.0 - index as f64 / ((bins - 1) as f64 / spread);
                v.round_ties_even()
            }
            Space::Threshold => linspace(1.0, 0.0, bins, index),
            Space::None => 0.0,
        }
    }

    /// `op` applied to the whole batch with magnitude `m`.
    pub fn apply(
        self,
        images: Tensor<4>,
        m: f64,
        interpolation: Interpolation,
        fill: Option<&[f64]>,
    ) -> Result<Tensor<4>, AugmentError> {
        let shear = |s: [f64; 2]| Affine {
            shear: s,
            center: Some([0.0, 0.0]),
            ..Affine::default()
        };
        let shift = |t: [f64; 2]| Affine {
            translate: t,
            ..Affine::default()
        };
        let deg = |m: f64| m.atan().to_degrees();
        match self {
            Op::Identity => Ok(images),
            Op::ShearX => affine(images, &[shear([deg(m), 0.0])], interpolation, fill),
            Op::ShearY => affine(images, &[shear([0.0, deg(m)])], interpolation, fill),
            Op::TranslateX => affine(images, &[shift([m.trunc(), 0.0])], interpolation, fill),
            Op::TranslateY => affine(images, &[shift([0.0, m.trunc()])], interpolation, fill),
            Op::Rotate => rotate(images, &[m], interpolation, fill),
            Op::Brightness => adjust_brightness(images, 1.0 + m),
            Op::Color => adjust_saturation(images, 1.0 + m),
            Op::Contrast => adjust_contrast(images, 1.0 + m),
            Op::Sharpness => adjust_sharpness(images, 1.0 + m),
            Op::Posterize => posterize(images, m as u32),
            Op::Solarize => solarize(images, m),
            Op::AutoContrast => autocontrast(images),
            Op::Equalize => equalize(images),
            Op::Invert => Ok(invert(images)),
        }
    }
}

/// AutoAugment's (and RandAugment's) space for an image `h x w`.
fn auto_space(op: Op, h: usize, w: usize) -> Space {
    match op {
        Op::ShearX | Op::ShearY => Space::Signed(0.3),
        Op::TranslateX => Space::Signed(150.0 / 331.0 * w as f64),
        Op::TranslateY => Space::Signed(150.0 / 331.0 * h as f64),
        Op::Rotate => Space::Signed(30.0),
        Op::Brightness | Op::Color | Op::Contrast | Op::Sharpness => Space::Signed(0.9),
        Op::Posterize => Space::Bits(4.0),
        Op::Solarize => Space::Threshold,
        Op::Identity | Op::AutoContrast | Op::Equalize | Op::Invert => Space::None,
    }
}

/// TrivialAugmentWide's wider space.
fn wide_space(op: Op) -> Space {
    match op {
        Op::ShearX | Op::ShearY => Space::Signed(0.99),
        Op::TranslateX | Op::TranslateY => Space::Signed(32.0),
        Op::Rotate => Space::Signed(135.0),
        Op::Brightness | Op::Color | Op::Contrast | Op::Sharpness => Space::Signed(0.99),
        Op::Posterize => Space::Bits(6.0),
        Op::Solarize => Space::Threshold,
        Op::Identity | Op::AutoContrast | Op::Equalize | Op::Invert => Space::None,
    }
}

/// RandAugment's and TrivialAugmentWide's ops, in torchvision's order.
pub const RAND_OPS: [Op; 14] = [
    Op::Identity,
    Op::ShearX,
    Op::ShearY,
    Op::TranslateX,
    Op::TranslateY,
    Op::Rotate,
    Op::Brightness,
    Op::Color,
    Op::Contrast,
    Op::Sharpness,
    Op::Posterize,
    Op::Solarize,
    Op::AutoContrast,
    Op::Equalize,
];

/// AutoAugment's learned policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutoAugmentPolicy {
    /// The ImageNet policy (torchvision's default).
    ImageNet,
    /// The CIFAR-10 policy.
    Cifar10,
    /// The SVHN policy.
    Svhn,
}

/// The policy names [`AutoAugmentPolicy::from_name`] knows.
pub const POLICY_NAMES: [&str; 3] = ["imagenet", "cifar10", "svhn"];

impl AutoAugmentPolicy {
    /// `imagenet`, `cifar10` or `svhn`; another name is an error listing them.
    pub fn from_name(name: &str) -> Result<Self, AugmentError> {
        match name.to_ascii_lowercase().replace('-', "").as_str() {
            "imagenet" => Ok(Self::ImageNet),
            "cifar10" => Ok(Self::Cifar10),
            "svhn" => Ok(Self::Svhn),
            _ => Err(AugmentError::new(
                "AutoAugment",
                format!(
                    "policy `{name}`, expected one of {}",
                    POLICY_NAMES.join(", ")
                ),
            )),
        }
    }

    /// The 25 sub-policies: two `(op, probability, magnitude bin)` each
    /// (the bin is ignored by ops without magnitudes).
    pub fn sub_policies(self) -> &'static [[(Op, f64, usize); 2]; 25] {
        use Op::*;
        const IMAGENET: [[(Op, f64, usize); 2]; 25] = [
            [(Posterize, 0.4, 8), (Rotate, 0.6, 9)],
            [(Solarize, 0.6, 5), (AutoContrast, 0.6, 0)],
            [(Equalize, 0.8, 0), (Equalize, 0.6, 0)],
            [(Posterize, 0.6, 7), (Posterize, 0.6, 6)],
            [(Equalize, 0.4, 0), (Solarize, 0.2, 4)],
            [(Equalize, 0.4, 0), (Rotate, 0.8, 8)],
            [(Solarize, 0.6, 3), (Equalize, 0.6, 0)],
            [(Posterize, 0.8, 5), (Equalize, 1.0, 0)],
            [(Rotate, 0.2, 3), (Solarize, 0.6, 8)],
            [(Equalize, 0.6, 0), (Posterize, 0.4, 6)],
            [(Rotate, 0.8, 8), (Color, 0.4, 0)],
            [(Rotate, 0.4, 9), (Equalize, 0.6, 0)],
            [(Equalize, 0.0, 0), (Equalize, 0.8, 0)],
            [(Invert, 0.6, 0), (Equalize, 1.0, 0)],
            [(Color, 0.6, 4), (Contrast, 1.0, 8)],
            [(Rotate, 0.8, 8), (Color, 1.0, 2)],
            [(Color, 0.8, 8), (Solarize, 0.8, 7)],
            [(Sharpness, 0.4, 7), (Invert, 0.6, 0)],
            [(ShearX, 0.6, 5), (Equalize, 1.0, 0)],
            [(Color, 0.4, 0), (Equalize, 0.6, 0)],
            [(Equalize, 0.4, 0), (Solarize, 0.2, 4)],
            [(Solarize, 0.6, 5), (AutoContrast, 0.6, 0)],
            [(Invert, 0.6, 0), (Equalize, 1.0, 0)],
            [(Color, 0.6, 4), (Contrast, 1.0, 8)],
            [(Equalize, 0.8, 0), (Equalize, 0.6, 0)],
        ];
        const CIFAR10: [[(Op, f64, usize); 2]; 25] = [
            [(Invert, 0.1, 0), (Contrast, 0.2, 6)],
            [(Rotate, 0.7, 2), (TranslateX, 0.3, 9)],
            [(Sharpness, 0.8, 1), (Sharpness, 0.9, 3)],
            [(ShearY, 0.5, 8), (TranslateY, 0.7, 9)],
            [(AutoContrast, 0.5, 0), (Equalize, 0.9, 0)],
            [(ShearY, 0.2, 7), (Posterize, 0.3, 7)],
            [(Color, 0.4, 3), (Brightness, 0.6, 7)],
            [(Sharpness, 0.3, 9), (Brightness, 0.7, 9)],
            [(Equalize, 0.6, 0), (Equalize, 0.5, 0)],
            [(Contrast, 0.6, 7), (Sharpness, 0.6, 5)],
            [(Color, 0.7, 7), (TranslateX, 0.5, 8)],
            [(Equalize, 0.3, 0), (AutoContrast, 0.4, 0)],
            [(TranslateY, 0.4, 3), (Sharpness, 0.2, 6)],
            [(Brightness, 0.9, 6), (Color, 0.2, 8)],
            [(Solarize, 0.5, 2), (Invert, 0.0, 0)],
            [(Equalize, 0.2, 0), (AutoContrast, 0.6, 0)],
            [(Equalize, 0.2, 0), (Equalize, 0.6, 0)],
            [(Color, 0.9, 9), (Equalize, 0.6, 0)],
            [(AutoContrast, 0.8, 0), (Solarize, 0.2, 8)],
            [(Brightness, 0.1, 3), (Color, 0.7, 0)],
            [(Solarize, 0.4, 5), (AutoContrast, 0.9, 0)],
            [(TranslateY, 0.9, 9), (TranslateY, 0.7, 9)],
            [(AutoContrast, 0.9, 0), (Solarize, 0.8, 3)],
            [(Equalize, 0.8, 0), (Invert, 0.1, 0)],
            [(TranslateY, 0.7, 9), (AutoContrast, 0.9, 0)],
        ];
        const SVHN: [[(Op, f64, usize); 2]; 25] = [
            [(ShearX, 0.9, 4), (Invert, 0.2, 0)],
            [(ShearY, 0.9, 8), (Invert, 0.7, 0)],
            [(Equalize, 0.6, 0), (Solarize, 0.6, 6)],
            [(Invert, 0.9, 0), (Equalize, 0.6, 0)],
            [(Equalize, 0.6, 0), (Rotate, 0.9, 3)],
            [(ShearX, 0.9, 4), (AutoContrast, 0.8, 0)],
            [(ShearY, 0.9, 8), (Invert, 0.4, 0)],
            [(ShearY, 0.9, 5), (Solarize, 0.2, 6)],
            [(Invert, 0.9, 0), (AutoContrast, 0.8, 0)],
            [(Equalize, 0.6, 0), (Rotate, 0.9, 3)],
            [(ShearX, 0.9, 4), (Solarize, 0.3, 3)],
            [(ShearY, 0.8, 8), (Invert, 0.7, 0)],
            [(Equalize, 0.9, 0), (TranslateY, 0.6, 6)],
            [(Invert, 0.9, 0), (Equalize, 0.6, 0)],
            [(Contrast, 0.3, 3), (Rotate, 0.8, 4)],
            [(Invert, 0.8, 0), (TranslateY, 0.0, 2)],
            [(ShearY, 0.7, 6), (Solarize, 0.4, 8)],
            [(Invert, 0.6, 0), (Rotate, 0.8, 4)],
            [(ShearY, 0.3, 7), (TranslateX, 0.9, 3)],
            [(ShearX, 0.1, 6), (Invert, 0.6, 0)],
            [(Solarize, 0.7, 2), (TranslateY, 0.6, 7)],
            [(ShearY, 0.8, 4), (Invert, 0.8, 0)],
            [(ShearX, 0.7, 9), (TranslateY, 0.8, 3)],
            [(ShearY, 0.8, 5), (AutoContrast, 0.7, 0)],
            [(ShearX, 0.7, 2), (Invert, 0.1, 0)],
        ];
        match self {
            Self::ImageNet => &IMAGENET,
            Self::Cifar10 => &CIFAR10,
            Self::Svhn => &SVHN,
        }
    }
}

/// What one sample drew for one position of its chain: an op and its
/// signed magnitude, or nothing (AutoAugment's probability said no).
pub type Draw = Option<(Op, f64)>;

/// A signed magnitude: `m`, negated with probability one half for signed ops.
fn signed(space: Space, m: f64, rng: &mut Rng) -> f64 {
    if matches!(space, Space::Signed(_)) && rng.unit() <= 0.5 {
        -m
    } else {
        m
    }
}

/// Applies each sample's chain of draws (`draws[i]` for sample `i`, all of
/// one length), grouping the samples that drew the same op and magnitude.
pub fn apply_draws(
    images: Tensor<4>,
    draws: &[Vec<Draw>],
    interpolation: Interpolation,
    fill: Option<&[f64]>,
) -> Result<Tensor<4>, AugmentError> {
    let n = images.dims()[0];
    if draws.len() != n {
        return Err(AugmentError::new(
            "apply_draws",
            format!("{} chains for {n} images", draws.len()),
        ));
    }
    let depth = draws.first().map_or(0, Vec::len);
    let device = images.device();
    let mut x = images;
    for k in 0..depth {
        let mut groups: BTreeMap<(Op, u64), Vec<usize>> = BTreeMap::new();
        let mut untouched = Vec::new();
        for (i, chain) in draws.iter().enumerate() {
            match chain.get(k).copied().flatten() {
                Some((Op::Identity, _)) | None => untouched.push(i),
                Some((op, m)) => groups.entry((op, m.to_bits())).or_default().push(i),
            }
        }
        if groups.is_empty() {
            continue;
        }
        let mut order = Vec::with_capacity(n);
        let mut parts = Vec::new();
        let index = |ids: &[usize]| {
            let v: Vec<i64> = ids.iter().map(|&i| i as i64).collect();
            Tensor::<1, Int>::from_data(TensorData::new(v, [ids.len()]), &device)
        };
        if !untouched.is_empty() {
            parts.push(x.clone().select(0, index(&untouched)));
            order.extend(&untouched);
        }
        for ((op, bits), ids) in groups {
            let part = x.clone().select(0, index(&ids));
            parts.push(op.apply(part, f64::from_bits(bits), interpolation, fill)?);
            order.extend(ids);
        }
        let mut inverse = vec![0usize; n];
        for (pos, &i) in order.iter().enumerate() {
            inverse[i] = pos;
        }
        x = Tensor::cat(parts, 0).select(0, index(&inverse));
    }
    Ok(x)
}

/// `v2.AutoAugment(policy)`: each sample draws one of the policy's 25
/// sub-policies and applies each of its two ops with the op's probability,
/// at the op's magnitude bin of 10 (signed ops negated half the time).
#[derive(Clone, Debug)]
pub struct AutoAugment {
    /// The learned policy.
    pub policy: AutoAugmentPolicy,
    /// Nearest (torchvision's default) or bilinear for the geometric ops.
    pub interpolation: Interpolation,
    /// The fill of the geometric ops (`None`: zeros).
    pub fill: Option<Vec<f64>>,
}

impl AutoAugment {
    /// torchvision's defaults: nearest, no fill.
    pub fn new(policy: AutoAugmentPolicy) -> Self {
        Self {
            policy,
            interpolation: Interpolation::Nearest,
            fill: None,
        }
    }

    /// The draws of `n` samples of size `h x w`.
    pub fn draws(&self, n: usize, h: usize, w: usize, rng: &mut Rng) -> Vec<Vec<Draw>> {
        let policies = self.policy.sub_policies();
        (0..n)
            .map(|_| {
                let sub = &policies[rng.below(policies.len())];
                sub.iter()
                    .map(|&(op, p, bin)| {
                        if (rng.unit() as f64) > p {
                            return None;
                        }
                        let space = auto_space(op, h, w);
                        let m = Op::magnitude(space, 10, bin);
                        Some((op, signed(space, m, rng)))
                    })
                    .collect()
            })
            .collect()
    }
}

impl Transform for AutoAugment {
    fn apply(&self, images: Tensor<4>, rng: &mut Rng) -> Result<Tensor<4>, AugmentError> {
        let [n, _, h, w] = images.dims();
        let draws = self.draws(n, h, w, rng);
        apply_draws(images, &draws, self.interpolation, self.fill.as_deref())
    }
}

/// `v2.RandAugment(num_ops, magnitude, num_magnitude_bins)`: each sample
/// applies `num_ops` ops drawn uniformly from [`RAND_OPS`], all at bin
/// `magnitude` of `num_magnitude_bins` (signed ops negated half the time).
#[derive(Clone, Debug)]
pub struct RandAugment {
    /// Ops per sample (torchvision's default 2).
    pub num_ops: usize,
    /// The magnitude bin (default 9), below `num_magnitude_bins`.
    pub magnitude: usize,
    /// Bins of each op's range (default 31).
    pub num_magnitude_bins: usize,
    /// Nearest (default) or bilinear.
    pub interpolation: Interpolation,
    /// The fill of the geometric ops.
    pub fill: Option<Vec<f64>>,
}

impl Default for RandAugment {
    fn default() -> Self {
        Self {
            num_ops: 2,
            magnitude: 9,
            num_magnitude_bins: 31,
            interpolation: Interpolation::Nearest,
            fill: None,
        }
    }
}

impl RandAugment {
    /// The draws of `n` samples of size `h x w`; a magnitude outside the
    /// bins is an error naming both.
    pub fn draws(
        &self,
        n: usize,
        h: usize,
        w: usize,
        rng: &mut Rng,
    ) -> Result<Vec<Vec<Draw>>, AugmentError> {
        if self.num_magnitude_bins < 2 || self.magnitude >= self.num_magnitude_bins {
            return Err(AugmentError::new(
                "RandAugment",
                format!(
                    "magnitude {} with {} bins, expected at least 2 bins and a magnitude in [0, {})",
                    self.magnitude,
                    self.num_magnitude_bins,
                    self.num_magnitude_bins.max(1)
                ),
            ));
        }
        Ok((0..n)
            .map(|_| {
                (0..self.num_ops)
                    .map(|_| {
                        let op = RAND_OPS[rng.below(RAND_OPS.len())];
                        let space = auto_space(op, h, w);
                        let m = Op::magnitude(space, self.num_magnitude_bins, self.magnitude);
                        Some((op, signed(space, m, rng)))
                    })
                    .collect()
            })
            .collect())
    }
}

impl Transform for RandAugment {
    fn apply(&self, images: Tensor<4>, rng: &mut Rng) -> Result<Tensor<4>, AugmentError> {
        let [n, _, h, w] = images.dims();
        let draws = self.draws(n, h, w, rng)?;
        apply_draws(images, &draws, self.interpolation, self.fill.as_deref())
    }
}

/// `v2.TrivialAugmentWide(num_magnitude_bins)`: each sample applies one op
/// drawn uniformly from [`RAND_OPS`] at a bin drawn uniformly from the
/// op's wide range (signed ops negated half the time).
#[derive(Clone, Debug)]
pub struct TrivialAugmentWide {
    /// Bins of each op's range (default 31).
    pub num_magnitude_bins: usize,
    /// Nearest (default) or bilinear.
    pub interpolation: Interpolation,
    /// The fill of the geometric ops.
    pub fill: Option<Vec<f64>>,
}

impl Default for TrivialAugmentWide {
    fn default() -> Self {
        Self {
            num_magnitude_bins: 31,
            interpolation: Interpolation::Nearest,
            fill: None,
        }
    }
}

impl TrivialAugmentWide {
    /// The draws of `n` samples.
    pub fn draws(&self, n: usize, rng: &mut Rng) -> Result<Vec<Vec<Draw>>, AugmentError> {
        if self.num_magnitude_bins < 2 {
            return Err(AugmentError::new(
                "TrivialAugmentWide",
                format!(
                    "{} magnitude bins, expected at least 2",
                    self.num_magnitude_bins
                ),
            ));
        }
        Ok((0..n)
            .map(|_| {
                let op = RAND_OPS[rng.below(RAND_OPS.len())];
                let space = wide_space(op);
                let bin = rng.below(self.num_magnitude_bins);
                let m = Op::magnitude(space, self.num_magnitude_bins, bin);
                vec![Some((op, signed(space, m, rng)))]
            })
            .collect())
    }
}

impl Transform for TrivialAugmentWide {
    fn apply(&self, images: Tensor<4>, rng: &mut Rng) -> Result<Tensor<4>, AugmentError> {
        let n = images.dims()[0];
        let draws = self.draws(n, rng)?;
        apply_draws(images, &draws, self.interpolation, self.fill.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magnitude_bins_are_torchvisions() {
        // torch.linspace(0.0, 0.3, 10) and AutoAugment's posterize bits.
        assert!((Op::magnitude(Space::Signed(0.3), 10, 9) - 0.3).abs() < 1e-7);
        assert!((Op::magnitude(Space::Signed(0.3), 10, 3) - 0.1).abs() < 1e-7);
        let bits: Vec<f64> = (0..10)
            .map(|i| Op::magnitude(Space::Bits(4.0), 10, i))
            .collect();
        assert_eq!(bits, [8.0, 8.0, 7.0, 7.0, 6.0, 6.0, 5.0, 5.0, 4.0, 4.0]);
        // TrivialAugmentWide: (8 - arange(31) / 5).round(): 8 .. 2.
        assert_eq!(Op::magnitude(Space::Bits(6.0), 31, 30), 2.0);
        assert_eq!(Op::magnitude(Space::Bits(6.0), 31, 3), 7.0);
        assert!((Op::magnitude(Space::Threshold, 10, 9)).abs() < 1e-7);
    }

    #[test]
    fn trivial_augment_draws_each_op_and_bin_uniformly_and_replays() {
        let t = TrivialAugmentWide::default();
        let n = 28_000;
        let draws = t.draws(n, &mut Rng::new(7)).unwrap();
        let mut ops = BTreeMap::new();
        let mut negative = 0;
        let mut signed_count = 0;
        for d in &draws {
            let (op, m) = d[0].unwrap();
            *ops.entry(op).or_insert(0usize) += 1;
            if matches!(wide_space(op), Space::Signed(_)) {
                signed_count += 1;
                negative += usize::from(m < 0.0);
                let Space::Signed(max) = wide_space(op) else {
                    unreachable!()
                };
                assert!(m.abs() <= max + 1e-6, "{op:?} {m}");
            }
            if op == Op::Posterize {
                assert!((2.0..=8.0).contains(&m), "{m}");
            }
        }
        assert_eq!(ops.len(), 14);
        // 2,000 expected per op; 5 standard deviations is about 220.
        for (op, count) in &ops {
            assert!((1780..=2220).contains(count), "{op:?} drawn {count} times");
        }
        // Zero magnitudes are never negated by the sign draw's effect on
        // `m < 0`, so the share of negatives is a little below one half.
        let share = negative as f64 / signed_count as f64;
        assert!((0.45..0.5).contains(&share), "{share}");
        assert_eq!(draws, t.draws(n, &mut Rng::new(7)).unwrap());
    }

    #[test]
    fn auto_augment_applies_ops_with_the_policy_probabilities() {
        let a = AutoAugment::new(AutoAugmentPolicy::ImageNet);
        let n = 50_000;
        let draws = a.draws(n, 32, 32, &mut Rng::new(3));
        // Expected share of first-position draws that apply: the mean of
        // the 25 first probabilities.
        let policies = a.policy.sub_policies();
        let want: f64 = policies.iter().map(|s| s[0].1).sum::<f64>() / 25.0;
        let got = draws.iter().filter(|d| d[0].is_some()).count() as f64 / n as f64;
        assert!((got - want).abs() < 0.01, "{got} vs {want}");
        // Rotate at bin 9 of 10 is 30 degrees, at bin 8 26.67.
        for d in draws.iter().flatten().flatten() {
            if d.0 == Op::Rotate {
                let m = d.1.abs();
                assert!(
                    [30.0, 30.0 * 8.0 / 9.0, 10.0]
                        .iter()
                        .any(|v| (m - v).abs() < 1e-4),
                    "{m}"
                );
            }
        }
    }

    #[test]
    fn unknown_policy_and_magnitude_are_errors_naming_them() {
        let e = AutoAugmentPolicy::from_name("coco")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("coco") && e.contains("imagenet, cifar10, svhn"),
            "{e}"
        );
        let r = RandAugment {
            magnitude: 31,
            ..RandAugment::default()
        };
        let e = r.draws(1, 8, 8, &mut Rng::new(0)).unwrap_err().to_string();
        assert!(e.contains("magnitude 31") && e.contains("31 bins"), "{e}");
    }

    #[test]
    fn grouped_application_equals_one_sample_at_a_time() {
        let device = zoo_device::from_name("flex").unwrap();
        let n = 6;
        let v: Vec<f32> = (0..n * 3 * 8 * 8)
            .map(|i| ((i * 37 % 101) as f32) / 100.0)
            .collect();
        let x = Tensor::<4>::from_data(TensorData::new(v, [n, 3, 8, 8]), &device);
        let t = RandAugment::default();
        let draws = t.draws(n, 8, 8, &mut Rng::new(11)).unwrap();
        let all: Vec<f32> = apply_draws(x.clone(), &draws, Interpolation::Nearest, None)
            .unwrap()
            .into_data()
            .try_into_vec_as()
            .unwrap();
        for i in 0..n {
            let one = x.clone().slice([i..i + 1, 0..3, 0..8, 0..8]);
            let y: Vec<f32> = apply_draws(one, &draws[i..i + 1], Interpolation::Nearest, None)
                .unwrap()
                .into_data()
                .try_into_vec_as()
                .unwrap();
            assert_eq!(&all[i * 192..(i + 1) * 192], &y[..], "sample {i}");
        }
    }
}
