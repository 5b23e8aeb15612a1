//! torchvision's `GeneralizedRCNNTransform` (`models/detection/transform.py`):
//! what Faster / Mask R-CNN do to a list of images before the backbone, and
//! to the detections after the heads.
//!
//! Per image: `(x - mean) / std` per channel; resized by
//! `scale = min(min_size / min(h, w), max_size / max(h, w))` (float64) to
//! `(floor(h scale), floor(w scale))` with bilinear interpolation
//! (`align_corners=False`, no antialias, source scale `in / out`), so a
//! 98 px side with `min_size` 128 becomes 127, not 128. The images are then
//! zero-padded at the bottom / right to a common size rounded up to a
//! multiple of `size_divisible` ([`ImageList`]). In training the size is
//! one of `min_size` at random and the targets' boxes (and masks) follow.
//! After the heads, boxes go back to the original image with the float32
//! ratios `original / resized`, and Mask R-CNN's masks are pasted into it.

use burn::tensor::{Int, Tensor};
use zoo_augment::resize::{Interpolation, resize};
use zoo_rng::Rng;

use crate::DetectError;

const OP: &str = "rcnn_transform";

fn augment_error(e: zoo_augment::AugmentError) -> DetectError {
    DetectError::new(OP, e.to_string())
}

/// torchvision's `ImageList`: the padded batch and each image's size
/// before padding.
#[derive(Clone, Debug)]
pub struct ImageList {
    /// The batch `[N, C, H, W]`, zero-padded at the bottom / right.
    pub tensors: Tensor<4>,
    /// Each image's resized, unpadded `(height, width)`.
    pub image_sizes: Vec<[usize; 2]>,
}

/// One image's ground truth, as torchvision's target dicts hold it.
#[derive(Clone, Debug)]
pub struct Target {
    /// `[G, 4]` `xyxy` boxes in pixels.
    pub boxes: Tensor<2>,
    /// `[G]` class labels (0 is the background).
    pub labels: Tensor<1, Int>,
    /// `[G, H, W]` binary instance masks (Mask R-CNN), if any.
    pub masks: Option<Tensor<3>>,
}

/// `GeneralizedRCNNTransform(min_size, max_size, image_mean, image_std,
/// size_divisible, fixed_size)`.
#[derive(Clone, Debug, PartialEq)]
pub struct GeneralizedRcnnTransform {
    /// The shorter side's target sizes: training picks one at random,
    /// evaluation uses the last.
    pub min_size: Vec<usize>,
    /// The longest the longer side may become.
    pub max_size: usize,
    /// Per-channel mean subtracted.
    pub image_mean: Vec<f64>,
    /// Per-channel standard deviation divided by.
    pub image_std: Vec<f64>,
    /// The padded batch's sides are multiples of this (32).
    pub size_divisible: usize,
    /// A fixed output size `(width, height)` instead of the scale rule
    /// (torchvision's `fixed_size`, used by SSD-like models).
    pub fixed_size: Option<[usize; 2]>,
}

impl GeneralizedRcnnTransform {
    /// The transform with one `min_size` and `size_divisible` 32 (Faster
    /// R-CNN's defaults are 800, 1333 and ImageNet's mean and std).
    pub fn new(
        min_size: usize,
        max_size: usize,
        image_mean: Vec<f64>,
        image_std: Vec<f64>,
    ) -> Self {
        Self {
            min_size: vec![min_size],
            max_size,
            image_mean,
            image_std,
            size_divisible: 32,
            fixed_size: None,
        }
    }

    /// The same transform with several training sizes of the shorter side.
    pub fn with_min_sizes(self, min_size: Vec<usize>) -> Self {
        Self { min_size, ..self }
    }

    /// The same transform with another `size_divisible`.
    pub fn with_size_divisible(self, size_divisible: usize) -> Self {
        Self {
            size_divisible,
            ..self
        }
    }

    /// The same transform resizing every image to `(width, height)`.
    pub fn with_fixed_size(self, fixed_size: Option<[usize; 2]>) -> Self {
        Self { fixed_size, ..self }
    }

