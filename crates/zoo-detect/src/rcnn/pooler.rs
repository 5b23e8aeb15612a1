//! `torchvision.ops.MultiScaleRoIAlign`: RoI align on a feature pyramid,
//! each box pooled from the level the FPN paper's heuristic (eq. 1) gives
//! it, with torchvision 0.29's semantics (`torchvision/ops/poolers.py`).
//!
//! - The scale of each level is `2^round(log2(h_level / max_i H_i))`, from
//!   the feature heights and the largest image height of `image_sizes`
//!   (not the padded batch); `k_min = -log2(scale of the first level)`,
//!   `k_max = -log2(scale of the last)`.
//! - A box of area `A` goes to level
//!   `clamp(floor(canonical_level + log2(sqrt(A) / canonical_scale) + 1e-6), k_min, k_max) - k_min`
//!   ([`LevelMapper`]).
//! - Each box is pooled by [`roi_align`] (`aligned=False`) on its level
//!   with that level's scale; the rows come back in box order (image 0's
//!   boxes first), and gradients flow to every level's features.
//!
//! The level of each box is a discrete decision taken on the host from the
//! boxes read back; the pooling is [`roi_align`]'s device ops.

use burn::tensor::{Int, Tensor, TensorData};

use crate::DetectError;
use crate::roi::{RoiAlignOptions, roi_align};

const OP: &str = "multiscale_roi_align";

/// The FPN level heuristic of torchvision's `LevelMapper`: which level of
/// the pyramid pools a box.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LevelMapper {
    /// The finest level (`-log2` of the first level's scale).
    pub k_min: i64,
    /// The coarsest level (`-log2` of the last level's scale).
    pub k_max: i64,
    /// The box side that goes to `canonical_level` (224 in the paper).
    pub canonical_scale: f64,
    /// The level of a `canonical_scale`-sided box (4 in the paper).
    pub canonical_level: f64,
    /// Added before the floor (torchvision's 1e-6).
    pub eps: f64,
}

impl LevelMapper {
    /// A mapper for levels `k_min ..= k_max` with torchvision's `eps` 1e-6.
    pub fn new(k_min: i64, k_max: i64, canonical_scale: f64, canonical_level: f64) -> Self {
        Self {
            k_min,
            k_max,
            canonical_scale,
            canonical_level,
            eps: 1e-6,
        }
    }

    /// The level index (`0` is `k_min`) of an `xyxy` box, computed in
    /// float32 as torchvision computes it for float32 boxes. A box of zero
    /// area goes to the finest level.
    pub fn level(&self, b: [f32; 4]) -> usize {
        let s = ((b[2] - b[0]) * (b[3] - b[1])).sqrt();
        let l = (self.canonical_level as f32 + (s / self.canonical_scale as f32).log2())
            + self.eps as f32;
        let l = l.floor().clamp(self.k_min as f32, self.k_max as f32);
        (l as i64 - self.k_min) as usize
    }

    /// The level index of every box.
    pub fn levels(&self, boxes: &[[f32; 4]]) -> Vec<usize> {
        boxes.iter().map(|&b| self.level(b)).collect()
    }
}

/// torchvision's `_infer_scale` on heights: `2^round(log2(feature / image))`
/// (the ratio rounded to float32 and its `log2` rounded half to even, as
/// `torch.tensor(ratio).log2().round()`).
pub fn infer_scale(feature_height: usize, image_height: usize) -> f64 {
    let ratio = (feature_height as f64 / image_height as f64) as f32;
    2f64.powf(f64::from(ratio.log2().round_ties_even()))
}

/// `torchvision.ops.MultiScaleRoIAlign(featmap_names, output_size,
/// sampling_ratio, canonical_scale=, canonical_level=)` (no parameters).
#[derive(Clone, Debug, PartialEq)]
pub struct MultiScaleRoIAlign {
    /// The feature maps pooled, finest first; other maps are ignored.
    pub featmap_names: Vec<String>,
    /// Output `[h, w]` of every box.
    pub output_size: [usize; 2],
    /// RoI align's sampling points per bin and axis; `<= 0`: adaptive.
    pub sampling_ratio: i64,
    /// The box side that goes to `canonical_level` (default 224).
    pub canonical_scale: f64,
    /// The level of a `canonical_scale`-sided box (default 4).
    pub canonical_level: f64,
}

