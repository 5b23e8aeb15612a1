//! The recipes agree across devices: AutoAugment, RandAugment,
//! TrivialAugmentWide and RandomAffine replay the same seeded draws on every
//! device (host-made batch, parameters drawn on the host), and an SGD step
//! with a 10x head group followed by an EMA update gives the same weights.

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};
use zoo_augment::policies::{AutoAugment, AutoAugmentPolicy, RandAugment, TrivialAugmentWide};
use zoo_augment::transforms::{RandomAffine, Rng, Transform};
use zoo_optim::SgdConfig;
use zoo_optim::average::{AverageKind, WeightAverage};
use zoo_optim::groups::{AnyOptimizer, GroupOptions, ParamGroupSpec, grouped_optimizer};
use zoo_tests::{assert_devices_agree, on_every_device, read};

#[test]
fn seeded_policies_agree_across_devices() {
    let n = 8;
    let pixels: Vec<f32> = (0..n * 3 * 12 * 10)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
        .collect();
    let results = on_every_device(|device| {
        let x = Tensor::<4>::from_data(TensorData::new(pixels.clone(), [n, 3, 12, 10]), device);
        let policies: Vec<(&str, Box<dyn Transform>)> = vec![
            (
                "auto",
                Box::new(AutoAugment::new(AutoAugmentPolicy::Cifar10)),
            ),
            ("rand", Box::new(RandAugment::default())),
            ("trivial", Box::new(TrivialAugmentWide::default())),
            (
                "affine",
                Box::new(RandomAffine {
                    translate: Some([0.2, 0.1]),
                    scale: Some([0.8, 1.2]),
                    shear: vec![-10.0, 10.0],
                    ..RandomAffine::new(30.0)
                }),
            ),
        ];
        policies
            .into_iter()
            .map(|(name, t)| {
                let y = t.apply(x.clone(), &mut Rng::new(7)).unwrap();
                (name.to_string(), read(y))
            })
            .collect()
    });
    // One 8-bit level (equalize, posterize thresholds) is within 5e-3 of 1.
    assert_devices_agree(&results, 5e-3);
}

#[derive(Module, Debug)]
struct Net {
    features: Linear,
    fc: Linear,
}

#[test]
fn a_grouped_step_and_its_average_agree_across_devices() {
    let results = on_every_device(|device| {
        let ad = device.clone().autodiff();
        let w = |rows: usize, cols: usize, seed: usize| -> Tensor<2> {
            let v: Vec<f32> = (0..rows * cols)
                .map(|i| (((i + seed) * 37 % 19) as f32 - 9.0) / 10.0)
                .collect();
            Tensor::from_data(TensorData::new(v, [rows, cols]), &ad)
        };
        let mut net = Net {
            features: LinearConfig::new(4, 3).init(&ad),
            fc: LinearConfig::new(3, 2).init(&ad),
        };
        net.features.weight = Param::from_tensor(w(4, 3, 1));
        net.fc.weight = Param::from_tensor(w(3, 2, 2));
        net.features.bias = Some(Param::from_tensor(w(1, 3, 4).reshape([3])));
        net.fc.bias = Some(Param::from_tensor(w(1, 2, 5).reshape([2])));
        let base = AnyOptimizer::Sgd(SgdConfig::new().with_momentum(0.9));
        let head = ParamGroupSpec::new(
            "fc",
            GroupOptions {
                lr: Some(0.5),
                ..Default::default()
            },
        );
        let mut optim = grouped_optimizer(&net, &base, 0.05, &[head]).unwrap();
        let mut avg = WeightAverage::new(AverageKind::Ema { decay: 0.8 }).unwrap();
        let x = w(5, 4, 3);
        for _ in 0..3 {
            let loss = net
                .fc
                .forward(net.features.forward(x.clone()).tanh())
                .square()
                .mean();
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(0.05, net, grads);
            avg.update(&net);
        }
        let a = avg.averaged().unwrap();
        vec![
            (
                "features".to_string(),
                read(net.features.weight.val().inner()),
            ),
            ("fc".to_string(), read(net.fc.weight.val().inner())),
            ("avg_fc".to_string(), read(a.fc.weight.val())),
        ]
    });
    assert_devices_agree(&results, 1e-5);
}
