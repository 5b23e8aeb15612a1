//! The category lists torchvision ships with its weights
//! (`torchvision/models/_meta.py`), kept as data files under
//! `crates/zoo-models/data/` (one name a line, written by
//! `scripts/make_pretrained_entries.py`) and split on first use.
//!
//! ```
//! use zoo_models::pretrained::categories::{COCO, IMAGENET, VOC};
//! assert_eq!((IMAGENET.len(), COCO.len(), VOC.len()), (1000, 91, 21));
//! assert_eq!(IMAGENET[281], "tabby");
//! assert_eq!(COCO[12], "N/A");
//! assert_eq!(VOC[0], "__background__");
//! ```

use std::fmt;
use std::sync::LazyLock;

/// `_IMAGENET_CATEGORIES`: the 1000 ImageNet-1K classes, by class index
/// (`0` "tench" .. `999` "toilet tissue").
pub static IMAGENET: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| lines(include_str!("../../data/imagenet_categories.txt")));

/// `_COCO_CATEGORIES`: COCO's 91 category ids as torchvision's detection
/// models number their outputs, `"__background__"` at 0 and `"N/A"` at the
/// ids COCO leaves unused (12, 26, 29, 30, 45, 66, 68, 69, 71, 83).
pub static COCO: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| lines(include_str!("../../data/coco_categories.txt")));

/// `_VOC_CATEGORIES`: Pascal VOC's 20 classes after `"__background__"` (the
/// segmentation models' 21 outputs).
pub static VOC: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| lines(include_str!("../../data/voc_categories.txt")));

fn lines(text: &'static str) -> Vec<&'static str> {
    text.lines().collect()
}

/// Which of torchvision's category lists a weights entry predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Categories {
    /// [`IMAGENET`] (`_IMAGENET_CATEGORIES`).
    ImageNet1k,
    /// [`COCO`] (`_COCO_CATEGORIES`).
    Coco,
    /// [`VOC`] (`_VOC_CATEGORIES`).
    Voc,
}

impl Categories {
    /// The names, by class index.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Self::ImageNet1k => &IMAGENET,
            Self::Coco => &COCO,
            Self::Voc => &VOC,
        }
    }

    /// The name of torchvision's list (`_IMAGENET_CATEGORIES`, ...).
    pub fn torchvision_name(self) -> &'static str {
        match self {
            Self::ImageNet1k => "_IMAGENET_CATEGORIES",
            Self::Coco => "_COCO_CATEGORIES",
            Self::Voc => "_VOC_CATEGORIES",
        }
    }
}

impl fmt::Display for Categories {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ImageNet1k => "ImageNet-1K",
            Self::Coco => "COCO",
            Self::Voc => "Pascal VOC",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_split_into_their_lengths_without_empty_names() {
        for c in [Categories::ImageNet1k, Categories::Coco, Categories::Voc] {
            let names = c.names();
            assert!(names.iter().all(|n| !n.is_empty() && n.trim() == *n), "{c}");
        }
        assert_eq!(Categories::Coco.names().len(), 91);
    }
}
