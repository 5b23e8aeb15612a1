//! The course's TinySSD on a generated detection batch, one SGD step with
//! the same weights on every device: predictions, the multibox targets, the
//! loss, the detections after NMS and the updated weights agree.
//!
//! One step at a small rate: at 64x64 the batch norm of TinySSD's 2x2 maps
//! averages 16 values, which magnifies the devices' rounding in the
//! gradients to a few percent, so predictions after a step at the course's
//! rate 0.2 differ by more than any fixed tolerance (seen on wgpu vs flex).

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Device;
use burn::tensor::activation::softmax;
use zoo_datasets::detection::fashion_on_photos;
use zoo_detect::anchors::{multibox_detection, multibox_priors, multibox_target};
use zoo_losses::multibox_loss;
use zoo_models::ssd::TinySsdConfig;
use zoo_optim::SgdConfig;
use zoo_tests::{Fill, PositiveVectors, Readings, assert_devices_agree, on_every_device, read};

fn one_step(device: &Device) -> Readings {
    let data = fashion_on_photos(4, 64, 2, 11).unwrap();
    let device = device.clone().autodiff();
    let mut model = TinySsdConfig::new(3)
        .init(&device)
        .map(&mut Fill(5))
        .map(&mut PositiveVectors);
    let batch = data.batch(&[0, 1, 2, 3], &device);
    let mut optim = SgdConfig::new().with_weight_decay(5e-4).init();
    let mut readings = Readings::new();
    let out = model.forward(batch.images.clone());
    let sizes = TinySsdConfig::sizes();
    let sizes: Vec<&[f64]> = sizes.iter().map(|s| s.as_slice()).collect();
    let anchors = multibox_priors(
        &out.feature_sizes,
        &sizes,
        &TinySsdConfig::ratios(),
        &device,
    )
    .unwrap();
    let t = multibox_target(anchors.clone(), batch.labels.clone()).unwrap();
    let loss = multibox_loss(out.cls_preds.clone(), out.bbox_preds.clone(), &t);
    readings.push(("cls_preds".into(), read(out.cls_preds.clone().detach())));
    readings.push(("bbox_preds".into(), read(out.bbox_preds.clone().detach())));
    readings.push(("targets".into(), read(t.bbox_offset.clone())));
    readings.push(("labels".into(), read(t.class_labels.clone().float())));
    readings.push(("loss".into(), read(loss.clone().detach())));
    let probs = softmax(out.cls_preds.detach(), 2).permute([0, 2, 1]);
    let det = multibox_detection(probs, out.bbox_preds.detach(), anchors, 0.5, 0.01).unwrap();
    readings.push(("detections".into(), read(det)));
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    model = optim.step(0.01, model, grads);
    readings.push((
        "base.0.conv1.weight".into(),
        read(model.base[0].conv1.weight.val()),
    ));
    readings.push(("cls.4.weight".into(), read(model.cls[4].weight.val())));
    readings
}

#[test]
fn tiny_ssd_trains_alike_on_every_device() {
    let results = on_every_device(one_step);
    assert_devices_agree(&results, 2e-3);
}
