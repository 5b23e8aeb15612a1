//! d2l's DCGAN step agrees across devices: the discriminator's loss and
//! gradients on real and generated batches (two passes of the same
//! batch-norm net in one graph), then whole `update_D` / `update_G`
//! iterations (with SGD: see the note in `run`) and the running statistics
//! they leave.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use zoo_losses::{Reduction, bce_with_logits};
use zoo_models::gan::{DcganDiscriminatorConfig, DcganGeneratorConfig, Discriminator, Generator};
use zoo_models::weights::export_state_dict;
use zoo_optim::SgdConfig;
use zoo_tests::{Fill, Readings, assert_devices_agree, on_every_device, read};
use zoo_train::gan::{update_d, update_g};

fn values(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (((i * 7919 + seed * 104729) % 1000) as f32 / 500.0 - 1.0) * 0.9)
        .collect()
}

fn run(device: &Device, iterations: usize) -> Readings {
    let ad = device.clone().autodiff();
    let g = DcganGeneratorConfig::new()
        .with_n_g(4)
        .with_latent_dim(8)
        .with_channels(1)
        .init(&ad)
        .map(&mut Fill(3));
    let d = DcganDiscriminatorConfig::new()
        .with_n_d(4)
        .with_channels(1)
        .init(&ad)
        .map(&mut Fill(5));
    let x = Tensor::<4>::from_data(TensorData::new(values(2 * 64 * 64, 1), [2, 1, 64, 64]), &ad);
    let z = Tensor::<4>::from_data(TensorData::new(values(2 * 8, 2), [2, 8, 1, 1]), &ad);
    let mut readings = Readings::new();
    if iterations == 0 {
        // One graph, two passes of the discriminator, as update_D builds it.
        let real = d.logit(x.clone());
        let fake = d.logit(g.generate(z).detach());
        let ones = Tensor::ones([2], &ad);
        let loss = bce_with_logits(real, ones.clone(), Reduction::Sum)
            + bce_with_logits(fake, ones.zeros_like(), Reduction::Sum);
        readings.push(("loss".into(), read(loss.clone().detach().inner())));
        let grads = GradientsParams::from_grads(loss.backward(), &d);
        for (k, b) in d.blocks.iter().enumerate() {
            let w = &b.conv2d.weight;
            readings.push((
                format!("grad conv{k}"),
                read(grads.get::<4>(w.id).expect("a gradient")),
            ));
            let bw = &b.batch_norm.weight;
            readings.push((
                format!("grad bn{k}"),
                read(grads.get::<1>(bw.id).expect("a gradient")),
            ));
        }
        readings.push((
            "grad last".into(),
            read(grads.get::<4>(d.last.weight.id).expect("a gradient")),
        ));
        // The step moves the weights alike (the last layer's are the ones a
        // wrong step showed first).
        let stepped = SgdConfig::new().init().step(0.05, d.clone(), grads);
        readings.push((
            "last after a step".into(),
            read(stepped.last.weight.val().inner()),
        ));
        return readings;
    }
    let (mut g, mut d) = (g, d);
    // SGD, not the course's Adam: Adam's first step moves every weight by
    // about +-lr whatever its gradient's size, so a weight whose gradient is
    // at float32's rounding level steps either way on two devices (see
    // docs/GENERATIVE.md); SGD's step is proportional to the gradient.
    let sgd = SgdConfig::new();
    let (mut od, mut og) = (sgd.init(), sgd.init());
    for i in 0..iterations {
        let (nd, ld) = update_d(d, &g, x.clone(), z.clone(), &mut od, 0.05);
        d = nd;
        let (ng, lg) = update_g(g, &d, z.clone(), &mut og, 0.05);
        g = ng;
        readings.push((format!("losses {i}"), vec![read(ld)[0], read(lg)[0]]));
    }
    let sd = export_state_dict(&d, &|p| Some(p.to_string()));
    let key = "blocks.0.batch_norm.running_var";
    let v = sd.get(key).expect("exported").clone();
    readings.push((key.into(), v.try_into_vec_as::<f32>().unwrap()));
    readings
}

#[test]
fn the_discriminator_gradient_agrees_across_devices() {
    assert_devices_agree(&on_every_device(|d| run(d, 0)), 1e-3);
}

#[test]
fn dcgan_iterations_agree_across_devices() {
    assert_devices_agree(&on_every_device(|d| run(d, 2)), 2e-3);
}
