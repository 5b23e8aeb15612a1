//! The zoo's flex kernels against burn's own flex ops over random shapes:
//! outputs and every gradient, on the plain and the autodiff flex device.
//! Odd sizes, batch 1, strides, asymmetric padding, dilation, groups
//! (depthwise included), output padding, ceil mode and both average-pool
//! divisors; 300 cases in all. Finite-difference checks of the same kernels
//! follow (values from outside both implementations).

use burn::tensor::module;
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, ConvTransposeOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor, TensorData};
use zoo_layers::gradcheck::{GradCheck, check_gradient};

/// xorshift64*: shapes and values, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `lo..=hi`.
    fn int(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }
    fn values(&mut self, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| ((self.next() >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0)
            .collect()
    }
}

fn flex() -> Device {
    zoo_device::from_name("flex").unwrap()
}

fn tensor<const D: usize>(v: &[f32], shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(v.to_vec(), shape), device)
}

fn assert_close<const D: usize>(what: &str, case: &str, got: Tensor<D>, want: Tensor<D>) {
    assert_eq!(got.dims(), want.dims(), "{what} shape, {case}");
    let g = got.into_data().try_to_vec::<f32>().unwrap();
    let w = want.into_data().try_to_vec::<f32>().unwrap();
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let ok = (a - b).abs() <= 1e-4 * (1.0 + b.abs()) || (a.is_infinite() && a == b);
        assert!(ok, "{what}[{i}]: zoo {a} vs burn {b}, {case}");
    }
}

/// Runs `zoo` and `burn` on the same inputs (each with its own autodiff
/// leaves), compares the outputs, then the gradients of `sum(y * r)` for
/// every input; and compares the zoo's output on the plain flex device.
fn compare<const D: usize, const E: usize>(
    case: &str,
    inputs: &[(Vec<f32>, [usize; D])],
    rng: &mut Rng,
    zoo: impl Fn(&[Tensor<D>]) -> Tensor<E>,
    burn: impl Fn(&[Tensor<D>]) -> Tensor<E>,
) {
    let ad = flex().autodiff();
    let leaves = |device: &Device, grad: bool| -> Vec<Tensor<D>> {
        inputs
            .iter()
            .map(|(v, s)| {
                let t = tensor(v, *s, device);
                if grad { t.require_grad() } else { t }
            })
            .collect()
    };
    let (a, b) = (leaves(&ad, true), leaves(&ad, true));
    assert!(
        zoo_kernels::uses_zoo_kernels(&a[0]),
        "not on the zoo's kernels"
    );
    let (ya, yb) = (zoo(&a), burn(&b));
    assert_close("output", case, ya.clone(), yb.clone());
    let plain = zoo(&leaves(&flex(), false));
    assert_close(
        "inference output",
        case,
        plain,
        yb.clone().detach().to_device(&flex()),
    );
    let r = Tensor::<E>::from_data(
        TensorData::new(rng.values(ya.shape().num_elements()), ya.dims()),
        &ad,
    );
    let ga = (ya * r.clone()).sum().backward();
    let gb = (yb * r).sum().backward();
    for (i, (ta, tb)) in a.iter().zip(&b).enumerate() {
        let (da, db) = (ta.grad(&ga), tb.grad(&gb));
        match (da, db) {
            (Some(da), Some(db)) => assert_close(&format!("grad {i}"), case, da, db),
            (da, db) => panic!(
                "grad {i}: zoo {} / burn {}, {case}",
                da.is_some(),
                db.is_some()
            ),
        }
    }
}

