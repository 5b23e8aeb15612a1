//! Exact t-SNE (van der Maaten & Hinton 2008) as scikit-learn computes it
//! (`sklearn.manifold.TSNE(method="exact")`), in f64 on the host: the joint
//! probabilities from squared Euclidean distances with each row's
//! precision found by binary search to the perplexity
//! (`_joint_probabilities`), the KL divergence to the Student-t affinities
//! of the embedding and its gradient (`_kl_divergence`), and the optimiser
//! (`_gradient_descent`: early exaggeration 12 for 250 iterations with
//! momentum 0.5, then 0.8; per-coordinate gains; learning rate
//! `max(n / 12 / 4, 50)`).

use crate::{ExplainError, invalid};

/// `np.finfo(np.double).eps`, scikit-learn's floor for probabilities.
const MACHINE_EPSILON: f64 = f64::EPSILON;
/// The entropy tolerance of the binary search.
const PERPLEXITY_TOLERANCE: f64 = 1e-5;
/// Binary-search steps per row.
const SEARCH_STEPS: usize = 100;

fn check_points(function: &'static str, n: usize) -> Result<(), ExplainError> {
    if n < 2 {
        return invalid(function, format!("{n} point(s); t-SNE needs at least 2"));
    }
    Ok(())
}

/// Squared Euclidean distances `[n, n]` between the rows of `x [n, d]`.
pub fn squared_distances(x: &[f64], n: usize, d: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in i + 1..n {
            let s: f64 = (0..d).map(|k| (x[i * d + k] - x[j * d + k]).powi(2)).sum();
            out[i * n + j] = s;
            out[j * n + i] = s;
        }
    }
    out
}

/// Each row's conditional probabilities `p_{j|i}` with the precision whose
/// entropy matches `log(perplexity)` (scikit-learn's
/// `_binary_search_perplexity`), `[n, n]` with a zero diagonal.
fn conditional(distances: &[f64], n: usize, perplexity: f64) -> Vec<f64> {
    let desired = perplexity.ln();
    let mut p = vec![0.0; n * n];
    for i in 0..n {
        let (mut beta, mut beta_min, mut beta_max) = (1.0f64, f64::NEG_INFINITY, f64::INFINITY);
        let row = &mut p[i * n..(i + 1) * n];
        let dist = &distances[i * n..(i + 1) * n];
        for _ in 0..SEARCH_STEPS {
            for j in 0..n {
                row[j] = if j == i { 0.0 } else { (-dist[j] * beta).exp() };
            }
            let mut sum: f64 = row.iter().sum();
            if sum == 0.0 {
                sum = 1e-8;
            }
            let mut sum_dist = 0.0;
            for j in 0..n {
                row[j] /= sum;
                sum_dist += dist[j] * row[j];
            }
            let entropy = sum.ln() + beta * sum_dist;
            let diff = entropy - desired;
            if diff.abs() <= PERPLEXITY_TOLERANCE {
                break;
            }
            if diff > 0.0 {
                beta_min = beta;
                beta = if beta_max == f64::INFINITY {
                    beta * 2.0
                } else {
                    (beta + beta_max) / 2.0
                };
            } else {
                beta_max = beta;
                beta = if beta_min == f64::NEG_INFINITY {
                    beta / 2.0
                } else {
                    (beta + beta_min) / 2.0
                };
            }
        }
    }
    p
}

/// scikit-learn's `_joint_probabilities` of the rows of `x [n, d]` as a
/// square `[n, n]` matrix: `P = (P_cond + P_cond^T) / sum`, floored at
/// machine epsilon off the diagonal, zero on it.
pub fn joint_probabilities(
    x: &[f64],
    n: usize,
    d: usize,
    perplexity: f64,
) -> Result<Vec<f64>, ExplainError> {
    check_points("joint_probabilities", n)?;
    if x.len() != n * d {
        return invalid(
            "joint_probabilities",
            format!("{} values for {n} points of {d} features", x.len()),
        );
    }
    if perplexity.is_nan() || perplexity <= 0.0 || perplexity > (n - 1) as f64 {
        return invalid(
            "joint_probabilities",
            format!(
                "perplexity {perplexity} with {n} points; expected 0 < perplexity <= n - 1 = {}",
                n - 1
            ),
        );
    }
    // scikit-learn hands float32 distances to the search.
    let distances: Vec<f64> = squared_distances(x, n, d)
        .into_iter()
        .map(|v| v as f32 as f64)
        .collect();
    let cond = conditional(&distances, n, perplexity);
    let mut p = vec![0.0; n * n];
    let mut sum = 0.0;
    for i in 0..n {
        for j in 0..n {
            let v = cond[i * n + j] + cond[j * n + i];
            p[i * n + j] = v;
            sum += v;
        }
    }
    let sum = sum.max(MACHINE_EPSILON);
    for i in 0..n {
        for j in 0..n {
            p[i * n + j] = if i == j {
                0.0
            } else {
                (p[i * n + j] / sum).max(MACHINE_EPSILON)
            };
        }
    }
    Ok(p)
}

