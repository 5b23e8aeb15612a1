//! Tensors of any rank on a device, and the SPEC's comparison rule.

use burn::tensor::{Device, Tensor, TensorData};

use super::case::HostTensor;

/// A float tensor of any rank (`[]` included), kept flat with its shape.
///
/// The parity cases come in every rank; ops reshape to the rank they need
/// with [`DynTensor::to`]. Reshapes are recorded by autodiff, so a gradient
/// taken against the flat leaf comes back flat and is reshaped to the
/// input's shape.
#[derive(Debug, Clone)]
pub struct DynTensor {
    flat: Tensor<1>,
    shape: Vec<usize>,
}

impl DynTensor {
    /// Uploads a host tensor (floats) to `device`.
    pub fn from_host(host: &HostTensor, device: &Device) -> DynTensor {
        let flat = Tensor::<1>::from_data(
            TensorData::new(host.floats.clone(), [host.floats.len()]),
            device,
        );
        DynTensor {
            flat,
            shape: host.shape.clone(),
        }
    }

    /// Wraps a tensor of rank `D`.
    pub fn new<const D: usize>(t: Tensor<D>) -> DynTensor {
        let shape = t.dims().to_vec();
        let n: usize = shape.iter().product();
        DynTensor {
            flat: reshape(t, [n]),
            shape,
        }
    }