#[test]
fn conv2d_matches_burn_over_random_shapes() {
    let mut rng = Rng(0x5eed_c0de);
    let mut done = 0;
    while done < 110 {
        let n = rng.int(1, 3);
        let groups = [1, 1, 2, 3][rng.int(0, 3)];
        let depthwise = rng.int(0, 5) == 0;
        let (cg, og) = if depthwise {
            (1, rng.int(1, 2))
        } else {
            (rng.int(1, 4), rng.int(1, 4))
        };
        let (kh, kw) = (rng.int(1, 4), rng.int(1, 4));
        let (h, w) = (rng.int(1, 11), rng.int(1, 11));
        let stride = [rng.int(1, 3), rng.int(1, 3)];
        let dil = [rng.int(1, 2), rng.int(1, 2)];
        let pad = [
            (rng.int(0, 2), rng.int(0, 2)),
            (rng.int(0, 2), rng.int(0, 2)),
        ];
        let pad = if rng.coin() {
            [(pad[0].0, pad[0].0), (pad[1].0, pad[1].0)]
        } else {
            pad
        };
        if h + pad[0].0 + pad[0].1 < dil[0] * (kh - 1) + 1
            || w + pad[1].0 + pad[1].1 < dil[1] * (kw - 1) + 1
        {
            continue;
        }
        let (cin, cout) = (cg * groups, og * groups);
        let bias = rng.coin();
        let opts = ConvOptions::new_with_padding(stride, pad, dil, groups);
        let case =
            format!("x [{n}, {cin}, {h}, {w}] w [{cout}, {cg}, {kh}, {kw}] {opts:?} bias {bias}");
        let xv = rng.values(n * cin * h * w);
        let wv = rng.values(cout * cg * kh * kw);
        let bv = rng.values(cout);
        // Rank-4 leaves only: the bias travels as [1, 1, 1, C_out].
        let inputs = vec![
            (xv, [n, cin, h, w]),
            (wv, [cout, cg, kh, kw]),
            (bv, [1, 1, 1, cout]),
        ];
        let b = move |t: &Tensor<4>| bias.then(|| t.clone().reshape([cout]));
        let o = opts.clone();
        compare(
            &case,
            &inputs,
            &mut rng,
            |t| {
                let y = zoo_kernels::conv2d(t[0].clone(), t[1].clone(), b(&t[2]), o.clone());
                // The unused bias still gets a (zero) gradient on both sides.
                y + t[2].clone().sum().mul_scalar(0.0).reshape([1, 1, 1, 1])
            },
            |t| {
                let y = module::conv2d(t[0].clone(), t[1].clone(), b(&t[2]), opts.clone());
                y + t[2].clone().sum().mul_scalar(0.0).reshape([1, 1, 1, 1])
            },
        );
        done += 1;
    }
}

