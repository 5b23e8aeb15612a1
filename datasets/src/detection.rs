//! Detection data: a synthetic set of the course's kind that runs offline
//! ([`fashion_on_photos`]: Fashion-MNIST items with known boxes pasted onto
//! crops of real photographs, as the course's banana set pastes bananas onto
//! backgrounds), and Pascal VOC 2007's XML annotations ([`voc`]).
//!
//! Boxes are `(class, [x1, y1, x2, y2])` with coordinates as fractions of
//! the image, as the course's `multibox_target` takes them.

use burn::tensor::{Device, Tensor, TensorData};
use image::imageops::FilterType;
use image::{Rgb, RgbImage};
use zoo_rng::Rng;

use crate::DataError;
use crate::mnist::{FashionMnist, Split};

pub mod voc;

/// One image and its objects.
#[derive(Clone, Debug, PartialEq)]
pub struct DetectionItem {
    /// `size x size` RGB pixels, row-major `[H, W, 3]`.
    pub image: RgbImage,
    /// `(class, [x1, y1, x2, y2])`, coordinates in `[0, 1]`.
    pub objects: Vec<(usize, [f32; 4])>,
}

/// A detection set in memory.
#[derive(Clone, Debug)]
pub struct DetectionDataset {
    /// The images and their boxes.
    pub items: Vec<DetectionItem>,
    /// Class names, by index.
    pub classes: Vec<String>,
}

/// A batch: images `[B, 3, H, W]` in `[0, 1]` and labels `[B, G, 5]` rows
/// `(class, x1, y1, x2, y2)`, padded with class -1 rows to the most objects
/// of any image in the batch.
#[derive(Clone, Debug)]
pub struct DetectionBatch {
    /// Images.
    pub images: Tensor<4>,
    /// Labels.
    pub labels: Tensor<3>,
}

impl DetectionDataset {
    /// Items `indices` as a batch on `device`.
    ///
    /// # Panics
    /// When an index is out of range or the images differ in size.
    pub fn batch(&self, indices: &[usize], device: &Device) -> DetectionBatch {
        let items: Vec<&DetectionItem> = indices.iter().map(|&i| &self.items[i]).collect();
        let (w, h) = items[0].image.dimensions();
        let (w, h) = (w as usize, h as usize);
        let g = items
            .iter()
            .map(|it| it.objects.len())
            .max()
            .unwrap_or(0)
            .max(1);
        let mut px = Vec::with_capacity(items.len() * 3 * h * w);
        let mut labels = Vec::with_capacity(items.len() * g * 5);
        for it in &items {
            assert_eq!(
                it.image.dimensions(),
                (w as u32, h as u32),
                "DetectionDataset::batch: images of different sizes"
            );
            for c in 0..3 {
                px.extend(it.image.pixels().map(|p| p[c] as f32 / 255.0));
            }
            for k in 0..g {
                match it.objects.get(k) {
                    Some((class, b)) => labels.extend([*class as f32, b[0], b[1], b[2], b[3]]),
                    None => labels.extend([-1.0, 0.0, 0.0, 0.0, 0.0]),
                }
            }
        }
        let n = items.len();
        DetectionBatch {
            images: Tensor::from_data(TensorData::new(px, [n, 3, h, w]), device),
            labels: Tensor::from_data(TensorData::new(labels, [n, g, 5]), device),
        }
    }
}

/// The Fashion-MNIST classes pasted by [`fashion_on_photos`] (trouser,
/// sneaker, bag), as indices into Fashion-MNIST's labels.
pub const PASTED_CLASSES: [usize; 3] = [1, 7, 8];

