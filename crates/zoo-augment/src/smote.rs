//! SMOTE (Chawla et al. 2002) with imbalanced-learn's semantics: for each
//! class to over-sample, the `k` nearest other samples of the same class by
//! Euclidean distance (nearest first), and synthetic samples
//! `x[row] + step * (x[neighbour] - x[row])` with `row`, the neighbour
//! column and `step ~ U[0, 1)` drawn at random; how many per class follows
//! `sampling_strategy` as `imblearn.utils.check_sampling_strategy` reads it
//! for over-sampling. Works on any feature rows (flattened images
//! included); distances are computed on the device in row blocks.

use std::collections::BTreeMap;

use burn::tensor::{Int, Tensor, TensorData};

use crate::{AugmentError, Rng};

/// Which classes SMOTE over-samples, and to how many samples.
#[derive(Clone, Debug, PartialEq)]
pub enum SamplingStrategy {
    /// Every class but the majority, up to the majority's count (imbalanced-learn's `auto`).
    Auto,
    /// The minority class only.
    Minority,
    /// Every class but the minority.
    NotMinority,
    /// Every class but the majority (same as `Auto`).
    NotMajority,
    /// Every class (the majority gets none).
    All,
    /// Target counts per class (classes not named get none).
    Targets(BTreeMap<usize, usize>),
}

impl SamplingStrategy {
    /// By imbalanced-learn's name.
    pub fn from_name(name: &str) -> Result<Self, AugmentError> {
        match name {
            "auto" => Ok(Self::Auto),
            "minority" => Ok(Self::Minority),
            "not minority" => Ok(Self::NotMinority),
            "not majority" => Ok(Self::NotMajority),
            "all" => Ok(Self::All),
            other => Err(AugmentError::new(
                "smote",
                format!(
                    "sampling_strategy `{other}`, expected auto, minority, not minority, not majority, all or per-class targets"
                ),
            )),
        }
    }
}

/// How many samples SMOTE generates for each class `0..=max(labels)`.
/// Ties for the majority or minority go to the class seen first in
/// `labels` (Python's `Counter` order, as imbalanced-learn).
pub fn sampling_counts(
    labels: &[usize],
    strategy: &SamplingStrategy,
) -> Result<Vec<usize>, AugmentError> {
    if labels.is_empty() {
        return Err(AugmentError::new("smote", "no labels"));
    }
    let classes = labels.iter().max().map_or(0, |m| m + 1);
    let mut count = vec![0usize; classes];
    let mut order = Vec::new();
    for &l in labels {
        if count[l] == 0 {
            order.push(l);
        }
        count[l] += 1;
    }
    let pick = |better: fn(usize, usize) -> bool| {
        order
            .iter()
            .copied()
            .reduce(|a, b| if better(count[b], count[a]) { b } else { a })
            .expect("a class")
    };
    let majority = pick(|b, a| b > a);
    let minority = pick(|b, a| b < a);
    let top = count[majority];
    let mut out = vec![0usize; classes];
    for &c in &order {
        let chosen = match strategy {
            SamplingStrategy::Auto | SamplingStrategy::NotMajority => c != majority,
            SamplingStrategy::Minority => c == minority,
            SamplingStrategy::NotMinority => c != minority,
            SamplingStrategy::All => true,
            SamplingStrategy::Targets(_) => false,
        };
        if chosen {
            out[c] = top - count[c];
        }
    }
    if let SamplingStrategy::Targets(t) = strategy {
        for (&c, &target) in t {
            if c >= classes || count[c] == 0 {
                return Err(AugmentError::new(
                    "smote",
                    format!("sampling_strategy names class {c}, which has no samples"),
                ));
            }
            if target < count[c] {
                return Err(AugmentError::new(
                    "smote",
                    format!(
                        "sampling_strategy asks {target} samples of class {c}, which already has {}; over-sampling cannot remove samples",
                        count[c]
                    ),
                ));
            }
            out[c] = target - count[c];
        }
    }
    Ok(out)
}

/// For each row of `x [n, d]`, its `k` nearest other rows by Euclidean
/// distance, nearest first (ties by index).
pub fn nearest_neighbors(x: Tensor<2>, k: usize) -> Result<Vec<Vec<usize>>, AugmentError> {
    let [n, _] = x.dims();
    if k == 0 || n < k + 1 {
        return Err(AugmentError::new(
            "smote",
            format!(
                "{n} samples in the class, k_neighbors {k} needs at least {}",
                k + 1
            ),
        ));
    }
    let sq = x.clone().powi_scalar(2).sum_dim(1); // [n, 1]
    let sq_row = sq.clone().reshape([1, n]);
    let block = 1024;
    let mut out = Vec::with_capacity(n);
    for start in (0..n).step_by(block) {
        let end = (start + block).min(n);
        let xb = x.clone().slice([start..end, 0..x.dims()[1]]);
        let d = sq.clone().slice([start..end, 0..1]) + sq_row.clone()
            - xb.matmul(x.clone().transpose()).mul_scalar(2.0);
        let d: Vec<f32> = d
            .into_data()
            .try_to_vec()
            .map_err(|e| AugmentError::new("smote", format!("reading distances: {e:?}")))?;
        for (r, row) in d.chunks(n).enumerate() {
            let i = start + r;
            let mut idx: Vec<usize> = (0..n).filter(|&j| j != i).collect();
            let nearer = |a: &usize, b: &usize| row[*a].total_cmp(&row[*b]).then(a.cmp(b));
            // The k nearest first (linear time), then only those sorted.
            idx.select_nth_unstable_by(k - 1, nearer);
            idx.truncate(k);
            idx.sort_by(nearer);
            out.push(idx);
        }
    }
    Ok(out)
}