/// The shapes the models use, large enough for several column tiles per image.
#[test]
fn conv_matches_burn_on_model_shapes() {
    let mut rng = Rng(0xfeed);
    // (x, cout, kernel, stride, padding, groups)
    let cases: [([usize; 4], usize, usize, usize, usize, usize); 12] = [
        ([32, 8, 4, 4], 16, 3, 1, 1, 1),   // many small images per gemm
        ([16, 8, 3, 3], 8, 3, 2, 1, 2),    // the same, grouped and strided
        ([16, 8, 2, 2], 8, 1, 1, 0, 1),    // the same, 1x1
        ([40, 16, 1, 1], 32, 3, 1, 1, 1),  // ResNet's last stage at 32x32
        ([2, 16, 20, 20], 24, 3, 1, 1, 1), // ResNet's 3x3
        ([1, 64, 30, 30], 8, 3, 1, 1, 1),  // K = 576: column tiles split rows
        ([1, 3, 33, 33], 8, 7, 2, 3, 1),   // the 7x7/2 stem
        ([2, 16, 15, 15], 32, 1, 2, 0, 1), // a 1x1/2 downsample
        ([2, 16, 14, 14], 16, 1, 1, 0, 1), // a 1x1 (no im2col)
        ([2, 8, 15, 15], 8, 3, 1, 1, 8),   // depthwise
        ([1, 64, 9, 9], 64, 3, 2, 1, 32),  // ResNeXt's grouped 3x3
        ([3, 1, 28, 28], 6, 5, 1, 2, 1),   // LeNet's first layer
    ];
    for (xs, cout, k, s, p, g) in cases {
        let cg = xs[1] / g;
        let opts = ConvOptions::new([s, s], [p, p], [1, 1], g);
        let case = format!("conv2d x {xs:?} w [{cout}, {cg}, {k}, {k}] {opts:?}");
        let inputs = vec![
            (rng.values(xs.iter().product()), xs),
            (rng.values(cout * cg * k * k), [cout, cg, k, k]),
            (rng.values(cout), [1, 1, 1, cout]),
        ];
        let o = opts.clone();
        compare(
            &case,
            &inputs,
            &mut rng,
            |t| {
                zoo_kernels::conv2d(
                    t[0].clone(),
                    t[1].clone(),
                    Some(t[2].clone().reshape([cout])),
                    o.clone(),
                )
            },
            |t| {
                module::conv2d(
                    t[0].clone(),
                    t[1].clone(),
                    Some(t[2].clone().reshape([cout])),
                    opts.clone(),
                )
            },
        );
    }
    // FCN's upsampling (kernel 2s, stride s) and DCGAN's 4x4/2.
    for (xs, cout, k, s, p) in [
        ([1, 3, 5, 5], 3, 16, 8, 4),
        ([4, 16, 4, 4], 8, 4, 2, 1),
        ([24, 8, 2, 2], 4, 4, 2, 1),
    ] {
        let cin = xs[1];
        let opts = ConvTransposeOptions::new([s, s], [p, p], [0, 0], [1, 1], 1);
        let case = format!("conv_transpose2d x {xs:?} k {k} s {s} p {p}");
        let inputs = vec![
            (rng.values(xs.iter().product()), xs),
            (rng.values(cin * cout * k * k), [cin, cout, k, k]),
        ];
        let o = opts.clone();
        compare(
            &case,
            &inputs,
            &mut rng,
            |t| zoo_kernels::conv_transpose2d(t[0].clone(), t[1].clone(), None, o.clone()),
            |t| module::conv_transpose2d(t[0].clone(), t[1].clone(), None, opts.clone()),
        );
    }
    // ResNet's 3x3/2 max pool.
    let opts = MaxPoolOptions::new([3, 3])
        .with_stride([2, 2])
        .with_padding([1, 1]);
    let inputs = vec![(rng.values(2 * 4 * 17 * 17), [2, 4, 17, 17])];
    compare(
        "max_pool2d 3x3/2 on [2, 4, 17, 17]",
        &inputs,
        &mut rng,
        |t| zoo_kernels::max_pool2d(t[0].clone(), opts.clone()),
        |t| module::max_pool2d(t[0].clone(), opts.clone()),
    );
}

#[test]
fn conv_transpose2d_matches_burn_over_random_shapes() {
    let mut rng = Rng(0x7a05_e0f1);
    let mut done = 0;
    while done < 60 {
        let n = rng.int(1, 3);
        let groups = [1, 1, 2][rng.int(0, 2)];
        let (cg, og) = (rng.int(1, 3), rng.int(1, 3));
        let (kh, kw) = (rng.int(1, 4), rng.int(1, 4));
        let (h, w) = (rng.int(1, 7), rng.int(1, 7));
        let stride = [rng.int(1, 3), rng.int(1, 3)];
        let dil = [rng.int(1, 2), rng.int(1, 2)];
        let pad = [rng.int(0, 2), rng.int(0, 2)];
        let out_pad = [
            rng.int(0, stride[0].max(dil[0]) - 1),
            rng.int(0, stride[1].max(dil[1]) - 1),
        ];
        let size = |len: usize, k: usize, i: usize| {
            ((len - 1) * stride[i] + dil[i] * (k - 1) + out_pad[i] + 1) as isize
                - 2 * pad[i] as isize
        };
        if size(h, kh, 0) < 1 || size(w, kw, 1) < 1 {
            continue;
        }
        let (cin, cout) = (cg * groups, og * groups);
        let bias = rng.coin();
        let opts = ConvTransposeOptions::new(stride, pad, out_pad, dil, groups);
        let case =
            format!("x [{n}, {cin}, {h}, {w}] w [{cin}, {og}, {kh}, {kw}] {opts:?} bias {bias}");
        let inputs = vec![
            (rng.values(n * cin * h * w), [n, cin, h, w]),
            (rng.values(cin * og * kh * kw), [cin, og, kh, kw]),
            (rng.values(cout), [1, 1, 1, cout]),
        ];
        let b = move |t: &Tensor<4>| bias.then(|| t.clone().reshape([cout]));
        let o = opts.clone();
        compare(
            &case,
            &inputs,
            &mut rng,
            |t| {
                zoo_kernels::conv_transpose2d(t[0].clone(), t[1].clone(), b(&t[2]), o.clone())
                    + t[2].clone().sum().mul_scalar(0.0).reshape([1, 1, 1, 1])
            },
            |t| {
                module::conv_transpose2d(t[0].clone(), t[1].clone(), b(&t[2]), opts.clone())
                    + t[2].clone().sum().mul_scalar(0.0).reshape([1, 1, 1, 1])
            },
        );
        done += 1;
    }
}

