//! Batching images to tensors on any device: `u8` pixels become floats in
//! `[0, 1]`, optionally resized (the course trains AlexNet, VGG and NiN at
//! 224 and GoogLeNet, ResNet and DenseNet at 96 on Fashion-MNIST) and
//! normalised per channel.
//!
//! Resizing is bilinear with half-pixel centres and, when shrinking, the
//! triangle filter widened by the scale: what `torchvision`'s
//! `Resize(antialias=True)` and PIL's bilinear resize do. When enlarging it
//! is plain bilinear interpolation (`align_corners=False`).

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Int, Tensor, TensorData};
use zoo_kernels::axis_weights;

use crate::images::{ImageDataset, ImageItem};

/// A batch: images `[B, C, H, W]` and class indices `[B]`.
#[derive(Debug, Clone)]
pub struct ImageBatch {
    /// Float images.
    pub images: Tensor<4>,
    /// Class indices.
    pub targets: Tensor<1, Int>,
}

/// Makes [`ImageBatch`]es from [`ImageItem`]s.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageBatcher {
    resize: Option<[usize; 2]>,
    mean: Vec<f32>,
    std: Vec<f32>,
}

impl ImageBatcher {
    /// Floats in `[0, 1]`, no resize, no normalisation.
    pub fn new() -> Self {
        Self::default()
    }

    /// Resizes every image to `height x width`.
    ///
    /// # Panics
    /// When a side is zero.
    pub fn resize(mut self, height: usize, width: usize) -> Self {
        assert!(
            height > 0 && width > 0,
            "ImageBatcher::resize: size {height}x{width}, expected both sides > 0"
        );
        self.resize = Some([height, width]);
        self
    }

    /// Normalises channel `c` to `(x - mean[c]) / std[c]` (after scaling to
    /// `[0, 1]`); one value applies to every channel.
    ///
    /// # Panics
    /// When the lengths differ, are empty, or a std is not positive.
    pub fn normalize(mut self, mean: &[f32], std: &[f32]) -> Self {
        assert!(
            !mean.is_empty() && mean.len() == std.len(),
            "ImageBatcher::normalize: {} means and {} stds, expected the same non-zero number",
            mean.len(),
            std.len()
        );
        assert!(
            std.iter().all(|&s| s > 0.0),
            "ImageBatcher::normalize: std {std:?}, expected every value > 0"
        );
        self.mean = mean.to_vec();
        self.std = std.to_vec();
        self
    }

    /// The `[C, H, W]` of the batched images for inputs of `shape`.
    pub fn output_shape(&self, shape: [usize; 3]) -> [usize; 3] {
        match self.resize {
            Some([h, w]) => [shape[0], h, w],
            None => shape,
        }
    }

    /// Images `indices` of `data`, batched on `device`.
    ///
    /// # Panics
    /// When an index is out of range.
    pub fn batch_indices(
        &self,
        data: &ImageDataset,
        indices: &[usize],
        device: &Device,
    ) -> ImageBatch {
        let shape = data.shape();
        self.batch_slices(
            shape,
            indices.iter().map(|&i| (data.pixels(i), data.label(i))),
            indices.len(),
            device,
        )
    }

    fn batch_slices<'a>(
        &self,
        shape: [usize; 3],
        items: impl Iterator<Item = (&'a [u8], usize)>,
        count: usize,
        device: &Device,
    ) -> ImageBatch {
        let [c, h, w] = shape;
        let [_, oh, ow] = self.output_shape(shape);
        assert!(
            self.mean.len() <= 1 || self.mean.len() == c,
            "ImageBatcher: {} normalisation channels for images of {c} channels",
            self.mean.len()
        );
        let rows = (oh != h).then(|| axis_weights(h, oh, true));
        let cols = (ow != w).then(|| axis_weights(w, ow, true));
        let mut out = Vec::with_capacity(count * c * oh * ow);
        let mut targets = Vec::with_capacity(count);
        let mut plane = vec![0f32; h * w];
        let mut tmp = vec![0f32; h * ow];
        for (pixels, label) in items {
            assert_eq!(
                pixels.len(),
                c * h * w,
                "ImageBatcher: an image of {} bytes in a batch of shape {shape:?}",
                pixels.len()
            );
            targets.push(label as i64);
            for ch in 0..c {
                let src = &pixels[ch * h * w..(ch + 1) * h * w];
                let start = out.len();
                match (&rows, &cols) {
                    (None, None) => out.extend(src.iter().map(|&p| p as f32 / 255.0)),
                    _ => {
                        for (d, &s) in plane.iter_mut().zip(src) {
                            *d = s as f32 / 255.0;
                        }
                        // Columns first (h x ow), then rows (oh x ow).
                        match &cols {
                            Some(cw) => resample_rows(&plane, h, w, cw, &mut tmp),
                            None => tmp.copy_from_slice(&plane),
                        }
                        match &rows {
                            Some(rw) => resample_cols(&tmp, ow, rw, &mut out),
                            None => out.extend_from_slice(&tmp),
                        }
                    }
                }
                if !self.mean.is_empty() {
                    let k = if self.mean.len() == 1 { 0 } else { ch };
                    let (m, s) = (self.mean[k], self.std[k]);
                    for v in &mut out[start..] {
                        *v = (*v - m) / s;
                    }
                }
            }
        }
        let b = targets.len();
        ImageBatch {
            images: Tensor::from_data(TensorData::new(out, [b, c, oh, ow]), device),
            targets: Tensor::from_data(TensorData::new(targets, [b]), device),
        }
    }
}