    fn check(&self) -> Result<(), DetectError> {
        if self.min_size.is_empty() || self.min_size.contains(&0) || self.max_size == 0 {
            return Err(DetectError::new(
                OP,
                format!(
                    "min_size {:?}, max_size {}: expected positive sizes (at least one min_size)",
                    self.min_size, self.max_size
                ),
            ));
        }
        if self.size_divisible == 0 {
            return Err(DetectError::new(
                OP,
                "size_divisible 0, expected a positive integer",
            ));
        }
        if self.image_mean.len() != self.image_std.len()
            || self.image_std.iter().any(|s| *s == 0.0 || !s.is_finite())
            || self.image_mean.iter().any(|m| !m.is_finite())
        {
            return Err(DetectError::new(
                OP,
                format!(
                    "image_mean {:?}, image_std {:?}: expected as many finite values, std non-zero",
                    self.image_mean, self.image_std
                ),
            ));
        }
        Ok(())
    }

    /// `normalize`: `(image - mean[c]) / std[c]` of a `[C, H, W]` image
    /// (the float32 arithmetic of torchvision on float32 images).
    pub fn normalize(&self, image: Tensor<3>) -> Result<Tensor<3>, DetectError> {
        self.check()?;
        let [c, h, w] = image.dims();
        if c != self.image_mean.len() {
            return Err(DetectError::new(
                OP,
                format!(
                    "an image of {c} channels for {} means and stds",
                    self.image_mean.len()
                ),
            ));
        }
        let channels = (0..c)
            .map(|i| {
                image
                    .clone()
                    .slice([i..i + 1, 0..h, 0..w])
                    .sub_scalar(self.image_mean[i] as f32)
                    .div_scalar(self.image_std[i] as f32)
            })
            .collect();
        Ok(Tensor::cat(channels, 0))
    }

    /// The `(height, width)` an `h x w` image is resized to with this
    /// shorter-side `min_size` (or the fixed size).
    pub fn resized_size(&self, size: [usize; 2], min_size: usize) -> [usize; 2] {
        if let Some([fw, fh]) = self.fixed_size {
            return [fh, fw];
        }
        let [h, w] = size;
        let (lo, hi) = (h.min(w) as f64, h.max(w) as f64);
        let scale = (min_size as f64 / lo).min(self.max_size as f64 / hi);
        [
            (h as f64 * scale).floor() as usize,
            (w as f64 * scale).floor() as usize,
        ]
    }

    /// `resize` of one `[C, H, W]` image with this shorter-side size.
    pub fn resize(&self, image: Tensor<3>, min_size: usize) -> Result<Tensor<3>, DetectError> {
        let [c, h, w] = image.dims();
        if h == 0 || w == 0 {
            return Err(DetectError::new(
                OP,
                format!(
                    "an image of shape {:?}: expected positive height and width",
                    [c, h, w]
                ),
            ));
        }
        let size = self.resized_size([h, w], min_size);
        if size.contains(&0) {
            return Err(DetectError::new(
                OP,
                format!("a {h}x{w} image would be resized to {size:?}, an empty image"),
            ));
        }
        let y = resize(image.unsqueeze_dim(0), size, Interpolation::Bilinear, false)
            .map_err(augment_error)?;
        Ok(y.squeeze_dim(0))
    }

    /// `batch_images`: the images zero-padded at the bottom / right to the
    /// largest height and width, each rounded up to a multiple of
    /// `size_divisible`, as one `[N, C, H, W]` batch.
    pub fn batch_images(&self, images: Vec<Tensor<3>>) -> Result<Tensor<4>, DetectError> {
        self.check()?;
        let Some(first) = images.first() else {
            return Err(DetectError::new(OP, "no image to batch"));
        };
        let device = first.device();
        let mut max = [0usize; 3];
        for im in &images {
            for (m, d) in max.iter_mut().zip(im.dims()) {
                *m = (*m).max(d);
            }
        }
        let s = self.size_divisible;
        let round_up = |v: usize| {
            v.div_ceil(s).checked_mul(s).ok_or_else(|| {
                DetectError::new(OP, format!("{v} rounded up to a multiple of {s} overflows"))
            })
        };
        let [c, h, w] = [max[0], round_up(max[1])?, round_up(max[2])?];
        let n = images.len();
        DetectError::check_size(OP, "the batch", &[n, c, h, w].map(|d| d as u128))?;
        let mut batch = Tensor::<4>::zeros([n, c, h, w], &device);
        for (i, im) in images.into_iter().enumerate() {
            let [ci, hi, wi] = im.dims();
            batch = batch.slice_assign([i..i + 1, 0..ci, 0..hi, 0..wi], im.unsqueeze_dim(0));
        }
        Ok(batch)
    }

