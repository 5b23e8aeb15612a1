//! How an element-wise loss is reduced, and the shape check every loss makes.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Tensor;

/// How an element-wise loss is reduced to a scalar.
///
/// PyTorch's `reduction="none"` is the `*_elementwise` function of each loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reduction {
    /// The mean over every element.
    #[default]
    Mean,
    /// The sum over every element.
    Sum,
}

impl Reduction {
    /// Reduces an element-wise loss to a tensor of shape `[1]`.
    pub fn apply<const D: usize>(self, loss: Tensor<D>) -> Tensor<1> {
        match self {
            Reduction::Mean => loss.mean(),
            Reduction::Sum => loss.sum(),
        }
    }

    /// As [`Reduction::apply`], but the mean of no elements is 0 instead of
    /// NaN: torchvision's box losses (`generalized_box_iou_loss`,
    /// `distance_box_iou_loss`, `complete_box_iou_loss`) reduce with
    /// `loss.mean() if loss.numel() > 0 else 0.0 * loss.sum()`.
    pub fn apply_or_zero<const D: usize>(self, loss: Tensor<D>) -> Tensor<1> {
        match self {
            Reduction::Mean if loss.shape().num_elements() == 0 => {
                Tensor::zeros([1], &loss.device())
            }
            _ => self.apply(loss),
        }
    }
}

impl FromStr for Reduction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "mean" => Ok(Reduction::Mean),
            "sum" => Ok(Reduction::Sum),
            other => Err(format!(
                "unknown reduction `{other}`: expected `mean` or `sum` (use the *_elementwise \
                 function for torch's `none`)"
            )),
        }
    }
}

impl fmt::Display for Reduction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reduction::Mean => "mean",
            Reduction::Sum => "sum",
        })
    }
}

pub(crate) fn check_same_shape<const D: usize>(name: &str, input: &Tensor<D>, target: &Tensor<D>) {
    assert_eq!(
        input.dims(),
        target.dims(),
        "{name}: input shape {:?} and target shape {:?} differ",
        input.dims(),
        target.dims()
    );
}
