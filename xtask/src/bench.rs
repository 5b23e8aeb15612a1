//! `cargo xtask bench <what> [--device D]`: throughput of burn's kernels as
//! this project builds them (the dev profile: dependencies at opt-level 3,
//! debug assertions off). Timings are medians of repeated runs after a
//! warm-up, with the device synchronised around each run.

use std::time::{Duration, Instant};

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Distribution, Tensor};

/// Times `f` (which must leave all work queued on `device`): `warmup`
/// unmeasured runs, then the median of `runs`.
fn time(device: &Device, warmup: usize, runs: usize, mut f: impl FnMut()) -> Duration {
    for _ in 0..warmup {
        f();
    }
    device.sync().expect("device sync");
    let mut samples: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            device.sync().expect("device sync");
            start.elapsed()
        })
        .collect();
    samples.sort();
    samples[samples.len() / 2]
}

/// Square matmul `[n, n] x [n, n]`: prints the median time and GFLOP/s (`2 n^3` flops).
pub fn matmul(device: &Device, n: usize, runs: usize) -> f64 {
    let a = Tensor::<2>::random([n, n], Distribution::Uniform(-1.0, 1.0), device);
    let b = Tensor::<2>::random([n, n], Distribution::Uniform(-1.0, 1.0), device);
    let t = time(device, 2, runs, || {
        let _ = a.clone().matmul(b.clone());
    });
    let gflops = 2.0 * (n as f64).powi(3) / t.as_secs_f64() / 1e9;
    println!(
        "matmul {n}x{n}: {:.2} ms, {gflops:.1} GFLOP/s",
        t.as_secs_f64() * 1e3
    );
    gflops
}

/// A 3x3 convolution (VGG-style, padding 1) forward and backward on
/// `[batch, c, hw, hw]` with `c` output channels: prints the median time of
/// forward + backward and GFLOP/s (`3 * 2 * N*C*C*9*H*W`: one forward, two
/// backward convolutions).
pub fn conv(device: &Device, batch: usize, c: usize, hw: usize, runs: usize) -> f64 {
    let device = device.clone().autodiff();
    let x = Tensor::<4>::random(
        [batch, c, hw, hw],
        Distribution::Uniform(-1.0, 1.0),
        &device,
    )
    .require_grad();
    let w =
        Tensor::<4>::random([c, c, 3, 3], Distribution::Uniform(-0.1, 0.1), &device).require_grad();
    let t = time(&device, 1, runs, || {
        let y = conv2d(
            x.clone(),
            w.clone(),
            None,
            ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
        );
        let grads = y.sum().backward();
        let _ = (x.grad(&grads), w.grad(&grads));
    });
    let flops = 3.0 * 2.0 * (batch * c * c * 9 * hw * hw) as f64;
    let gflops = flops / t.as_secs_f64() / 1e9;
    println!(
        "conv3x3 fwd+bwd [{batch},{c},{hw},{hw}]: {:.2} ms, {gflops:.1} GFLOP/s",
        t.as_secs_f64() * 1e3
    );
    gflops
}

/// The data path: decode the Fashion-MNIST training set (the full 60,000
/// images from `dir`, else the data directory, else the embedded 10,000) and
/// batch all of it to tensors on `device` through burn's `DataLoader`
/// (shuffled, `batch` per batch, the loader's worker threads, optionally
/// resized to `resize x resize`), `runs` times.
/// Prints decode and batching rates in images/s; returns the batching rate.
pub fn data(
    device: &Device,
    dir: Option<&std::path::Path>,
    batch: usize,
    workers: usize,
    resize: Option<usize>,
    runs: usize,
) -> Result<f64, zoo_datasets::DataError> {
    use burn::data::dataloader::DataLoaderBuilder;
    use zoo_datasets::{FashionMnist, ImageBatch, ImageBatcher, Split};

    let start = Instant::now();
    let set = FashionMnist::load(dir, Split::Train)?;
    let decode = start.elapsed();
    let n = set.len();
    println!(
        "decode {n} images ({}): {:.0} ms, {:.0} images/s",
        set.source(),
        decode.as_secs_f64() * 1e3,
        n as f64 / decode.as_secs_f64()
    );
    let batcher = match resize {
        Some(side) => ImageBatcher::new().resize(side, side),
        None => ImageBatcher::new(),
    };
    let loader = DataLoaderBuilder::<_, ImageBatch>::new(batcher)
        .batch_size(batch)
        .shuffle(0)
        .num_workers(workers)
        .set_device(device.clone())
        .build(set);
    let t = time(device, 1, runs, || {
        for b in loader.iter() {
            // Force the upload: burn backends may defer it.
            let b = b.expect("in-memory items");
            let _ = b.images.sum();
        }
    });
    let rate = n as f64 / t.as_secs_f64();
    let side = resize.map_or(String::new(), |s| format!(", resized to {s}x{s}"));
    println!(
        "batch {n} images at {batch} per batch{side}, {workers} workers: {:.0} ms per epoch, {rate:.0} images/s",
        t.as_secs_f64() * 1e3
    );
    Ok(rate)
}

