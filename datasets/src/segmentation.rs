//! Semantic segmentation data: Pascal VOC's colour map both ways (d2l 14.9
//! `VOC_COLORMAP`, `voc_colormap2label`, `voc_label_indices`; torchvision's
//! `VOCSegmentation` stores the same colours as a PNG palette), Pascal VOC
//! 2012's segmentation set ([`voc_segmentation`]: `cargo xtask download
//! voc-2012`), and an offline set generated from real data
//! ([`fashion_on_photos`]: the detection set's Fashion-MNIST items pasted
//! onto photographs, with their per-pixel masks).
//!
//! Labels are class indices with [`IGNORE`] (255) on object boundaries,
//! which the loss and the metrics skip.

use std::fs;
use std::path::Path;

use burn::tensor::{Device, Int, Tensor, TensorData};
use image::RgbImage;
use zoo_rng::Rng;

use crate::DataError;
use crate::detection::{PASTED_CLASSES, compose};
use crate::mnist::FashionMnist;

pub use crate::detection::IGNORE;

/// One image and its class map.
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentationItem {
    /// RGB pixels, row-major `[H, W, 3]`.
    pub image: RgbImage,
    /// Class per pixel, row-major `[H, W]`; [`IGNORE`] where unlabelled.
    pub mask: Vec<u8>,
}

/// A segmentation set in memory.
#[derive(Clone, Debug)]
pub struct SegmentationDataset {
    /// The images and their class maps.
    pub items: Vec<SegmentationItem>,
    /// Class names, by index (background first).
    pub classes: Vec<String>,
}

/// A batch: images `[B, 3, H, W]` in `[0, 1]` and class maps `[B, H, W]`
/// (with [`IGNORE`] where unlabelled).
#[derive(Clone, Debug)]
pub struct SegmentationBatch {
    /// Images.
    pub images: Tensor<4>,
    /// Class maps.
    pub masks: Tensor<3, Int>,
}

impl SegmentationDataset {
    /// Items `indices` as a batch on `device`, each cut to `crop = [h, w]`
    /// at a place drawn from `rng` (d2l's `voc_rand_crop`: the same window
    /// of image and labels); `None` takes them whole (then they must share
    /// one size).
    ///
    /// # Panics
    /// When an index is out of range, an item is smaller than the crop, or
    /// (without a crop) the items differ in size.
    pub fn batch(
        &self,
        indices: &[usize],
        crop: Option<[usize; 2]>,
        rng: &mut Rng,
        device: &Device,
    ) -> SegmentationBatch {
        let first = &self.items[indices[0]].image;
        let [h, w] = crop.unwrap_or([first.height() as usize, first.width() as usize]);
        let n = indices.len();
        let mut px = vec![0f32; n * 3 * h * w];
        let mut labels = Vec::with_capacity(n * h * w);
        for (b, &i) in indices.iter().enumerate() {
            let item = &self.items[i];
            let (iw, ih) = (item.image.width() as usize, item.image.height() as usize);
            assert!(
                ih >= h && iw >= w,
                "SegmentationDataset::batch: item {i} is {ih}x{iw}, smaller than {h}x{w}"
            );
            let (y0, x0) = match crop {
                Some(_) => (rng.below(ih - h + 1), rng.below(iw - w + 1)),
                None => (0, 0),
            };
            let raw = item.image.as_raw();
            for y in 0..h {
                for x in 0..w {
                    let at = (y0 + y) * iw + x0 + x;
                    for c in 0..3 {
                        px[((b * 3 + c) * h + y) * w + x] = raw[at * 3 + c] as f32 / 255.0;
                    }
                    labels.push(i64::from(item.mask[at]));
                }
            }
        }
        SegmentationBatch {
            images: Tensor::from_data(TensorData::new(px, [n, 3, h, w]), device),
            masks: Tensor::from_data(TensorData::new(labels, [n, h, w]), device),
        }
    }
}

/// `n` generated images of `size x size` with their class maps: the
/// detection set's construction ([`crate::detection::fashion_on_photos`],
/// the same draws for the same `seed`): crops of two real photographs with
/// 1 to `max_objects` Fashion-MNIST items pasted on them. Classes:
/// background, then trouser, sneaker and bag; an item's pixels (alpha above
/// 0.5) take its class, its soft edge (alpha 0.1 to 0.5) is [`IGNORE`].
pub fn fashion_on_photos(
    n: usize,
    size: usize,
    max_objects: usize,
    seed: u64,
) -> Result<SegmentationDataset, DataError> {
    let mut classes = vec!["background".to_string()];
    classes.extend(
        PASTED_CLASSES
            .iter()
            .map(|&c| FashionMnist::CLASSES[c].to_string()),
    );
    Ok(SegmentationDataset {
        items: compose(n, size, max_objects, seed)?
            .into_iter()
            .map(|c| SegmentationItem {
                image: c.image,
                mask: c.mask,
            })
            .collect(),
        classes,
    })
}