    /// The evaluation `forward`: every image normalised and resized with
    /// the last `min_size`, then batched.
    pub fn forward(&self, images: Vec<Tensor<3>>) -> Result<ImageList, DetectError> {
        self.check()?;
        let min_size = *self.min_size.last().expect("checked");
        let resized = images
            .into_iter()
            .map(|im| self.resize(self.normalize(im)?, min_size))
            .collect::<Result<Vec<_>, _>>()?;
        self.batch(resized)
    }

    fn batch(&self, images: Vec<Tensor<3>>) -> Result<ImageList, DetectError> {
        let image_sizes = images
            .iter()
            .map(|im| {
                let [_, h, w] = im.dims();
                [h, w]
            })
            .collect();
        Ok(ImageList {
            tensors: self.batch_images(images)?,
            image_sizes,
        })
    }

    /// The training `forward`: each image resized with a `min_size` drawn
    /// from `rng` (torchvision's `torch_choice`), its target's boxes scaled
    /// by the float32 ratios of the sizes and its masks resized with
    /// nearest-neighbour interpolation; then the degenerate-box check of
    /// `GeneralizedRCNN.forward` ([`check_target_boxes`]).
    pub fn forward_train(
        &self,
        images: Vec<Tensor<3>>,
        targets: Vec<Target>,
        rng: &mut Rng,
    ) -> Result<(ImageList, Vec<Target>), DetectError> {
        self.check()?;
        if images.len() != targets.len() {
            return Err(DetectError::new(
                OP,
                format!(
                    "{} images and {} targets, expected one target per image",
                    images.len(),
                    targets.len()
                ),
            ));
        }
        let mut resized = Vec::with_capacity(images.len());
        let mut out_targets = Vec::with_capacity(targets.len());
        for (i, (im, t)) in images.into_iter().zip(targets).enumerate() {
            let [_, h, w] = im.dims();
            let bd = t.boxes.dims();
            if bd[1] != 4 {
                return Err(DetectError::new(
                    OP,
                    format!("the boxes of target {i} have shape {bd:?}, expected [N, 4]"),
                ));
            }
            let min_size = self.min_size[rng.below(self.min_size.len())];
            let y = self.resize(self.normalize(im)?, min_size)?;
            let [_, nh, nw] = y.dims();
            let boxes = resize_boxes(t.boxes, [h, w], [nh, nw])?;
            let masks = match t.masks {
                None => None,
                Some(m) => {
                    let [g, mh, mw] = m.dims();
                    if [mh, mw] != [h, w] {
                        return Err(DetectError::new(
                            OP,
                            format!("the masks of target {i} are {mh}x{mw} for a {h}x{w} image"),
                        ));
                    }
                    if g == 0 {
                        Some(Tensor::zeros([0, nh, nw], &m.device()))
                    } else {
                        let r = resize(m.unsqueeze_dim(1), [nh, nw], Interpolation::Nearest, false)
                            .map_err(augment_error)?;
                        Some(r.squeeze_dim(1))
                    }
                }
            };
            check_target_boxes(i, &boxes)?;
            resized.push(y);
            out_targets.push(Target {
                boxes,
                labels: t.labels,
                masks,
            });
        }
        Ok((self.batch(resized)?, out_targets))
    }

    /// `postprocess` of one image's boxes: from the resized image
    /// (`image_size`) back to the original (`original_size`).
    pub fn postprocess_boxes(
        &self,
        boxes: Tensor<2>,
        image_size: [usize; 2],
        original_size: [usize; 2],
    ) -> Result<Tensor<2>, DetectError> {
        resize_boxes(boxes, image_size, original_size)
    }

    /// `postprocess` of one image's masks `[K, 1, M, M]` (probabilities):
    /// pasted at the boxes already taken back to the original image
    /// (`paste_masks_in_image(masks, boxes, original_size, padding=1)`).
    pub fn postprocess_masks(
        &self,
        masks: Tensor<4>,
        original_boxes: Tensor<2>,
        original_size: [usize; 2],
    ) -> Result<Tensor<4>, DetectError> {
        super::masks::paste_masks_in_image(masks, original_boxes, original_size, 1)
    }
}

