//! Linear classifiers as class templates (CS231n lecture 3 and assignment
//! 1): scores `X W` for `W [D, C]`, the multiclass SVM loss (margin 1) and
//! the softmax loss, each averaged over the batch plus `reg * sum(W * W)`,
//! and a classifier trained on either by minibatch SGD as the assignment's
//! `LinearClassifier.train` does it. Gradients come from burn's autodiff on
//! an autodiff device.

use burn::tensor::{Bool, Int, Tensor};
use zoo_losses::{CeTarget, Reduction};

use crate::{ClassicError, invalid};

/// Which loss a linear classifier minimises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinearLoss {
    /// Multiclass SVM: `sum_{j != y} max(0, s_j - s_y + 1)`.
    Svm,
    /// Softmax cross-entropy.
    Softmax,
    /// Logistic regression (two classes, one score column: `P(1) =
    /// sigmoid(s)`, binary cross-entropy).
    Logistic,
}

impl std::str::FromStr for LinearLoss {
    type Err = ClassicError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "svm" => Ok(LinearLoss::Svm),
            "softmax" => Ok(LinearLoss::Softmax),
            "logistic" => Ok(LinearLoss::Logistic),
            other => invalid(
                "LinearLoss",
                format!("unknown loss {other:?}, expected svm, softmax or logistic"),
            ),
        }
    }
}

fn check(
    function: &'static str,
    w: &Tensor<2>,
    x: &Tensor<2>,
    y: &Tensor<1, Int>,
) -> Result<(), ClassicError> {
    let ([d, _], [n, dx], [ny]) = (w.dims(), x.dims(), y.dims());
    if d != dx || n != ny || n == 0 {
        return invalid(
            function,
            format!(
                "W [{d}, C], X [{n}, {dx}], y [{ny}]; expected X [N, {d}] and y [N] with N >= 1"
            ),
        );
    }
    Ok(())
}

/// Where `y` marks each row's true class: `[N, C]`.
fn truth_mask(y: Tensor<1, Int>, classes: usize) -> Tensor<2, Bool> {
    let device = y.device();
    let n = y.dims()[0];
    let cols = Tensor::<1, Int>::arange(0..classes as i64, &device)
        .reshape([1, classes])
        .expand([n, classes]);
    y.reshape([n, 1]).expand([n, classes]).equal(cols)
}

/// CS231n's `svm_loss_vectorized`: `mean over rows of sum_{j != y}
/// max(0, s_j - s_y + 1) + reg * sum(W * W)` with `s = X W`.
pub fn svm_loss(
    w: Tensor<2>,
    x: Tensor<2>,
    y: Tensor<1, Int>,
    reg: f64,
) -> Result<Tensor<1>, ClassicError> {
    check("svm_loss", &w, &x, &y)?;
    let n = x.dims()[0];
    let classes = w.dims()[1];
    let scores = x.matmul(w.clone());
    let correct = scores.clone().gather(1, y.clone().reshape([n, 1]));
    let margins = (scores - correct + 1.0)
        .clamp_min(0.0)
        .mask_fill(truth_mask(y, classes), 0.0);
    Ok(margins.sum().div_scalar(n as f64) + w.powi_scalar(2).sum().mul_scalar(reg))
}

/// CS231n's `softmax_loss_vectorized`: the mean cross-entropy of `X W`
/// plus `reg * sum(W * W)`.
pub fn softmax_loss(
    w: Tensor<2>,
    x: Tensor<2>,
    y: Tensor<1, Int>,
    reg: f64,
) -> Result<Tensor<1>, ClassicError> {
    check("softmax_loss", &w, &x, &y)?;
    let scores = x.matmul(w.clone());
    let data = zoo_losses::cross_entropy(scores, CeTarget::Classes(y), 0.0, Reduction::Mean);
    Ok(data + w.powi_scalar(2).sum().mul_scalar(reg))
}

/// Logistic regression's loss: the mean binary cross-entropy of
/// `sigmoid(X w)` against labels 0 / 1, plus `reg * sum(w * w)`, for `w
/// [D, 1]` (computed from the logits, as `BCEWithLogitsLoss`).
pub fn logistic_loss(
    w: Tensor<2>,
    x: Tensor<2>,
    y: Tensor<1, Int>,
    reg: f64,
) -> Result<Tensor<1>, ClassicError> {
    check("logistic_loss", &w, &x, &y)?;
    let cols = w.dims()[1];
    if cols != 1 {
        return invalid(
            "logistic_loss",
            format!("W with {cols} columns; expected one score column [D, 1]"),
        );
    }
    let n = x.dims()[0];
    let scores = x.matmul(w.clone()).reshape([n]);
    let data = zoo_losses::bce_with_logits(scores, y.float(), Reduction::Mean);
    Ok(data + w.powi_scalar(2).sum().mul_scalar(reg))
}

