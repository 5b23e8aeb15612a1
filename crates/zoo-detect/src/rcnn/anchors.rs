//! torchvision's `AnchorGenerator` (`models/detection/anchor_utils.py`):
//! the anchors of a multi-level feature pyramid for Faster / Mask R-CNN.
//!
//! Per level, the cell anchors are computed in float32 as torchvision does:
//! `hr = sqrt(ratio)`, `wr = 1 / hr`, `ws = wr * size`, `hs = hr * size`
//! (ratio-major, size-minor), `round([-ws, -hs, ws, hs] / 2)` with
//! round-half-to-even (`22.5 -> 22`). A level of `h x w` cells on an image
//! (the padded batch) of `H x W` has the integer stride `(H / h, W / w)`,
//! and its anchors are the cell anchors shifted by `(x sw, y sh, x sw, y sh)`
//! for `y` in `0..h`, `x` in `0..w` (the top-left corner of each cell, not
//! its centre): level, then `y`, then `x`, then cell anchor.

use burn::tensor::{Device, Tensor, TensorData};

use crate::DetectError;

const OP: &str = "anchor_generator";

/// `AnchorGenerator(sizes, aspect_ratios)`: one list of sizes (pixels) and
/// one of aspect ratios (height / width) per feature level.
#[derive(Clone, Debug, PartialEq)]
pub struct AnchorGenerator {
    sizes: Vec<Vec<f64>>,
    aspect_ratios: Vec<Vec<f64>>,
    cell_anchors: Vec<Vec<[f32; 4]>>,
}

impl AnchorGenerator {
    /// The generator of `sizes[l]` x `aspect_ratios[l]` anchors per
    /// location of level `l`. Levels must agree in number, every list be
    /// non-empty and every value positive.
    pub fn new(sizes: Vec<Vec<f64>>, aspect_ratios: Vec<Vec<f64>>) -> Result<Self, DetectError> {
        if sizes.is_empty() || sizes.len() != aspect_ratios.len() {
            return Err(DetectError::new(
                OP,
                format!(
                    "{} levels of sizes and {} of aspect ratios: expected as many, at least one",
                    sizes.len(),
                    aspect_ratios.len()
                ),
            ));
        }
        for (l, (s, r)) in sizes.iter().zip(&aspect_ratios).enumerate() {
            if s.is_empty() || r.is_empty() {
                return Err(DetectError::new(
                    OP,
                    format!(
                        "level {l} has {} sizes and {} aspect ratios: expected at least one of each",
                        s.len(),
                        r.len()
                    ),
                ));
            }
            if let Some(v) = s.iter().chain(r).find(|v| !(v.is_finite() && **v > 0.0)) {
                return Err(DetectError::new(
                    OP,
                    format!(
                        "level {l}: sizes {s:?}, aspect ratios {r:?}: {v} is not a positive number"
                    ),
                ));
            }
        }
        let cell_anchors = sizes
            .iter()
            .zip(&aspect_ratios)
            .map(|(s, r)| generate_anchors(s, r))
            .collect();
        Ok(Self {
            sizes,
            aspect_ratios,
            cell_anchors,
        })
    }

    /// torchvision's `_default_anchorgen()` of the FPN models: sizes
    /// `32, 64, 128, 256, 512` (one per level), ratios `0.5, 1, 2` on each.
    pub fn fpn_default() -> Self {
        let sizes = [32.0, 64.0, 128.0, 256.0, 512.0].map(|s| vec![s]).to_vec();
        Self::new(sizes, vec![vec![0.5, 1.0, 2.0]; 5]).expect("valid defaults")
    }

    /// The sizes of each level.
    pub fn sizes(&self) -> &[Vec<f64>] {
        &self.sizes
    }

    /// The aspect ratios of each level.
    pub fn aspect_ratios(&self) -> &[Vec<f64>] {
        &self.aspect_ratios
    }

    /// The zero-centred anchors of one cell of each level.
    pub fn cell_anchors(&self) -> &[Vec<[f32; 4]>] {
        &self.cell_anchors
    }

    /// `num_anchors_per_location()`: `sizes x ratios` of each level.
    pub fn num_anchors_per_location(&self) -> Vec<usize> {
        self.cell_anchors.iter().map(Vec::len).collect()
    }

    /// The anchors of every level on the host, in torchvision's order,
    /// for an image (the padded batch) of `image_size = [H, W]` and one
    /// `[h, w]` grid per level.
    pub fn grid_anchors(
        &self,
        image_size: [usize; 2],
        feature_shapes: &[[usize; 2]],
    ) -> Result<Vec<[f32; 4]>, DetectError> {
        if feature_shapes.len() != self.cell_anchors.len() {
            return Err(DetectError::new(
                OP,
                format!(
                    "{} feature maps for {} levels of anchors: expected one map per level",
                    feature_shapes.len(),
                    self.cell_anchors.len()
                ),
            ));
        }
        let [ih, iw] = image_size;
        let mut total: u128 = 0;
        for (l, (&[h, w], cells)) in feature_shapes.iter().zip(&self.cell_anchors).enumerate() {
            if h == 0 || w == 0 {
                return Err(DetectError::new(
                    OP,
                    format!("level {l} has a {h}x{w} grid: expected a non-empty grid"),
                ));
            }
            total += h as u128 * w as u128 * cells.len() as u128;
        }
        DetectError::check_size(OP, "the anchors", &[total, 4])?;
        let mut out = Vec::with_capacity(total as usize);
        for (&[h, w], cells) in feature_shapes.iter().zip(&self.cell_anchors) {
            let (sh, sw) = (ih / h, iw / w);
            for y in 0..h {
                let dy = (y as u128 * sh as u128) as f32;
                for x in 0..w {
                    let dx = (x as u128 * sw as u128) as f32;
                    out.extend(
                        cells
                            .iter()
                            .map(|c| [c[0] + dx, c[1] + dy, c[2] + dx, c[3] + dy]),
                    );
                }
            }
        }
        Ok(out)
    }