/// Where a forward's time goes: `f` traced with per-layer timing (the
/// device synchronised around each layer), printed as shares by layer type.
fn profile(name: &str, f: &dyn Fn()) {
    let ((), rows) = zoo_layers::trace::record(true, f);
    let total: f64 = rows.iter().filter(|r| r.leaf).map(|r| r.seconds).sum();
    let shares: Vec<String> = zoo_layers::trace::time_by_kind(&rows)
        .iter()
        .map(|(kind, s, calls)| format!("{kind} {:.1}% ({calls})", 100.0 * s / total))
        .collect();
    println!(
        "  profile {name} ({:.1} ms in layers): {}",
        1e3 * total,
        shares.join(", ")
    );
    // `ZOO_BENCH_PROFILE=layers`: every layer with its output, time and
    // (where it has multiply-adds) GFLOP/s.
    if std::env::var("ZOO_BENCH_PROFILE").is_ok_and(|v| v == "layers") {
        for r in rows.iter().filter(|r| r.leaf) {
            let rate = if r.macs > 0 && r.seconds > 0.0 {
                format!(", {:.0} GFLOP/s", 2.0 * r.macs as f64 / r.seconds / 1e9)
            } else {
                String::new()
            };
            println!(
                "    {:<12} {:?}: {:.2} ms{rate}",
                r.kind,
                r.output,
                1e3 * r.seconds
            );
        }
    }
}

/// Whether the benchmark `name` runs: `ZOO_BENCH_ONLY` (comma-separated
/// name prefixes, as `scripts/bench_compare.py --only` sets it) picks some;
/// unset, all run.
fn wanted(name: &str) -> bool {
    match std::env::var("ZOO_BENCH_ONLY") {
        Ok(only) if !only.trim().is_empty() => only
            .split(',')
            .map(str::trim)
            .any(|p| !p.is_empty() && name.starts_with(p)),
        _ => true,
    }
}

/// Whether to print the per-layer profiles (`ZOO_BENCH_PROFILE=0` skips
/// them: the interleaved comparison does not read them).
fn profiling() -> bool {
    std::env::var("ZOO_BENCH_PROFILE").map_or(true, |v| v != "0")
}