impl MultiScaleRoIAlign {
    /// The pooler of the maps `featmap_names` with torchvision's defaults
    /// `canonical_scale` 224 and `canonical_level` 4.
    pub fn new(featmap_names: &[&str], output_size: [usize; 2], sampling_ratio: i64) -> Self {
        Self {
            featmap_names: featmap_names.iter().map(|s| s.to_string()).collect(),
            output_size,
            sampling_ratio,
            canonical_scale: 224.0,
            canonical_level: 4.0,
        }
    }

    /// The same pooler with another `canonical_scale` and `canonical_level`.
    pub fn with_canonical(mut self, canonical_scale: f64, canonical_level: f64) -> Self {
        self.canonical_scale = canonical_scale;
        self.canonical_level = canonical_level;
        self
    }

    /// torchvision's `_setup_scales`: the scale of each level (from the
    /// feature heights, finest first, and the largest image height of
    /// `image_sizes` `[(height, width)]`) and the level mapper.
    pub fn setup_scales(
        &self,
        feature_heights: &[usize],
        image_sizes: &[[usize; 2]],
    ) -> Result<(Vec<f64>, LevelMapper), DetectError> {
        let max_h = image_sizes.iter().map(|s| s[0]).max().unwrap_or(0);
        if max_h == 0 {
            return Err(DetectError::new(
                OP,
                format!(
                    "image_sizes {image_sizes:?}: expected at least one image of positive height"
                ),
            ));
        }
        if feature_heights.is_empty() || feature_heights.contains(&0) {
            return Err(DetectError::new(
                OP,
                format!(
                    "feature heights {feature_heights:?}: expected at least one level, none empty"
                ),
            ));
        }
        if !(self.canonical_scale.is_finite()
            && self.canonical_scale > 0.0
            && self.canonical_level.is_finite())
        {
            return Err(DetectError::new(
                OP,
                format!(
                    "canonical_scale {}, canonical_level {}: expected a positive scale and a finite level",
                    self.canonical_scale, self.canonical_level
                ),
            ));
        }
        let scales: Vec<f64> = feature_heights
            .iter()
            .map(|&h| infer_scale(h, max_h))
            .collect();
        let k = |s: f64| -(s as f32).log2() as i64;
        let (k_min, k_max) = (k(scales[0]), k(scales[scales.len() - 1]));
        if k_min > k_max {
            return Err(DetectError::new(
                OP,
                format!(
                    "feature heights {feature_heights:?} give levels {k_min} (first) to {k_max} (last): expected the finest level first"
                ),
            ));
        }
        Ok((
            scales,
            LevelMapper::new(k_min, k_max, self.canonical_scale, self.canonical_level),
        ))
    }

    /// Pools `boxes[i]` (`[K_i, 4]` `xyxy` in image coordinates, possibly
    /// empty) of image `i` from the maps `features` (`(name, [N, C, h, w])`;
    /// those named in `featmap_names` are used, in that order) for images of
    /// `image_sizes` `[(height, width)]`: `[sum K_i, C, oh, ow]`, rows in box
    /// order.
    pub fn forward<S: AsRef<str>>(
        &self,
        features: &[(S, Tensor<4>)],
        boxes: &[Tensor<2>],
        image_sizes: &[[usize; 2]],
    ) -> Result<Tensor<4>, DetectError> {
        let levels: Vec<Tensor<4>> = self
            .featmap_names
            .iter()
            .map(|name| {
                features
                    .iter()
                    .find(|(n, _)| n.as_ref() == name)
                    .map(|(_, t)| t.clone())
                    .ok_or_else(|| {
                        let have: Vec<&str> = features.iter().map(|(n, _)| n.as_ref()).collect();
                        DetectError::new(
                            OP,
                            format!(
                                "no feature map `{name}` among {have:?} (featmap_names {:?})",
                                self.featmap_names
                            ),
                        )
                    })
            })
            .collect::<Result<_, _>>()?;
        self.forward_levels(&levels, boxes, image_sizes)
    }