/// The loss of `kind`.
pub fn loss(
    kind: LinearLoss,
    w: Tensor<2>,
    x: Tensor<2>,
    y: Tensor<1, Int>,
    reg: f64,
) -> Result<Tensor<1>, ClassicError> {
    match kind {
        LinearLoss::Svm => svm_loss(w, x, y, reg),
        LinearLoss::Softmax => softmax_loss(w, x, y, reg),
        LinearLoss::Logistic => logistic_loss(w, x, y, reg),
    }
}

/// How [`LinearClassifier::train`] runs (CS231n's defaults).
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// The loss.
    pub loss: LinearLoss,
    /// SGD step.
    pub learning_rate: f64,
    /// L2 strength.
    pub reg: f64,
    /// Steps.
    pub iterations: usize,
    /// Rows per step, drawn with replacement (the assignment's `np.random.choice`).
    pub batch_size: usize,
    /// Seed of the initial weights and the draws.
    pub seed: u64,
}

impl TrainConfig {
    /// CS231n's defaults: learning rate 1e-3, reg 1e-5, 100 iterations of 200 rows.
    pub fn new(loss: LinearLoss) -> Self {
        Self {
            loss,
            learning_rate: 1e-3,
            reg: 1e-5,
            iterations: 100,
            batch_size: 200,
            seed: 0,
        }
    }
}

/// A linear classifier `argmax X W` (on the device of its weights).
#[derive(Clone, Debug)]
pub struct LinearClassifier {
    /// `[D, C]`: column `c` is class `c`'s template.
    pub w: Tensor<2>,
}

impl LinearClassifier {
    /// Trains on `x [N, D]` (on an autodiff device) with labels `y`
    /// in `0..classes`, from weights `0.001 * N(0, 1)` as the assignment
    /// initialises them; returns the classifier and the loss of every step.
    /// A loss that becomes NaN or infinite stops training with
    /// [`ClassicError::NonFinite`].
    pub fn train(
        x: Tensor<2>,
        y: &[usize],
        classes: usize,
        config: &TrainConfig,
    ) -> Result<(Self, Vec<f32>), ClassicError> {
        let [n, d] = x.dims();
        if y.len() != n || n == 0 {
            return invalid(
                "LinearClassifier::train",
                format!(
                    "{n} rows and {} labels; expected one label per row and at least one row",
                    y.len()
                ),
            );
        }
        if let Some(&bad) = y.iter().find(|&&c| c >= classes) {
            return invalid(
                "LinearClassifier::train",
                format!("label {bad} with {classes} classes; expected labels below {classes}"),
            );
        }
        if config.batch_size == 0 {
            return invalid(
                "LinearClassifier::train",
                "batch_size 0; expected at least 1".into(),
            );
        }
        if config.loss == LinearLoss::Logistic && classes != 2 {
            return invalid(
                "LinearClassifier::train",
                format!("logistic regression with {classes} classes; expected 2 (labels 0 and 1)"),
            );
        }
        // Logistic regression keeps one score column.
        let columns = if config.loss == LinearLoss::Logistic {
            1
        } else {
            classes
        };
        let device = x.device();
        let mut rng = zoo_rng::Rng::new(config.seed);
        let init: Vec<f32> = (0..d * columns)
            .map(|_| (0.001 * rng.normal()) as f32)
            .collect();
        let mut w = Tensor::<1>::from_floats(init.as_slice(), &device).reshape([d, columns]);
        // Grown as the steps go: `iterations` comes from outside and is not
        // allocated up front.
        let mut losses = Vec::new();
        for step in 1..=config.iterations {
            let rows: Vec<i64> = (0..config.batch_size)
                .map(|_| rng.below(n) as i64)
                .collect();
            let idx = Tensor::<1, Int>::from_ints(rows.as_slice(), &device);
            let labels: Vec<i64> = rows.iter().map(|&r| y[r as usize] as i64).collect();
            let xb = x.clone().select(0, idx);
            let yb = Tensor::<1, Int>::from_ints(labels.as_slice(), &device);
            let leaf = w.clone().require_grad();
            let l = loss(config.loss, leaf.clone(), xb, yb, config.reg)?;
            let grads = l.backward();
            let g = leaf.grad(&grads).expect("W takes part in the loss");
            let value = l.into_scalar::<f32>();
            if !value.is_finite() {
                return Err(ClassicError::NonFinite {
                    function: "LinearClassifier::train",
                    step,
                    loss: value,
                });
            }
            losses.push(value);
            w = Tensor::from_inner(leaf.inner() - g.mul_scalar(config.learning_rate));
        }
        Ok((Self { w }, losses))
    }