impl Batcher<ImageItem, ImageBatch> for ImageBatcher {
    /// # Panics
    /// When `items` is empty or the images differ in shape.
    fn batch(&self, items: Vec<ImageItem>, device: &Device) -> ImageBatch {
        let shape = items
            .first()
            .expect("ImageBatcher::batch: no items, expected at least one")
            .shape;
        if let Some(other) = items.iter().find(|it| it.shape != shape) {
            panic!(
                "ImageBatcher::batch: images of shapes {shape:?} and {:?}, expected one shape",
                other.shape
            );
        }
        self.batch_slices(
            shape,
            items.iter().map(|it| (it.pixels.as_slice(), it.label)),
            items.len(),
            device,
        )
    }
}

/// `src` is `h x w`; writes `h x cw.len()` into `dst`.
fn resample_rows(src: &[f32], h: usize, w: usize, cw: &[(usize, Vec<f32>)], dst: &mut [f32]) {
    let ow = cw.len();
    for y in 0..h {
        let row = &src[y * w..(y + 1) * w];
        for (x, (lo, ws)) in cw.iter().enumerate() {
            dst[y * ow + x] = ws.iter().zip(&row[*lo..]).map(|(a, b)| a * b).sum();
        }
    }
}

/// `src` is `h x ow`; appends `rw.len() x ow` to `out`.
fn resample_cols(src: &[f32], ow: usize, rw: &[(usize, Vec<f32>)], out: &mut Vec<f32>) {
    for (lo, ws) in rw {
        let start = out.len();
        out.resize(start + ow, 0.0);
        for (k, wt) in ws.iter().enumerate() {
            let row = &src[(lo + k) * ow..(lo + k + 1) * ow];
            for (o, &v) in out[start..].iter_mut().zip(row) {
                *o += wt * v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_torch_antialiased_bilinear_interpolation() {
        // torch 2.15: x = (arange(40) * 5 / 255).reshape(1, 1, 5, 8);
        // F.interpolate(x, size, mode="bilinear", antialias=True,
        // align_corners=False), shrinking to 2x3 and (first row of) 7x11.
        let data = ImageDataset::new(
            (0..40u8).map(|i| i * 5).collect(),
            vec![0],
            [1, 5, 8],
            vec!["x".into()],
            crate::images::Source::Memory,
        )
        .unwrap();
        let device = zoo_device::from_name("flex").unwrap();
        let got = |h, w| -> Vec<f32> {
            ImageBatcher::new()
                .resize(h, w)
                .batch_indices(&data, &[0], &device)
                .images
                .into_data()
                .try_into_vec_as::<f32>()
                .unwrap()
        };
        let close = |got: &[f32], want: &[f32]| {
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 2e-6, "{got:?} vs {want:?}");
            }
        };
        close(
            &got(2, 3),
            &[0.178535, 0.22549, 0.272446, 0.49226, 0.539216, 0.586171],
        );
        let up = got(7, 11);
        close(
            &up[..11],
            &[
                0.0, 0.011586, 0.025847, 0.040107, 0.054367, 0.068627, 0.082888, 0.097148,
                0.111408, 0.125668, 0.137255,
            ],
        );
        close(
            &up[66..],
            &[
                0.627451, 0.639037, 0.653298, 0.667558, 0.681818, 0.696078, 0.710339, 0.724599,
                0.738859, 0.753119, 0.764706,
            ],
        );
    }

    #[test]
    fn upsampling_is_half_pixel_bilinear() {
        // torch: F.interpolate(tensor([[[[0., 1.]]]]), size=(1, 4), mode="bilinear",
        // align_corners=False) == [0, 0.25, 0.75, 1].
        let w = axis_weights(2, 4, true);
        let src = [0.0, 1.0];
        let got: Vec<f32> = w
            .iter()
            .map(|(lo, ws)| ws.iter().zip(&src[*lo..]).map(|(a, b)| a * b).sum())
            .collect();
        assert_eq!(got, vec![0.0, 0.25, 0.75, 1.0]);
    }

    #[test]
    fn downsampling_by_two_averages_with_the_triangle_filter() {
        // PIL bilinear 4 -> 2: support 2, centres 1 and 3; input centres at
        // 0.5, 1.5, 2.5, 3.5 get weights 0.75, 0.75, 0.25 (normalised) for the
        // first output: [0.75, 0.75, 0.25] / 1.75.
        let w = axis_weights(4, 2, true);
        assert_eq!(w[0].0, 0);
        let expect = [0.75 / 1.75, 0.75 / 1.75, 0.25 / 1.75];
        for (a, b) in w[0].1.iter().zip(expect) {
            assert!((a - b).abs() < 1e-6, "{:?}", w[0]);
        }
        assert_eq!(w[1].0, 1);
    }
}