    /// [`forward`](Self::forward) on the levels already chosen (finest first).
    pub fn forward_levels(
        &self,
        levels: &[Tensor<4>],
        boxes: &[Tensor<2>],
        image_sizes: &[[usize; 2]],
    ) -> Result<Tensor<4>, DetectError> {
        let Some(first) = levels.first() else {
            return Err(DetectError::new(
                OP,
                "no feature map to pool from (featmap_names is empty)",
            ));
        };
        let [n, c, _, _] = first.dims();
        for (name, l) in self.featmap_names.iter().zip(levels) {
            let [ln, lc, _, _] = l.dims();
            if (ln, lc) != (n, c) {
                return Err(DetectError::new(
                    OP,
                    format!(
                        "feature map `{name}` has shape {:?}, expected [{n}, {c}, h, w] as the first",
                        l.dims()
                    ),
                ));
            }
        }
        if boxes.len() != n {
            return Err(DetectError::new(
                OP,
                format!(
                    "{} box sets for a batch of {n} feature maps, expected one per image",
                    boxes.len()
                ),
            ));
        }
        let heights: Vec<usize> = levels.iter().map(|l| l.dims()[2]).collect();
        let (scales, mapper) = self.setup_scales(&heights, image_sizes)?;

        // Every box with its image index, in box order.
        let mut rois: Vec<(usize, [f32; 4])> = Vec::new();
        for (i, b) in boxes.iter().enumerate() {
            for (k, r) in crate::read_rows::<4>(OP, &format!("boxes of image {i}"), b.clone())?
                .into_iter()
                .enumerate()
            {
                if !(r[2] >= r[0] && r[3] >= r[1]) {
                    return Err(DetectError::new(
                        OP,
                        format!(
                            "box {k} of image {i} is {r:?}: expected x1 <= x2 and y1 <= y2 (xyxy)"
                        ),
                    ));
                }
                rois.push((i, r));
            }
        }
        let [oh, ow] = self.output_size;
        let device = first.device();
        let total = rois.len();
        let level_of: Vec<usize> = if levels.len() == 1 {
            vec![0; total]
        } else {
            rois.iter().map(|&(_, b)| mapper.level(b)).collect()
        };
        // Pool each level's boxes, then put the rows back in box order.
        let mut parts: Vec<Tensor<4>> = Vec::new();
        let mut row_of = vec![0usize; total];
        let mut next = 0usize;
        for (l, (feature, &scale)) in levels.iter().zip(&scales).enumerate() {
            let members: Vec<usize> = (0..total).filter(|&r| level_of[r] == l).collect();
            if members.is_empty() {
                continue;
            }
            let flat: Vec<f32> = members
                .iter()
                .flat_map(|&r| {
                    let (i, b) = rois[r];
                    [i as f32, b[0], b[1], b[2], b[3]]
                })
                .collect();
            let r = Tensor::<2>::from_data(TensorData::new(flat, [members.len(), 5]), &device);
            let options = RoiAlignOptions {
                output_size: self.output_size,
                spatial_scale: scale,
                sampling_ratio: self.sampling_ratio,
                aligned: false,
            };
            parts.push(roi_align(feature.clone(), r, options)?);
            for &m in &members {
                row_of[m] = next;
                next += 1;
            }
        }
        // A box whose level has no map (featmap_names skipping a level)
        // stays zero, as torchvision leaves it.
        let orphans: Vec<usize> = (0..total)
            .filter(|&r| level_of[r] >= levels.len())
            .collect();
        if !orphans.is_empty() {
            parts.push(Tensor::zeros([orphans.len(), c, oh, ow], &device));
            for &m in &orphans {
                row_of[m] = next;
                next += 1;
            }
        }
        if total == 0 {
            return Ok(Tensor::zeros([0, c, oh, ow], &device));
        }
        let pooled = Tensor::cat(parts, 0);
        if row_of.iter().enumerate().all(|(r, &p)| r == p) {
            return Ok(pooled);
        }
        let idx: Vec<i64> = row_of.iter().map(|&p| p as i64).collect();
        Ok(pooled.select(
            0,
            Tensor::<1, Int>::from_data(TensorData::new(idx, [total]), &device),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev() -> burn::tensor::Device {
        zoo_device::from_name("flex").unwrap()
    }

    #[test]
    fn levels_and_pooling_are_torchvisions() {
        // f0 = torch.arange(64.).reshape(1, 1, 8, 8)
        // f1 = torch.arange(16.).reshape(1, 1, 4, 4) * 10
        // m = MultiScaleRoIAlign(['0', '1'], [2, 2], 2, canonical_scale=8, canonical_level=2)
        // boxes = torch.tensor([[0., 0., 15., 15.], [2., 2., 6., 6.], [4., 0., 12., 9.]])
        // out = m(OrderedDict([('0', f0), ('1', f1)]), [boxes], [(16, 16)])
        // m.scales -> [0.5, 0.25]; k_min, k_max -> 1, 2; m.map_levels([boxes]) -> [1, 0, 1]
        let d = dev();
        let f0 = Tensor::<1, Int>::arange(0..64, &d)
            .float()
            .reshape([1, 1, 8, 8]);
        let f1 = Tensor::<1, Int>::arange(0..16, &d)
            .float()
            .mul_scalar(10.0)
            .reshape([1, 1, 4, 4]);
        let boxes = Tensor::<2>::from_floats(
            [
                [0.0, 0.0, 15.0, 15.0],
                [2.0, 2.0, 6.0, 6.0],
                [4.0, 0.0, 12.0, 9.0],
            ],
            &d,
        );
        let m = MultiScaleRoIAlign::new(&["0", "1"], [2, 2], 2).with_canonical(8.0, 2.0);
        let (scales, mapper) = m.setup_scales(&[8, 4], &[[16, 16]]).unwrap();
        assert_eq!(scales, [0.5, 0.25]);
        assert_eq!((mapper.k_min, mapper.k_max), (1, 2));
        let rows = [
            [0.0, 0.0, 15.0, 15.0],
            [2.0, 2.0, 6.0, 6.0],
            [4.0, 0.0, 12.0, 9.0],
        ];
        assert_eq!(mapper.levels(&rows), [1, 0, 1]);
        // A map not named ("pool") is ignored.
        let features = [
            ("0", f0),
            ("pool", Tensor::zeros([1, 1, 1, 1], &d)),
            ("1", f1),
        ];
        let y = m.forward(&features, &[boxes], &[[16, 16]]).unwrap();
        assert_eq!(y.dims(), [3, 1, 2, 2]);
        let got: Vec<f32> = y.into_data().try_into_vec_as().unwrap();
        let want = [
            46.875, 64.21875, 116.25, 133.59375, 13.5, 14.5, 21.5, 22.5, 37.5, 47.5, 82.5, 92.5,
        ];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-4, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn empty_boxes_and_bad_input() {
        let d = dev();
        let f = [("0", Tensor::<4>::zeros([2, 3, 8, 8], &d))];
        let m = MultiScaleRoIAlign::new(&["0"], [7, 7], 2);
        let empty = Tensor::<2>::zeros([0, 4], &d);
        let y = m
            .forward(&f, &[empty.clone(), empty.clone()], &[[32, 32], [30, 20]])
            .unwrap();
        assert_eq!(y.dims(), [0, 3, 7, 7]);
        let e = m
            .forward(&f, std::slice::from_ref(&empty), &[[32, 32]])
            .unwrap_err();
        assert!(e.to_string().contains("1 box sets for a batch of 2"), "{e}");
        let e = MultiScaleRoIAlign::new(&["3"], [7, 7], 2)
            .forward(&f, &[empty.clone(), empty.clone()], &[[32, 32]])
            .unwrap_err();
        assert!(e.to_string().contains("no feature map `3`"), "{e}");
        let bad = Tensor::<2>::from_floats([[5.0, 0.0, 1.0, 2.0]], &d);
        let e = m.forward(&f, &[bad, empty], &[[32, 32]]).unwrap_err();
        assert!(e.to_string().contains("box 0 of image 0"), "{e}");
    }
}
