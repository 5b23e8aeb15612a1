//! k-nearest neighbours (CS231n lecture 2): distances from every test row
//! to every training row, the `k` nearest, and their majority label, as
//! scikit-learn's `KNeighborsClassifier(algorithm='brute')` predicts; `k`
//! chosen by n-fold cross-validation as CS231n's assignment does it.

use std::str::FromStr;

use burn::tensor::Tensor;

use crate::{ClassicError, invalid};

/// Values of the `[rows, n, d]` differences one L1 block may hold.
const BLOCK_VALUES: usize = 1 << 24;

/// The distance between two rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// `sum |a - b|`.
    L1,
    /// `sqrt(sum (a - b)^2)`.
    L2,
}

impl FromStr for Metric {
    type Err = ClassicError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "l1" | "L1" | "manhattan" => Ok(Metric::L1),
            "l2" | "L2" | "euclidean" => Ok(Metric::L2),
            other => invalid(
                "Metric",
                format!("unknown metric {other:?}, expected l1 or l2"),
            ),
        }
    }
}

/// Distances `[m, n]` from each row of `test [m, d]` to each row of `train
/// [n, d]`. L2 expands `|a|^2 + |b|^2 - 2 a.b` into one product (as
/// scikit-learn's `euclidean_distances` and CS231n's no-loop version do),
/// clamped at 0 before the root; L1 sums absolute differences over blocks
/// of test rows, so that 50,000 x 10,000 rows fit in memory.
pub fn distances(
    test: Tensor<2>,
    train: Tensor<2>,
    metric: Metric,
) -> Result<Tensor<2>, ClassicError> {
    let ([m, d], [n, d2]) = (test.dims(), train.dims());
    if d != d2 {
        return invalid(
            "distances",
            format!("test rows have {d} features and training rows {d2}; expected the same"),
        );
    }
    if n == 0 {
        return invalid("distances", "no training rows".into());
    }
    Ok(match metric {
        Metric::L2 => {
            let aa = test.clone().powi_scalar(2).sum_dim(1); // [m, 1]
            let bb = train.clone().powi_scalar(2).sum_dim(1).transpose(); // [1, n]
            let ab = test.matmul(train.transpose());
            (aa + bb - ab * 2.0).clamp_min(0.0).sqrt()
        }
        Metric::L1 => {
            let rows = (BLOCK_VALUES / (n * d).max(1)).clamp(1, m.max(1));
            let train = train.unsqueeze_dim::<3>(0); // [1, n, d]
            let blocks: Vec<Tensor<2>> = (0..m)
                .step_by(rows)
                .map(|r0| {
                    let r = rows.min(m - r0);
                    let t = test.clone().narrow(0, r0, r).unsqueeze_dim::<3>(1); // [r, 1, d]
                    (t - train.clone()).abs().sum_dim(2).reshape([r, n])
                })
                .collect();
            if blocks.is_empty() {
                Tensor::zeros([0, n], &test.device())
            } else {
                Tensor::cat(blocks, 0)
            }
        }
    })
}

/// The most common label among `labels`; a tie goes to the smallest label
/// (CS231n's `np.argmax(np.bincount(...))`).
pub fn vote(labels: &[usize]) -> Option<usize> {
    let mut counts = std::collections::BTreeMap::new();
    for &l in labels {
        *counts.entry(l).or_insert(0usize) += 1;
    }
    // BTreeMap iterates labels in increasing order; keep the first maximum.
    let mut best: Option<(usize, usize)> = None;
    for (&label, &count) in &counts {
        if best.is_none_or(|(_, c)| count > c) {
            best = Some((label, count));
        }
    }
    best.map(|(label, _)| label)
}

/// A fitted k-nearest-neighbour classifier: the training rows (on their
/// device) and their labels.
#[derive(Clone, Debug)]
pub struct KNearest {
    train: Tensor<2>,
    /// `|b|^2` of each training row, `[1, n]` (L2).
    norms: Tensor<2>,
    labels: Vec<usize>,
    metric: Metric,
}