/// Pascal VOC 2012's segmentation `split` (`train`, `val` or `trainval`)
/// from an extracted `VOCdevkit/VOC2012` folder (`JPEGImages/`,
/// `SegmentationClass/`, `ImageSets/Segmentation/<split>.txt`), at most
/// `limit` images, leaving out those smaller than `min_size = [h, w]` (as
/// d2l's `filter` leaves out images smaller than its crop). The label PNGs
/// are read by colour ([`voc_label`]), the boundary colour as [`IGNORE`].
pub fn voc_segmentation(
    root: &Path,
    split: &str,
    min_size: [usize; 2],
    limit: Option<usize>,
) -> Result<SegmentationDataset, DataError> {
    let list = root
        .join("ImageSets/Segmentation")
        .join(format!("{split}.txt"));
    let ids = fs::read_to_string(&list).map_err(DataError::io(&list))?;
    let decode = |path: &Path| -> Result<RgbImage, DataError> {
        Ok(image::open(path)
            .map_err(|e| DataError::Format {
                path: path.to_path_buf(),
                offset: 0,
                what: format!("cannot decode the image: {e}"),
            })?
            .to_rgb8())
    };
    let mut items = Vec::new();
    for id in ids.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if limit.is_some_and(|l| items.len() >= l) {
            break;
        }
        let image = decode(&root.join("JPEGImages").join(format!("{id}.jpg")))?;
        let label_path = root.join("SegmentationClass").join(format!("{id}.png"));
        let labels = decode(&label_path)?;
        if labels.dimensions() != image.dimensions() {
            return Err(DataError::Format {
                path: label_path,
                offset: 0,
                what: format!(
                    "labels of {:?} pixels for an image of {:?}",
                    labels.dimensions(),
                    image.dimensions()
                ),
            });
        }
        if (image.height() as usize) < min_size[0] || (image.width() as usize) < min_size[1] {
            continue;
        }
        let mask = labels
            .as_raw()
            .chunks_exact(3)
            .map(|p| {
                let rgb = [p[0], p[1], p[2]];
                if rgb == VOC_BOUNDARY {
                    IGNORE
                } else {
                    voc_label(rgb)
                }
            })
            .collect();
        items.push(SegmentationItem { image, mask });
    }
    Ok(SegmentationDataset {
        items,
        classes: VOC_SEG_CLASSES.iter().map(|s| s.to_string()).collect(),
    })
}

/// VOC's 21 segmentation classes: background, then the 20 object classes.
pub const VOC_SEG_CLASSES: [&str; 21] = [
    "background",
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "potted plant",
    "sheep",
    "sofa",
    "train",
    "tv/monitor",
];

/// The RGB colour of each class in VOC's label images (d2l's `VOC_COLORMAP`).
pub const VOC_COLORMAP: [[u8; 3]; 21] = [
    [0, 0, 0],
    [128, 0, 0],
    [0, 128, 0],
    [128, 128, 0],
    [0, 0, 128],
    [128, 0, 128],
    [0, 128, 128],
    [128, 128, 128],
    [64, 0, 0],
    [192, 0, 0],
    [64, 128, 0],
    [192, 128, 0],
    [64, 0, 128],
    [192, 0, 128],
    [64, 128, 128],
    [192, 128, 128],
    [0, 64, 0],
    [128, 64, 0],
    [0, 192, 0],
    [128, 192, 0],
    [0, 64, 128],
];

/// The colour VOC draws object boundaries and "difficult" regions with,
/// ignored in training and evaluation (index 255 in the palette PNGs).
pub const VOC_BOUNDARY: [u8; 3] = [224, 224, 192];

/// The class of a label-image colour, as d2l's `voc_label_indices` reads
/// it: one of the 21 VOC colours gives its class, any other colour
/// (the boundary included) gives 0, background.
pub fn voc_label(rgb: [u8; 3]) -> u8 {
    VOC_COLORMAP
        .iter()
        .position(|c| *c == rgb)
        .map_or(0, |k| k as u8)
}

/// [`voc_label`] of every pixel of interleaved RGB bytes (`[H, W, 3]`, as
/// an `image::RgbImage` holds them): the class map `[H, W]`.
pub fn voc_label_indices(rgb: &[u8]) -> Vec<u8> {
    rgb.chunks_exact(3)
        .map(|p| voc_label([p[0], p[1], p[2]]))
        .collect()
}