#[test]
fn pools_match_burn_over_random_shapes() {
    let mut rng = Rng(0x9001_1234);
    let (mut max_done, mut avg_done, mut adaptive_done) = (0, 0, 0);
    while max_done + avg_done + adaptive_done < 100 {
        let n = rng.int(1, 2);
        let c = rng.int(1, 3);
        let (h, w) = (rng.int(1, 12), rng.int(1, 12));
        let (kh, kw) = (rng.int(1, 4), rng.int(1, 4));
        let stride = [rng.int(1, 3), rng.int(1, 3)];
        let pad = [rng.int(0, kh / 2), rng.int(0, kw / 2)];
        let ceil = rng.coin();
        let xv = rng.values(n * c * h * w);
        let inputs = vec![(xv, [n, c, h, w])];
        match rng.int(0, 2) {
            0 if max_done < 40 => {
                let dil = [rng.int(1, 2), rng.int(1, 2)];
                if h + 2 * pad[0] < dil[0] * (kh - 1) + 1 || w + 2 * pad[1] < dil[1] * (kw - 1) + 1
                {
                    continue;
                }
                let opts = MaxPoolOptions::new([kh, kw])
                    .with_stride(stride)
                    .with_padding(pad)
                    .with_dilation(dil)
                    .with_ceil_mode(ceil);
                let case = format!("max_pool2d x [{n}, {c}, {h}, {w}] {opts:?}");
                compare(
                    &case,
                    &inputs,
                    &mut rng,
                    |t| zoo_kernels::max_pool2d(t[0].clone(), opts.clone()),
                    |t| module::max_pool2d(t[0].clone(), opts.clone()),
                );
                max_done += 1;
            }
            1 if avg_done < 40 => {
                if h + 2 * pad[0] < kh || w + 2 * pad[1] < kw {
                    continue;
                }
                let opts = AvgPoolOptions::new([kh, kw])
                    .with_stride(stride)
                    .with_padding(pad)
                    .with_count_include_pad(rng.coin())
                    .with_ceil_mode(ceil);
                let case = format!("avg_pool2d x [{n}, {c}, {h}, {w}] {opts:?}");
                compare(
                    &case,
                    &inputs,
                    &mut rng,
                    |t| zoo_kernels::avg_pool2d(t[0].clone(), opts.clone()),
                    |t| module::avg_pool2d(t[0].clone(), opts.clone()),
                );
                avg_done += 1;
            }
            2 if adaptive_done < 20 => {
                let size = [rng.int(1, h + 2), rng.int(1, w + 2)];
                let case = format!("adaptive_avg_pool2d x [{n}, {c}, {h}, {w}] to {size:?}");
                compare(
                    &case,
                    &inputs,
                    &mut rng,
                    |t| zoo_kernels::adaptive_avg_pool2d(t[0].clone(), size),
                    |t| module::adaptive_avg_pool2d(t[0].clone(), size),
                );
                adaptive_done += 1;
            }
            _ => {}
        }
    }
}

