//! Property tests of the random ops with fixed seeds: their draws follow the
//! distributions torchvision and the papers define, and bad input is an
//! error naming the op and the values.

use burn::tensor::{Device, Int, Tensor, TensorData};
use zoo_augment::functional::PadMode;
use zoo_augment::mix::{CutMix, MixUp, PairingSchedule, SamplePairing};
use zoo_augment::resize::Interpolation;
use zoo_augment::transforms::{
    ColorJitter, Compose, GaussianBlur, GaussianNoise, Normalize, RandomCrop, RandomErasing,
    RandomHorizontalFlip, RandomResizedCrop, RandomRotation, Transform,
};
use zoo_augment::{Rng, color, functional as f, geometry, mix};

fn device() -> Device {
    zoo_device::from_name("flex").unwrap()
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec().unwrap()
}

fn mean_var(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    (
        m,
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0),
    )
}

#[test]
fn beta_draws_have_the_beta_mean_and_variance() {
    let mut rng = Rng::new(11);
    // Beta(a, b): mean a / (a + b), variance ab / ((a + b)^2 (a + b + 1)).
    for (a, b) in [(0.2, 0.2), (1.0, 1.0), (2.0, 5.0), (0.4, 3.0)] {
        let v: Vec<f64> = (0..20_000).map(|_| rng.beta(a, b)).collect();
        assert!(v.iter().all(|x| (0.0..=1.0).contains(x)));
        let (m, var) = mean_var(&v);
        let (em, ev) = (a / (a + b), a * b / ((a + b).powi(2) * (a + b + 1.0)));
        // Standard error of the mean: sqrt(var / n) < 0.0036.
        assert!((m - em).abs() < 0.012, "Beta({a}, {b}) mean {m} vs {em}");
        assert!(
            (var - ev).abs() < 0.1 * ev + 0.002,
            "Beta({a}, {b}) var {var} vs {ev}"
        );
    }
    let v: Vec<f64> = (0..20_000).map(|_| rng.normal()).collect();
    let (m, var) = mean_var(&v);
    assert!(m.abs() < 0.03 && (var - 1.0).abs() < 0.04, "{m} {var}");
}

#[test]
fn mixup_lambda_has_mean_one_half_and_mixes_images_and_labels_alike() {
    let d = device();
    let t = MixUp {
        alpha: 0.2,
        num_classes: 4,
    };
    let mut rng = Rng::new(3);
    let lams: Vec<f64> = (0..10_000).map(|_| t.lambda(&mut rng)).collect();
    let (m, var) = mean_var(&lams);
    // Beta(0.2, 0.2): mean 0.5, variance 1 / (4 (2 alpha + 1)) = 0.179; mostly near 0 or 1.
    assert!((m - 0.5).abs() < 0.015, "{m}");
    assert!((var - 0.1786).abs() < 0.01, "{var}");
    let x = Tensor::<4>::from_data(
        TensorData::new(vec![0.0f32, 1.0, 0.25, 0.75], [4, 1, 1, 1]),
        &d,
    );
    let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 1, 2, 3], [4]), &d);
    let (y, soft) = t.apply(x, labels, &mut Rng::new(8)).unwrap();
    let lam = t.lambda(&mut Rng::new(8));
    let y = values(y);
    let soft = values(soft);
    // Sample 1 is lam * 1 + (1 - lam) * 0 and its label lam on class 1, 1 - lam on class 0.
    assert!((y[1] as f64 - lam).abs() < 1e-6, "{y:?} {lam}");
    assert!((soft[4 + 1] as f64 - lam).abs() < 1e-6 && (soft[4] as f64 - (1.0 - lam)).abs() < 1e-6);
    for row in soft.chunks(4) {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }
}

#[test]
fn cutmix_boxes_fit_the_image_and_label_weights_match_the_pasted_area() {
    let d = device();
    let t = CutMix {
        alpha: 1.0,
        num_classes: 2,
    };
    let mut rng = Rng::new(5);
    let mut areas = Vec::new();
    for _ in 0..4000 {
        let [x1, y1, x2, y2] = t.draw_box(24, 32, &mut rng);
        assert!(x1 <= x2 && x2 <= 32 && y1 <= y2 && y2 <= 24);
        areas.push(((x2 - x1) * (y2 - y1)) as f64 / (24.0 * 32.0));
    }
    // Unclipped, the box covers 1 - lam of the image, E = 1/2 for Beta(1, 1);
    // clipping at the borders and rounding down make it smaller.
    let (m, _) = mean_var(&areas);
    assert!((0.2..0.5).contains(&m), "{m}");
    // Two images, 0 and 1: the second's pixels equal to 0 are exactly the pasted box.
    let x = Tensor::<4>::from_data(
        TensorData::new(
            [vec![0.0f32; 24 * 32], vec![1.0; 24 * 32]].concat(),
            [2, 1, 24, 32],
        ),
        &d,
    );
    let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 1], [2]), &d);
    let (y, soft) = t.apply(x, labels, &mut Rng::new(9)).unwrap();
    let y = values(y);
    let pasted = y[24 * 32..].iter().filter(|p| **p == 0.0).count() as f32 / (24.0 * 32.0);
    let soft = values(soft);
    assert!((soft[3] - (1.0 - pasted)).abs() < 1e-6, "{soft:?} {pasted}");
}

