//! The same small CNN on every device: forward output, gradients and the
//! parameters after three SGD-with-momentum steps agree across devices.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor, TensorData};
use zoo_losses::{CeTarget, Reduction};
use zoo_tests::{Readings, assert_devices_agree, on_every_device, read};

/// conv 3x3 (1 -> 4, pad 1) -> batch norm -> ReLU -> 2x2 max pool -> linear (64 -> 3).
#[derive(Module, Debug)]
struct SmallCnn {
    conv: Conv2d,
    bn: BatchNorm,
    pool: MaxPool2d,
    fc: Linear,
}

/// Deterministic pseudo-random values in [-scale, scale] (a 64-bit LCG), the
/// same on every device because they are made on the host.
fn values(seed: u64, n: usize, scale: f32) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

/// A parameter leaf holding `offset + values(seed)`.
fn param<const D: usize>(
    seed: u64,
    shape: [usize; D],
    scale: f32,
    offset: f32,
    device: &Device,
) -> Param<Tensor<D>> {
    let n = shape.iter().product();
    let v: Vec<f32> = values(seed, n, scale)
        .into_iter()
        .map(|v| v + offset)
        .collect();
    Param::from_tensor(Tensor::from_data(TensorData::new(v, shape), device))
}

impl SmallCnn {
    /// The same weights on any device.
    fn new(device: &Device) -> Self {
        let mut conv = Conv2dConfig::new([1, 4], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init(device);
        conv.weight = param(1, [4, 1, 3, 3], 0.5, 0.0, device);
        conv.bias = Some(param(2, [4], 0.1, 0.0, device));
        let mut bn = BatchNormConfig::new(4).init(device);
        bn.gamma = param(3, [4], 0.2, 1.0, device);
        bn.beta = param(4, [4], 0.1, 0.0, device);
        let mut fc = LinearConfig::new(64, 3).init(device);
        fc.weight = param(5, [64, 3], 0.2, 0.0, device);
        fc.bias = Some(param(6, [3], 0.1, 0.0, device));
        SmallCnn {
            conv,
            bn,
            pool: MaxPool2dConfig::new([2, 2]).init(),
            fc,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = relu(self.bn.forward(self.conv.forward(x)));
        let x = self.pool.forward(x);
        let [n, c, h, w] = x.dims();
        self.fc.forward(x.reshape([n, c * h * w]))
    }

    fn parameters(&self) -> Readings {
        vec![
            ("conv.weight".into(), read(self.conv.weight.val())),
            (
                "conv.bias".into(),
                read(self.conv.bias.as_ref().unwrap().val()),
            ),
            ("bn.weight".into(), read(self.bn.gamma.val())),
            ("bn.bias".into(), read(self.bn.beta.val())),
            ("bn.running_mean".into(), read(self.bn.running_mean.value())),
            ("bn.running_var".into(), read(self.bn.running_var.value())),
            ("fc.weight".into(), read(self.fc.weight.val())),
            ("fc.bias".into(), read(self.fc.bias.as_ref().unwrap().val())),
        ]
    }
}

fn batch(device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
    let x = Tensor::from_data(
        TensorData::new(values(7, 6 * 64, 1.0), [6, 1, 8, 8]),
        device,
    );
    let y = Tensor::from_data(TensorData::new(vec![0i64, 1, 2, 2, 1, 0], [6]), device);
    (x, y)
}

/// Forward, gradients, and parameters after three SGD-momentum steps, read back.
fn train_three_steps(device: &Device) -> Readings {
    let device = device.clone().autodiff();
    let mut model = SmallCnn::new(&device);
    let (x, y) = batch(&device);
    let mut optim = SgdConfig::new()
        .with_momentum(Some(
            MomentumConfig::new().with_momentum(0.9).with_dampening(0.0),
        ))
        .init();
    let mut readings = Readings::new();
    for step in 0..3 {
        let logits = model.forward(x.clone());
        let loss = zoo_losses::cross_entropy(
            logits.clone(),
            CeTarget::Classes(y.clone()),
            0.0,
            Reduction::Mean,
        );
        let grads = loss.backward();
        if step == 0 {
            readings.push(("logits".into(), read(logits.detach())));
            readings.push(("loss".into(), read(loss.detach())));
            for (name, g) in [
                (
                    "grad.conv.weight",
                    model.conv.weight.val().grad(&grads).map(read),
                ),
                (
                    "grad.bn.weight",
                    model.bn.gamma.val().grad(&grads).map(read),
                ),
                (
                    "grad.fc.weight",
                    model.fc.weight.val().grad(&grads).map(read),
                ),
                (
                    "grad.fc.bias",
                    model.fc.bias.as_ref().unwrap().val().grad(&grads).map(read),
                ),
            ] {
                readings.push((
                    name.into(),
                    g.unwrap_or_else(|| panic!("no gradient for {name}")),
                ));
            }
        }
        let grads = GradientsParams::from_grads(grads, &model);
        model = optim.step(0.1, model, grads);
    }
    readings.extend(model.parameters());
    readings
}

#[test]
fn small_cnn_agrees_across_devices() {
    let results = on_every_device(train_three_steps);
    // Sanity of the readings themselves: the first loss is a real cross-entropy of 3 classes.
    let (_, first) = &results[0];
    let loss = first.iter().find(|(n, _)| n == "loss").unwrap().1[0];
    assert!(loss.is_finite() && loss > 0.0 && loss < 5.0, "loss {loss}");
    // Training moved the parameters.
    let before = SmallCnn::new(&zoo_tests::devices()[0].1).parameters();
    let after = first.iter().find(|(n, _)| n == "fc.weight").unwrap();
    let start = before.iter().find(|(n, _)| n == "fc.weight").unwrap();
    assert!(
        zoo_tests::close(&after.1, &start.1, 1e-3).is_err(),
        "SGD did not move fc.weight"
    );
    assert_devices_agree(&results, 1e-4);
}

#[test]
fn momentum_sgd_step_matches_the_formula() {
    // One parameter, gradient g on each step: v1 = g1, p1 = p0 - lr v1;
    // v2 = 0.9 v1 + g2, p2 = p1 - lr v2 (torch.optim.SGD, dampening 0).
    on_every_device(|device| {
        #[derive(Module, Debug)]
        struct One {
            w: Param<Tensor<1>>,
        }
        let device = device.clone().autodiff();
        let mut m = One {
            w: Param::from_tensor(Tensor::from_floats([1.0, -2.0], &device)),
        };
        let mut optim = SgdConfig::new()
            .with_momentum(Some(
                MomentumConfig::new().with_momentum(0.9).with_dampening(0.0),
            ))
            .init();
        for _ in 0..2 {
            // L = sum(w^2): g = 2w.
            let loss = m.w.val().square().sum();
            let grads = GradientsParams::from_grads(loss.backward(), &m);
            m = optim.step(0.1, m, grads);
        }
        let got = read(m.w.val());
        // p0 = 1: g1 = 2, p1 = 0.8; g2 = 1.6, v2 = 1.8 + 1.6 = 3.4, p2 = 0.46.
        // p0 = -2: p1 = -1.6; g2 = -3.2, v2 = -3.6 - 3.2 = -6.8, p2 = -0.92.
        zoo_tests::close(&got, &[0.46, -0.92], 1e-5).unwrap();
    });
}