#[test]
fn batch_norm_matches_burn_over_random_shapes() {
    let mut rng = Rng(0xb0b0_5eed);
    for i in 0..30 {
        let n = rng.int(1, 4);
        let c = rng.int(1, 5);
        let (h, w) = (rng.int(1, 7), rng.int(1, 7));
        if n * h * w < 2 {
            continue;
        }
        let relu = rng.coin();
        let eps = [1e-5, 1e-3][i % 2];
        // A large offset on some cases: the statistics must not cancel.
        let offset = if i % 5 == 0 { 300.0 } else { 0.0 };
        let xv: Vec<f32> = rng
            .values(n * c * h * w)
            .iter()
            .map(|v| v + offset)
            .collect();
        let inputs = vec![
            (xv, [n, c, h, w]),
            (rng.values(c), [1, 1, 1, c]),
            (rng.values(c), [1, 1, 1, c]),
        ];
        let case = format!("batch_norm x [{n}, {c}, {h}, {w}] eps {eps} relu {relu}");
        let relu_if = |y: Tensor<4>| {
            if relu {
                burn::tensor::activation::relu(y)
            } else {
                y
            }
        };
        compare(
            &case,
            &inputs,
            &mut rng,
            |t| {
                let out = zoo_kernels::batch_norm_train(
                    t[0].clone(),
                    t[1].clone().reshape([c]),
                    t[2].clone().reshape([c]),
                    eps,
                    relu,
                );
                let stats = out.mean.reshape([1, c, 1, 1]) + out.variance.reshape([1, c, 1, 1]);
                // Statistics enter detached: compared, no gradient.
                out.output + stats.mul_scalar(0.0)
            },
            |t| {
                let out = module::batch_norm_train(
                    t[0].clone(),
                    t[1].clone().reshape([c]),
                    t[2].clone().reshape([c]),
                    eps,
                );
                relu_if(out.output)
            },
        );
        // Evaluation mode with given statistics (inference device).
        let x = tensor(&rng.values(n * c * h * w), [n, c, h, w], &flex());
        let stats: Vec<Tensor<1>> = (0..4)
            .map(|k| {
                let v = rng.values(c);
                let v: Vec<f32> = if k == 3 {
                    v.iter().map(|a| a.abs() + 0.1).collect()
                } else {
                    v
                };
                tensor(&v, [c], &flex())
            })
            .collect();
        let zoo = zoo_kernels::batch_norm(
            x.clone(),
            stats[0].clone(),
            stats[1].clone(),
            stats[2].clone(),
            stats[3].clone(),
            eps,
            relu,
        );
        let burn = relu_if(module::batch_norm(
            x,
            stats[0].clone(),
            stats[1].clone(),
            stats[2].clone(),
            stats[3].clone(),
            eps,
        ));
        assert_close("eval output", &case, zoo, burn);
    }
}

#[test]
fn sigmoid_matches_burn() {
    let mut rng = Rng(99);
    for shape in [[1, 1, 1, 1], [2, 3, 5, 7], [4, 6, 28, 28]] {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = rng.values(n).iter().map(|a| a * 20.0).collect();
        compare(
            &format!("sigmoid {shape:?}"),
            &[(v, shape)],
            &mut rng,
            |t| zoo_kernels::sigmoid(t[0].clone()),
            |t| burn::tensor::activation::sigmoid(t[0].clone()),
        );
    }
}

#[test]
fn batch_norm_statistics_match_a_float64_reference() {
    let device = flex();
    let mut rng = Rng(42);
    let (n, c, s) = (3, 2, 50);
    let xv: Vec<f32> = rng
        .values(n * c * s)
        .iter()
        .map(|v| v * 0.01 + 1000.0)
        .collect();
    let out = zoo_kernels::batch_norm_train(
        tensor(&xv, [n, c, s], &device),
        Tensor::ones([c], &device),
        Tensor::zeros([c], &device),
        1e-5,
        false,
    );
    let mean = out.mean.into_data().try_to_vec::<f32>().unwrap();
    let var = out.variance.into_data().try_to_vec::<f32>().unwrap();
    for ci in 0..c {
        let vals: Vec<f64> = (0..n)
            .flat_map(|ni| xv[(ni * c + ci) * s..][..s].iter().map(|&v| v as f64))
            .collect();
        let m = vals.iter().sum::<f64>() / vals.len() as f64;
        let v = vals.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / vals.len() as f64;
        assert!(
            (mean[ci] as f64 - m).abs() < 1e-3,
            "mean {} vs {m}",
            mean[ci]
        );
        assert!(
            ((var[ci] as f64) - v).abs() < 1e-3 * v,
            "var {} vs {v}",
            var[ci]
        );
    }
}

