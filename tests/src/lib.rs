//! The cross-device harness: run one test body on every compiled-in device
//! and check that the devices agree.
//!
//! `ZOO_TEST_DEVICES=flex,ndarray` restricts the devices (for example on a
//! machine without a Vulkan driver); by default every device compiled into
//! this package (flex, ndarray, wgpu) runs, and a device that cannot start
//! fails the test rather than being skipped silently.

use burn::tensor::{Device, Tensor};
use zoo_device::Backend;

/// The devices the cross-device tests run on, flex first.
///
/// # Panics
/// When `ZOO_TEST_DEVICES` names a device that is unknown or not compiled in.
pub fn devices() -> Vec<(Backend, Device)> {
    let backends = match std::env::var("ZOO_TEST_DEVICES") {
        Ok(list) if !list.trim().is_empty() => list
            .split(',')
            .map(|name| Backend::parse(name).unwrap_or_else(|e| panic!("ZOO_TEST_DEVICES: {e}")))
            .collect(),
        _ => Backend::available(),
    };
    backends
        .into_iter()
        .map(|b| (b, b.device().expect("compiled-in device")))
        .collect()
}

/// Runs `body` on every device of [`devices`] and returns each result with its backend.
pub fn on_every_device<T>(mut body: impl FnMut(&Device) -> T) -> Vec<(Backend, T)> {
    devices()
        .into_iter()
        .map(|(backend, device)| {
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&device)))
                .unwrap_or_else(|payload| {
                    let msg = payload
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    panic!("the test body failed on device `{backend}`: {msg}")
                });
            (backend, out)
        })
        .collect()
}

/// Named float arrays a test body read back from its device.
pub type Readings = Vec<(String, Vec<f32>)>;

/// Reads a tensor back to the host.
pub fn read<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec_as::<f32>().unwrap()
}

/// Checks `got` against `want` element-wise within `rtol` relative:
/// `|g - w| <= rtol * (|w| + max|want|)`. The second term is an absolute
/// floor at `rtol` times the largest magnitude, so values that are zero up to
/// rounding do not demand impossible relative precision.
pub fn close(got: &[f32], want: &[f32], rtol: f32) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!("{} values, expected {}", got.len(), want.len()));
    }
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if !g.is_finite() || (g - w).abs() > rtol * (w.abs() + scale) {
            return Err(format!("index {i}: got {g}, expected {w} (rtol {rtol})"));
        }
    }
    Ok(())
}

/// Asserts that every device's readings agree with the first device's within `rtol`.
///
/// # Panics
/// Naming the device, the reading and the first element that differs.
pub fn assert_devices_agree(results: &[(Backend, Readings)], rtol: f32) {
    let Some((reference, base)) = results.first() else {
        panic!("no device ran");
    };
    for (backend, readings) in &results[1..] {
        assert_eq!(
            readings.len(),
            base.len(),
            "{backend} returned {} readings, {reference} {}",
            readings.len(),
            base.len()
        );
        for ((name, got), (base_name, want)) in readings.iter().zip(base) {
            assert_eq!(name, base_name);
            if let Err(e) = close(got, want, rtol) {
                panic!("`{name}` differs between {backend} and {reference}: {e}");
            }
        }
    }
}

/// Overwrites every float parameter (and running statistic) with
/// deterministic host values, uniform in `±sqrt(3 / fan_in)`, so a module
/// holds the same weights on every device: `module.map(&mut Fill(seed))`.
pub struct Fill(pub u64);

impl burn::module::ModuleMapper for Fill {
    fn map_float<const D: usize>(
        &mut self,
        param: burn::module::Param<Tensor<D>>,
    ) -> burn::module::Param<Tensor<D>> {
        let tensor = param.val();
        let shape = tensor.dims();
        let n: usize = shape.iter().product();
        let fan_in = if D > 1 { n / shape[0] } else { n };
        let scale = (3.0 / fan_in.max(1) as f32).sqrt();
        let values: Vec<f32> = (0..n)
            .map(|_| {
                self.0 = self
                    .0
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((self.0 >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
            })
            .collect();
        let t = Tensor::from_data(
            burn::tensor::TensorData::new(values, shape),
            &tensor.device(),
        );
        burn::module::Param::from_tensor(t)
    }
}

/// Makes every 1-D tensor (biases, norm scales, running statistics)
/// `0.5 + |v|`, so running variances are positive and evaluation is finite:
/// `module.map(&mut Fill(seed)).map(&mut PositiveVectors)`.
pub struct PositiveVectors;

impl burn::module::ModuleMapper for PositiveVectors {
    fn map_float<const D: usize>(
        &mut self,
        param: burn::module::Param<Tensor<D>>,
    ) -> burn::module::Param<Tensor<D>> {
        if D != 1 {
            return param;
        }
        burn::module::Param::from_tensor(param.val().abs().add_scalar(0.5).detach())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_uses_an_absolute_floor() {
        assert!(close(&[1.0, 1e-9], &[1.00005, 0.0], 1e-4).is_ok());
        assert!(close(&[1.0, 1e-3], &[1.00005, 0.0], 1e-4).is_err());
        assert!(close(&[f32::NAN], &[1.0], 1e-4).is_err());
    }

    #[test]
    #[should_panic(expected = "differs between")]
    fn disagreement_is_reported() {
        let a = vec![("x".to_string(), vec![1.0, 2.0])];
        let b = vec![("x".to_string(), vec![1.0, 2.1])];
        assert_devices_agree(&[(Backend::Flex, a), (Backend::NdArray, b)], 1e-4);
    }
}
