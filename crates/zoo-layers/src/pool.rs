//! Pooling burn lacks: adaptive max pooling and spatial pyramid pooling.
//! (Max, average and adaptive average pooling are burn's:
//! `burn::tensor::module::{max_pool2d, avg_pool2d, adaptive_avg_pool2d}`.)

use burn::tensor::Tensor;
use burn::tensor::module::adaptive_avg_pool2d;

/// The input window of adaptive pooling's output cell `i` along an axis:
/// `floor(i * input / output) .. ceil((i + 1) * input / output)` (PyTorch's rule).
pub fn adaptive_window(i: usize, input: usize, output: usize) -> std::ops::Range<usize> {
    (i * input / output)..((i + 1) * input).div_ceil(output)
}

/// Adaptive max pooling of `[N, C, H, W]` to `[N, C, oh, ow]`
/// (`F.adaptive_max_pool2d`): output cell `(i, j)` is the maximum over the
/// window of [`adaptive_window`] on each axis; windows overlap when the
/// output does not divide the input.
///
/// # Panics
/// When an output size is zero.
pub fn adaptive_max_pool2d(x: Tensor<4>, output_size: [usize; 2]) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let [oh, ow] = output_size;
    assert!(
        oh > 0 && ow > 0,
        "adaptive_max_pool2d: output size {output_size:?} must be positive"
    );
    if h.is_multiple_of(oh) && w.is_multiple_of(ow) {
        // Equal, non-overlapping windows: one reshape and two reductions.
        let (kh, kw) = (h / oh, w / ow);
        return x
            .reshape([n, c, oh, kh, ow, kw])
            .max_dim(5)
            .max_dim(3)
            .reshape([n, c, oh, ow]);
    }
    // Overlapping windows: reduce each row band, then each column band.
    let rows: Vec<Tensor<4>> = (0..oh)
        .map(|i| {
            let r = adaptive_window(i, h, oh);
            x.clone().slice([0..n, 0..c, r, 0..w]).max_dim(2)
        })
        .collect();
    let rows = Tensor::cat(rows, 2); // [n, c, oh, w]
    let cells: Vec<Tensor<4>> = (0..ow)
        .map(|j| {
            let r = adaptive_window(j, w, ow);
            rows.clone().slice([0..n, 0..c, 0..oh, r]).max_dim(3)
        })
        .collect();
    Tensor::cat(cells, 3)
}

/// The pooling of each pyramid level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolMode {
    /// Maximum (He et al. 2014 use max).
    Max,
    /// Average.
    Avg,
}

/// Spatial pyramid pooling (He et al. 2014, SPP-net): for each level `l`,
/// adaptive `mode` pooling of `[N, C, H, W]` to `l x l`, flattened per sample
/// channel-major, the levels concatenated in the given order:
/// `[N, C * sum(l^2)]`, whatever `H` and `W`.
///
/// # Panics
/// When `levels` is empty or holds a zero.
pub fn spatial_pyramid_pool(x: Tensor<4>, levels: &[usize], mode: PoolMode) -> Tensor<2> {
    assert!(
        !levels.is_empty() && levels.iter().all(|&l| l > 0),
        "spatial_pyramid_pool: levels {levels:?} must be non-empty and positive"
    );
    let [n, c, _, _] = x.dims();
    let parts: Vec<Tensor<2>> = levels
        .iter()
        .map(|&l| {
            let pooled = match mode {
                PoolMode::Max => adaptive_max_pool2d(x.clone(), [l, l]),
                PoolMode::Avg => adaptive_avg_pool2d(x.clone(), [l, l]),
            };
            pooled.reshape([n, c * l * l])
        })
        .collect();
    Tensor::cat(parts, 1)
}

/// Maxout (Goodfellow et al. 2013) over channels: `[N, C * k, ...]` ->
/// `[N, C, ...]`, output channel `j` the maximum of input channels
/// `j k .. j k + k - 1`.
///
/// # Panics
/// When the rank is below 2, `pieces` is zero or does not divide the channels.
pub fn maxout<const D: usize>(x: Tensor<D>, pieces: usize) -> Tensor<D> {
    assert!(D >= 2, "maxout: input must be [N, C, ...]");
    let dims = x.dims();
    assert!(
        pieces > 0 && dims[1].is_multiple_of(pieces),
        "maxout: {pieces} pieces must divide the {} channels of input {dims:?}",
        dims[1]
    );
    let rest: usize = dims[2..].iter().product();
    let mut out = dims;
    out[1] = dims[1] / pieces;
    x.reshape([dims[0], out[1], pieces, rest])
        .max_dim(2)
        .reshape(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_follow_torch() {
        // 7 -> 3: [0, 3), [2, 5), [4, 7).
        assert_eq!(adaptive_window(0, 7, 3), 0..3);
        assert_eq!(adaptive_window(1, 7, 3), 2..5);
        assert_eq!(adaptive_window(2, 7, 3), 4..7);
        // 4 -> 5 (upsampling): cells repeat inputs.
        assert_eq!(adaptive_window(1, 4, 5), 0..2);
    }

    #[test]
    fn maxout_and_adaptive_max_by_hand() {
        let device = zoo_device::from_name("flex").unwrap();
        let x = Tensor::<2>::from_floats([[1.0, 5.0, -2.0, -3.0]], &device);
        let y: Vec<f32> = maxout(x, 2).into_data().try_into_vec_as::<f32>().unwrap();
        assert_eq!(y, vec![5.0, -2.0]);
        // 1x1x3x3 -> 2x2 with overlapping windows [0,2) and [1,3).
        let x = Tensor::<4>::from_floats(
            [[[[1.0, 2.0, 3.0], [4.0, 9.0, 0.0], [7.0, 8.0, 5.0]]]],
            &device,
        );
        let y: Vec<f32> = adaptive_max_pool2d(x, [2, 2])
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        assert_eq!(y, vec![9.0, 9.0, 9.0, 9.0]);
    }
}
