//! Sequence models: zoo-layers' recurrent layers, zoo-models' language
//! model, zoo-datasets' text pipeline and zoo-train's `train_ch8` step.

use burn::module::{Param, ParamId};
use burn::nn::Linear;
use burn::tensor::{Device, Int, Tensor, TensorData};
use zoo_datasets::text::{Corpus, SeqBatch, Token, seq_partition_random, seq_partition_sequential};
use zoo_layers::recurrent::{Rnn, RnnCell, RnnMode, RnnState};
use zoo_models::rnn_lm::{RnnLm, RnnLmConfig};
use zoo_models::weights::{StateDict, export_state_dict};
use zoo_optim::SgdConfig;

use super::{Ctx, Outputs};
use crate::conformance::case::HostTensor;
use crate::conformance::value::DynTensor;

fn mode(ctx: &Ctx) -> Result<RnnMode, String> {
    RnnMode::parse(ctx.str_or("mode", "")?).map_err(|e| e.to_string())
}

/// The cells of a recurrent layer from inputs named as torch's
/// `state_dict` (`<prefix>weight_ih_l0`, ..., `_reverse`).
fn cells(
    ctx: &Ctx,
    prefix: &str,
    mode: RnnMode,
    layers: usize,
    dirs: usize,
    bias: bool,
) -> Result<Vec<RnnCell>, String> {
    let mut out = Vec::new();
    for l in 0..layers {
        for d in 0..dirs {
            let suffix = format!("_l{l}{}", if d == 1 { "_reverse" } else { "" });
            let w = |name: &str| ctx.input_n::<2>(&format!("{prefix}{name}{suffix}"));
            let b = |name: &str| -> Result<Option<Tensor<1>>, String> {
                if bias {
                    ctx.input_n::<1>(&format!("{prefix}{name}{suffix}"))
                        .map(Some)
                } else {
                    Ok(None)
                }
            };
            out.push(
                RnnCell::from_tensors(
                    mode,
                    w("weight_ih")?,
                    w("weight_hh")?,
                    b("bias_ih")?,
                    b("bias_hh")?,
                )
                .map_err(|e| format!("{prefix}*{suffix}: {e}"))?,
            );
        }
    }
    Ok(out)
}

fn state(ctx: &Ctx) -> Result<Option<RnnState>, String> {
    Ok(match ctx.opt_input_n::<3>("h0")? {
        Some(h) => Some(RnnState {
            h,
            c: ctx.opt_input_n::<3>("c0")?,
        }),
        None => None,
    })
}

fn with_state(out: Outputs, state: RnnState) -> Outputs {
    let out = out.float("h_n", DynTensor::new(state.h));
    match state.c {
        Some(c) => out.float("c_n", DynTensor::new(c)),
        None => out,
    }
}

/// `torch.nn.RNN` / `GRU` / `LSTM` with the case's weights.
pub fn rnn(ctx: &Ctx) -> Result<Outputs, String> {
    let mode = mode(ctx)?;
    let layers = ctx.usize_or("num_layers", 1)?;
    let bidirectional = ctx.bool_or("bidirectional", false)?;
    let dirs = if bidirectional { 2 } else { 1 };
    let cells = cells(ctx, "", mode, layers, dirs, ctx.bool_or("bias", true)?)?;
    let rnn = Rnn::from_cells(
        cells,
        layers,
        bidirectional,
        ctx.bool_or("batch_first", false)?,
        0.0,
    )
    .map_err(|e| e.to_string())?;
    let expected = (
        ctx.usize_or("input_size", 0)?,
        ctx.usize_or("hidden_size", 0)?,
    );
    if expected != (rnn.input_size(), rnn.hidden_size()) {
        return Err(format!(
            "the weights are of a layer with input {} and hidden {}, the params say {expected:?}",
            rnn.input_size(),
            rnn.hidden_size()
        ));
    }
    let (y, st) = rnn
        .forward(ctx.input_n::<3>("x")?, state(ctx)?)
        .map_err(|e| e.to_string())?;
    Ok(with_state(
        Outputs::default().float("output", DynTensor::new(y)),
        st,
    ))
}

/// d2l's `RNNModel` from tensors (`rnn.<torch key>`, `linear.weight [V, H]`,
/// `linear.bias`), used as they are (gradient leaves stay leaves).
fn lm_from_inputs(ctx: &Ctx, mode: RnnMode, layers: usize) -> Result<RnnLm, String> {
    let cells = cells(ctx, "rnn.", mode, layers, 1, true)?;
    let rnn = Rnn::from_cells(cells, layers, false, false, 0.0).map_err(|e| e.to_string())?;
    let weight = ctx.input_n::<2>("linear.weight")?;
    let bias = ctx.input_n::<1>("linear.bias")?;
    let [v, h] = weight.dims();
    if h != rnn.output_size() || v != rnn.input_size() || bias.dims() != [v] {
        return Err(format!(
            "linear.weight {:?} / linear.bias {:?}: expected [{}, {}] and [{}]",
            weight.dims(),
            bias.dims(),
            rnn.input_size(),
            rnn.output_size(),
            rnn.input_size()
        ));
    }
    let linear = Linear {
        weight: Param::initialized(ParamId::new(), weight.transpose()),
        bias: Some(Param::initialized(ParamId::new(), bias)),
    };
    Ok(RnnLm { rnn, linear })
}