impl KNearest {
    /// Remembers `train [n, d]` and its `labels` (one per row).
    pub fn fit(train: Tensor<2>, labels: &[usize], metric: Metric) -> Result<Self, ClassicError> {
        let [n, _] = train.dims();
        if labels.len() != n {
            return invalid(
                "KNearest::fit",
                format!(
                    "{n} training rows but {} labels; expected one label per row",
                    labels.len()
                ),
            );
        }
        if n == 0 {
            return invalid("KNearest::fit", "no training rows".into());
        }
        let norms = train.clone().powi_scalar(2).sum_dim(1).transpose();
        Ok(Self {
            train,
            norms,
            labels: labels.to_vec(),
            metric,
        })
    }

    /// Training rows.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no training rows (never, once fitted).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The indices of the `k` nearest training rows of each test row,
    /// nearest first (`[m][k]`).
    pub fn neighbours(&self, test: Tensor<2>, k: usize) -> Result<Vec<Vec<usize>>, ClassicError> {
        let n = self.len();
        if k == 0 || k > n {
            return invalid(
                "KNearest::neighbours",
                format!("k = {k} with {n} training rows; expected 1 <= k <= {n}"),
            );
        }
        let [m, _] = test.dims();
        // Test rows per block: scores of at most BLOCK_VALUES at a time
        // (10,000 x 60,000 would be 2.4 GB at once). For L2 the ranking
        // needs only `|b|^2 - 2 a.b` (`|a|^2` and the root keep the order);
        // the k smallest of each row are picked on the host in linear time
        // (scikit-learn's `argpartition`), then sorted.
        let rows = (BLOCK_VALUES / n).clamp(1, m.max(1));
        let mut out = Vec::with_capacity(m);
        let mut order: Vec<usize> = Vec::with_capacity(n);
        for r0 in (0..m).step_by(rows) {
            let r = rows.min(m - r0);
            let block = test.clone().narrow(0, r0, r);
            let scores = match self.metric {
                Metric::L2 => {
                    self.norms.clone() - block.matmul(self.train.clone().transpose()) * 2.0
                }
                Metric::L1 => distances(block, self.train.clone(), Metric::L1)?,
            };
            let v: Vec<f32> = scores
                .into_data()
                .try_into_vec_as::<f32>()
                .expect("scores convert to f32");
            for row in v.chunks(n) {
                let by = |a: &usize, b: &usize| row[*a].total_cmp(&row[*b]).then(a.cmp(b));
                order.clear();
                order.extend(0..n);
                if k < n {
                    order.select_nth_unstable_by(k - 1, by);
                    order.truncate(k);
                }
                order.sort_unstable_by(by);
                out.push(order.clone());
            }
        }
        Ok(out)
    }

    /// The majority label of the `k` nearest training rows of each test row.
    pub fn predict(&self, test: Tensor<2>, k: usize) -> Result<Vec<usize>, ClassicError> {
        Ok(self
            .neighbours(test, k)?
            .into_iter()
            .map(|row| {
                let labels: Vec<usize> = row.iter().map(|&i| self.labels[i]).collect();
                vote(&labels).expect("k >= 1")
            })
            .collect())
    }
}

