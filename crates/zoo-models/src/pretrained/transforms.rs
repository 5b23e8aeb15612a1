//! A weights entry's preset as the transform that applies it
//! (torchvision's `weights.transforms()`): [`PresetSpec`]'s numbers into
//! `zoo_augment::inference`'s presets.

use zoo_augment::inference::{
    ImageClassification, ObjectDetection, Preset, Resample, SemanticSegmentation,
};

use super::{Interpolation, PresetSpec, Pretrained, WeightsEntry};

impl Interpolation {
    /// The resampling filter of the presets.
    pub fn resample(self) -> Resample {
        match self {
            Self::Bilinear => Resample::Bilinear,
            Self::Bicubic => Resample::Bicubic,
        }
    }
}

impl PresetSpec {
    /// The preset transform with these numbers.
    pub fn transforms(self) -> Preset {
        let f32s = |v: [f64; 3]| v.map(|x| x as f32);
        match self {
            Self::Classification {
                crop_size,
                resize_size,
                interpolation,
                mean,
                std,
            } => Preset::Classification(
                ImageClassification::new(crop_size, resize_size)
                    .with_interpolation(interpolation.resample())
                    .with_mean_std(f32s(mean), f32s(std)),
            ),
            Self::Segmentation {
                resize_size,
                interpolation,
                mean,
                std,
            } => Preset::Segmentation(
                SemanticSegmentation::new(resize_size)
                    .with_interpolation(interpolation.resample())
                    .with_mean_std(f32s(mean), f32s(std)),
            ),
            Self::Detection => Preset::Detection(ObjectDetection),
        }
    }
}

impl WeightsEntry {
    /// torchvision's `weights.transforms()`: what a decoded RGB image goes
    /// through before the model sees it.
    ///
    /// ```
    /// use zoo_models::pretrained;
    /// let preset = pretrained::default_weights("resnet50").unwrap().transforms();
    /// assert_eq!(
    ///     preset.to_string(),
    ///     "ImageClassification(\n    crop_size=[224]\n    resize_size=[232]\n    mean=[0.485, 0.456, 0.406]\n    std=[0.229, 0.224, 0.225]\n    interpolation=InterpolationMode.BILINEAR\n)"
    /// );
    /// ```
    pub fn transforms(&self) -> Preset {
        self.preset.transforms()
    }
}

impl<M> Pretrained<M> {
    /// The preset transform of its weights (`None` for a user's file, which
    /// carries no preset: take its model's default weights').
    pub fn transforms(&self) -> Option<Preset> {
        self.entry.map(WeightsEntry::transforms)
    }
}