    /// `AnchorGenerator.forward` for one image: the anchors of every level
    /// concatenated, `[A, 4]` on `device` (torchvision gives every image of
    /// the batch this same tensor).
    pub fn forward(
        &self,
        image_size: [usize; 2],
        feature_shapes: &[[usize; 2]],
        device: &Device,
    ) -> Result<Tensor<2>, DetectError> {
        let a = self.grid_anchors(image_size, feature_shapes)?;
        let n = a.len();
        let flat: Vec<f32> = a.into_iter().flatten().collect();
        Ok(Tensor::from_data(TensorData::new(flat, [n, 4]), device))
    }

    /// The number of anchors of each level for these grids (`A h w`).
    pub fn num_anchors_per_level(&self, feature_shapes: &[[usize; 2]]) -> Vec<usize> {
        feature_shapes
            .iter()
            .zip(&self.cell_anchors)
            .map(|(&[h, w], c)| h * w * c.len())
            .collect()
    }
}

/// `generate_anchors(scales, aspect_ratios)` in float32.
fn generate_anchors(scales: &[f64], aspect_ratios: &[f64]) -> Vec<[f32; 4]> {
    let mut out = Vec::with_capacity(scales.len() * aspect_ratios.len());
    for &r in aspect_ratios {
        let hr = (r as f32).sqrt();
        let wr = 1.0 / hr;
        for &s in scales {
            let (ws, hs) = (wr * s as f32, hr * s as f32);
            out.push([-ws, -hs, ws, hs].map(|v| (v / 2.0).round_ties_even()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_anchors_are_torchvisions() {
        // AnchorGenerator(((32, 45),), ((0.5, 1.0, 2.0),)).cell_anchors[0]
        // tensor([[-23., -11.,  23.,  11.],
        //         [-32., -16.,  32.,  16.],
        //         [-16., -16.,  16.,  16.],
        //         [-22., -22.,  22.,  22.],
        //         [-11., -23.,  11.,  23.],
        //         [-16., -32.,  16.,  32.]])
        let g = AnchorGenerator::new(vec![vec![32.0, 45.0]], vec![vec![0.5, 1.0, 2.0]]).unwrap();
        assert_eq!(
            g.cell_anchors()[0],
            [
                [-23.0, -11.0, 23.0, 11.0],
                [-32.0, -16.0, 32.0, 16.0],
                [-16.0, -16.0, 16.0, 16.0],
                [-22.0, -22.0, 22.0, 22.0],
                [-11.0, -23.0, 11.0, 23.0],
                [-16.0, -32.0, 16.0, 32.0],
            ]
        );
        assert_eq!(g.num_anchors_per_location(), [6]);
    }

    #[test]
    fn grid_shifts_by_integer_strides() {
        // ag = AnchorGenerator(((16,),), ((1.0,),))
        // il = ImageList(torch.zeros(1, 3, 10, 7), [(10, 7)])
        // ag(il, [torch.zeros(1, 1, 3, 2)])[0]   # strides (10 // 3, 7 // 2) = (3, 3)
        // tensor([[-8., -8.,  8.,  8.], [-5., -8., 11.,  8.],
        //         [-8., -5.,  8., 11.], [-5., -5., 11., 11.],
        //         [-8., -2.,  8., 14.], [-5., -2., 11., 14.]])
        let g = AnchorGenerator::new(vec![vec![16.0]], vec![vec![1.0]]).unwrap();
        let a = g.grid_anchors([10, 7], &[[3, 2]]).unwrap();
        assert_eq!(
            a,
            [
                [-8.0, -8.0, 8.0, 8.0],
                [-5.0, -8.0, 11.0, 8.0],
                [-8.0, -5.0, 8.0, 11.0],
                [-5.0, -5.0, 11.0, 11.0],
                [-8.0, -2.0, 8.0, 14.0],
                [-5.0, -2.0, 11.0, 14.0],
            ]
        );
        let e = g.grid_anchors([10, 7], &[[3, 2], [1, 1]]).unwrap_err();
        assert!(e.to_string().contains("2 feature maps for 1 levels"), "{e}");
        let e = AnchorGenerator::new(vec![vec![-1.0]], vec![vec![1.0]]).unwrap_err();
        assert!(e.to_string().contains("-1"), "{e}");
    }
}
