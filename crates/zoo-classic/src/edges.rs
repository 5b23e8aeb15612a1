//! Image gradients (the notes' edge detection): Sobel as OpenCV computes it
//! (`cv2.Sobel(ksize=3)`: the 3x3 kernels `[-1 0 1; -2 0 2; -1 0 1]` and its
//! transpose as correlations, border reflect-101 `dcb|abcd|cba`), Prewitt
//! (the same with weights 1) and Roberts' 2x2 cross, each with the L1
//! magnitude `|Gx| + |Gy|` of the notes or the L2 one, optionally clamped
//! to `[0, 255]`. Every channel of `[N, C, H, W]` separately.

use burn::tensor::Tensor;
use burn::tensor::ops::PadMode;

use crate::{ClassicError, invalid};

/// How the two gradients combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Magnitude {
    /// `|Gx| + |Gy|`.
    L1,
    /// `sqrt(Gx^2 + Gy^2)`.
    L2,
}

impl std::str::FromStr for Magnitude {
    type Err = ClassicError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "l1" | "L1" => Ok(Magnitude::L1),
            "l2" | "L2" => Ok(Magnitude::L2),
            other => invalid(
                "Magnitude",
                format!("unknown magnitude {other:?}, expected l1 or l2"),
            ),
        }
    }
}

/// Horizontal and vertical gradients and their magnitude, each `[N, C, H, W]`.
#[derive(Clone, Debug)]
pub struct Gradients {
    /// Along the width (positive where the image brightens to the right).
    pub gx: Tensor<4>,
    /// Along the height (positive where it brightens downwards).
    pub gy: Tensor<4>,
    /// The combined magnitude.
    pub magnitude: Tensor<4>,
}

fn magnitude(gx: &Tensor<4>, gy: &Tensor<4>, kind: Magnitude, clamp: bool) -> Tensor<4> {
    let m = match kind {
        Magnitude::L1 => gx.clone().abs() + gy.clone().abs(),
        Magnitude::L2 => (gx.clone().powi_scalar(2) + gy.clone().powi_scalar(2)).sqrt(),
    };
    if clamp { m.clamp(0.0, 255.0) } else { m }
}

fn reflect_padded(function: &'static str, image: Tensor<4>) -> Result<Tensor<4>, ClassicError> {
    let [_, _, h, w] = image.dims();
    if h < 2 || w < 2 {
        return invalid(
            function,
            format!("a {h}x{w} image; reflect-101 borders need at least 2x2"),
        );
    }
    Ok(image.pad([(0, 0), (0, 0), (1, 1), (1, 1)], PadMode::Reflect))
}

/// The 3x3 gradients with side weight `side` (Sobel 2, Prewitt 1).
fn three_by_three(
    function: &'static str,
    image: Tensor<4>,
    side: f64,
    kind: Magnitude,
    clamp: bool,
) -> Result<Gradients, ClassicError> {
    let [n, c, h, w] = image.dims();
    let p = reflect_padded(function, image)?;
    // p[dy, dx] is the image shifted so that (0, 0) reads the pixel at (-1, -1).
    let at = |dy: usize, dx: usize| p.clone().slice([0..n, 0..c, dy..dy + h, dx..dx + w]);
    let gx = (at(0, 2) - at(0, 0)) + (at(1, 2) - at(1, 0)).mul_scalar(side) + (at(2, 2) - at(2, 0));
    let gy = (at(2, 0) - at(0, 0)) + (at(2, 1) - at(0, 1)).mul_scalar(side) + (at(2, 2) - at(0, 2));
    let magnitude = magnitude(&gx, &gy, kind, clamp);
    Ok(Gradients { gx, gy, magnitude })
}

/// Sobel gradients as `cv2.Sobel(image, dx, dy, ksize=3)` with OpenCV's
/// default border.
pub fn sobel(image: Tensor<4>, kind: Magnitude, clamp: bool) -> Result<Gradients, ClassicError> {
    three_by_three("sobel", image, 2.0, kind, clamp)
}

/// Prewitt gradients: Sobel's layout with weights 1 (unnormalised, same
/// border).
pub fn prewitt(image: Tensor<4>, kind: Magnitude, clamp: bool) -> Result<Gradients, ClassicError> {
    three_by_three("prewitt", image, 1.0, kind, clamp)
}

/// Roberts' cross: `Gx = I(y, x) - I(y+1, x+1)`, `Gy = I(y, x+1) - I(y+1,
/// x)` (the diagonal differences of the notes), the last row and column
/// read through the reflect-101 border.
pub fn roberts(image: Tensor<4>, kind: Magnitude, clamp: bool) -> Result<Gradients, ClassicError> {
    let [n, c, h, w] = image.dims();
    let p = reflect_padded("roberts", image)?;
    let at = |dy: usize, dx: usize| {
        p.clone()
            .slice([0..n, 0..c, 1 + dy..1 + dy + h, 1 + dx..1 + dx + w])
    };
    let gx = at(0, 0) - at(1, 1);
    let gy = at(0, 1) - at(1, 0);
    let magnitude = magnitude(&gx, &gy, kind, clamp);
    Ok(Gradients { gx, gy, magnitude })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Worked by hand from the kernels: a vertical step
    /// from 0 to 10 between columns 1 and 2 of a 3x4 image gives Gx = 4 * 10
    /// on the two columns beside the step and 0 elsewhere (reflect-101
    /// mirrors the outer columns onto their neighbours), Gy = 0.
    #[test]
    fn a_vertical_step_gives_four_times_its_height() {
        let device = zoo_device::from_name("flex").unwrap();
        let row = [0.0f32, 0.0, 10.0, 10.0];
        let img = Tensor::<1>::from_floats([row, row, row].concat().as_slice(), &device)
            .reshape([1, 1, 3, 4]);
        let g = sobel(img, Magnitude::L1, false).unwrap();
        let gx: Vec<f32> = g.gx.into_data().try_into_vec_as::<f32>().unwrap();
        let gy: Vec<f32> = g.gy.into_data().try_into_vec_as::<f32>().unwrap();
        for r in 0..3 {
            assert_eq!(&gx[r * 4..r * 4 + 4], &[0.0, 40.0, 40.0, 0.0]);
        }
        assert!(gy.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn a_one_pixel_row_is_refused_with_its_size() {
        let device = zoo_device::from_name("flex").unwrap();
        let err = sobel(Tensor::zeros([1, 1, 1, 5], &device), Magnitude::L2, false).unwrap_err();
        assert!(err.to_string().contains("sobel: a 1x5 image"), "{err}");
    }
}
