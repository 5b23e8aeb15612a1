//! The architecture blocks of zoo-layers (residual with projection, dense
//! block with bottleneck, transition, Inception, NiN) and PyTorch-exact batch
//! norm, trained two SGD steps with the same weights: outputs, gradients,
//! parameters and running statistics agree across devices.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use zoo_layers::blocks::dense::{DenseBlock, DenseBlockConfig, Transition, TransitionConfig};
use zoo_layers::blocks::inception::{Inception, InceptionConfig};
use zoo_layers::blocks::nin::{NinBlock, NinBlockConfig};
use zoo_layers::blocks::residual::{BasicBlock, BasicBlockConfig};
use zoo_optim::SgdConfig;
use zoo_tests::{Fill, PositiveVectors, Readings, assert_devices_agree, on_every_device, read};

#[derive(Module, Debug)]
struct Net {
    res: BasicBlock,
    dense: DenseBlock,
    trans: Transition,
    inc: Inception,
    nin: NinBlock,
}

fn net(device: &Device) -> Net {
    Net {
        res: BasicBlockConfig::new(2, 4).with_stride(2).init(device),
        dense: DenseBlockConfig::new(2, 4, 2)
            .with_bn_size(Some(2))
            .init(device),
        trans: TransitionConfig::new(8, 4).init(device),
        inc: InceptionConfig::new(4, 2, [2, 2], [1, 2], 2).init(device),
        nin: NinBlockConfig::new(8, 3, 3).with_padding(1).init(device),
    }
    .map(&mut Fill(7))
    .map(&mut PositiveVectors)
}

impl Net {
    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.res.forward(x);
        let x = self.trans.forward(self.dense.forward(x));
        let x = self.nin.forward(self.inc.forward(x));
        x.mean_dim(3).mean_dim(2).flatten(1, 3)
    }
}

fn two_steps(device: &Device) -> Readings {
    let device = device.clone().autodiff();
    let mut model = net(&device);
    // Fill also wrote the running statistics: start them at PyTorch's 0 / 1.
    model.res.bn1.running_var.update(Tensor::ones([4], &device));
    model
        .res
        .bn1
        .running_mean
        .update(Tensor::zeros([4], &device));
    let n = 2 * 2 * 16 * 16;
    let v: Vec<f32> = (0..n)
        .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
        .collect();
    let x = Tensor::<4>::from_data(TensorData::new(v, [2, 2, 16, 16]), &device);
    let target = Tensor::<2>::from_data(
        TensorData::new(vec![0.5f32, -0.5, 1.0, 0.0, 0.2, 0.3], [2, 3]),
        &device,
    );
    let mut optim = SgdConfig::new().with_momentum(0.9).init();
    let mut readings = Readings::new();
    for step in 0..2 {
        let out = model.forward(x.clone());
        let loss = (out.clone() - target.clone()).square().mean();
        readings.push((format!("out{step}"), read(out.detach())));
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(0.1, model, grads);
    }
    readings.push((
        "res.conv1.weight".into(),
        read(model.res.conv1.weight.val()),
    ));
    readings.push((
        "res.bn1.running_mean".into(),
        read(model.res.bn1.running_mean.value()),
    ));
    readings.push((
        "res.bn1.running_var".into(),
        read(model.res.bn1.running_var.value()),
    ));
    let down = model.res.downsample.as_ref().unwrap();
    readings.push((
        "res.downsample.conv.weight".into(),
        read(down.conv.weight.val()),
    ));
    readings.push((
        "dense.layers.1.conv2.weight".into(),
        read(model.dense.layers[1].conv2.as_ref().unwrap().weight.val()),
    ));
    readings.push(("inc.b3_2.weight".into(), read(model.inc.b3_2.weight.val())));
    readings.push((
        "nin.conv3.weight".into(),
        read(model.nin.conv3.weight.val()),
    ));
    // Evaluation mode uses the running statistics.
    readings.push(("eval".into(), read(model.valid().forward(x.inner()))));
    readings
}

#[test]
fn blocks_agree_across_devices() {
    let results = on_every_device(two_steps);
    assert_devices_agree(&results, 1e-3);
}
