//! The box functions on every device, against torchvision's formulas
//! computed here in f64. On wgpu, DIoU / CIoU of boxes far apart once came
//! out as -5.27 or -20 where torchvision gives -0.76 or -0.41: with one box
//! against a multiple of four (an `[1, 1]` column broadcast against
//! `[1, M]`) on an autodiff device with gradients required, burn 0.22's
//! fused element-wise kernel wrote only the first M/4 outputs, from the
//! wrong pairs. The pairwise terms are now computed on full `[N, M]`
//! copies; the first test keeps that shape. A pairwise function of an
//! empty set, or a mean box loss over no boxes, must give what torchvision
//! gives.

use burn::tensor::Tensor;
use zoo_detect::boxes;
use zoo_losses::Reduction;
use zoo_tests::{Readings, assert_devices_agree, close, on_every_device, read};

/// Far apart: no overlap, centres 100-900 pixels apart, signs of every
/// centre difference represented.
const A: [[f32; 4]; 3] = [
    [10.0, 20.0, 40.0, 60.0],
    [500.0, 400.0, 530.0, 420.0],
    [900.0, 50.0, 950.0, 120.0],
];
const B: [[f32; 4]; 2] = [[600.0, 700.0, 660.0, 730.0], [0.0, 800.0, 25.0, 880.0]];

/// torchvision's `distance_box_iou` and `complete_box_iou` (eps 1e-7) in f64.
fn reference(a: [f32; 4], b: [f32; 4]) -> (f64, f64) {
    let [x1, y1, x2, y2] = a.map(f64::from);
    let [u1, v1, u2, v2] = b.map(f64::from);
    let inter = (x2.min(u2) - x1.max(u1)).max(0.0) * (y2.min(v2) - y1.max(v1)).max(0.0);
    let union = (x2 - x1) * (y2 - y1) + (u2 - u1) * (v2 - v1) - inter;
    let iou = inter / union;
    let cw = x2.max(u2) - x1.min(u1);
    let ch = y2.max(v2) - y1.min(v1);
    let diag = cw * cw + ch * ch + 1e-7;
    let dx = (x1 + x2) / 2.0 - (u1 + u2) / 2.0;
    let dy = (y1 + y2) / 2.0 - (v1 + v2) / 2.0;
    let diou = iou - (dx * dx + dy * dy) / diag;
    let v = 4.0 / (std::f64::consts::PI * std::f64::consts::PI)
        * (((u2 - u1) / (v2 - v1)).atan() - ((x2 - x1) / (y2 - y1)).atan()).powi(2);
    let alpha = v / (1.0 - iou + v + 1e-7);
    (diou, diou - alpha * v)
}

#[test]
fn far_apart_boxes_agree_with_torchvisions_formula_on_every_device() {
    let mut want_d = Vec::new();
    let mut want_c = Vec::new();
    for a in A {
        for b in B {
            let (d, c) = reference(a, b);
            want_d.push(d as f32);
            want_c.push(c as f32);
        }
    }
    // The worked example of the defect report: about -0.76, not -5.27.
    assert!(
        want_d.iter().all(|&d| (-1.0..-0.5).contains(&d)),
        "{want_d:?}"
    );
    let results = on_every_device(|device| -> Readings {
        let a = Tensor::<2>::from_floats(A, device);
        let b = Tensor::<2>::from_floats(B, device);
        let d = read(boxes::distance_box_iou(a.clone(), b.clone(), 1e-7).unwrap());
        let c = read(boxes::complete_box_iou(a.clone(), b.clone(), 1e-7).unwrap());
        let g = read(boxes::generalized_box_iou(a.clone(), b.clone()).unwrap());
        // Paired losses of the first two boxes of each set.
        let a2 = a.slice([0..2, 0..4]);
        let l = read(boxes::diou_loss(a2.clone(), b.clone(), 1e-7).unwrap());
        let lc = read(boxes::ciou_loss(a2, b, 1e-7).unwrap());
        vec![
            ("diou".into(), d),
            ("ciou".into(), c),
            ("giou".into(), g),
            ("diou_loss".into(), l),
            ("ciou_loss".into(), lc),
        ]
    });
    for (backend, readings) in &results {
        close(&readings[0].1, &want_d, 1e-5).unwrap_or_else(|e| panic!("{backend} diou: {e}"));
        close(&readings[1].1, &want_c, 1e-5).unwrap_or_else(|e| panic!("{backend} ciou: {e}"));
        let loss: Vec<f32> = [0, 3].iter().map(|&i| 1.0 - want_d[i]).collect();
        close(&readings[3].1, &loss, 1e-5).unwrap_or_else(|e| panic!("{backend} diou_loss: {e}"));
    }
    assert_devices_agree(&results, 1e-5);
}