/// Model benchmarks: a LeNet training step (batch 256, 28x28, SGD,
/// cross-entropy), ResNet-18 inference (batch 8 at 3x224x224, batch 128 at
/// 3x32x32), ResNet-50 inference (batch 8 at 3x224x224), torchvision's
/// `fcn_resnet50` (21 classes, auxiliary head) at batch 1 on 3x520x520,
/// and a ResNet-18 training step (batch 32 at 3x64x64, SGD with
/// momentum), medians in ms. `scripts/bench_models.py` times the same
/// work in PyTorch. `ZOO_BENCH_ONLY` picks some of them (see [`wanted`]).
pub fn models(device: &Device, runs: usize) -> Vec<(String, f64)> {
    use burn::module::Module;
    use burn::optim::GradientsParams;
    use burn::tensor::Int;
    use zoo_models::lenet::LeNetConfig;
    use zoo_models::resnet::ResNetConfig;

    let mut results = Vec::new();
    let ad = device.clone().autodiff();
    let profile = |name: &str, f: &dyn Fn()| {
        if profiling() {
            profile(name, f)
        }
    };
    if wanted("lenet_train_step_b256") || wanted("lenet_forward_loss_b256") {
        let mut model = Some(LeNetConfig::new().init(&ad));
        let mut optim = zoo_optim::SgdConfig::torch_default().init();
        let x = Tensor::<4>::random([256, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &ad);
        let y = Tensor::<1, Int>::from_data(
            burn::tensor::TensorData::new(
                (0..256).map(|i| (i % 10) as i64).collect::<Vec<_>>(),
                [256],
            ),
            &ad,
        );
        let t = time(device, 3, runs, || {
            let m = model.take().expect("model");
            let loss = zoo_losses::cross_entropy(
                m.forward(x.clone()),
                zoo_losses::CeTarget::Classes(y.clone()),
                0.0,
                zoo_losses::Reduction::Mean,
            );
            let grads = GradientsParams::from_grads(loss.backward(), &m);
            model = Some(optim.step(0.1, m, grads));
        });
        results.push(("lenet_train_step_b256".to_string(), t.as_secs_f64() * 1e3));
        // The step split: forward and loss alone (on the autodiff device, so
        // the graph is recorded as in the step); the rest is backward + update.
        let lenet = model.take().expect("model");
        let t = time(device, 3, runs, || {
            let _ = zoo_losses::cross_entropy(
                lenet.forward(x.clone()),
                zoo_losses::CeTarget::Classes(y.clone()),
                0.0,
                zoo_losses::Reduction::Mean,
            );
        });
        results.push(("lenet_forward_loss_b256".to_string(), t.as_secs_f64() * 1e3));
        profile("lenet_forward_b256", &|| {
            let _ = lenet.forward(x.clone());
        });
    }
    for (depth, b, side) in [(18, 8, 224), (18, 128, 32), (50, 8, 224)] {
        let name = format!("resnet{depth}_infer_b{b}_{side}");
        if !wanted(&name) {
            continue;
        }
        let resnet = ResNetConfig::torchvision(depth, 1000)
            .expect("resnet")
            .init(device)
            .valid();
        let x = Tensor::<4>::random([b, 3, side, side], Distribution::Uniform(0.0, 1.0), device);
        let t = time(device, 2, runs, || {
            let _ = resnet.forward(x.clone());
        });
        results.push((name.clone(), t.as_secs_f64() * 1e3));
        profile(&name, &|| {
            let _ = resnet.forward(x.clone());
        });
    }
    let name = "fcn_resnet50_infer_b1_520";
    if wanted(name) {
        // torchvision's fcn_resnet50(weights=None, weights_backbone=None,
        // aux_loss=True): both heads, upsampled to the input's size.
        let fcn = zoo_models::fcn::FcnConfig::new(50)
            .with_num_classes(21)
            .with_aux_loss(true)
            .init(device)
            .valid();
        let x = Tensor::<4>::random([1, 3, 520, 520], Distribution::Uniform(0.0, 1.0), device);
        let t = time(device, 1, runs, || {
            let _ = fcn.forward(x.clone());
        });
        results.push((name.to_string(), t.as_secs_f64() * 1e3));
        profile(name, &|| {
            let _ = fcn.forward(x.clone());
        });
    }
    if wanted("resnet18_train_step_b32_64") {
        // ResNet-18 training step: batch 32 at 3x64x64, SGD with momentum.
        let mut model = Some(
            ResNetConfig::torchvision(18, 1000)
                .expect("resnet18")
                .init(&ad),
        );
        let mut optim = zoo_optim::SgdConfig::torch_default()
            .with_momentum(0.9)
            .init();
        let x = Tensor::<4>::random([32, 3, 64, 64], Distribution::Uniform(0.0, 1.0), &ad);
        let y = Tensor::<1, Int>::from_data(
            burn::tensor::TensorData::new(
                (0..32).map(|i| (i * 31 % 1000) as i64).collect::<Vec<_>>(),
                [32],
            ),
            &ad,
        );
        let t = time(device, 2, runs, || {
            let m = model.take().expect("model");
            let loss = zoo_losses::cross_entropy(
                m.forward(x.clone()),
                zoo_losses::CeTarget::Classes(y.clone()),
                0.0,
                zoo_losses::Reduction::Mean,
            );
            let grads = GradientsParams::from_grads(loss.backward(), &m);
            model = Some(optim.step(0.01, m, grads));
        });
        results.push((
            "resnet18_train_step_b32_64".to_string(),
            t.as_secs_f64() * 1e3,
        ));
    }
    for (name, ms) in &results {
        println!("{name}: {ms:.2} ms");
    }
    results
}

/// Single-op benchmarks (`bench kernels`), each the work of
/// `scripts/bench_kernels.py`: a 64->64 3x3 convolution (padding 1) on
/// `[8, 64, 56, 56]` forward (inference device; GFLOP/s printed) and forward
/// and backward; a 3x3/2 max pool (padding 1) on `[8, 64, 112, 112]`,
/// training batch norm on `[32, 64, 56, 56]` and a 4x4/2 transposed
/// convolution (padding 1) 64->32 on `[16, 64, 16, 16]`, forward and
/// backward each (the backward of `sum(y * r)`, every input's gradient).
pub fn kernels(device: &Device, runs: usize) -> Vec<(String, f64)> {
    use burn::tensor::ops::{ConvTransposeOptions, MaxPoolOptions};
    let mut results = Vec::new();
    let mut report = |name: &str, t: Duration, extra: String| {
        let ms = t.as_secs_f64() * 1e3;
        println!("{name}: {ms:.2} ms");
        if !extra.is_empty() {
            println!("  ({extra})");
        }
        results.push((name.to_string(), ms));
    };
    let ad = device.clone().autodiff();
    let u = |shape: [usize; 4], device: &Device| {
        Tensor::<4>::random(shape, Distribution::Uniform(-1.0, 1.0), device)
    };
    let opts = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
    let (x, w) = (u([8, 64, 56, 56], device), u([64, 64, 3, 3], device));
    let t = time(device, 2, runs, || {
        let _ = zoo_kernels::conv2d(x.clone(), w.clone(), None, opts.clone());
    });
    let flops = 2.0 * (8 * 64 * 64 * 9 * 56 * 56) as f64;
    report(
        "conv3x3_64_fwd_b8_56",
        t,
        format!("{:.1} GFLOP/s", flops / t.as_secs_f64() / 1e9),
    );
    let (x, w) = (
        u([8, 64, 56, 56], &ad).require_grad(),
        u([64, 64, 3, 3], &ad).require_grad(),
    );
    let r = u([8, 64, 56, 56], &ad);
    let t = time(device, 2, runs, || {
        let y = zoo_kernels::conv2d(x.clone(), w.clone(), None, opts.clone());
        let g = (y * r.clone()).sum().backward();
        let _ = (x.grad(&g), w.grad(&g));
    });
    report(
        "conv3x3_64_fwdbwd_b8_56",
        t,
        format!("{:.1} GFLOP/s", 3.0 * flops / t.as_secs_f64() / 1e9),
    );
    let x = u([8, 64, 112, 112], &ad).require_grad();
    let r = u([8, 64, 56, 56], &ad);
    let pool = MaxPoolOptions::new([3, 3])
        .with_stride([2, 2])
        .with_padding([1, 1]);
    let t = time(device, 2, runs, || {
        let y = zoo_kernels::max_pool2d(x.clone(), pool.clone());
        let _ = x.grad(&(y * r.clone()).sum().backward());
    });
    report("maxpool3x3s2_fwdbwd_b8_64_112", t, String::new());
    let x = u([32, 64, 56, 56], &ad).require_grad();
    let gamma = Tensor::<1>::ones([64], &ad).require_grad();
    let beta = Tensor::<1>::zeros([64], &ad).require_grad();
    let r = u([32, 64, 56, 56], &ad);
    let t = time(device, 2, runs, || {
        let y = zoo_kernels::batch_norm_train(x.clone(), gamma.clone(), beta.clone(), 1e-5, false);
        let g = (y.output * r.clone()).sum().backward();
        let _ = (x.grad(&g), gamma.grad(&g), beta.grad(&g));
    });
    report("batchnorm_fwdbwd_b32_64_56", t, String::new());
    let x = u([16, 64, 16, 16], &ad).require_grad();
    let w = u([64, 32, 4, 4], &ad).require_grad();
    let r = u([16, 32, 32, 32], &ad);
    let opts = ConvTransposeOptions::new([2, 2], [1, 1], [0, 0], [1, 1], 1);
    let t = time(device, 2, runs, || {
        let y = zoo_kernels::conv_transpose2d(x.clone(), w.clone(), None, opts.clone());
        let g = (y * r.clone()).sum().backward();
        let _ = (x.grad(&g), w.grad(&g));
    });
    report("convT4x4s2_64to32_fwdbwd_b16_16", t, String::new());
    results
}

/// Augmentation throughput (`bench augment`): the standard ImageNet training
/// pipeline (RandomResizedCrop 224, horizontal flip, ColorJitter 0.4/0.4/0.4,
/// Normalize) over a batch of 128 images of 3x256x256, each stage alone, the
/// pipeline with a hue jitter too, and SMOTE on 10,000 x 784 rows (ten
/// classes of 1,900 down to 100 rows, `auto`: 9,000 synthetic rows). The
/// same work as `scripts/bench_augment.py` in torchvision v2 and imbalanced-learn.
pub fn augment(device: &Device, runs: usize) -> Vec<(String, f64)> {
    use zoo_augment::Rng;
    use zoo_augment::smote::{SamplingStrategy, fit_resample};
    use zoo_augment::transforms::{
        ColorJitter, Compose, Normalize, RandomHorizontalFlip, RandomResizedCrop, Transform,
    };

    let mut results = Vec::new();
    let mut report = |name: &str, t: Duration| {
        let ms = t.as_secs_f64() * 1e3;
        println!("{name}: {ms:.2} ms");
        results.push((name.to_string(), ms));
    };
    let x = Tensor::<4>::random([128, 3, 256, 256], Distribution::Uniform(0.0, 1.0), device);
    let small = Tensor::<4>::random([128, 3, 224, 224], Distribution::Uniform(0.0, 1.0), device);
    let mut rng = Rng::new(0);
    let mut run = |name: &str, t: &dyn Transform, input: &Tensor<4>, rng: &mut Rng| {
        let d = time(device, 1, runs, || {
            let _ = t.apply(input.clone(), rng).expect("valid pipeline");
        });
        report(name, d);
    };
    let jitter = ColorJitter {
        brightness: 0.4,
        contrast: 0.4,
        saturation: 0.4,
        hue: 0.0,
    };
    run(
        "augment_pipeline_b128_256to224",
        &Compose::imagenet_train(224),
        &x,
        &mut rng,
    );
    let mut with_hue = Compose::imagenet_train(224);
    with_hue.transforms[2] = Box::new(ColorJitter {
        hue: 0.1,
        ..jitter.clone()
    });
    run(
        "augment_pipeline_hue_b128_256to224",
        &with_hue,
        &x,
        &mut rng,
    );
    run(
        "random_resized_crop_b128_256to224",
        &RandomResizedCrop::new([224, 224]),
        &x,
        &mut rng,
    );
    run(
        "crop_flip_b128_256to224",
        &Compose::new(vec![
            Box::new(RandomResizedCrop::new([224, 224])),
            Box::new(RandomHorizontalFlip { p: 0.5 }),
        ]),
        &x,
        &mut rng,
    );
    run(
        "hflip_b128_224",
        &RandomHorizontalFlip { p: 0.5 },
        &small,
        &mut rng,
    );
    run("color_jitter_b128_224", &jitter, &small, &mut rng);
    run(
        "normalize_b128_224",
        &Normalize {
            mean: vec![0.485, 0.456, 0.406],
            std: vec![0.229, 0.224, 0.225],
        },
        &small,
        &mut rng,
    );
    let counts: Vec<usize> = (0..10).map(|i| 1900 - 200 * i).collect();
    let labels: Vec<usize> = counts
        .iter()
        .enumerate()
        .flat_map(|(c, &n)| std::iter::repeat_n(c, n))
        .collect();
    let rows = Tensor::<2>::random([labels.len(), 784], Distribution::Uniform(0.0, 1.0), device);
    let d = time(device, 1, runs.min(5), || {
        let (out, _) = fit_resample(rows.clone(), &labels, 5, &SamplingStrategy::Auto, &mut rng)
            .expect("valid SMOTE");
        assert_eq!(out.dims()[0], 19_000);
    });
    report("smote_10000x784", d);
    results
}

/// Detection (`bench detect`): NMS of 10,000 random boxes (centres uniform
/// in a 1000x1000 image, sides 10-110 pixels, scores uniform) at IoU 0.5,
/// and batched NMS of the same boxes in 20 categories; the boxes start on
/// the device, so the read-back is timed too. `scripts/bench_detect.py`
/// times torchvision's CPU `nms` / `batched_nms` on the same boxes.
pub fn detect(device: &Device, runs: usize) -> Vec<(String, f64)> {
    use burn::tensor::{Int, TensorData};
    use zoo_augment::Rng;

    let n = 10_000;
    let mut rng = Rng::new(0);
    let mut boxes = Vec::with_capacity(n * 4);
    for _ in 0..n {
        let (cx, cy) = (rng.unit() * 1000.0, rng.unit() * 1000.0);
        let (w, h) = (10.0 + rng.unit() * 100.0, 10.0 + rng.unit() * 100.0);
        boxes.extend([cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0]);
    }
    let scores: Vec<f32> = (0..n).map(|_| rng.unit()).collect();
    let idxs: Vec<i64> = (0..n).map(|_| rng.below(20) as i64).collect();
    let b = Tensor::<2>::from_data(TensorData::new(boxes, [n, 4]), device);
    let s = Tensor::<1>::from_data(TensorData::new(scores, [n]), device);
    let c = Tensor::<1, Int>::from_data(TensorData::new(idxs, [n]), device);
    let mut results = Vec::new();
    let mut kept = 0;
    let t = time(device, 1, runs, || {
        kept = zoo_detect::nms::nms(b.clone(), s.clone(), 0.5)
            .expect("valid boxes")
            .dims()[0];
    });
    println!("nms_10000: {:.2} ms", t.as_secs_f64() * 1e3);
    println!("  ({kept} kept)");
    results.push(("nms_10000".to_string(), t.as_secs_f64() * 1e3));
    let t = time(device, 1, runs, || {
        kept = zoo_detect::nms::batched_nms(b.clone(), s.clone(), c.clone(), 0.5)
            .expect("valid boxes")
            .dims()[0];
    });
    println!("batched_nms_10000_20cls: {:.2} ms", t.as_secs_f64() * 1e3);
    println!("  ({kept} kept)");
    results.push(("batched_nms_10000_20cls".to_string(), t.as_secs_f64() * 1e3));
    results
}

/// The course's language model (`cargo xtask bench sequence`): an LSTM
/// language model's training step (vocabulary 28, 256 hidden, batch 32, 35
/// steps: d2l's setting, SGD, d2l's clipping) and GRU's, and the greedy
/// generation of 500 characters (d2l's `predict_ch8`), as
/// `scripts/bench_sequence.py` times them in PyTorch.
pub fn sequence(device: &Device, runs: usize) -> Vec<(String, f64)> {
    use burn::module::Module;
    use burn::tensor::{Int, TensorData};
    use zoo_layers::recurrent::RnnMode;
    use zoo_models::rnn_lm::RnnLmConfig;

    let mut results = Vec::new();
    let ad = device.clone().autodiff();
    let (v, h, n, t) = (28usize, 256usize, 32usize, 35usize);
    let tokens = |shift: usize| {
        let data: Vec<i64> = (0..n * t).map(|i| ((i * 7 + shift) % v) as i64).collect();
        Tensor::<2, Int>::from_data(TensorData::new(data, [n, t]), &ad)
    };
    let (x, y) = (tokens(0), tokens(1));
    for (mode, name) in [(RnnMode::Lstm, "lstm"), (RnnMode::Gru, "gru")] {
        let mut model = Some(RnnLmConfig::new(mode, v, h).init(&ad));
        let mut optim = zoo_optim::SgdConfig::new().init();
        let mut state = None;
        let dt = time(device, 2, runs, || {
            let m = model.take().expect("model");
            let out = zoo_train::language::lm_step(
                m,
                &mut optim,
                x.clone(),
                y.clone(),
                state.take(),
                1.0,
                1.0,
            )
            .expect("valid batch");
            model = Some(out.model);
            state = Some(out.state);
        });
        let key = format!("{name}_lm_train_step_v28_h256_b32_t35");
        println!("{key}: {:.2} ms", dt.as_secs_f64() * 1e3);
        results.push((key, dt.as_secs_f64() * 1e3));
        if mode == RnnMode::Lstm {
            // The step split: forward and loss alone on the autodiff device.
            let m = model.take().expect("model");
            let dt = time(device, 2, runs, || {
                let (logits, _) = m.forward(x.clone(), None).expect("valid batch");
                let targets = y.clone().transpose().reshape([n * t]);
                let _ = zoo_losses::cross_entropy(
                    logits,
                    zoo_losses::CeTarget::Classes(targets),
                    0.0,
                    zoo_losses::Reduction::Mean,
                );
            });
            let key = "lstm_lm_forward_loss_v28_h256_b32_t35".to_string();
            println!("{key}: {:.2} ms", dt.as_secs_f64() * 1e3);
            results.push((key, dt.as_secs_f64() * 1e3));
            let lm = m.valid();
            let plain = device.clone();
            let lm = lm.to_device(&plain);
            let dt = time(device, 1, runs, || {
                let _ = lm.predict(&[3, 5, 1], 500, &plain).expect("valid prefix");
            });
            let key = "lstm_lm_generate_500".to_string();
            println!("{key}: {:.2} ms", dt.as_secs_f64() * 1e3);
            results.push((key, dt.as_secs_f64() * 1e3));
        }
    }
    results
}

/// Classic ML and vision (`cargo xtask bench classic`), as
/// `scripts/bench_classic.py` times scikit-learn and scikit-image: kNN
/// prediction (k = 5, L2) of 10,000 Fashion-MNIST test images against the
/// 60,000 training images (the genuine files from `data_dir`, else the
/// Debian package's directory, else the embedded subset's sizes), Canny
/// (sigma 2) and HOG (9 bins, 8x8 cells, 2x2 blocks) of the grey
/// `assets/images/chelsea.jpg`, and exact t-SNE of 2,000 test images'
/// pixels (perplexity 30, 1,000 iterations).
///
/// A set that does not load, or is too small for the work (fewer than k = 5
/// training images, fewer test images than t-SNE's perplexity + 1), is an
/// error naming the directory (`--data-dir` when it came from the flag).
pub fn classic(
    device: &Device,
    data_dir: Option<&std::path::Path>,
    runs: usize,
) -> Result<Vec<(String, f64)>, String> {
    use burn::tensor::TensorData;
    use zoo_classic::canny::{CannyConfig, canny};
    use zoo_classic::hog::{BlockNorm, HogConfig};
    use zoo_classic::knn::{KNearest, Metric};
    use zoo_datasets::{FashionMnist, Split};

    let mut results = Vec::new();
    let debian = std::path::Path::new("/usr/share/datasets/fashion-mnist");
    let dir = data_dir.or(debian.is_dir().then_some(debian));
    // Where the set came from, as an error names it.
    let origin = match (data_dir, dir) {
        (Some(d), _) => format!("--data-dir {}", d.display()),
        (None, Some(d)) => format!("Fashion-MNIST in {}", d.display()),
        (None, None) => "Fashion-MNIST".to_string(),
    };
    let load = |split| FashionMnist::load(dir, split).map_err(|e| format!("{origin}: {e}"));
    let (train, test) = (load(Split::Train)?, load(Split::Test)?);
    const K: usize = 5;
    let tsne = zoo_explain::tsne::Tsne::default();
    // t-SNE's perplexity must be at most the points less one.
    let min_test = tsne.perplexity.ceil() as usize + 1;
    if train.len() < K || test.len() < min_test {
        return Err(format!(
            "{origin}: {} training and {} test images; `bench classic` needs at least {K} training images \
             (kNN, k = {K}) and {min_test} test images (t-SNE, perplexity {})",
            train.len(),
            test.len(),
            tsne.perplexity
        ));
    }
    let rows = |set: &zoo_datasets::ImageDataset, n: usize| -> Vec<f32> {
        (0..n)
            .flat_map(|i| set.pixels(i).iter().map(|&p| p as f32 / 255.0))
            .collect()
    };
    let (n, m) = (train.len(), test.len().min(10_000));
    println!(
        "Fashion-MNIST: {} ({n} train, {} test)",
        train.source(),
        test.len()
    );
    let tx = Tensor::<2>::from_data(TensorData::new(rows(&train, n), [n, 784]), device);
    let labels: Vec<usize> = (0..n).map(|i| train.label(i)).collect();
    let qx = Tensor::<2>::from_data(TensorData::new(rows(&test, m), [m, 784]), device);
    let knn = KNearest::fit(tx, &labels, Metric::L2).expect("fit");
    let mut acc = 0.0;
    // One timed run: seconds each, and the Python side runs it once too.
    let dt = time(device, 0, 1, || {
        let pred = knn.predict(qx.clone(), K).expect("predict");
        acc = pred
            .iter()
            .enumerate()
            .filter(|&(i, &p)| p == test.label(i))
            .count() as f64
            / m as f64;
    });
    let key = format!("knn_predict_{m}x{n}_l2_k{K}");
    println!("{key}: {:.2} ms", dt.as_secs_f64() * 1e3);
    println!("  (accuracy {acc:.4})");
    results.push((key, dt.as_secs_f64() * 1e3));

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let img = image::open(root.join("assets/images/chelsea.jpg"))
        .expect("chelsea.jpg")
        .to_rgb8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    let grey: Vec<f32> = img
        .pixels()
        .map(|p| (p[0] as f32 * 0.2989 + p[1] as f32 * 0.587 + p[2] as f32 * 0.114) / 255.0)
        .collect();
    let config = CannyConfig {
        sigma: 2.0,
        low_threshold: 0.05,
        high_threshold: 0.15,
    };
    let mut edges = 0;
    let dt = time(device, 1, runs, || {
        edges = canny(&grey, h, w, &config)
            .expect("canny")
            .iter()
            .filter(|&&e| e)
            .count();
    });
    println!("canny_451x300_s2: {:.2} ms", dt.as_secs_f64() * 1e3);
    println!("  ({edges} edge pixels)");
    results.push(("canny_451x300_s2".into(), dt.as_secs_f64() * 1e3));
    let hog = HogConfig {
        orientations: 9,
        pixels_per_cell: [8, 8],
        cells_per_block: [2, 2],
        block_norm: BlockNorm::L2Hys,
    };
    let dt = time(device, 1, runs, || {
        let _ = hog.features(&grey, h, w).expect("hog");
    });
    println!("hog_451x300_o9_c8_b2: {:.2} ms", dt.as_secs_f64() * 1e3);
    results.push(("hog_451x300_o9_c8_b2".into(), dt.as_secs_f64() * 1e3));

    let k = test.len().min(2000);
    let x: Vec<f64> = rows(&test, k).into_iter().map(f64::from).collect();
    let mut kl = 0.0;
    let dt = time(device, 0, 1, || {
        kl = tsne.fit(&x, k, 784).expect("tsne").1;
    });
    let key = format!("tsne_exact_{k}x784");
    println!("{key}: {:.2} ms", dt.as_secs_f64() * 1e3);
    println!("  (KL {kl:.3})");
    results.push((key, dt.as_secs_f64() * 1e3));
    Ok(results)
}