/// The synthetic samples `x[rows[m]] + steps[m] * (x[nn[rows[m]][cols[m]]] - x[rows[m]])`.
pub fn synthesize(
    x: Tensor<2>,
    neighbors: &[Vec<usize>],
    rows: &[usize],
    cols: &[usize],
    steps: Tensor<1>,
) -> Result<Tensor<2>, AugmentError> {
    let m = rows.len();
    if cols.len() != m || steps.dims()[0] != m {
        return Err(AugmentError::new(
            "smote",
            format!(
                "{m} rows, {} columns, {} steps: expected one each per sample",
                cols.len(),
                steps.dims()[0]
            ),
        ));
    }
    let mut partner = Vec::with_capacity(m);
    for (&r, &c) in rows.iter().zip(cols) {
        let nn = neighbors.get(r).and_then(|v| v.get(c)).ok_or_else(|| {
            AugmentError::new("smote", format!("row {r}, neighbour {c} out of range"))
        })?;
        partner.push(*nn as i64);
    }
    let device = x.device();
    let index = |v: Vec<i64>| Tensor::<1, Int>::from_data(TensorData::new(v, [m]), &device);
    let base = x
        .clone()
        .select(0, index(rows.iter().map(|&r| r as i64).collect()));
    let other = x.select(0, index(partner));
    Ok(base.clone() + (other - base) * steps.reshape([m, 1]))
}

/// SMOTE over `x [n, d]` with `labels`: the original rows followed by the
/// synthetic ones, and their labels.
pub fn fit_resample(
    x: Tensor<2>,
    labels: &[usize],
    k: usize,
    strategy: &SamplingStrategy,
    rng: &mut Rng,
) -> Result<(Tensor<2>, Vec<usize>), AugmentError> {
    let [n, _] = x.dims();
    if labels.len() != n {
        return Err(AugmentError::new(
            "smote",
            format!("{n} rows but {} labels", labels.len()),
        ));
    }
    let counts = sampling_counts(labels, strategy)?;
    let device = x.device();
    let mut parts = vec![x.clone()];
    let mut out_labels = labels.to_vec();
    for (class, &want) in counts.iter().enumerate() {
        if want == 0 {
            continue;
        }
        let members: Vec<i64> = (0..n)
            .filter(|&i| labels[i] == class)
            .map(|i| i as i64)
            .collect();
        let len = members.len();
        let xc = x.clone().select(
            0,
            Tensor::<1, Int>::from_data(TensorData::new(members, [len]), &device),
        );
        let nn = nearest_neighbors(xc.clone(), k)
            .map_err(|e| AugmentError::new("smote", format!("class {class}: {}", e.reason)))?;
        let rows: Vec<usize> = (0..want).map(|_| rng.below(len)).collect();
        let cols: Vec<usize> = (0..want).map(|_| rng.below(k)).collect();
        let steps: Vec<f32> = (0..want).map(|_| rng.unit()).collect();
        let steps = Tensor::<1>::from_data(TensorData::new(steps, [want]), &device);
        parts.push(synthesize(xc, &nn, &rows, &cols, steps)?);
        out_labels.extend(std::iter::repeat_n(class, want));
    }
    Ok((Tensor::cat(parts, 0), out_labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_samples_lie_between_a_sample_and_one_of_its_neighbours() {
        let device = zoo_device::from_name("flex").unwrap();
        // Two clusters of a minority class and a larger majority.
        let rows: Vec<f32> = (0..12)
            .flat_map(|i| {
                [
                    (i % 4) as f32 + if i < 6 { 0.0 } else { 10.0 },
                    (i / 4) as f32,
                ]
            })
            .collect();
        let x = Tensor::<2>::from_data(TensorData::new(rows.clone(), [12, 2]), &device);
        let labels = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1];
        let (out, y) =
            fit_resample(x, &labels, 3, &SamplingStrategy::Auto, &mut Rng::new(7)).unwrap();
        assert_eq!(y.len(), 16);
        assert_eq!(&y[12..], &[0, 0, 0, 0]);
        let v: Vec<f32> = out.into_data().try_to_vec().unwrap();
        let class0: Vec<[f32; 2]> = (0..4).map(|i| [rows[2 * i], rows[2 * i + 1]]).collect();
        for s in 12..16 {
            let p = [v[2 * s], v[2 * s + 1]];
            // p = a + t (b - a) for some pair (a, b) of class-0 samples, t in [0, 1].
            let on_a_segment = class0.iter().any(|a| {
                class0.iter().any(|b| {
                    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
                    let t = if dx.abs() > dy.abs() {
                        (p[0] - a[0]) / dx
                    } else {
                        (p[1] - a[1]) / dy
                    };
                    (0.0..=1.0).contains(&t)
                        && (a[0] + t * dx - p[0]).abs() < 1e-5
                        && (a[1] + t * dy - p[1]).abs() < 1e-5
                })
            });
            assert!(on_a_segment, "{p:?}");
        }
    }

    #[test]
    fn too_few_samples_for_k_is_an_error() {
        let device = zoo_device::from_name("flex").unwrap();
        let x = Tensor::<2>::zeros([5, 2], &device);
        let labels = [0, 0, 1, 1, 1];
        let e = fit_resample(x, &labels, 2, &SamplingStrategy::Auto, &mut Rng::new(0)).unwrap_err();
        assert!(e.to_string().contains("class 0: 2 samples"), "{e}");
    }
}