    /// The predicted class of each row of `x [N, D]` (logistic regression:
    /// 1 where the score is positive).
    pub fn predict(&self, x: Tensor<2>) -> Result<Vec<usize>, ClassicError> {
        let ([_, d], [dw, cols]) = (x.dims(), self.w.dims());
        if d != dw {
            return invalid(
                "LinearClassifier::predict",
                format!("rows of {d} features for W [{dw}, C]; expected {dw}"),
            );
        }
        let w = self.w.clone().to_device(&x.device());
        if cols == 1 {
            let s: Vec<f32> = x
                .matmul(w)
                .into_data()
                .try_into_vec_as::<f32>()
                .expect("f32");
            return Ok(s.into_iter().map(|v| usize::from(v > 0.0)).collect());
        }
        let pred: Vec<i64> = x
            .matmul(w)
            .argmax(1)
            .into_data()
            .try_into_vec_as::<i64>()
            .expect("i64");
        Ok(pred.into_iter().map(|p| p as usize).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> burn::tensor::Device {
        zoo_device::from_name("flex").unwrap().autodiff()
    }

    /// With `w = 0` every probability is 1/2: the loss is `ln 2` exactly,
    /// whatever the data.
    #[test]
    fn logistic_loss_at_zero_weights_is_ln_two() {
        let x = Tensor::<2>::from_floats([[1.0, 2.0], [-3.0, 0.5], [0.0, 1.0]], &device());
        let y = Tensor::<1, Int>::from_ints([1, 0, 1], &device());
        let l: f32 = logistic_loss(Tensor::zeros([2, 1], &device()), x, y, 0.3)
            .unwrap()
            .into_scalar::<f32>();
        assert!((l as f64 - std::f64::consts::LN_2).abs() < 1e-6, "{l}");
    }

    /// Two separable clusters: logistic regression learns them, and
    /// refuses three classes.
    #[test]
    fn logistic_regression_separates_two_clusters() {
        let rows: Vec<[f32; 3]> = (0..40)
            .map(|i| {
                let c = if i % 2 == 0 { -2.0 } else { 2.0 };
                [c + (i % 5) as f32 * 0.1, c - (i % 3) as f32 * 0.1, 1.0]
            })
            .collect();
        let y: Vec<usize> = (0..40).map(|i| i % 2).collect();
        let flat: Vec<f32> = rows.concat();
        let x = Tensor::<1>::from_floats(flat.as_slice(), &device()).reshape([40, 3]);
        let config = TrainConfig {
            learning_rate: 0.5,
            iterations: 50,
            batch_size: 10,
            ..TrainConfig::new(LinearLoss::Logistic)
        };
        let (clf, losses) = LinearClassifier::train(x.clone(), &y, 2, &config).unwrap();
        assert!(losses[losses.len() - 1] < losses[0] / 5.0, "{losses:?}");
        assert_eq!(clf.predict(x.clone().inner()).unwrap(), y);
        let err = LinearClassifier::train(x, &y, 3, &config).unwrap_err();
        assert!(
            err.to_string()
                .contains("logistic regression with 3 classes"),
            "{err}"
        );
    }

    /// A regularisation far too strong makes the loss infinite within a
    /// few steps: training stops there instead of returning NaN weights.
    #[test]
    fn a_diverging_loss_stops_training() {
        let x = Tensor::<1>::from_floats([1.0, 0.0, 1.0, 0.0, 1.0, 1.0], &device()).reshape([3, 2]);
        let config = TrainConfig {
            learning_rate: 0.5,
            reg: 1e30,
            iterations: 1000,
            batch_size: 2,
            ..TrainConfig::new(LinearLoss::Svm)
        };
        match LinearClassifier::train(x, &[0, 1, 0], 2, &config) {
            Err(ClassicError::NonFinite { step, loss, .. }) => {
                assert!(step < 10 && !loss.is_finite(), "step {step}, loss {loss}")
            }
            other => panic!("expected NonFinite, got {other:?}"),
        }
    }
}
