//! A tiny style transfer (32x32, two Adam steps, fixed weights) gives the
//! same loss terms on every device, and the Gram / content losses of a fixed
//! input agree with their gradients.
//!
//! Adam's first steps move each pixel by about +-lr whatever the size of its
//! gradient, so a pixel whose gradient is near zero may step either way on
//! two devices: the comparison is of the loss terms and the image's mean,
//! not of every pixel.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use zoo_style::features::{Vgg19Config, Vgg19Features, layer_index};
use zoo_style::losses::{gram_matrix, style_loss};
use zoo_style::transfer::{Transfer, TransferConfig};
use zoo_tests::{Fill, Readings, assert_devices_agree, on_every_device, read};

fn image(seed: usize, device: &Device) -> Tensor<4> {
    let v: Vec<f32> = (0..3 * 32 * 32)
        .map(|i| {
            (((i * 7919 + seed * 104729) % 1000) as f32 / 1000.0 + (i as f32 * 0.05).sin()) / 2.0
                + 0.25
        })
        .map(|v| v.clamp(0.0, 1.0))
        .collect();
    Tensor::from_data(TensorData::new(v, [1, 3, 32, 32]), device)
}

fn tiny_run(device: &Device) -> Readings {
    let extractor: Vgg19Features = Vgg19Config::new().init(device).map(&mut Fill(9));
    let mut readings = Readings::new();
    // The losses and the Gram gradient of a fixed input, on the autodiff device.
    let ad = device.clone().autodiff();
    let x = Vgg19Features::preprocess(image(3, &ad)).require_grad();
    let k = layer_index("conv2_1").unwrap();
    let ext_ad = extractor.clone().fork(&ad);
    let f = ext_ad.extract(x.clone(), &[k]).remove(0);
    let target = gram_matrix(
        ext_ad
            .extract(Vgg19Features::preprocess(image(4, &ad)), &[k])
            .remove(0),
    );
    let loss = style_loss(f, target);
    readings.push(("style loss".into(), read(loss.clone().detach().inner())));
    let grads = loss.backward();
    readings.push(("style grad".into(), read(x.grad(&grads).unwrap())));
    let mut t = Transfer::new(
        extractor,
        image(1, device),
        image(2, device),
        TransferConfig::default(),
        device,
    )
    .unwrap();
    for _ in 0..2 {
        let r = t.step();
        readings.push((
            format!("step {}", r.step),
            vec![r.content as f32, r.style as f32, r.tv as f32],
        ));
    }
    readings.push(("image mean".into(), read(t.image().mean())));
    readings
}

#[test]
fn a_tiny_transfer_agrees_across_devices() {
    let results = on_every_device(tiny_run);
    assert_devices_agree(&results, 1e-2);
}
