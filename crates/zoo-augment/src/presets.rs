//! The training pipelines by name ([`Compose::preset`], the examples'
//! `--augment`): the course's, the ResNet paper's CIFAR recipe and the
//! AutoAugment family's, built from [`crate::transforms`] and
//! [`crate::policies`] (which sit below this file; neither imports it).

use crate::AugmentError;
use crate::functional::PadMode;
use crate::policies::{AutoAugment, AutoAugmentPolicy, RandAugment, TrivialAugmentWide};
use crate::transforms::{
    ColorJitter, Compose, RandomCrop, RandomHorizontalFlip, RandomResizedCrop, Transform,
};

/// The names [`Compose::preset`] knows.
pub const PRESETS: [&str; 9] = [
    "none",
    "flip",
    "crop",
    "course",
    "auto",
    "auto-cifar10",
    "auto-svhn",
    "rand",
    "trivial",
];

impl Compose {
    /// A training pipeline by name, for images of `size [h, w]` in `[0, 1]`
    /// (no normalisation):
    ///
    /// - `none`: nothing;
    /// - `flip`: RandomHorizontalFlip(0.5), the course's CIFAR-10 training
    ///   augmentation (d2l 14.1);
    /// - `crop`: RandomCrop(size, padding 4) then the flip (the ResNet
    ///   paper's CIFAR recipe);
    /// - `course`: the flip, the course's RandomResizedCrop (10-100% of the
    ///   area, aspect 0.5-2) back to `size`, and its ColorJitter (brightness
    ///   0.5, saturation 0.5, hue 0.5; grey images get the brightness only);
    /// - `auto`, `auto-cifar10`, `auto-svhn`: the flip, then AutoAugment
    ///   with the ImageNet (torchvision's default), CIFAR-10 or SVHN policy;
    /// - `rand`: the flip, then RandAugment (2 ops at magnitude 9 of 31);
    /// - `trivial`: the flip, then TrivialAugmentWide (torchvision's
    ///   classification recipe).
    ///
    /// (The ImageNet recipe, with its normalisation, is [`Compose::imagenet_train`].)
    pub fn preset(name: &str, size: [usize; 2]) -> Result<Self, AugmentError> {
        let flip =
            || -> Box<dyn Transform + Send + Sync> { Box::new(RandomHorizontalFlip { p: 0.5 }) };
        Ok(match name {
            "none" => Self::default(),
            "flip" => Self::new(vec![flip()]),
            "crop" => Self::new(vec![
                Box::new(RandomCrop {
                    size,
                    padding: [4; 4],
                    pad_if_needed: false,
                    padding_mode: PadMode::Constant(0.0),
                }),
                flip(),
            ]),
            "course" => Self::new(vec![
                flip(),
                Box::new(RandomResizedCrop::course(size)),
                Box::new(ColorJitter {
                    brightness: 0.5,
                    contrast: 0.0,
                    saturation: 0.5,
                    hue: 0.5,
                }),
            ]),
            "auto" | "auto-cifar10" | "auto-svhn" => {
                let policy =
                    AutoAugmentPolicy::from_name(name.strip_prefix("auto-").unwrap_or("imagenet"))?;
                Self::new(vec![flip(), Box::new(AutoAugment::new(policy))])
            }
            "rand" => Self::new(vec![flip(), Box::new(RandAugment::default())]),
            "trivial" => Self::new(vec![flip(), Box::new(TrivialAugmentWide::default())]),
            other => {
                return Err(AugmentError::new(
                    "preset",
                    format!("`{other}`, expected one of {}", PRESETS.join(", ")),
                ));
            }
        })
    }
}
