//! The course's LSTM language model (zoo-models' `RnnLm`, zoo-layers'
//! recurrent layer) trained a few steps of d2l's `train_ch8` with
//! sequential sampling on the real text (zoo-datasets' Time Machine and
//! samplers) and d2l's clipping (zoo-train's `lm_step`): the same weights
//! give the same losses, the same carried state and the same weights after
//! the steps on every device, and the loss goes down. Plus a finite-
//! difference check of the recurrent layer's gradients.

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use zoo_datasets::text::{Corpus, SeqRng, TIME_MACHINE, Token, seq_data_iter_sequential};
use zoo_layers::recurrent::{RnnConfig, RnnMode};
use zoo_models::rnn_lm::{RnnLm, RnnLmConfig};
use zoo_optim::SgdConfig;
use zoo_tests::{Fill, Readings, assert_devices_agree, on_every_device, read};

fn tensor(rows: &[Vec<usize>], device: &Device) -> Tensor<2, Int> {
    let (n, t) = (rows.len(), rows[0].len());
    let flat: Vec<i64> = rows.iter().flatten().map(|&v| v as i64).collect();
    Tensor::from_data(TensorData::new(flat, [n, t]), device)
}

fn train_steps(device: &Device) -> Readings {
    let device = device.clone().autodiff();
    let corpus = Corpus::from_text(TIME_MACHINE, Token::Char, 0, &[]).unwrap();
    let tokens = &corpus.tokens[..2_000];
    let batches = seq_data_iter_sequential(tokens, 8, 12, &mut SeqRng::new(5)).unwrap();
    let model: RnnLm = RnnLmConfig::new(RnnMode::Lstm, corpus.vocab.len(), 32)
        .with_num_layers(2)
        .init(&device)
        .map(&mut Fill(7));
    let mut model = model;
    let mut optim = SgdConfig::new().init();
    let mut state = None;
    let mut readings = Readings::new();
    for (i, b) in batches.iter().take(6).enumerate() {
        let step = zoo_train::language::lm_step(
            model,
            &mut optim,
            tensor(&b.x, &device),
            tensor(&b.y, &device),
            state,
            1.0,
            1.0,
        )
        .unwrap();
        readings.push((format!("loss{i}"), read(step.loss)));
        model = step.model;
        state = Some(step.state);
    }
    let state = state.unwrap();
    readings.push(("h".into(), read(state.h.flatten::<1>(0, 2))));
    readings.push(("c".into(), read(state.c.unwrap().flatten::<1>(0, 2))));
    readings.push((
        "weight_hh_l1".into(),
        read(model.rnn.cells[1].weight_hh.val().flatten::<1>(0, 1)),
    ));
    readings.push((
        "linear.weight".into(),
        read(model.linear.weight.val().flatten::<1>(0, 1)),
    ));
    readings
}

#[test]
fn lstm_language_model_training_agrees_across_devices_and_learns() {
    let results = on_every_device(train_steps);
    let (_, first) = &results[0];
    let loss = |name: &str| first.iter().find(|(n, _)| n == name).unwrap().1[0];
    assert!(
        loss("loss5") < loss("loss0"),
        "loss did not fall: {} -> {}",
        loss("loss0"),
        loss("loss5")
    );
    assert_devices_agree(&results, 2e-4);
}

/// d(sum(output * w))/dx of a bidirectional two-layer GRU against central
/// differences (float32 forward passes, step 1e-2, tolerance 2e-3).
#[test]
fn recurrent_gradients_match_finite_differences() {
    let device = zoo_device::from_name("flex").unwrap().autodiff();
    for mode in [RnnMode::RnnTanh, RnnMode::Gru, RnnMode::Lstm] {
        let rnn = RnnConfig::new(mode, 3, 4)
            .with_num_layers(2)
            .with_bidirectional(true)
            .init(&device)
            .map(&mut Fill(3));
        let [t, n, i] = [4, 2, 3];
        let xs: Vec<f32> = (0..t * n * i)
            .map(|k| ((k * 37 % 11) as f32 - 5.0) / 6.0)
            .collect();
        let ws: Vec<f32> = (0..t * n * 8)
            .map(|k| ((k * 13 % 7) as f32 - 3.0) / 3.0)
            .collect();
        let w = Tensor::<3>::from_data(TensorData::new(ws, [t, n, 8]), &device);
        let f = |x: Vec<f32>| -> f64 {
            let x = Tensor::<3>::from_data(TensorData::new(x, [t, n, i]), &device);
            let (y, _) = rnn.forward(x, None).unwrap();
            (y * w.clone()).sum().into_scalar::<f64>()
        };
        let x =
            Tensor::<3>::from_data(TensorData::new(xs.clone(), [t, n, i]), &device).require_grad();
        let (y, _) = rnn.forward(x.clone(), None).unwrap();
        let grads = (y * w.clone()).sum().backward();
        let g = read(x.grad(&grads).unwrap().flatten::<1>(0, 2));
        for k in [0, 5, 11, 17, 23] {
            let h = 1e-2;
            let mut up = xs.clone();
            up[k] += h;
            let mut down = xs.clone();
            down[k] -= h;
            let fd = (f(up) - f(down)) / (2.0 * h as f64);
            assert!(
                (g[k] as f64 - fd).abs() < 2e-3 * (1.0 + fd.abs()),
                "{mode:?} x[{k}]: autodiff {} vs finite differences {fd}",
                g[k]
            );
        }
    }
}
