//! Transforms of images and their label maps together, for segmentation
//! (d2l 14.9 `voc_rand_crop`; torchvision's segmentation references): the
//! same random flip for both, and resizing with bilinear interpolation for
//! the images but nearest for the labels (a label is a class, not an
//! intensity; averaging two classes would invent a third). Random crops of
//! both are drawn where the pixels are cut
//! (`zoo_datasets::segmentation::SegmentationDataset::batch`).

use burn::tensor::{Bool, Int, Tensor, TensorData};
use zoo_rng::Rng;

use crate::AugmentError;
use crate::resize::{Interpolation, resize};

/// Flips each image `[N, C, H, W]` and its labels `[N, H, W]` left-right
/// with probability `p` (one draw per sample from `rng`). Returns the flips
/// drawn beside the tensors.
pub fn random_hflip(
    images: Tensor<4>,
    labels: Tensor<3, Int>,
    p: f64,
    rng: &mut Rng,
) -> Result<(Tensor<4>, Tensor<3, Int>, Vec<bool>), AugmentError> {
    let [n, c, h, w] = images.dims();
    if labels.dims() != [n, h, w] {
        return Err(AugmentError::new(
            "random_hflip",
            format!(
                "labels of shape {:?} for images {:?}, expected [{n}, {h}, {w}]",
                labels.dims(),
                [n, c, h, w]
            ),
        ));
    }
    if !(0.0..=1.0).contains(&p) {
        return Err(AugmentError::new(
            "random_hflip",
            format!("p {p}, expected a probability in [0, 1]"),
        ));
    }
    let flips: Vec<bool> = (0..n).map(|_| rng.unit_f64() < p).collect();
    if !flips.iter().any(|&f| f) {
        return Ok((images, labels, flips));
    }
    let device = images.device();
    let chosen = Tensor::<1, Bool>::from_data(TensorData::new(flips.clone(), [n]), &device);
    let images = images.clone().mask_where(
        chosen.clone().reshape([n, 1, 1, 1]).expand([n, c, h, w]),
        images.flip([3]),
    );
    let labels = labels.clone().mask_where(
        chosen.reshape([n, 1, 1]).expand([n, h, w]),
        labels.flip([2]),
    );
    Ok((images, labels, flips))
}

/// Resizes images `[N, C, H, W]` (bilinear, `antialias` when shrinking) and
/// their labels `[N, H, W]` (torch's nearest: source index
/// `floor(dst * in / out)`) to `size = [h, w]`.
pub fn resize_pair(
    images: Tensor<4>,
    labels: Tensor<3, Int>,
    size: [usize; 2],
    antialias: bool,
) -> Result<(Tensor<4>, Tensor<3, Int>), AugmentError> {
    let [n, _, h, w] = images.dims();
    if labels.dims() != [n, h, w] {
        return Err(AugmentError::new(
            "resize_pair",
            format!(
                "labels of shape {:?} for {h}x{w} images, expected [{n}, {h}, {w}]",
                labels.dims()
            ),
        ));
    }
    let images = resize(images, size, Interpolation::Bilinear, antialias)?;
    let device = labels.device();
    let nearest = |input: usize, output: usize| {
        let scale = input as f64 / output as f64;
        let idx: Vec<i64> = (0..output)
            .map(|i| ((i as f64 * scale).floor() as usize).min(input - 1) as i64)
            .collect();
        Tensor::<1, Int>::from_data(TensorData::new(idx, [output]), &device)
    };
    let labels = labels
        .select(1, nearest(h, size[0]))
        .select(2, nearest(w, size[1]));
    Ok((images, labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> burn::tensor::Device {
        zoo_device::from_name("flex").unwrap()
    }

    #[test]
    fn images_and_labels_flip_together() {
        let d = device();
        let images = Tensor::<4>::from_floats([[[[1.0, 2.0, 3.0]]], [[[4.0, 5.0, 6.0]]]], &d);
        let labels = Tensor::<3, Int>::from_ints([[[1, 2, 3]], [[4, 5, 6]]], &d);
        let mut rng = Rng::new(1);
        let (i, l, flips) = random_hflip(images, labels, 0.5, &mut rng).unwrap();
        let i: Vec<f32> = i.into_data().try_into_vec_as().unwrap();
        let l: Vec<i64> = l.into_data().try_into_vec_as().unwrap();
        for (k, &f) in flips.iter().enumerate() {
            let row: Vec<i64> = (1..=3).map(|v| v + 3 * k as i64).collect();
            let want: Vec<i64> = if f {
                row.into_iter().rev().collect()
            } else {
                row
            };
            assert_eq!(&l[3 * k..3 * k + 3], want.as_slice());
            let as_f: Vec<f32> = want.iter().map(|&v| v as f32).collect();
            assert_eq!(&i[3 * k..3 * k + 3], as_f.as_slice());
        }
        // p = 1 flips every sample, p = 0 none.
        let labels = Tensor::<3, Int>::from_ints([[[1, 2]]], &d);
        let images = Tensor::<4>::zeros([1, 1, 1, 2], &d);
        let (_, l, _) = random_hflip(images, labels, 1.0, &mut rng).unwrap();
        assert_eq!(l.into_data().try_into_vec_as::<i64>().unwrap(), vec![2, 1]);
    }

    #[test]
    fn labels_resize_by_nearest_without_inventing_classes() {
        let d = device();
        // torch: F.interpolate(labels[None].float(), size=(4, 6), mode="nearest")
        // of [[0, 3], [5, 7]] repeats each value in 2x3 blocks.
        let labels = Tensor::<3, Int>::from_ints([[[0, 3], [5, 7]]], &d);
        let images = Tensor::<4>::zeros([1, 3, 2, 2], &d);
        let (i, l) = resize_pair(images, labels, [4, 6], false).unwrap();
        assert_eq!(i.dims(), [1, 3, 4, 6]);
        let l: Vec<i64> = l.into_data().try_into_vec_as().unwrap();
        assert_eq!(
            l,
            vec![
                0, 0, 0, 3, 3, 3, 0, 0, 0, 3, 3, 3, 5, 5, 5, 7, 7, 7, 5, 5, 5, 7, 7, 7
            ]
        );
        let bad = resize_pair(
            Tensor::<4>::zeros([1, 3, 2, 2], &d),
            Tensor::<3, Int>::zeros([1, 3, 2], &d),
            [4, 4],
            false,
        );
        assert!(bad.unwrap_err().to_string().contains("labels of shape"));
    }
}