    /// Wraps a one-element tensor as a scalar of shape `[]` (torch's 0-d result).
    pub fn scalar(t: Tensor<1>) -> DynTensor {
        assert_eq!(t.dims(), [1], "a scalar must hold one element");
        DynTensor {
            flat: t,
            shape: Vec::new(),
        }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The flat view (used for leaves and gradients).
    pub fn flat(&self) -> Tensor<1> {
        self.flat.clone()
    }

    /// Marks the (flat) tensor as a leaf whose gradient is kept.
    pub fn require_grad(self) -> DynTensor {
        DynTensor {
            flat: self.flat.require_grad(),
            shape: self.shape,
        }
    }

    /// The tensor as rank `D`; an error naming `what` when the rank differs.
    pub fn to<const D: usize>(&self, what: &str) -> Result<Tensor<D>, String> {
        if self.shape.len() != D {
            return Err(format!(
                "`{what}` must have rank {D}, got shape {:?}",
                self.shape
            ));
        }
        let dims: [usize; D] = self.shape.clone().try_into().unwrap();
        Ok(reshape(self.flat.clone(), dims))
    }

    /// The tensor viewed as `[before, size(dim), after]`, so that a
    /// reduction along `dim` of any rank is one along dimension 1.
    pub fn around_dim(&self, dim: usize) -> Tensor<3> {
        let before: usize = self.shape[..dim].iter().product();
        let after: usize = self.shape[dim + 1..].iter().product();
        reshape(self.flat.clone(), [before, self.shape[dim], after])
    }

    /// Same data, another shape with the same number of elements.
    pub fn with_shape(self, shape: Vec<usize>) -> DynTensor {
        assert_eq!(
            shape.iter().product::<usize>(),
            self.shape.iter().product::<usize>()
        );
        DynTensor {
            flat: self.flat,
            shape,
        }
    }

    /// Reads the values back to the host.
    pub fn to_host(&self) -> HostTensor {
        let data = self.flat.clone().into_data().try_into_vec_as::<f32>();
        HostTensor::from_floats(self.shape.clone(), data.expect("float tensor"))
    }
}

/// `t` reshaped to `dims`, also when they hold no element: burn's reshape
/// reads a 0 in the target as "keep this dimension" (`[2, 0]` to `[0]`
/// asks for `[2]`), so an empty tensor is made anew instead.
fn reshape<const D: usize, const E: usize>(t: Tensor<D>, dims: [usize; E]) -> Tensor<E> {
    if dims.contains(&0) {
        Tensor::zeros(dims, &t.device())
    } else {
        t.reshape(dims)
    }
}

/// Compares `got` with `want` by the SPEC's rule: shapes equal; floats
/// within `atol + rtol * |want|` (NaN only where NaN is expected, infinities
/// only where the same infinity is expected); integers exactly.
pub fn compare(got: &HostTensor, want: &HostTensor, rtol: f64, atol: f64) -> Result<(), String> {
    if got.shape != want.shape {
        return Err(format!("shape {:?}, expected {:?}", got.shape, want.shape));
    }
    use super::case::Kind;
    match (got.kind(), want.kind()) {
        (Kind::Int, Kind::Int) => {
            if let Some(i) = (0..want.ints.len()).find(|&i| got.ints[i] != want.ints[i]) {
                let show = |v: &[i64]| format!("{:?}", &v[..v.len().min(16)]);
                return Err(format!(
                    "integer mismatch at flat index {i}: got {}, expected {} (got {}, expected {})",
                    got.ints[i],
                    want.ints[i],
                    show(&got.ints),
                    show(&want.ints)
                ));
            }
            Ok(())
        }
        (Kind::Float, Kind::Float) => {
            let mut worst: Option<(usize, f64)> = None;
            let mut bad = 0usize;
            for (i, (&g, &w)) in got.floats.iter().zip(&want.floats).enumerate() {
                let (g, w) = (g as f64, w as f64);
                let ok = if w.is_nan() {
                    g.is_nan()
                } else if w.is_infinite() || g.is_infinite() || g.is_nan() {
                    g == w
                } else {
                    (g - w).abs() <= atol + rtol * w.abs()
                };
                if !ok {
                    bad += 1;
                    let excess = if g.is_finite() && w.is_finite() {
                        (g - w).abs() - (atol + rtol * w.abs())
                    } else {
                        f64::INFINITY
                    };
                    if worst.is_none_or(|(_, e)| excess > e) {
                        worst = Some((i, excess));
                    }
                }
            }
            match worst {
                None => Ok(()),
                Some((i, _)) => Err(format!(
                    "{bad} of {} values out of tolerance (rtol {rtol}, atol {atol}); worst at \
                     flat index {i}: got {}, expected {}",
                    want.floats.len(),
                    got.floats[i],
                    want.floats[i]
                )),
            }
        }
        (g, w) => Err(format!(
            "dtype {:?} ({g:?}), expected {:?} ({w:?})",
            got.dtype, want.dtype
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(shape: Vec<usize>, v: &[f32]) -> HostTensor {
        HostTensor::from_floats(shape, v.to_vec())
    }

    #[test]
    fn tolerance_rule_is_the_specs() {
        let want = f(vec![3], &[1.0, 100.0, f32::NAN]);
        assert!(
            compare(
                &f(vec![3], &[1.0 + 2e-5, 100.01, f32::NAN]),
                &want,
                1e-4,
                1e-5
            )
            .is_ok()
        );
        // 1 + 2e-4 exceeds 1e-5 + 1e-4 * 1.
        let err = compare(&f(vec![3], &[1.0002, 100.0, f32::NAN]), &want, 1e-4, 1e-5).unwrap_err();
        assert!(err.contains("flat index 0"), "{err}");
        // NaN is only accepted where NaN is expected.
        assert!(compare(&f(vec![3], &[f32::NAN, 100.0, f32::NAN]), &want, 1e-4, 1e-5).is_err());
        assert!(compare(&f(vec![3], &[1.0, 100.0, 0.0]), &want, 1e-4, 1e-5).is_err());
        // Shapes must match exactly: [] is not [1].
        assert!(compare(&f(vec![1], &[1.0]), &f(vec![], &[1.0]), 1e-4, 1e-5).is_err());
    }

    #[test]
    fn integers_match_exactly_and_kinds_must_agree() {
        let want = HostTensor::from_ints(vec![2], vec![3, 1]);
        assert!(compare(&HostTensor::from_ints(vec![2], vec![3, 1]), &want, 0.1, 0.1).is_ok());
        assert!(compare(&HostTensor::from_ints(vec![2], vec![3, 2]), &want, 0.1, 0.1).is_err());
        assert!(compare(&f(vec![2], &[3.0, 1.0]), &want, 0.1, 0.1).is_err());
    }
}