/// The accuracy of each `k` on each of `folds` folds (CS231n's
/// `np.array_split` of the rows in order: the first `n % folds` folds hold
/// one row more): each fold is predicted from the others.
pub fn cross_validate(
    x: Tensor<2>,
    labels: &[usize],
    ks: &[usize],
    folds: usize,
    metric: Metric,
) -> Result<Vec<(usize, Vec<f64>)>, ClassicError> {
    let [n, _] = x.dims();
    if labels.len() != n {
        return invalid(
            "cross_validate",
            format!(
                "{n} rows but {} labels; expected one label per row",
                labels.len()
            ),
        );
    }
    if folds < 2 || folds > n {
        return invalid(
            "cross_validate",
            format!("{folds} folds of {n} rows; expected 2 <= folds <= {n}"),
        );
    }
    let bounds: Vec<(usize, usize)> = (0..folds)
        .scan(0, |start, f| {
            let len = n / folds + usize::from(f < n % folds);
            let b = (*start, *start + len);
            *start += len;
            Some(b)
        })
        .collect();
    let mut acc: Vec<(usize, Vec<f64>)> = ks.iter().map(|&k| (k, Vec::new())).collect();
    for &(lo, hi) in &bounds {
        let train_rows: Vec<Tensor<2>> = [(0, lo), (hi, n)]
            .into_iter()
            .filter(|(a, b)| b > a)
            .map(|(a, b)| x.clone().narrow(0, a, b - a))
            .collect();
        let train = Tensor::cat(train_rows, 0);
        let train_labels: Vec<usize> = labels[..lo].iter().chain(&labels[hi..]).copied().collect();
        let knn = KNearest::fit(train, &train_labels, metric)?;
        let kmax = ks.iter().copied().max().unwrap_or(1);
        let neighbours = knn.neighbours(x.clone().narrow(0, lo, hi - lo), kmax)?;
        for (k, scores) in acc.iter_mut() {
            let right = neighbours
                .iter()
                .zip(&labels[lo..hi])
                .filter(|&(row, &y)| {
                    let votes: Vec<usize> = row[..*k].iter().map(|&i| train_labels[i]).collect();
                    vote(&votes) == Some(y)
                })
                .count();
            scores.push(right as f64 / (hi - lo) as f64);
        }
    }
    Ok(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> burn::tensor::Device {
        zoo_device::from_name("flex").unwrap()
    }

    #[test]
    fn distances_are_the_sums_of_the_definitions() {
        let a = [[0.0f32, 1.0, 2.0], [3.0, -1.0, 0.5]];
        let b = [[1.0f32, 1.0, 1.0], [0.0, 0.0, 0.0], [2.0, -2.0, 4.0]];
        for metric in [Metric::L1, Metric::L2] {
            let d: Vec<f32> = distances(
                Tensor::from_floats(a, &device()),
                Tensor::from_floats(b, &device()),
                metric,
            )
            .unwrap()
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
            for i in 0..2 {
                for j in 0..3 {
                    let diffs = a[i].iter().zip(&b[j]).map(|(x, y)| (x - y) as f64);
                    let want = match metric {
                        Metric::L1 => diffs.map(f64::abs).sum::<f64>(),
                        Metric::L2 => diffs.map(|v| v * v).sum::<f64>().sqrt(),
                    };
                    assert!(
                        (d[i * 3 + j] as f64 - want).abs() < 1e-5,
                        "{metric:?} ({i}, {j})"
                    );
                }
            }
        }
    }

    #[test]
    fn a_tie_between_labels_goes_to_the_smallest() {
        assert_eq!(vote(&[3, 1, 3, 1, 2]), Some(1));
        assert_eq!(vote(&[4, 4, 0]), Some(4));
        assert_eq!(vote(&[]), None);
    }

    #[test]
    fn k_outside_the_training_set_is_refused_with_the_values() {
        let train = Tensor::<2>::from_floats([[0.0], [1.0]], &device());
        let knn = KNearest::fit(train, &[0, 1], Metric::L1).unwrap();
        let err = knn
            .predict(Tensor::from_floats([[0.5]], &device()), 3)
            .unwrap_err();
        assert!(
            err.to_string().contains("k = 3 with 2 training rows"),
            "{err}"
        );
    }

    #[test]
    fn cross_validation_folds_follow_array_split() {
        // Two clusters; 1-NN is right on every fold but a lone point.
        let x =
            Tensor::<2>::from_floats([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2], [0.3]], &device());
        let y = [0, 0, 0, 1, 1, 1, 0];
        let res = cross_validate(x, &y, &[1, 3], 3, Metric::L1).unwrap();
        assert_eq!(res[0].0, 1);
        assert_eq!(res[0].1.len(), 3);
        // Folds of 3, 2, 2 rows: [0, 0.1, 0.2] | [5.0, 5.1] | [5.2, 0.3].
        assert_eq!(res[0].1, vec![1.0, 1.0, 1.0]);
    }
}
