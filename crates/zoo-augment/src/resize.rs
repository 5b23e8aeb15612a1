//! Resizing as `F.resize` / `F.resized_crop`: bilinear (half-pixel centres,
//! optionally antialiased: the triangle filter widened by the scale when
//! shrinking, as torchvision and PIL) and torch's legacy `nearest`
//! (source index `floor(dst * in / out)`). Separable, so each axis is one
//! weight matrix and the resize two batched matmuls on the device.

use burn::tensor::{Tensor, TensorData};

use crate::AugmentError;
use crate::functional::crop;

/// The interpolation of [`resize`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interpolation {
    /// Bilinear.
    Bilinear,
    /// torch's legacy nearest.
    Nearest,
}

impl Interpolation {
    /// By torchvision's name.
    pub fn from_name(name: &str) -> Result<Self, AugmentError> {
        match name {
            "bilinear" => Ok(Self::Bilinear),
            "nearest" => Ok(Self::Nearest),
            other => Err(AugmentError::new(
                "resize",
                format!("interpolation `{other}`, expected bilinear or nearest"),
            )),
        }
    }
}

/// The taps of each output position along an axis (bilinear, optionally
/// antialiased); it lives in zoo-kernels beside the resampling that reads
/// them, so the data sets' batcher shares it without depending on this crate.
pub use zoo_kernels::axis_weights;

/// The dense `[output, input]` matrix of an axis.
fn axis_matrix(input: usize, output: usize, mode: Interpolation, antialias: bool) -> Vec<f32> {
    match mode {
        Interpolation::Bilinear => zoo_kernels::axis_matrix(input, output, antialias),
        Interpolation::Nearest => {
            let mut m = vec![0.0f32; output * input];
            let scale = input as f32 / output as f32;
            for i in 0..output {
                let src = ((i as f32 * scale).floor() as usize).min(input - 1);
                m[i * input + src] = 1.0;
            }
            m
        }
    }
}

/// `F.resize` of `[N, C, H, W]` to `size = [height, width]`.
pub fn resize(
    image: Tensor<4>,
    size: [usize; 2],
    mode: Interpolation,
    antialias: bool,
) -> Result<Tensor<4>, AugmentError> {
    let [n, c, h, w] = image.dims();
    let [oh, ow] = size;
    if oh == 0 || ow == 0 || h == 0 || w == 0 {
        return Err(AugmentError::new(
            "resize",
            format!("{h}x{w} to {oh}x{ow}, expected positive sizes"),
        ));
    }
    // The output, the rows-resized intermediate and the two axis matrices.
    for dims in [[n, c, oh, ow], [n, c, oh, w], [1, 1, oh, h], [1, 1, ow, w]] {
        AugmentError::check_size("resize", &dims.map(|d| d as u128))?;
    }
    let device = image.device();
    let b = n * c;
    let rows = Tensor::<3>::from_data(
        TensorData::new(axis_matrix(h, oh, mode, antialias), [1, oh, h]),
        &device,
    )
    .expand([b, oh, h]);
    let cols = Tensor::<3>::from_data(
        TensorData::new(axis_matrix(w, ow, mode, antialias), [1, ow, w]),
        &device,
    )
    .expand([b, ow, w]);
    let x = image.reshape([b, h, w]);
    let y = rows.matmul(x).matmul(cols.swap_dims(1, 2));
    Ok(y.reshape([n, c, oh, ow]))
}

/// `F.resized_crop`: [`crop`] then [`resize`].
pub fn resized_crop(
    image: Tensor<4>,
    window: [isize; 2],
    crop_size: [usize; 2],
    size: [usize; 2],
    mode: Interpolation,
    antialias: bool,
) -> Result<Tensor<4>, AugmentError> {
    let cropped = crop(image, window[0], window[1], crop_size[0], crop_size[1])?;
    resize(cropped, size, mode, antialias)
}
