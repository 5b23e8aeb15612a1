//! Cross-entropy of logits with class or probability targets (label
//! smoothing included), and the perplexity of a language model.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};

use crate::reduction::Reduction;

/// Targets of [`cross_entropy`]: class indices or per-class probabilities.
#[derive(Debug, Clone)]
pub enum CeTarget {
    /// Class indices, shape `[N]`, each in `0..C`.
    Classes(Tensor<1, Int>),
    /// Class probabilities (soft labels, as mixup and cutmix make), shape `[N, C]`.
    Probs(Tensor<2>),
}

/// Cross-entropy of logits `[N, C]` per sample, shape `[N]`
/// (`F.cross_entropy(..., reduction="none", label_smoothing=eps)`).
///
/// With smoothing `eps` the target distribution becomes
/// `(1 - eps) * target + eps / C` (for class indices, `target` is one-hot),
/// as PyTorch does. Uses a max-shifted log-softmax, so logits of magnitude
/// 1e4 give finite losses and gradients.
///
/// # Panics
/// When shapes disagree, `label_smoothing` is outside `[0, 1]`, or (in
/// debug builds, where it is checked) a class index is outside `[0, C)`.
pub fn cross_entropy_elementwise(
    logits: Tensor<2>,
    target: CeTarget,
    label_smoothing: f64,
) -> Tensor<1> {
    assert!(
        (0.0..=1.0).contains(&label_smoothing),
        "cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}"
    );
    let [n, c] = logits.dims();
    let log_p = log_softmax(logits, 1);
    let nll = match target {
        CeTarget::Classes(classes) => {
            assert_eq!(
                classes.dims(),
                [n],
                "cross_entropy: logits [N, C] = {:?} need class targets [N], got {:?}",
                [n, c],
                classes.dims()
            );
            // A class index outside [0, C) would gather garbage (or read out
            // of bounds on some backends). Checking reads two numbers back
            // from the device, so it runs in debug builds only.
            if cfg!(debug_assertions) && n > 0 {
                let range = Tensor::cat(
                    vec![
                        classes.clone().min().reshape([1]),
                        classes.clone().max().reshape([1]),
                    ],
                    0,
                )
                .into_data()
                .try_into_vec_as::<i64>()
                .expect("integer data");
                let bad = if range[0] < 0 { range[0] } else { range[1] };
                assert!(
                    range[0] >= 0 && range[1] < c as i64,
                    "cross_entropy: class index {bad} out of range for {c} classes (expected 0..{})",
                    c - 1
                );
            }
            log_p
                .clone()
                .gather(1, classes.reshape([n, 1]))
                .reshape([n])
                .neg()
        }
        CeTarget::Probs(probs) => {
            assert_eq!(
                probs.dims(),
                [n, c],
                "cross_entropy: logits {:?} and probability targets {:?} differ",
                [n, c],
                probs.dims()
            );
            (log_p.clone() * probs).sum_dim(1).reshape([n]).neg()
        }
    };
    if label_smoothing == 0.0 {
        return nll;
    }
    // PyTorch: (1 - eps) * nll + eps / C * sum_c(-log p_c).
    let uniform = log_p.sum_dim(1).reshape([n]).neg().div_scalar(c as f64);
    nll.mul_scalar(1.0 - label_smoothing) + uniform.mul_scalar(label_smoothing)
}

/// Mean or summed cross-entropy (`F.cross_entropy`); see [`cross_entropy_elementwise`].
pub fn cross_entropy(
    logits: Tensor<2>,
    target: CeTarget,
    label_smoothing: f64,
    reduction: Reduction,
) -> Tensor<1> {
    reduction.apply(cross_entropy_elementwise(logits, target, label_smoothing))
}

/// Perplexity of a language model's predictions: `exp(mean cross-entropy)`
/// of logits `[N, C]` against classes `[N]` (d2l 9.5). Shape `[1]`.
pub fn perplexity(logits: Tensor<2>, target: Tensor<1, Int>) -> Tensor<1> {
    cross_entropy(logits, CeTarget::Classes(target), 0.0, Reduction::Mean).exp()
}