/// scikit-learn's `_kl_divergence`: for the joint probabilities `p [n, n]`
/// and the embedding `y [n, k]`, the KL divergence `2 sum_{i<j} p_ij
/// log(p_ij / q_ij)` to the Student-t affinities with `dof` degrees of
/// freedom, and its gradient `[n, k]`.
pub fn kl_divergence(
    p: &[f64],
    y: &[f64],
    n: usize,
    k: usize,
    dof: f64,
) -> Result<(f64, Vec<f64>), ExplainError> {
    check_points("kl_divergence", n)?;
    if p.len() != n * n || y.len() != n * k {
        return invalid(
            "kl_divergence",
            format!(
                "P of {} and Y of {} values; expected {n}x{n} and {n}x{k}",
                p.len(),
                y.len()
            ),
        );
    }
    if dof.is_nan() || dof <= 0.0 {
        return invalid(
            "kl_divergence",
            format!("{dof} degrees of freedom; expected a positive number"),
        );
    }
    let mut grad = vec![0.0; n * k];
    let kl = kl_gradient(p, y, n, k, dof, &mut Vec::new(), &mut grad, true);
    Ok((kl, grad))
}

/// [`kl_divergence`] into `grad` with `kernel` as scratch (`n * (n - 1) /
/// 2` pair values), each pair visited twice (its kernel, then its share of
/// both points' gradients) and the divergence only when asked (scikit-learn
/// too computes it only every 50 iterations). For one degree of freedom the
/// kernel is `1 / (1 + d)` instead of a power.
#[allow(clippy::too_many_arguments)]
fn kl_gradient(
    p: &[f64],
    y: &[f64],
    n: usize,
    k: usize,
    dof: f64,
    kernel: &mut Vec<f64>,
    grad: &mut [f64],
    compute_kl: bool,
) -> f64 {
    kernel.clear();
    kernel.reserve(n * (n - 1) / 2);
    let exponent = (dof + 1.0) / -2.0;
    let mut total = 0.0;
    for i in 0..n {
        let yi = &y[i * k..(i + 1) * k];
        for j in i + 1..n {
            let yj = &y[j * k..(j + 1) * k];
            let d: f64 = yi.iter().zip(yj).map(|(a, b)| (a - b) * (a - b)).sum();
            let v = if dof == 1.0 {
                1.0 / (d + 1.0)
            } else {
                (d / dof + 1.0).powf(exponent)
            };
            kernel.push(v);
            total += v;
        }
    }
    grad.iter_mut().for_each(|g| *g = 0.0);
    let c = 2.0 * (dof + 1.0) / dof;
    let scale = 1.0 / (2.0 * total);
    let mut kl = 0.0;
    let mut at = 0;
    for i in 0..n {
        for j in i + 1..n {
            let t = kernel[at];
            at += 1;
            let q = (t * scale).max(MACHINE_EPSILON);
            let pij = p[i * n + j];
            if compute_kl {
                kl += 2.0 * pij * (pij.max(MACHINE_EPSILON) / q).ln();
            }
            // p and q are symmetric: the pair pulls i and j alike.
            let f = c * (pij - q) * t;
            for cc in 0..k {
                let diff = f * (y[i * k + cc] - y[j * k + cc]);
                grad[i * k + cc] += diff;
                grad[j * k + cc] -= diff;
            }
        }
    }
    kl
}

/// scikit-learn's exact `TSNE` settings.
#[derive(Clone, Debug)]
pub struct Tsne {
    /// Effective number of neighbours (30).
    pub perplexity: f64,
    /// Factor on P for the first 250 iterations (12).
    pub early_exaggeration: f64,
    /// Step size; `None` is scikit-learn's `"auto"`, `max(n / 12 / 4, 50)`.
    pub learning_rate: Option<f64>,
    /// Iterations in all (1000).
    pub iterations: usize,
    /// Output dimensions (2).
    pub components: usize,
    /// Seed of the initial embedding, `1e-4 * N(0, 1)` (scikit-learn's
    /// `init="random"`).
    pub seed: u64,
}