/// Finite differences (values from outside both implementations).
#[test]
fn kernels_pass_finite_difference_checks() {
    let device = flex();
    let mut rng = Rng(7);
    let check = GradCheck {
        step: 1e-2,
        rtol: 2e-2,
        floor: 1e-1,
    };
    // Grouped, strided, dilated, asymmetrically padded convolution: input gradient.
    let wv = rng.values(4 * 2 * 3 * 2);
    let opts = ConvOptions::new_with_padding([2, 1], [(1, 0), (0, 2)], [1, 2], 2);
    let w = tensor(&wv, [4, 2, 3, 2], &device.clone().autodiff());
    let xv = rng.values(2 * 4 * 6 * 5);
    let r = tensor(
        &rng.values(2 * 4 * 3 * 5),
        [2, 4, 3, 5],
        &device.clone().autodiff(),
    );
    let f =
        |x: Tensor<4>| (zoo_kernels::conv2d(x, w.clone(), None, opts.clone()) * r.clone()).sum();
    check_gradient(f, &xv, [2, 4, 6, 5], &device, check).unwrap();
    // Its weight gradient.
    let x = tensor(&xv, [2, 4, 6, 5], &device.clone().autodiff());
    let f =
        |w: Tensor<4>| (zoo_kernels::conv2d(x.clone(), w, None, opts.clone()) * r.clone()).sum();
    check_gradient(f, &wv, [4, 2, 3, 2], &device, check).unwrap();
    // DCGAN's transposed convolution (kernel 4, stride 2, padding 1).
    let wv = rng.values(3 * 2 * 4 * 4);
    let w = tensor(&wv, [3, 2, 4, 4], &device.clone().autodiff());
    let opts = ConvTransposeOptions::new([2, 2], [1, 1], [0, 0], [1, 1], 1);
    let xv = rng.values(2 * 3 * 3 * 3);
    let r = tensor(
        &rng.values(2 * 2 * 6 * 6),
        [2, 2, 6, 6],
        &device.clone().autodiff(),
    );
    let f = |x: Tensor<4>| {
        (zoo_kernels::conv_transpose2d(x, w.clone(), None, opts.clone()) * r.clone()).sum()
    };
    check_gradient(f, &xv, [2, 3, 3, 3], &device, check).unwrap();
    // Training batch norm: the input gradient through the statistics (no
    // ReLU: its kinks move under a step that shifts the whole channel).
    let xv = rng.values(3 * 2 * 4 * 4);
    let g = tensor(&[1.5f32, -0.5], [2], &device.clone().autodiff());
    let b = tensor(&[0.3f32, 0.2], [2], &device.clone().autodiff());
    let r = tensor(
        &rng.values(3 * 2 * 4 * 4),
        [3, 2, 4, 4],
        &device.clone().autodiff(),
    );
    let f = |x: Tensor<4>| {
        (zoo_kernels::batch_norm_train(x, g.clone(), b.clone(), 1e-5, false).output * r.clone())
            .sum()
            .reshape([1])
    };
    check_gradient(f, &xv, [3, 2, 4, 4], &device, check).unwrap();
}