#[test]
fn rotation_angles_stay_in_range_replay_and_keep_the_centre() {
    let d = device();
    let t = RandomRotation::new(30.0);
    let mut rng = Rng::new(2);
    let angles = t.angles(5000, &mut rng);
    assert!(angles.iter().all(|a| (-30.0..=30.0).contains(a)));
    let (m, var) = mean_var(&angles);
    // Uniform(-30, 30): mean 0, variance 60^2 / 12 = 300.
    assert!(m.abs() < 1.0 && (var - 300.0).abs() < 20.0, "{m} {var}");
    // An odd-sized image: the centre pixel is its own source at every angle.
    let v: Vec<f32> = (0..49).map(|i| i as f32 / 49.0).collect();
    let x = Tensor::<4>::from_data(TensorData::new(v, [1, 1, 7, 7]), &d).expand([8, 1, 7, 7]);
    let y = values(t.apply(x.clone(), &mut Rng::new(4)).unwrap());
    for s in y.chunks(49) {
        assert!((s[24] - 24.0 / 49.0).abs() < 1e-6);
    }
    let again = values(t.apply(x, &mut Rng::new(4)).unwrap());
    assert_eq!(y, again);
    // A quarter turn counter-clockwise of a row [1, 2, 3] in a 3x3 image
    // puts it in the left column, its first value at the bottom.
    let x = Tensor::<4>::from_data(
        TensorData::new(
            vec![1.0f32, 2.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            [1, 1, 3, 3],
        ),
        &d,
    );
    let y = values(geometry::rotate(x, &[90.0], Interpolation::Nearest, None).unwrap());
    assert_eq!(y, [3.0, 0.0, 0.0, 2.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
    // Its boxes: the top-left 1x1 square goes to the bottom-left corner.
    let b = Tensor::<2>::from_floats([[0.0, 0.0, 1.0, 1.0]], &d);
    let b = values(geometry::rotate_boxes(b, 90.0, 3, 3).unwrap());
    assert!(
        b.iter()
            .zip([0.0, 2.0, 1.0, 3.0])
            .all(|(g, w)| (g - w).abs() < 1e-5),
        "{b:?}"
    );
}

#[test]
fn blur_sigmas_stay_in_range_per_sample() {
    let d = device();
    // An impulse blurred with a wide kernel: its second moment is sigma^2.
    let mut v = vec![0f32; 31 * 31];
    v[15 * 31 + 15] = 1.0;
    let x = Tensor::<4>::from_data(TensorData::new(v, [1, 1, 31, 31]), &d).expand([40, 1, 31, 31]);
    let t = GaussianBlur {
        kernel_size: [29, 29],
        sigma: [1.0, 3.0],
    };
    let y = values(t.apply(x, &mut Rng::new(6)).unwrap());
    let mut sigmas = Vec::new();
    for s in y.chunks(31 * 31) {
        let var: f64 = s
            .iter()
            .enumerate()
            .map(|(i, p)| *p as f64 * ((i % 31) as f64 - 15.0).powi(2))
            .sum();
        sigmas.push(var.sqrt());
    }
    assert!(
        sigmas.iter().all(|s| (0.99..=3.01).contains(s)),
        "{sigmas:?}"
    );
    let (m, _) = mean_var(&sigmas);
    assert!((m - 2.0).abs() < 0.3, "{m}");
}

#[test]
fn noise_has_the_asked_mean_and_sigma_and_clips() {
    let d = device();
    let x = Tensor::<4>::full([4, 3, 32, 32], 0.5, &d);
    let t = GaussianNoise {
        mean: 0.1,
        sigma: 0.2,
        clip: false,
    };
    let y: Vec<f64> = values(t.apply(x.clone(), &mut Rng::new(1)).unwrap())
        .iter()
        .map(|p| *p as f64 - 0.5)
        .collect();
    let (m, var) = mean_var(&y);
    assert!(
        (m - 0.1).abs() < 0.01 && (var.sqrt() - 0.2).abs() < 0.01,
        "{m} {var}"
    );
    let clipped = values(
        GaussianNoise {
            sigma: 1.0,
            ..GaussianNoise::default()
        }
        .apply(x, &mut Rng::new(1))
        .unwrap(),
    );
    assert!(clipped.iter().all(|p| (0.0..=1.0).contains(p)));
    assert!(clipped.contains(&0.0) && clipped.contains(&1.0));
}

#[test]
fn jitter_contrast_and_saturation_factors_stay_in_range() {
    let d = device();
    // Saturation only, on an image whose grey value is 0.5 everywhere: the
    // factor f maps the red channel 0.8 to 0.5 + f * 0.3 (before clamping).
    let pixel = [0.8f32, 0.4, 0.5];
    let grey = 0.2989 * 0.8 + 0.587 * 0.4 + 0.114 * 0.5;
    let v: Vec<f32> = pixel.iter().flat_map(|p| vec![*p; 4]).collect();
    let x = Tensor::<4>::from_data(TensorData::new(v, [1, 3, 2, 2]), &d).expand([500, 3, 2, 2]);
    let t = ColorJitter {
        saturation: 0.6,
        ..ColorJitter::default()
    };
    let y = values(t.apply(x, &mut Rng::new(12)).unwrap());
    let factors: Vec<f64> = y
        .chunks(12)
        .map(|s| (s[0] as f64 - grey) / (0.8 - grey))
        .collect();
    // No clamping here (factors up to 1.6 keep red below 1): uniform on
    // [0.4, 1.6], mean 1, variance 1.2^2 / 12 = 0.12.
    assert!(
        factors
            .iter()
            .all(|f| (0.4 - 1e-4..=1.6 + 1e-4).contains(f))
    );
    let (m, var) = mean_var(&factors);
    assert!(
        (m - 1.0).abs() < 0.04 && (var - 0.12).abs() < 0.02,
        "{m} {var}"
    );
}

#[test]
fn sample_pairing_follows_the_papers_schedule_and_never_pairs_an_image_with_itself() {
    let s = PairingSchedule::paper(100, Some(200));
    let on: Vec<usize> = (95..215).filter(|&e| s.active(e)).collect();
    // Off for the 100 warm-up epochs, 8 on / 2 off, off from 200.
    assert_eq!(on.first(), Some(&100));
    assert!(on.contains(&107) && !on.contains(&108) && !on.contains(&109) && on.contains(&110));
    assert!(on.iter().all(|&e| e < 200));
    assert_eq!(on.len(), 80);
    assert!((0..5).all(|e| PairingSchedule::always().active(e)));
    let mut rng = Rng::new(1);
    for _ in 0..200 {
        let p = SamplePairing::partners(5, &mut rng);
        assert!(p.iter().enumerate().all(|(i, &j)| i != j && j < 5));
    }
    let d = device();
    let x = Tensor::<4>::from_data(TensorData::new(vec![0.0f32, 1.0, 2.0], [3, 1, 1, 1]), &d);
    let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![4i64, 5, 6], [3]), &d);
    let t = SamplePairing { schedule: s };
    let (y, l) = t
        .apply(x.clone(), labels.clone(), 100, &mut Rng::new(2))
        .unwrap();
    let partners = SamplePairing::partners(3, &mut Rng::new(2));
    let y = values(y);
    for (i, j) in partners.iter().enumerate() {
        assert_eq!(y[i], (i as f32 + *j as f32) / 2.0);
    }
    assert_eq!(l.into_data().iter::<i64>().collect::<Vec<_>>(), [4, 5, 6]);
    let (y, _) = t.apply(x, labels, 108, &mut Rng::new(2)).unwrap();
    assert_eq!(values(y), [0.0, 1.0, 2.0]);
}

/// Every bad input is an error whose message names the op and the values.
#[test]
fn bad_input_names_the_op_and_the_values() {
    let d = device();
    let rgb = Tensor::<4>::zeros([2, 3, 8, 8], &d);
    let four = Tensor::<4>::zeros([1, 4, 8, 8], &d);
    let two = Tensor::<4>::zeros([1, 2, 8, 8], &d);
    let empty = Tensor::<4>::zeros([0, 3, 8, 8], &d);
    let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 1], [2]), &d);
    let no_labels = Tensor::<1, Int>::from_data(TensorData::new(Vec::<i64>::new(), [0]), &d);
    let rng = &mut Rng::new(0);
    let checks: Vec<(Result<(), zoo_augment::AugmentError>, &[&str])> = vec![
        (
            f::rgb_to_grayscale(four.clone()).map(drop),
            &["rgb_to_grayscale", "4"],
        ),
        (
            f::adjust_saturation(two.clone(), 1.5).map(drop),
            &["adjust_saturation", "2"],
        ),
        (color::adjust_hue(four.clone(), 0.1).map(drop), &["4"]),
        (color::rgb_to_hsv(two.clone()).map(drop), &["2"]),
        (
            color::adjust_hue(rgb.clone(), 0.7).map(drop),
            &["adjust_hue", "0.7"],
        ),
        (
            f::adjust_brightness(rgb.clone(), -1.0).map(drop),
            &["adjust_brightness", "-1"],
        ),
        (
            RandomCrop {
                size: [20, 20],
                padding: [2; 4],
                pad_if_needed: false,
                padding_mode: PadMode::Constant(0.0),
            }
            .apply(rgb.clone(), rng)
            .map(drop),
            &["RandomCrop", "20x20", "12x12"],
        ),
        (
            RandomHorizontalFlip { p: -0.1 }
                .apply(rgb.clone(), rng)
                .map(drop),
            &["-0.1"],
        ),
        (
            RandomErasing {
                p: 1.2,
                ..RandomErasing::default()
            }
            .apply(rgb.clone(), rng)
            .map(drop),
            &["RandomErasing", "1.2"],
        ),
        (
            RandomResizedCrop::new([8, 8])
                .apply(empty.clone(), rng)
                .map(drop),
            &["RandomResizedCrop", "empty"],
        ),
        (
            RandomRotation::new(10.0)
                .apply(empty.clone(), rng)
                .map(drop),
            &["rotate", "empty"],
        ),
        (
            GaussianBlur {
                kernel_size: [3, 3],
                sigma: [0.1, 2.0],
            }
            .apply(empty.clone(), rng)
            .map(drop),
            &["GaussianBlur", "empty"],
        ),
        (
            GaussianBlur {
                kernel_size: [4, 3],
                sigma: [0.1, 2.0],
            }
            .apply(rgb.clone(), rng)
            .map(drop),
            &["gaussian_blur", "[4, 3]"],
        ),
        (
            GaussianNoise::default().apply(empty.clone(), rng).map(drop),
            &["GaussianNoise", "empty"],
        ),
        (
            GaussianNoise {
                sigma: -1.0,
                ..GaussianNoise::default()
            }
            .apply(rgb.clone(), rng)
            .map(drop),
            &["gaussian_noise", "sigma -1"],
        ),
        (
            Normalize {
                mean: vec![0.5; 3],
                std: vec![0.2; 3],
            }
            .apply(two.clone(), rng)
            .map(drop),
            &["normalize", "3"],
        ),
        (
            ColorJitter {
                hue: 0.8,
                ..ColorJitter::default()
            }
            .apply(rgb.clone(), rng)
            .map(drop),
            &["ColorJitter", "hue 0.8"],
        ),
        (
            mix::mixup(empty.clone(), no_labels.clone(), 0.5, 2).map(drop),
            &["mixup", "empty"],
        ),
        (
            mix::mixup(rgb.clone(), labels.clone(), 1.5, 2).map(drop),
            &["mixup", "1.5"],
        ),
        (
            MixUp {
                alpha: 0.0,
                num_classes: 2,
            }
            .apply(rgb.clone(), labels.clone(), rng)
            .map(drop),
            &["MixUp", "alpha 0"],
        ),
        (
            mix::cutmix(rgb.clone(), labels.clone(), [2, 2, 9, 4], 2).map(drop),
            &["cutmix", "[2, 2, 9, 4]"],
        ),
        (
            SamplePairing {
                schedule: PairingSchedule::always(),
            }
            .apply(
                rgb.clone().narrow(0, 0, 1),
                labels.clone().narrow(0, 0, 1),
                0,
                rng,
            )
            .map(drop),
            &["SamplePairing", "batch of 1"],
        ),
        (
            geometry::rotate(rgb.clone(), &[1.0, 2.0, 3.0], Interpolation::Bilinear, None)
                .map(drop),
            &["rotate", "3 angles", "2 images"],
        ),
        (
            Compose::preset("autoaugment", [8, 8]).map(drop),
            &["preset", "autoaugment", "course"],
        ),
    ];
    for (k, (result, needles)) in checks.into_iter().enumerate() {
        let e = result.expect_err(&format!("check {k} should fail"));
        let msg = e.to_string();
        for n in needles {
            assert!(msg.contains(n), "check {k}: `{msg}` lacks `{n}`");
        }
    }
}
