//! torchvision's `BalancedPositiveNegativeSampler`
//! (`models/detection/_utils.py`): the anchors (RPN) or proposals (box
//! head) a training step learns from, at most `batch_size_per_image` per
//! image of which at most `positive_fraction` positive.
//!
//! Per image: positives are the elements labelled `>= 1`, negatives those
//! labelled `0` (`-1` is ignored); `num_pos = min(#pos, int(batch *
//! fraction))`, `num_neg = min(#neg, batch - num_pos)`, each drawn
//! uniformly without replacement. torchvision draws with `torch.randperm`;
//! this draws with the zoo's seeded [`zoo_rng::Rng`], so the same seed gives
//! the same sample on every device (not torch's sample: the parity cases
//! give the draw instead). The indices come back ascending, as torchvision
//! hands them on (`torch.where` of a mask).

use zoo_rng::Rng;

use crate::DetectError;

const OP: &str = "balanced_positive_negative_sampler";

/// One image's sample: indices into its labels, ascending.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    /// The positives drawn.
    pub positive: Vec<usize>,
    /// The negatives drawn.
    pub negative: Vec<usize>,
}

/// `BalancedPositiveNegativeSampler(batch_size_per_image, positive_fraction)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BalancedPositiveNegativeSampler {
    /// Elements drawn per image (the RPN: 256; the box head: 512).
    pub batch_size_per_image: usize,
    /// The largest share of positives (0.5 and 0.25).
    pub positive_fraction: f64,
}

impl BalancedPositiveNegativeSampler {
    /// A sampler; `positive_fraction` must lie in `[0, 1]`.
    pub fn new(batch_size_per_image: usize, positive_fraction: f64) -> Result<Self, DetectError> {
        if !(0.0..=1.0).contains(&positive_fraction) {
            return Err(DetectError::new(
                OP,
                format!("positive_fraction {positive_fraction}, expected a value in [0, 1]"),
            ));
        }
        Ok(Self {
            batch_size_per_image,
            positive_fraction,
        })
    }

    /// The sample of one image from its labels (`>= 1` positive, `0`
    /// negative, anything below ignored).
    pub fn sample_image(&self, labels: &[i64], rng: &mut Rng) -> Sample {
        let positive: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] >= 1).collect();
        let negative: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == 0).collect();
        let num_pos = ((self.batch_size_per_image as f64 * self.positive_fraction) as usize)
            .min(positive.len());
        let num_neg = (self.batch_size_per_image - num_pos).min(negative.len());
        Sample {
            positive: draw(&positive, num_pos, rng),
            negative: draw(&negative, num_neg, rng),
        }
    }

    /// `sampler(matched_idxs)`: the sample of each image.
    pub fn sample(&self, labels: &[Vec<i64>], rng: &mut Rng) -> Vec<Sample> {
        labels.iter().map(|l| self.sample_image(l, rng)).collect()
    }
}

/// `k` of `from` drawn without replacement, ascending.
fn draw(from: &[usize], k: usize, rng: &mut Rng) -> Vec<usize> {
    let mut picked: Vec<usize> = rng
        .permutation(from.len())
        .into_iter()
        .take(k)
        .map(|i| from[i])
        .collect();
    picked.sort_unstable();
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_at_most_the_fraction_of_positives() {
        // labels: 3 positives, 6 negatives, 2 ignored.
        let labels = [1, 0, 0, -1, 2, 0, 0, 1, 0, -1, 0];
        let s = BalancedPositiveNegativeSampler::new(4, 0.25).unwrap();
        let mut rng = Rng::new(3);
        let d = s.sample_image(&labels, &mut rng);
        // int(4 * 0.25) = 1 positive, 3 negatives.
        assert_eq!(d.positive.len(), 1);
        assert_eq!(d.negative.len(), 3);
        assert!(d.positive.iter().all(|&i| labels[i] >= 1));
        assert!(d.negative.iter().all(|&i| labels[i] == 0));
        assert!(d.negative.windows(2).all(|w| w[0] < w[1]));
        // Too few positives: the negatives fill the batch.
        let s = BalancedPositiveNegativeSampler::new(8, 0.5).unwrap();
        let d = s.sample_image(&labels, &mut rng);
        assert_eq!((d.positive, d.negative.len()), (vec![0, 4, 7], 5));
        // The same seed, the same draw.
        let a = s.sample(&[labels.to_vec()], &mut Rng::new(9));
        let b = s.sample(&[labels.to_vec()], &mut Rng::new(9));
        assert_eq!(a, b);
        assert!(BalancedPositiveNegativeSampler::new(8, 1.5).is_err());
    }
}