/// The photographs the backgrounds are cropped from (`assets/images`:
/// CC0 / public domain, see its README).
fn photos() -> Result<Vec<RgbImage>, DataError> {
    const CHELSEA: &[u8] = include_bytes!("../../assets/images/chelsea.jpg");
    const HUBBLE: &[u8] = include_bytes!("../../assets/images/hubble_deep_field.jpg");
    [CHELSEA, HUBBLE]
        .iter()
        .map(|bytes| {
            image::load_from_memory(bytes)
                .map(|i| i.to_rgb8())
                .map_err(|e| DataError::Invalid(format!("embedded background photo: {e}")))
        })
        .collect()
}

/// `n` images of `size x size`: a random crop (30-100% of the shorter side,
/// mirrored half the time) of one of two real photographs, with 1 to
/// `max_objects` Fashion-MNIST items of [`PASTED_CLASSES`] (from the embedded
/// test subset, so training never sees the classifier's training images)
/// pasted in a random bright colour at 25-50% of the side, their intensity
/// as the alpha mask, not overlapping another by more than IoU 0.1. Each box
/// is the tight box of the item's visible pixels (alpha above 0.1). The same
/// `seed` gives the same set.
pub fn fashion_on_photos(
    n: usize,
    size: usize,
    max_objects: usize,
    seed: u64,
) -> Result<DetectionDataset, DataError> {
    Ok(DetectionDataset {
        items: compose(n, size, max_objects, seed)?
            .into_iter()
            .map(|c| DetectionItem {
                image: c.image,
                objects: c.objects,
            })
            .collect(),
        classes: PASTED_CLASSES
            .iter()
            .map(|&c| FashionMnist::CLASSES[c].to_string())
            .collect(),
    })
}

/// One generated image with its boxes and its per-pixel labels.
pub(crate) struct Composed {
    pub(crate) image: RgbImage,
    pub(crate) objects: Vec<(usize, [f32; 4])>,
    /// `[size, size]`: 0 background, `1 + class` where an item's alpha is
    /// above 0.5, [`IGNORE`] on its soft edge (alpha in (0.1, 0.5]).
    pub(crate) mask: Vec<u8>,
}

/// The label of the pixels on a pasted item's soft edge, ignored by the
/// loss and the metrics (VOC marks its object boundaries the same way).
pub const IGNORE: u8 = 255;

