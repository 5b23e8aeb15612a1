//! Looking at what a network learned directly (CS231n lecture 12): its
//! first layer's filters as images, and the training images nearest to a
//! query in its feature space (where a network's notion of "similar" shows).

use burn::tensor::Tensor;
use zoo_classic::knn::{KNearest, Metric};

use crate::{ExplainError, invalid};

/// Each filter of a convolution's `weight [out, in, kh, kw]` (`in` 1 or 3)
/// as an image in [0, 1], scaled by its own minimum and maximum as
/// CS231n's `visualize_grid` does (a constant filter is drawn black).
pub fn filter_images(weight: Tensor<4>) -> Result<Tensor<4>, ExplainError> {
    let [o, i, kh, kw] = weight.dims();
    if !(i == 1 || i == 3) || o == 0 {
        return invalid(
            "filter_images",
            format!(
                "weights [{o}, {i}, {kh}, {kw}]; expected at least one filter of 1 or 3 input channels"
            ),
        );
    }
    let flat = weight.reshape([o, i * kh * kw]);
    let lo = flat.clone().min_dim(1);
    let hi = flat.clone().max_dim(1);
    let scaled = (flat - lo.clone()) / (hi - lo).clamp_min(1e-12);
    Ok(scaled.reshape([o, i, kh, kw]))
}

/// The indices of the `k` rows of `base [n, d]` nearest (L2) to each row of
/// `queries [m, d]`, nearest first: nearest neighbours in a feature space.
pub fn nearest_neighbours(
    queries: Tensor<2>,
    base: Tensor<2>,
    k: usize,
) -> Result<Vec<Vec<usize>>, ExplainError> {
    let n = base.dims()[0];
    let err = |e: zoo_classic::ClassicError| ExplainError::Invalid {
        function: "nearest_neighbours",
        message: e.to_string(),
    };
    let knn = KNearest::fit(base, &vec![0; n], Metric::L2).map_err(err)?;
    knn.neighbours(queries, k).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_filter_spans_zero_to_one() {
        let device = zoo_device::from_name("flex").unwrap();
        let w = Tensor::<1>::from_floats([1.0f32, 3.0, 2.0, -1.0, 5.0, 5.0, 5.0, 5.0], &device)
            .reshape([2, 1, 2, 2]);
        let v: Vec<f32> = filter_images(w)
            .unwrap()
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        // (x - min) / (max - min): [1, 3, 2, -1] -> [0.5, 1, 0.75, 0]; a constant filter -> 0.
        assert_eq!(v, vec![0.5, 1.0, 0.75, 0.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn neighbours_are_the_closest_rows() {
        let device = zoo_device::from_name("flex").unwrap();
        let base =
            Tensor::<2>::from_floats([[0.0, 0.0], [10.0, 0.0], [1.0, 1.0], [9.0, 1.0]], &device);
        let q = Tensor::<2>::from_floats([[9.5, 0.2], [0.2, 0.1]], &device);
        assert_eq!(
            nearest_neighbours(q, base, 2).unwrap(),
            vec![vec![1, 3], vec![0, 2]]
        );
    }
}