/// 32 boxes spread over 1,000 pixels, sides 5-55 (a fixed xorshift).
fn many() -> Vec<[f32; 4]> {
    let mut s = 777u64;
    let mut r = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s % 10_000) as f32 / 10_000.0
    };
    (0..32)
        .map(|_| {
            let (x, y) = (r() * 1000.0, r() * 1000.0);
            [x, y, x + 5.0 + r() * 50.0, y + 5.0 + r() * 50.0]
        })
        .collect()
}

#[test]
fn one_box_against_thirty_two_with_gradients_agrees_on_every_device() {
    let a = [34.83362f32, 645.05756, 41.953617, 707.84155];
    let b = many();
    let want_d: Vec<f32> = b.iter().map(|&b| reference(a, b).0 as f32).collect();
    let want_c: Vec<f32> = b.iter().map(|&b| reference(a, b).1 as f32).collect();
    let results = on_every_device(|device| -> Readings {
        let ad = device.clone().autodiff();
        let ta = Tensor::<2>::from_floats([a], &ad).require_grad();
        let tb =
            Tensor::<2>::from_data(burn::tensor::TensorData::new(b.concat(), [b.len(), 4]), &ad)
                .require_grad();
        let d = boxes::distance_box_iou(ta.clone(), tb.clone(), 1e-7).unwrap();
        let c = boxes::complete_box_iou(ta.clone(), tb.clone(), 1e-7).unwrap();
        let grads = (d.clone() + c.clone()).sum().backward();
        let g = read(ta.grad(&grads).unwrap());
        vec![
            ("diou".into(), read(d.inner())),
            ("ciou".into(), read(c.inner())),
            ("grad boxes1".into(), g),
        ]
    });
    for (backend, readings) in &results {
        close(&readings[0].1, &want_d, 1e-5).unwrap_or_else(|e| panic!("{backend} diou: {e}"));
        close(&readings[1].1, &want_c, 1e-5).unwrap_or_else(|e| panic!("{backend} ciou: {e}"));
    }
    assert_devices_agree(&results, 1e-4);
}

#[test]
fn empty_box_sets_give_empty_results_and_a_zero_mean_loss() {
    let results = on_every_device(|device| -> Readings {
        let none = Tensor::<2>::zeros([0, 4], device);
        let some = Tensor::<2>::from_floats(B, device);
        let shapes = [
            boxes::box_iou(none.clone(), some.clone()).unwrap().dims(),
            boxes::generalized_box_iou(some.clone(), none.clone())
                .unwrap()
                .dims(),
            boxes::distance_box_iou(none.clone(), some.clone(), 1e-7)
                .unwrap()
                .dims(),
            boxes::complete_box_iou(some.clone(), none.clone(), 1e-7)
                .unwrap()
                .dims(),
        ];
        assert_eq!(shapes, [[0, 2], [2, 0], [0, 2], [2, 0]]);
        let mut out = Readings::new();
        for (name, f) in [
            ("giou", boxes::giou_loss as fn(_, _, _) -> _),
            ("diou", boxes::diou_loss),
            ("ciou", boxes::ciou_loss),
        ] {
            let per_pair = f(none.clone(), none.clone(), 1e-7).unwrap();
            assert_eq!(per_pair.dims(), [0]);
            let mean = read(Reduction::Mean.apply_or_zero(per_pair.clone()));
            let sum = read(Reduction::Sum.apply_or_zero(per_pair));
            out.push((format!("{name} mean, sum"), vec![mean[0], sum[0]]));
        }
        out
    });
    for (backend, readings) in &results {
        for (name, v) in readings {
            assert_eq!(v, &[0.0, 0.0], "{backend} {name}");
        }
    }
}