impl Default for Tsne {
    fn default() -> Self {
        Self {
            perplexity: 30.0,
            early_exaggeration: 12.0,
            learning_rate: None,
            iterations: 1000,
            components: 2,
            seed: 0,
        }
    }
}

impl Tsne {
    /// Embeds the rows of `x [n, d]` in `components` dimensions; returns
    /// the embedding `[n, components]` and the KL divergence at the end.
    pub fn fit(&self, x: &[f64], n: usize, d: usize) -> Result<(Vec<f64>, f64), ExplainError> {
        let p = joint_probabilities(x, n, d, self.perplexity)?;
        let k = self.components;
        let mut rng = zoo_rng::Rng::new(self.seed);
        let mut y: Vec<f64> = (0..n * k).map(|_| 1e-4 * rng.normal()).collect();
        let lr = self
            .learning_rate
            .unwrap_or_else(|| (n as f64 / self.early_exaggeration / 4.0).max(50.0));
        let mut update = vec![0.0; n * k];
        let mut gains = vec![1.0; n * k];
        let exploration = 250.min(self.iterations);
        let exaggerated: Vec<f64> = p.iter().map(|v| v * self.early_exaggeration).collect();
        let dof = (k as f64 - 1.0).max(1.0);
        let (mut kernel, mut grad) = (Vec::new(), vec![0.0; n * k]);
        let mut kl = 0.0;
        for it in 0..self.iterations {
            let (pp, momentum) = if it < exploration {
                (&exaggerated, 0.5)
            } else {
                (&p, 0.8)
            };
            // The divergence of the last step, as scikit-learn reports it.
            let last = it + 1 == self.iterations;
            let err = kl_gradient(pp, &y, n, k, dof, &mut kernel, &mut grad, last);
            if last {
                kl = err;
            }
            for i in 0..n * k {
                let inc = update[i] * grad[i] < 0.0;
                gains[i] = if inc { gains[i] + 0.2 } else { gains[i] * 0.8 };
                gains[i] = f64::max(gains[i], 0.01);
                update[i] = momentum * update[i] - lr * gains[i] * grad[i];
                y[i] += update[i];
            }
        }
        Ok((y, kl))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gradient against central differences of the KL divergence.
    #[test]
    fn the_gradient_is_the_derivative_of_the_divergence() {
        let (n, d) = (6, 3);
        let x: Vec<f64> = (0..n * d)
            .map(|i| ((i * 37 % 11) as f64 - 5.0) / 3.0)
            .collect();
        let p = joint_probabilities(&x, n, d, 2.0).unwrap();
        let y: Vec<f64> = (0..n * 2)
            .map(|i| ((i * 13 % 7) as f64 - 3.0) / 2.0)
            .collect();
        let (_, g) = kl_divergence(&p, &y, n, 2, 1.0).unwrap();
        for i in 0..n * 2 {
            let h = 1e-6;
            let (mut up, mut down) = (y.clone(), y.clone());
            up[i] += h;
            down[i] -= h;
            let fd = (kl_divergence(&p, &up, n, 2, 1.0).unwrap().0
                - kl_divergence(&p, &down, n, 2, 1.0).unwrap().0)
                / (2.0 * h);
            assert!(
                (g[i] - fd).abs() < 1e-6 * (1.0 + fd.abs()),
                "[{i}] {} vs {fd}",
                g[i]
            );
        }
    }

    /// Each row's conditional distribution has the asked perplexity.
    #[test]
    fn rows_reach_the_perplexity() {
        let (n, d) = (10, 2);
        let x: Vec<f64> = (0..n * d).map(|i| ((i * 7 % 13) as f64) / 4.0).collect();
        let dist = squared_distances(&x, n, d);
        let p = conditional(&dist, n, 4.0);
        for i in 0..n {
            let h: f64 = -p[i * n..(i + 1) * n]
                .iter()
                .filter(|&&v| v > 0.0)
                .map(|v| v * v.ln())
                .sum::<f64>();
            assert!(
                (h.exp() - 4.0).abs() < 1e-3,
                "row {i}: perplexity {}",
                h.exp()
            );
        }
    }

    #[test]
    fn too_few_points_and_too_high_a_perplexity_are_refused() {
        let e = joint_probabilities(&[1.0], 1, 1, 1.0).unwrap_err();
        assert!(e.to_string().contains("1 point(s)"), "{e}");
        let e = joint_probabilities(&[0.0, 1.0, 2.0], 3, 1, 2.5).unwrap_err();
        assert!(
            e.to_string().contains("perplexity 2.5 with 3 points"),
            "{e}"
        );
    }
}