/// What [`fashion_on_photos`] and the segmentation set draw: see there.
pub(crate) fn compose(
    n: usize,
    size: usize,
    max_objects: usize,
    seed: u64,
) -> Result<Vec<Composed>, DataError> {
    // Each object takes a quarter to half of the side and may overlap the
    // others only a little: more than 16 never fit, and each extra one costs
    // up to ten placement tries.
    if size < 32 || !(1..=16).contains(&max_objects) {
        return Err(DataError::Invalid(format!(
            "synthetic detection set: size {size}, max_objects {max_objects}: expected size >= 32 and 1 to 16 objects"
        )));
    }

    let photos = photos()?;
    let items = FashionMnist::embedded(Split::Test)?;
    let pools: Vec<Vec<usize>> = PASTED_CLASSES
        .iter()
        .map(|&c| (0..items.len()).filter(|&i| items.label(i) == c).collect())
        .collect();
    let mut rng = Rng::new(seed);
    let mut uniform = |lo: f32, hi: f32| lo + (hi - lo) * rng.unit();
    let mut out = Vec::with_capacity(n);
    let mut draws = Rng::new(seed ^ 0x5eed);
    for _ in 0..n {
        let photo = &photos[draws.below(photos.len())];
        let (pw, ph) = photo.dimensions();
        let side = (pw.min(ph) as f32 * uniform(0.3, 1.0)) as u32;
        let x0 = draws.below((pw - side + 1) as usize) as u32;
        let y0 = draws.below((ph - side + 1) as usize) as u32;
        let crop = image::imageops::crop_imm(photo, x0, y0, side, side).to_image();
        let mut img =
            image::imageops::resize(&crop, size as u32, size as u32, FilterType::Triangle);
        if draws.below(2) == 1 {
            image::imageops::flip_horizontal_in_place(&mut img);
        }
        let mut mask = vec![0u8; size * size];
        let count = 1 + draws.below(max_objects);
        let mut objects: Vec<(usize, [f32; 4])> = Vec::new();
        for _ in 0..count {
            for _try in 0..10 {
                let k = draws.below(PASTED_CLASSES.len());
                let item = pools[k][draws.below(pools[k].len())];
                let s = (size as f32 * uniform(0.25, 0.5)) as u32;
                let x = draws.below((size as u32 - s + 1) as usize) as u32;
                let y = draws.below((size as u32 - s + 1) as usize) as u32;
                let scaled = image::imageops::resize(
                    &image::GrayImage::from_raw(28, 28, items.pixels(item).to_vec())
                        .expect("28x28 Fashion-MNIST pixels"),
                    s,
                    s,
                    FilterType::Triangle,
                );
                let (mut bx1, mut by1, mut bx2, mut by2) = (u32::MAX, u32::MAX, 0, 0);
                for (px, py, p) in scaled.enumerate_pixels() {
                    if p[0] as f32 / 255.0 > 0.1 {
                        bx1 = bx1.min(px);
                        by1 = by1.min(py);
                        bx2 = bx2.max(px + 1);
                        by2 = by2.max(py + 1);
                    }
                }
                if bx1 == u32::MAX {
                    continue;
                }
                let f = size as f32;
                let bbox = [
                    (x + bx1) as f32 / f,
                    (y + by1) as f32 / f,
                    (x + bx2) as f32 / f,
                    (y + by2) as f32 / f,
                ];
                if objects.iter().any(|(_, o)| iou(o, &bbox) > 0.1) {
                    continue;
                }
                let colour = [uniform(0.5, 1.0), uniform(0.5, 1.0), uniform(0.5, 1.0)];
                for (px, py, p) in scaled.enumerate_pixels() {
                    let a = p[0] as f32 / 255.0;
                    let dst = img.get_pixel_mut(x + px, y + py);
                    let mixed: [u8; 3] = std::array::from_fn(|c| {
                        (dst[c] as f32 * (1.0 - a) + 255.0 * colour[c] * a).round() as u8
                    });
                    *dst = Rgb(mixed);
                    let at = (y + py) as usize * size + (x + px) as usize;
                    if a > 0.5 {
                        mask[at] = 1 + k as u8;
                    } else if a > 0.1 {
                        mask[at] = IGNORE;
                    }
                }
                objects.push((k, bbox));
                break;
            }
        }
        out.push(Composed {
            image: img,
            objects,
            mask,
        });
    }
    Ok(out)
}

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_boxes_enclose_the_pasted_pixels_and_replay_by_seed() {
        let a = fashion_on_photos(6, 64, 2, 3).unwrap();
        let b = fashion_on_photos(6, 64, 2, 3).unwrap();
        assert_eq!(a.items, b.items);
        assert_eq!(a.classes, ["trouser", "sneaker", "bag"]);
        for it in &a.items {
            assert!((1..=2).contains(&it.objects.len()));
            for (class, bx) in &it.objects {
                assert!(*class < 3);
                assert!(bx[0] < bx[2] && bx[1] < bx[3] && bx[2] <= 1.0 && bx[3] <= 1.0);
                // At least a tenth of the side: the items are 25-50% of it.
                assert!(bx[2] - bx[0] > 0.05 && bx[3] - bx[1] > 0.1, "{bx:?}");
            }
        }
        let device = zoo_device::from_name("flex").unwrap();
        let batch = a.batch(&[0, 1, 2], &device);
        assert_eq!(batch.images.dims(), [3, 3, 64, 64]);
        let g = batch.labels.dims()[1];
        let labels: Vec<f32> = batch.labels.into_data().try_to_vec().unwrap();
        // Padding rows have class -1.
        for (i, it) in a.items[..3].iter().enumerate() {
            for k in it.objects.len()..g {
                assert_eq!(labels[(i * g + k) * 5], -1.0);
            }
        }
    }
}