fn check_lm(ctx: &Ctx, lm: &RnnLm) -> Result<(), String> {
    let want = (
        ctx.usize_or("vocab_size", 0)?,
        ctx.usize_or("hidden_size", 0)?,
    );
    if want != (lm.vocab_size(), lm.rnn.hidden_size()) {
        return Err(format!(
            "the weights are of a model with vocabulary {} and hidden {}, the params say {want:?}",
            lm.vocab_size(),
            lm.rnn.hidden_size()
        ));
    }
    Ok(())
}

/// d2l's `RNNModel` forward.
pub fn rnn_lm(ctx: &Ctx) -> Result<Outputs, String> {
    let lm = lm_from_inputs(ctx, mode(ctx)?, ctx.usize_or("num_layers", 1)?)?;
    check_lm(ctx, &lm)?;
    let tokens = ctx.int_input_n::<2>("tokens")?;
    let (logits, st) = lm.forward(tokens, state(ctx)?).map_err(|e| e.to_string())?;
    Ok(with_state(
        Outputs::default().float("logits", DynTensor::new(logits)),
        st,
    ))
}

fn weights_state_dict(ctx: &Ctx) -> StateDict {
    let mut sd = StateDict::new();
    for (key, t) in ctx.weights() {
        sd.insert(
            key.clone(),
            TensorData::new(t.floats.clone(), t.shape.clone()),
        );
    }
    sd
}

fn lm_config(ctx: &Ctx) -> Result<RnnLmConfig, String> {
    Ok(RnnLmConfig::new(
        mode(ctx)?,
        ctx.usize_or("vocab_size", 0)?,
        ctx.usize_or("hidden_size", 0)?,
    )
    .with_num_layers(ctx.usize_or("num_layers", 1)?))
}

/// d2l's `predict_ch8` with the case's `state_dict`.
pub fn rnn_lm_predict(ctx: &Ctx) -> Result<Outputs, String> {
    let lm = lm_config(ctx)?
        .init(ctx.device())
        .load_torch(&weights_state_dict(ctx))
        .map_err(|e| format!("loading the weights: {e}"))?;
    let prefix: Vec<usize> = ctx
        .host("prefix")?
        .ints
        .iter()
        .map(|&t| usize::try_from(t).map_err(|_| format!("prefix token {t} is negative")))
        .collect::<Result<_, _>>()?;
    let out = lm
        .predict(&prefix, ctx.usize_or("num_preds", 0)?, ctx.device())
        .map_err(|e| e.to_string())?;
    let n = out.len();
    Ok(Outputs::default().host(
        "tokens",
        HostTensor::from_ints(vec![n], out.into_iter().map(|t| t as i64).collect()),
    ))
}

/// The batches `[B, N, T]` of `in.<name>` on `device`, one by one.
fn batches(ctx: &Ctx, name: &str, device: &Device) -> Result<Vec<Tensor<2, Int>>, String> {
    let host = ctx.host(name)?;
    let [b, n, t] = host.shape[..] else {
        return Err(format!(
            "in.{name}: shape {:?}, expected [B, N, T]",
            host.shape
        ));
    };
    Ok((0..b)
        .map(|i| {
            let rows = host.ints[i * n * t..(i + 1) * n * t].to_vec();
            Tensor::from_data(TensorData::new(rows, [n, t]), device)
        })
        .collect())
}