/// The gathered resampling against the same sums as dense matrices
/// (`A @ X @ B^T` per image, burn's matmul), with random windows and taps.
#[test]
fn resample_matches_dense_matrices() {
    let device = flex();
    let mut rng = Rng(0x7e5a);
    let (n, c, h, w, oh, ow) = (3, 2, 9, 11, 5, 7);
    let x = rng.values(n * c * h * w);
    let taps = |rng: &mut Rng, len: usize, out: usize| -> Vec<Vec<(usize, Vec<f32>)>> {
        (0..n)
            .map(|_| {
                (0..out)
                    .map(|_| {
                        let k = rng.int(1, 4);
                        (rng.int(0, len - k), rng.values(k))
                    })
                    .collect()
            })
            .collect()
    };
    let (rows, cols) = (taps(&mut rng, h, oh), taps(&mut rng, w, ow));
    let dense = |t: &[Vec<(usize, Vec<f32>)>], len: usize, out: usize| {
        let mut m = vec![0.0f32; n * out * len];
        for (i, per) in t.iter().enumerate() {
            for (o, (lo, ws)) in per.iter().enumerate() {
                for (k, wt) in ws.iter().enumerate() {
                    m[(i * out + o) * len + lo + k] = *wt;
                }
            }
        }
        Tensor::<3>::from_data(TensorData::new(m, [n, out, len]), &device)
    };
    let xt = tensor(&x, [n, c, h, w], &device);
    let a = dense(&rows, h, oh).reshape([n, 1, oh, h]);
    let b = dense(&cols, w, ow).reshape([n, 1, ow, w]).swap_dims(2, 3);
    let want = a.matmul(xt.clone()).matmul(b);
    let got =
        zoo_kernels::resample_separable(&xt, &rows, &cols).expect("flex takes the gather path");
    assert_close("resample", "3 images", got, want);
}

#[test]
fn flip_where_matches_burn_flip() {
    let device = flex();
    let mut rng = Rng(5);
    let (n, c, h, w) = (4, 3, 5, 6);
    let x = tensor(&rng.values(n * c * h * w), [n, c, h, w], &device);
    let flags = [true, false, false, true];
    for (horizontal, axis) in [(true, 3), (false, 2)] {
        let got = zoo_kernels::flip_where(&x, &flags, horizontal).expect("flex");
        for (i, f) in flags.iter().enumerate() {
            let img = x.clone().slice([i..i + 1, 0..c, 0..h, 0..w]);
            let want = if *f { img.flip([axis]) } else { img };
            let g = got.clone().slice([i..i + 1, 0..c, 0..h, 0..w]);
            assert_close(
                "flip",
                &format!("image {i}, horizontal {horizontal}"),
                g,
                want,
            );
        }
    }
}

/// The one-pass hue rotation against torchvision's formulas composed from
/// tensors (`rgb_to_hsv`, the turn, `hsv_to_rgb`), on pixels with ties
/// (grey, max shared by two channels) and on random ones, for one shift and
/// one per image.
#[test]
fn shift_hue_matches_the_composed_formulas() {
    use zoo_augment::color::{adjust_hue, hsv_to_rgb, rgb_to_hsv};
    let device = flex();
    let mut rng = Rng(0x4e_0e);
    let (n, h, w) = (3, 17, 23);
    // Half the pixels on a coarse grid of levels (ties and greys), half random.
    let values: Vec<f32> = (0..n * 3 * h * w)
        .map(|i| {
            let v = rng.values(1)[0].abs().min(1.0);
            if i % 2 == 0 {
                (v * 4.0).round() / 4.0
            } else {
                v
            }
        })
        .collect();
    let x = tensor(&values, [n, 3, h, w], &device);
    let composed = |x: Tensor<4>, shift: Tensor<4>| {
        let hsv = rgb_to_hsv(x).expect("rgb");
        let part = |i: usize| hsv.clone().slice([0..n, i..i + 1, 0..h, 0..w]);
        let hue = part(0) + shift.expand([n, 1, h, w]);
        let hue = hue.clone() - hue.floor();
        hsv_to_rgb(Tensor::cat(vec![hue, part(1), part(2)], 1)).expect("hsv")
    };
    for factor in [0.1f32, -0.3, 0.5, -0.5] {
        let got = adjust_hue(x.clone(), factor as f64).expect("hue");
        let shift = Tensor::<4>::full([1, 1, 1, 1], factor, &device);
        assert_close(
            "adjust_hue",
            &format!("factor {factor}"),
            got,
            composed(x.clone(), shift),
        );
    }
    let shifts = [0.25f32, -0.1, 0.45];
    let got = zoo_kernels::shift_hue(&x, &shifts).expect("flex runs the kernel");
    let shift = tensor(&shifts, [n, 1, 1, 1], &device);
    assert_close("shift_hue", "per image", got, composed(x, shift));
}