/// The colour of class `k` in VOC's palette: the 21 classes' colours, the
/// boundary colour for 255, and for any other index the colour of
/// `k mod 21`, so class maps of more classes still draw.
pub fn voc_colour(k: usize) -> [u8; 3] {
    if k == 255 {
        VOC_BOUNDARY
    } else {
        VOC_COLORMAP[k % VOC_COLORMAP.len()]
    }
}

/// A class map `[H, W]` in VOC's palette, as interleaved RGB bytes
/// `[H, W, 3]` (see [`voc_colour`]).
pub fn colorize(labels: &[usize]) -> Vec<u8> {
    labels.iter().flat_map(|&k| voc_colour(k)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_masks_cover_the_pasted_items_and_batches_crop_alike() {
        let set = fashion_on_photos(4, 64, 2, 3).unwrap();
        let boxes = crate::detection::fashion_on_photos(4, 64, 2, 3).unwrap();
        assert_eq!(set.classes, ["background", "trouser", "sneaker", "bag"]);
        for (s, d) in set.items.iter().zip(&boxes.items) {
            // The same images as the detection set; every labelled pixel is
            // inside a box of its class.
            assert_eq!(s.image, d.image);
            let labelled = s.mask.iter().filter(|&&m| m != 0 && m != IGNORE).count();
            assert!(labelled > 20, "{labelled} labelled pixels");
            for (at, &m) in s.mask.iter().enumerate() {
                if m == 0 || m == IGNORE {
                    continue;
                }
                let (x, y) = ((at % 64) as f32 / 64.0, (at / 64) as f32 / 64.0);
                assert!(
                    d.objects.iter().any(|(c, b)| *c + 1 == m as usize
                        && x >= b[0] - 1e-6
                        && x < b[2]
                        && y >= b[1] - 1e-6
                        && y < b[3]),
                    "pixel {at} of class {m} outside its boxes"
                );
            }
        }
        let device = zoo_device::from_name("flex").unwrap();
        let mut rng = Rng::new(7);
        let b = set.batch(&[0, 1], Some([32, 48]), &mut rng, &device);
        assert_eq!(b.images.dims(), [2, 3, 32, 48]);
        assert_eq!(b.masks.dims(), [2, 32, 48]);
        // The crop of the labels is the crop of the image: replay the draws.
        let mut again = Rng::new(7);
        let (y0, x0) = (again.below(64 - 32 + 1), again.below(64 - 48 + 1));
        let masks: Vec<i64> = b.masks.into_data().try_into_vec_as().unwrap();
        assert_eq!(
            masks[5 * 48 + 7],
            set.items[0].mask[(y0 + 5) * 64 + x0 + 7] as i64
        );
        let px: Vec<f32> = b.images.into_data().try_into_vec_as().unwrap();
        let want = set.items[0]
            .image
            .get_pixel((x0 + 7) as u32, (y0 + 5) as u32)[1];
        // Item 0, channel 1 (green), row 5, column 7.
        assert_eq!(px[(32 + 5) * 48 + 7], want as f32 / 255.0);
    }

    #[test]
    fn colours_and_classes_round_trip() {
        let labels: Vec<usize> = (0..21).collect();
        let rgb = colorize(&labels);
        let back: Vec<usize> = voc_label_indices(&rgb)
            .into_iter()
            .map(usize::from)
            .collect();
        assert_eq!(back, labels);
        // d2l's example: the colour [128, 0, 0] is aeroplane (class 1), and
        // the boundary colour reads as background.
        assert_eq!(voc_label([128, 0, 0]), 1);
        assert_eq!(VOC_SEG_CLASSES[1], "aeroplane");
        assert_eq!(voc_label(VOC_BOUNDARY), 0);
        assert_eq!(voc_colour(255), VOC_BOUNDARY);
    }

    #[test]
    fn the_colour_map_is_the_devkit_bit_pattern() {
        // VOCdevkit's labelcolormap: bits of the class index spread over
        // the high bits of R, G and B.
        for (k, c) in VOC_COLORMAP.iter().enumerate() {
            let (mut r, mut g, mut b) = (0u8, 0u8, 0u8);
            let mut id = k;
            for j in 0..8 {
                r |= ((id & 1) as u8) << (7 - j);
                g |= (((id >> 1) & 1) as u8) << (7 - j);
                b |= (((id >> 2) & 1) as u8) << (7 - j);
                id >>= 3;
                if id == 0 {
                    break;
                }
            }
            assert_eq!(*c, [r, g, b], "class {k}");
        }
    }
}