/// d2l's `train_epoch_ch8` over the given batches with `torch.optim.SGD`.
pub fn rnn_lm_train(ctx: &Ctx) -> Result<Outputs, String> {
    let device = ctx.device().clone().autodiff();
    let mut sd = StateDict::new();
    let config = lm_config(ctx)?;
    let layers = config.num_layers;
    for l in 0..layers {
        for name in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"] {
            let key = format!("rnn.{name}_l{l}");
            let h = ctx.host(&key)?;
            sd.insert(key, TensorData::new(h.floats.clone(), h.shape.clone()));
        }
    }
    for key in ["linear.weight", "linear.bias"] {
        let h = ctx.host(key)?;
        sd.insert(key, TensorData::new(h.floats.clone(), h.shape.clone()));
    }
    let mut lm = config
        .init(&device)
        .load_torch(&sd)
        .map_err(|e| format!("loading the initial weights: {e}"))?;
    let lr = ctx.f64("lr")?;
    let theta = ctx.f64("theta")?;
    let random = ctx.bool_or("use_random_iter", false)?;
    let xs = batches(ctx, "x", &device)?;
    let ys = batches(ctx, "y", &device)?;
    let mut optim = SgdConfig::new().init();
    let mut state = None;
    let mut losses = Vec::with_capacity(xs.len());
    for (x, y) in xs.into_iter().zip(ys) {
        if random {
            state = None;
        }
        let step = zoo_train::language::lm_step(lm, &mut optim, x, y, state, lr, theta)
            .map_err(|e| e.to_string())?;
        lm = step.model;
        state = Some(step.state);
        losses.push(step.loss);
    }
    let mut out = Outputs::default().float("losses", DynTensor::new(Tensor::cat(losses, 0)));
    let keys = |p: &str| Some(lm.torch_key(p));
    let trained = export_state_dict(&lm, &keys);
    for key in trained.keys() {
        let data = trained.get(key).expect("listed").clone();
        let shape = data.shape().to_vec();
        let floats = data
            .try_into_vec_as::<f32>()
            .map_err(|e| format!("{e:?}"))?;
        out = out.host(key, HostTensor::from_floats(shape, floats));
    }
    Ok(out)
}

/// d2l's `read_time_machine`, `tokenize`, `Vocab` and `load_corpus_time_machine`.
pub fn text_corpus(ctx: &Ctx) -> Result<Outputs, String> {
    let bytes: Vec<u8> = ctx
        .host("text")?
        .ints
        .iter()
        .map(|&b| u8::try_from(b).map_err(|_| format!("text byte {b} outside 0..=255")))
        .collect::<Result<_, _>>()?;
    let kind = Token::parse(ctx.str_or("token", "char")?).map_err(|e| e.to_string())?;
    let reserved: Vec<String> = match ctx.param("reserved") {
        None => Vec::new(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|_| format!("reserved {v}: expected a list of strings"))?,
    };
    let reserved: Vec<&str> = reserved.iter().map(String::as_str).collect();
    let mut corpus = Corpus::from_bytes(&bytes, kind, ctx.usize_or("min_freq", 0)?, &reserved)
        .map_err(|e| e.to_string())?;
    let max = ctx.isize_or("max_tokens", -1)?;
    if max > 0 {
        corpus = corpus.truncated(max as usize);
    }
    let ints = |v: Vec<usize>| v.into_iter().map(|t| t as i64).collect::<Vec<_>>();
    let counts = corpus.vocab.counts();
    Ok(Outputs::default()
        .host(
            "corpus",
            HostTensor::from_ints(vec![corpus.tokens.len()], ints(corpus.tokens.clone())),
        )
        .host(
            "vocab_size",
            HostTensor::from_ints(vec![], vec![corpus.vocab.len() as i64]),
        )
        .host(
            "token_freqs",
            HostTensor::from_ints(vec![counts.len()], ints(counts)),
        ))
}

/// d2l's `seq_data_iter_random` / `seq_data_iter_sequential` with the draws given.
pub fn seq_partition(ctx: &Ctx) -> Result<Outputs, String> {
    let to_usize = |v: &[i64], what: &str| -> Result<Vec<usize>, String> {
        v.iter()
            .map(|&t| usize::try_from(t).map_err(|_| format!("{what} holds {t}, expected >= 0")))
            .collect()
    };
    let corpus = to_usize(&ctx.host("corpus")?.ints, "corpus")?;
    let b = ctx.usize_or("batch_size", 0)?;
    let s = ctx.usize_or("num_steps", 0)?;
    let offset = ctx.usize_or("offset", 0)?;
    let batches: Vec<SeqBatch> = match ctx.str_or("mode", "")? {
        "random" => {
            let order = to_usize(&ctx.host("order")?.ints, "order")?;
            seq_partition_random(&corpus, b, s, offset, &order)
        }
        "sequential" => seq_partition_sequential(&corpus, b, s, offset),
        other => return Err(format!("mode {other:?}: expected random or sequential")),
    }
    .map_err(|e| e.to_string())?;
    let flat = |f: &dyn Fn(&SeqBatch) -> &Vec<Vec<usize>>| -> Vec<i64> {
        batches
            .iter()
            .flat_map(|bt| f(bt).iter().flatten().map(|&t| t as i64))
            .collect()
    };
    let shape = vec![batches.len(), b, s];
    Ok(Outputs::default()
        .host("x", HostTensor::from_ints(shape.clone(), flat(&|bt| &bt.x)))
        .host("y", HostTensor::from_ints(shape, flat(&|bt| &bt.y))))
}
