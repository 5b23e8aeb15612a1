//! LeNet-5 (zoo-models) trained on real Fashion-MNIST images (zoo-datasets)
//! with torch-exact SGD (zoo-optim) and cross-entropy (zoo-losses): the
//! same weights give the same logits, loss and parameters after two steps on
//! every device, and the loss goes down.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Device;
use zoo_datasets::{FashionMnist, ImageBatcher, Split};
use zoo_losses::{CeTarget, Reduction};
use zoo_models::lenet::{LeNet, LeNetActivation, LeNetConfig, LeNetPool};
use zoo_optim::SgdConfig;
use zoo_tests::{Fill, Readings, assert_devices_agree, on_every_device, read};

fn model(device: &Device) -> LeNet {
    LeNetConfig::new()
        .with_activation(LeNetActivation::Relu)
        .with_pool(LeNetPool::Max)
        .init(device)
        .map(&mut Fill(42))
}

fn two_steps(device: &Device) -> Readings {
    let device = device.clone().autodiff();
    let data = FashionMnist::embedded(Split::Train).unwrap();
    let idx: Vec<usize> = (0..64).map(|i| i * 150).collect();
    let batch = ImageBatcher::new().batch_indices(&data, &idx, &device);
    let (x, y) = (batch.images, batch.targets);
    let mut model = model(&device);
    let mut optim = SgdConfig::new().with_momentum(0.9).init();
    let mut readings = Readings::new();
    for step in 0..3 {
        let logits = model.forward(x.clone());
        let loss = zoo_losses::cross_entropy(
            logits.clone(),
            CeTarget::Classes(y.clone()),
            0.0,
            Reduction::Mean,
        );
        readings.push((format!("loss{step}"), read(loss.clone().detach())));
        if step == 0 {
            readings.push(("logits".into(), read(logits.detach())));
        }
        if step == 2 {
            break;
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(0.05, model, grads);
    }
    readings.push(("conv1.weight".into(), read(model.conv1.weight.val())));
    readings.push(("fc3.weight".into(), read(model.fc3.weight.val())));
    readings
}

#[test]
fn lenet_training_agrees_across_devices_and_learns() {
    let results = on_every_device(two_steps);
    let (_, first) = &results[0];
    let loss = |name: &str| first.iter().find(|(n, _)| n == name).unwrap().1[0];
    assert!(
        loss("loss2") < loss("loss0"),
        "loss did not fall: {} -> {}",
        loss("loss0"),
        loss("loss2")
    );
    assert_devices_agree(&results, 1e-4);
}