/// `resize_boxes(boxes, original_size, new_size)`: x scaled by
/// `f32(new W) / f32(old W)`, y by the heights' ratio (float32, as
/// torchvision computes the ratios).
pub fn resize_boxes(
    boxes: Tensor<2>,
    original_size: [usize; 2],
    new_size: [usize; 2],
) -> Result<Tensor<2>, DetectError> {
    let [n, k] = boxes.dims();
    if k != 4 {
        return Err(DetectError::new(
            "resize_boxes",
            format!("boxes of shape {:?}, expected [N, 4]", [n, k]),
        ));
    }
    if original_size.contains(&0) {
        return Err(DetectError::new(
            "resize_boxes",
            format!("original size {original_size:?}, expected positive sides"),
        ));
    }
    if n == 0 {
        return Ok(boxes);
    }
    let rh = new_size[0] as f32 / original_size[0] as f32;
    let rw = new_size[1] as f32 / original_size[1] as f32;
    let cols = [rw, rh, rw, rh]
        .iter()
        .enumerate()
        .map(|(i, &r)| boxes.clone().slice([0..n, i..i + 1]).mul_scalar(r))
        .collect();
    Ok(Tensor::cat(cols, 1))
}

/// `GeneralizedRCNN.forward`'s check of the boxes of target `index`:
/// every box must have `x2 > x1` and `y2 > y1`; the first that does not is
/// named in the error.
pub fn check_target_boxes(index: usize, boxes: &Tensor<2>) -> Result<(), DetectError> {
    let rows = crate::read_rows::<4>("rcnn_targets", "target boxes", boxes.clone())?;
    if let Some((j, b)) = rows
        .iter()
        .enumerate()
        .find(|(_, b)| !(b[2] > b[0] && b[3] > b[1]))
    {
        return Err(DetectError::new(
            "rcnn_targets",
            format!(
                "all bounding boxes should have positive height and width; found invalid box {j} {b:?} for target at index {index}"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev() -> burn::tensor::Device {
        zoo_device::from_name("flex").unwrap()
    }

    #[test]
    fn sizes_follow_the_float64_rule() {
        // GeneralizedRCNNTransform(128, 1333, ...) on a 98 x 150 image:
        // scale = 128 / 98; floor(98 * scale) = 127 (98 * (128 / 98) is
        // 127.99999999999999 in float64), floor(150 * scale) = 195.
        let t = GeneralizedRcnnTransform::new(128, 1333, vec![0.0; 3], vec![1.0; 3]);
        assert_eq!(t.resized_size([98, 150], 128), [127, 195]);
        // max_size binds: 60 x 190 with 96 / 160 -> scale 160 / 190.
        let t = GeneralizedRcnnTransform::new(96, 160, vec![0.0; 3], vec![1.0; 3]);
        assert_eq!(t.resized_size([60, 190], 96), [50, 160]);
    }

    #[test]
    fn normalises_resizes_and_pads() {
        // t = GeneralizedRCNNTransform(4, 8, [0.5], [0.25], size_divisible=4).eval()
        // il, _ = t([torch.arange(6.).reshape(1, 2, 3) / 10])
        // il.tensors[0, 0]
        // tensor([[-2.0000000, -1.9000000, -1.7000000, -1.5000000, -1.3000001, -1.2000000, 0., 0.],
        //         [-1.7000000, -1.5999999, -1.4000001, -1.2000000, -1.0000000, -0.9000000, 0., 0.],
        //         [-1.0999999, -0.9999999, -0.8000000, -0.6000000, -0.4000000, -0.3000000, 0., 0.],
        //         [-0.8000000, -0.6999999, -0.5000000, -0.3000000, -0.1000000,  0.0000000, 0., 0.]])
        // il.image_sizes -> [(4, 6)]  (scale min(4 / 2, 8 / 3) = 2)
        let d = dev();
        let t = GeneralizedRcnnTransform::new(4, 8, vec![0.5], vec![0.25]).with_size_divisible(4);
        let im = Tensor::<1>::from_floats([0.0, 0.1, 0.2, 0.3, 0.4, 0.5], &d).reshape([1, 2, 3]);
        let il = t.forward(vec![im]).unwrap();
        assert_eq!(il.image_sizes, [[4, 6]]);
        assert_eq!(il.tensors.dims(), [1, 1, 4, 8]);
        let got: Vec<f32> = il.tensors.into_data().try_into_vec_as().unwrap();
        let want = [
            -2.0, -1.9, -1.7, -1.5, -1.3, -1.2, 0.0, 0.0, //
            -1.7, -1.6, -1.4, -1.2, -1.0, -0.9, 0.0, 0.0, //
            -1.1, -1.0, -0.8, -0.6, -0.4, -0.3, 0.0, 0.0, //
            -0.8, -0.7, -0.5, -0.3, -0.1, 0.0, 0.0, 0.0,
        ];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{got:?}");
        }
    }

    #[test]
    fn boxes_scale_back_and_degenerate_targets_are_named() {
        // resize_boxes(torch.tensor([[10., 20., 30., 40.]]), (128, 170), (100, 133))
        // tensor([[ 7.8235, 15.6250, 23.4706, 31.2500]])
        let d = dev();
        let b = Tensor::<2>::from_floats([[10.0, 20.0, 30.0, 40.0]], &d);
        let r = resize_boxes(b, [128, 170], [100, 133]).unwrap();
        let got: Vec<f32> = r.into_data().try_into_vec_as().unwrap();
        let want = [7.823_529_4, 15.625, 23.470_589, 31.25];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{got:?}");
        }
        let bad = Tensor::<2>::from_floats([[0.0, 0.0, 5.0, 5.0], [3.0, 1.0, 3.0, 4.0]], &d);
        let e = check_target_boxes(2, &bad).unwrap_err().to_string();
        assert!(
            e.contains("box 1 [3.0, 1.0, 3.0, 4.0]") && e.contains("index 2"),
            "{e}"
        );
    }

    #[test]
    fn training_resizes_targets_with_the_image() {
        // t = GeneralizedRCNNTransform(6, 100, [0.] * 3, [1.] * 3, size_divisible=8).train()
        // m = torch.tensor([[[1, 0, 0], [0, 1, 1]]], dtype=torch.uint8)
        // il, tg = t([torch.zeros(3, 2, 3)], [{"boxes": torch.tensor([[0.5, 0.25, 2., 1.5]]),
        //                                     "labels": torch.tensor([1]), "masks": m}])
        // il.tensors.shape -> [1, 3, 8, 16]; il.image_sizes -> [(6, 9)]
        // tg[0]["boxes"] -> tensor([[1.5000, 0.7500, 6.0000, 4.5000]])
        // tg[0]["masks"][0] -> rows 0-2: [1, 1, 1, 0, 0, 0, 0, 0, 0], rows 3-5: [0, 0, 0, 1, ... 1]
        let d = dev();
        let t = GeneralizedRcnnTransform::new(6, 100, vec![0.0; 3], vec![1.0; 3])
            .with_size_divisible(8);
        let target = Target {
            boxes: Tensor::from_floats([[0.5, 0.25, 2.0, 1.5]], &d),
            labels: Tensor::from_ints([1], &d),
            masks: Some(Tensor::from_floats(
                [[[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]],
                &d,
            )),
        };
        let (il, tg) = t
            .forward_train(
                vec![Tensor::zeros([3, 2, 3], &d)],
                vec![target],
                &mut Rng::new(0),
            )
            .unwrap();
        assert_eq!(il.tensors.dims(), [1, 3, 8, 16]);
        assert_eq!(il.image_sizes, [[6, 9]]);
        let boxes: Vec<f32> = tg[0].boxes.clone().into_data().try_into_vec_as().unwrap();
        assert_eq!(boxes, [1.5, 0.75, 6.0, 4.5]);
        let masks: Vec<f32> = tg[0]
            .masks
            .clone()
            .unwrap()
            .into_data()
            .try_into_vec_as()
            .unwrap();
        let top = [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let bottom = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        let want: Vec<f32> = [top, top, top, bottom, bottom, bottom].concat();
        assert_eq!(masks, want);
    }
}
