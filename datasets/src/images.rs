//! An in-memory image classification set: `u8` pixels `[N, C, H, W]`, one
//! label per image and the class names. Every loader of this crate returns
//! one; it is a burn [`Dataset`] of [`ImageItem`]s.

use std::path::PathBuf;

use burn::data::dataset::{Dataset, DatasetError};

use crate::DataError;

/// Where a data set was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The subset embedded in this crate.
    Embedded,
    /// Files in this directory.
    Dir(PathBuf),
    /// Made in memory (tests, subsets).
    Memory,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Embedded => write!(f, "the embedded subset"),
            Source::Dir(d) => write!(f, "{}", d.display()),
            Source::Memory => write!(f, "memory"),
        }
    }
}

/// One image and its label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageItem {
    /// Pixels, channel-major `[C, H, W]`.
    pub pixels: Vec<u8>,
    /// `[C, H, W]`.
    pub shape: [usize; 3],
    /// The class index.
    pub label: usize,
}

/// Images of one shape with their labels and class names.
#[derive(Debug, Clone)]
pub struct ImageDataset {
    pixels: Vec<u8>,
    labels: Vec<u32>,
    shape: [usize; 3],
    classes: Vec<String>,
    source: Source,
}

impl ImageDataset {
    /// A set from pixels `[N, C, H, W]` (row-major), labels `[N]` and class
    /// names. Errors when the lengths disagree or a label has no class.
    pub fn new(
        pixels: Vec<u8>,
        labels: Vec<u32>,
        shape: [usize; 3],
        classes: Vec<String>,
        source: Source,
    ) -> Result<Self, DataError> {
        let per = shape.iter().product::<usize>();
        if per == 0 || pixels.len() != labels.len() * per {
            return Err(DataError::Invalid(format!(
                "ImageDataset::new: {} pixel bytes for {} labels of shape {shape:?}, expected {}",
                pixels.len(),
                labels.len(),
                labels.len() * per
            )));
        }
        if let Some((i, l)) = labels
            .iter()
            .enumerate()
            .find(|&(_, &l)| l as usize >= classes.len())
        {
            return Err(DataError::Invalid(format!(
                "ImageDataset::new: label {l} of image {i} has no class (there are {})",
                classes.len()
            )));
        }
        Ok(Self {
            pixels,
            labels,
            shape,
            classes,
            source,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// `[C, H, W]` of every image.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// The class names, by label.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Where the images were read from.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The label of image `i`.
    ///
    /// # Panics
    /// When `i >= len()`.
    pub fn label(&self, i: usize) -> usize {
        self.labels[i] as usize
    }

    /// All labels, in order.
    pub fn labels(&self) -> impl Iterator<Item = usize> + '_ {
        self.labels.iter().map(|&l| l as usize)
    }

    /// The pixels of image `i`, `[C, H, W]`.
    ///
    /// # Panics
    /// When `i >= len()`.
    pub fn pixels(&self, i: usize) -> &[u8] {
        assert!(
            i < self.len(),
            "image {i} requested from a set of {} ({})",
            self.len(),
            self.source
        );
        let per = self.shape.iter().product::<usize>();
        &self.pixels[i * per..(i + 1) * per]
    }

    /// The images `indices`, in that order, as a new set (no indices: an
    /// empty set, also of an empty set).
    ///
    /// # Panics
    /// When an index is out of range.
    pub fn subset(&self, indices: &[usize]) -> Self {
        let per = self.shape.iter().product::<usize>();
        let mut pixels = Vec::with_capacity(indices.len() * per);
        for &i in indices {
            pixels.extend_from_slice(self.pixels(i));
        }
        Self {
            pixels,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            shape: self.shape,
            classes: self.classes.clone(),
            source: self.source.clone(),
        }
    }

    /// Image `i` as an item (`None` when out of range).
    pub fn item(&self, i: usize) -> Option<ImageItem> {
        (i < self.len()).then(|| ImageItem {
            pixels: self.pixels(i).to_vec(),
            shape: self.shape,
            label: self.label(i),
        })
    }
}

impl Dataset<ImageItem> for ImageDataset {
    fn get(&self, index: usize) -> Result<ImageItem, DatasetError> {
        self.item(index).ok_or_else(|| {
            DatasetError::new(DataError::Invalid(format!(
                "image {index} requested from a set of {}",
                self.len()
            )))
        })
    }

    fn len(&self) -> usize {
        self.labels.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_lengths_and_labels() {
        let classes = vec!["a".to_string(), "b".to_string()];
        let ok = ImageDataset::new(
            vec![0; 8],
            vec![0, 1],
            [1, 2, 2],
            classes.clone(),
            Source::Memory,
        )
        .unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(Dataset::len(&ok), 2);
        assert!(ok.get(2).is_err());
        let e = ImageDataset::new(
            vec![0; 7],
            vec![0, 1],
            [1, 2, 2],
            classes.clone(),
            Source::Memory,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("7 pixel bytes") && e.contains("expected 8"),
            "{e}"
        );
        let e = ImageDataset::new(vec![0; 8], vec![0, 2], [1, 2, 2], classes, Source::Memory)
            .unwrap_err()
            .to_string();
        assert!(e.contains("label 2 of image 1"), "{e}");
    }

    #[test]
    fn an_empty_set_has_an_empty_subset_and_no_items() {
        let empty = ImageDataset::new(
            Vec::new(),
            Vec::new(),
            [1, 2, 2],
            vec!["a".to_string()],
            Source::Memory,
        )
        .unwrap();
        assert!(empty.subset(&[]).is_empty());
        assert!(empty.item(0).is_none());
        assert!(empty.get(0).is_err());
        let e = std::panic::catch_unwind(|| empty.pixels(0).len()).unwrap_err();
        let message = e.downcast_ref::<String>().unwrap();
        assert!(
            message.contains("image 0 requested from a set of 0"),
            "{message}"
        );
    }
}
