//! Trains the course's character language model (d2l 9.5-10.2: `RNNModel`
//! with `nn.RNN`, `nn.GRU` or `nn.LSTM`, `train_ch8`) on H. G. Wells' *The
//! Time Machine* and writes with it:
//!
//!     cargo run -p examples --bin rnn -- [--model rnn|gru|lstm] [--layers N]
//!         [--hidden N] [--random-iter] [--epochs N] [--prefix "time traveller"]
//!         [--device D] [--data-dir DIR]
//!
//! As the course: character tokens of the first 10,000 (`--max-tokens`),
//! batches of 32 sequences of 35 steps, 256 hidden units, SGD at lr 1,
//! gradients clipped to a global norm of 1 with d2l's rule, the state
//! carried over and detached between batches with sequential sampling
//! (fresh per batch with `--random-iter`). Each epoch prints the training
//! perplexity, the perplexity of the next 2,000 tokens of the book
//! (held out) and tokens/s; every `--sample-every` epochs a greedy
//! continuation of `--prefix` (d2l's `predict_ch8`). Checkpoints, `--resume`,
//! `metrics.jsonl`, `curves.png` and `perplexity.png` go to `--out`.
//!
//! The text is the embedded copy of d2l's `timemachine.txt` (the same bytes
//! as `cargo xtask download time-machine` fetches and verifies), or the
//! downloaded file in the data directory when it is there, or the one under
//! `--data-dir` (a directory without it is refused), or any UTF-8 file
//! given with `--text`.

use std::path::PathBuf;
use std::process::ExitCode;

use burn::module::Module;
use clap::Parser;
use examples::Failure;
use zoo_datasets::text::{Corpus, TextSource, Token};
use zoo_layers::recurrent::RnnMode;
use zoo_models::rnn_lm::{RnnLm, RnnLmConfig, Sampling};
use zoo_plot::curves::{Panel, Series, curves_png};
use zoo_train::language::{LanguageModel, LmSettings};
use zoo_train::{TrainConfig, train};

#[derive(Parser)]
#[command(
    about = "Train the course's character language model on The Time Machine and generate text"
)]
struct Args {
    /// The recurrent layer: rnn (tanh), gru or lstm.
    #[arg(long, default_value = "gru")]
    model: String,
    /// Stacked recurrent layers.
    #[arg(long, default_value_t = 1)]
    layers: usize,
    /// Hidden units (the course: 256).
    #[arg(long, default_value_t = 256)]
    hidden: usize,
    /// Random sampling (a fresh state per batch) instead of sequential.
    #[arg(long)]
    random_iter: bool,
    /// Epochs (the course: 500).
    #[arg(long, default_value_t = 100)]
    epochs: usize,
    /// Learning rate (SGD; the course: 1).
    #[arg(long, default_value_t = 1.0)]
    lr: f64,
    /// Adam instead of SGD (then try --lr 0.01).
    #[arg(long)]
    adam: bool,
    /// Sequences per batch.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Steps per sequence (truncated backpropagation through time).
    #[arg(long, default_value_t = 35)]
    num_steps: usize,
    /// Training tokens (the book's first; the course: 10,000).
    #[arg(long, default_value_t = 10_000)]
    max_tokens: usize,
    /// Held-out tokens after the training ones, for the validation perplexity.
    #[arg(long, default_value_t = 2_000)]
    valid_tokens: usize,
    /// Global gradient norm clipped to (d2l's rule; positive and finite in
    /// float32).
    #[arg(long, default_value_t = 1.0)]
    clip: f64,
    /// The prefix generation starts from (lower-case letters and spaces;
    /// other characters are dropped by the preprocessing, unknown ones map
    /// to `<unk>` as in the course).
    #[arg(long, default_value = "time traveller")]
    prefix: String,
    /// Characters generated from the prefix.
    #[arg(long, default_value_t = 50)]
    num_preds: usize,
    /// Show a greedy continuation every this many epochs (0: never).
    #[arg(long, default_value_t = 10)]
    sample_every: usize,
    /// Also sample at this temperature after training (with --top-k;
    /// positive and finite in float32).
    #[arg(long, default_value_t = 0.8)]
    temperature: f64,
    /// Restrict those samples to the k most probable characters.
    #[arg(long)]
    top_k: Option<usize>,
    /// Device: flex, ndarray or wgpu (default: $ZOO_DEVICE, else flex).
    #[arg(long)]
    device: Option<String>,
    /// Where `cargo xtask download time-machine` put the book (default: the
    /// data directory, else the embedded copy); a directory given must hold
    /// `time-machine/timemachine.txt`.
    #[arg(long, conflicts_with = "text")]
    data_dir: Option<PathBuf>,
    /// Train on this UTF-8 text file instead.
    #[arg(long)]
    text: Option<PathBuf>,
    /// Seed of the initialisation, the sampling and the generation.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where checkpoints, metrics.jsonl, curves.png and perplexity.png go.
    #[arg(long, default_value = "runs/rnn")]
    out: PathBuf,
    /// Continue from the newest checkpoint in --out.
    #[arg(long)]
    resume: bool,
}

/// Where `time_machine` reads the book from a given `--data-dir`.
fn time_machine_path(dir: &std::path::Path) -> PathBuf {
    dir.join(zoo_datasets::catalog::TIME_MACHINE.dir)
        .join("timemachine.txt")
}

fn main() -> ExitCode {
    examples::exit(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), Failure> {
    let mode = RnnMode::parse(&args.model)
        .map_err(|e| Failure::Usage(format!("--model {}: {e}", args.model)))?;
    examples::check_training_flags(args.epochs, args.batch_size, args.lr)?;
    for (flag, v) in [
        ("--layers", args.layers),
        ("--hidden", args.hidden),
        ("--num-steps", args.num_steps),
    ] {
        if v == 0 {
            return Err(Failure::Usage(format!("{flag} 0: expected at least 1")));
        }
    }
    // The validation perplexity needs an input and a target token.
    if args.valid_tokens < 2 {
        return Err(Failure::Usage(format!(
            "--valid-tokens {}: expected at least 2",
            args.valid_tokens
        )));
    }
    if args.num_preds > 100_000 {
        return Err(Failure::Usage(format!(
            "--num-preds {}: expected at most 100000 characters",
            args.num_preds
        )));
    }
    if args.hidden > 8192 || args.layers > 16 {
        return Err(Failure::Usage(format!(
            "--hidden {} --layers {}: expected at most 8192 units and 16 layers",
            args.hidden, args.layers
        )));
    }
    examples::check_f32_flag("--clip", args.clip, examples::Sign::Positive)?;
    examples::check_f32_flag("--temperature", args.temperature, examples::Sign::Positive)?;
    if args.top_k == Some(0) {
        return Err(Failure::Usage("--top-k 0: expected at least 1".into()));
    }
    // A --data-dir given is read or refused, never passed over for the
    // embedded copy.
    if let Some(dir) = &args.data_dir {
        let path = time_machine_path(dir);
        if dir.as_os_str().is_empty() || !path.is_file() {
            return Err(Failure::Usage(format!(
                "--data-dir {}: expected the Time Machine at {} (`cargo xtask download time-machine --dir DIR` puts it there)",
                dir.display(),
                path.display()
            )));
        }
    }
    let (backend, device) = examples::device(args.device.as_deref())?;

    let (text, source) = match &args.text {
        Some(path) => {
            let bytes = std::fs::read(path)
                .map_err(|e| Failure::Usage(format!("--text {}: {e}", path.display())))?;
            let text = String::from_utf8(bytes).map_err(|e| {
                Failure::Usage(format!(
                    "--text {}: not UTF-8 (invalid byte at offset {}), expected a UTF-8 text file",
                    path.display(),
                    e.utf8_error().valid_up_to()
                ))
            })?;
            (text, TextSource::File(path.clone()))
        }
        None => {
            zoo_datasets::text::time_machine(args.data_dir.as_deref()).map_err(|e| {
                match &args.data_dir {
                    Some(dir) => Failure::Usage(format!("--data-dir {}: {e}", dir.display())),
                    None => Failure::run(e),
                }
            })?
        }
    };
    let corpus = Corpus::from_text(&text, Token::Char, 0, &[])
        .map_err(|e| Failure::Usage(format!("the text: {e}")))?;
    let total = corpus.tokens.len();
    let n_train = args.max_tokens.min(total);
    let valid_end = n_train.saturating_add(args.valid_tokens).min(total);
    if valid_end < n_train + 2 {
        return Err(Failure::Usage(format!(
            "--max-tokens {} leaves {} of the text's {total} tokens for validation: expected at least 2",
            args.max_tokens,
            valid_end - n_train
        )));
    }
    let train_tokens = corpus.tokens[..n_train].to_vec();
    let valid_tokens = corpus.tokens[n_train..valid_end].to_vec();
    let need = args
        .batch_size
        .saturating_mul(args.num_steps)
        .saturating_add(1);
    if n_train < need {
        return Err(Failure::Usage(format!(
            "--num-steps {} with --batch-size {} needs {need} training tokens, the text gives {n_train}",
            args.num_steps, args.batch_size
        )));
    }
    let prefix = corpus.encode(&args.prefix);
    if prefix.is_empty() {
        return Err(Failure::Usage(format!(
            "--prefix {:?} has no letters: expected text such as \"time traveller\"",
            args.prefix
        )));
    }
    let unknown = prefix.iter().filter(|&&t| t == 0).count();
    if unknown > 0 {
        eprintln!("note: {unknown} prefix character(s) are not in the vocabulary and map to <unk>");
    }
    let shown_source = match &source {
        TextSource::Embedded => "the embedded Time Machine".to_string(),
        TextSource::File(p) => p.display().to_string(),
    };
    println!(
        "{} language model ({} layer(s), {} hidden) on {shown_source}: {n_train} training and {} held-out tokens of {total}, vocabulary {}, on {backend}, {} sampling",
        mode.name(),
        args.layers,
        args.hidden,
        valid_end - n_train,
        corpus.vocab.len(),
        if args.random_iter {
            "random"
        } else {
            "sequential"
        }
    );

    let train_device = device.clone().autodiff();
    train_device.seed(args.seed);
    let model = RnnLmConfig::new(mode, corpus.vocab.len(), args.hidden)
        .with_num_layers(args.layers)
        .init(&train_device);
    let optim = if args.adam {
        zoo_optim::AdamConfig::new().init()
    } else {
        zoo_optim::SgdConfig::new().init()
    };
    let settings = LmSettings {
        batch_size: args.batch_size,
        num_steps: args.num_steps,
        random_iter: args.random_iter,
        theta: args.clip,
        sample_every: args.sample_every,
    };
    let sample_corpus = corpus.clone();
    let sample_prefix = prefix.clone();
    let (num_preds, plain) = (args.num_preds, device.clone());
    let sample = Box::new(move |m: &RnnLm| -> String {
        match m.predict(&sample_prefix, num_preds, &plain) {
            Ok(t) => format!("  {:?}", sample_corpus.decode(&t)),
            Err(e) => format!("  (no sample: {e})"),
        }
    });
    let mut task = LanguageModel::new(
        model,
        optim,
        train_tokens,
        valid_tokens,
        &settings,
        Some(sample),
        &train_device,
    )
    .map_err(Failure::run)?;
    let config = TrainConfig {
        seed: args.seed,
        out_dir: Some(args.out.clone()),
        resume: args.resume,
        identity: vec![
            ("model".into(), mode.name().into()),
            ("layers".into(), args.layers.to_string()),
            ("hidden".into(), args.hidden.to_string()),
            (
                "optimizer".into(),
                if args.adam { "adam" } else { "sgd" }.into(),
            ),
            ("text".into(), shown_source.clone()),
        ],
        ..TrainConfig::new(args.epochs, args.batch_size, args.lr)
    };
    let run = train(&mut task, &config).map_err(Failure::run)?;
    if let Some(e) = run.resumed_from {
        println!("resumed after epoch {e} from {}", args.out.display());
    }
    let Some(last) = run.history.last() else {
        return Err(Failure::run("no epoch was trained"));
    };
    println!(
        "after {} epochs: perplexity {:.2} (training), {:.2} (held out), {:.0} tokens/s on {backend}",
        last.epoch,
        last.get("train_ppl"),
        last.get("valid_ppl"),
        last.items_per_sec
    );
    let model = task.into_model().valid();
    let model = model.to_device(&device);
    for p in [args.prefix.as_str(), "traveller"] {
        let tokens = corpus.encode(p);
        if tokens.is_empty() {
            continue;
        }
        let greedy = model
            .predict(&tokens, args.num_preds, &device)
            .map_err(Failure::run)?;
        println!("greedy:  {:?}", corpus.decode(&greedy));
    }
    let sampled = model
        .generate(
            &prefix,
            args.num_preds,
            Sampling::Sample {
                temperature: args.temperature,
                top_k: args.top_k,
            },
            args.seed,
            &device,
        )
        .map_err(Failure::run)?;
    println!(
        "sampled (temperature {}{}): {:?}",
        args.temperature,
        args.top_k.map_or(String::new(), |k| format!(", top-{k}")),
        corpus.decode(&sampled)
    );

    let ppl = |name: &str| {
        Series::xy(
            name,
            run.history
                .iter()
                .map(|r| (r.epoch as f64, r.get(name)))
                .collect(),
        )
    };
    let panel = Panel::new(
        format!("{} perplexity on The Time Machine", mode.name()),
        "epoch",
        "perplexity",
    )
    .with(ppl("train_ppl"))
    .with(ppl("valid_ppl"))
    .with_log_y();
    let png = curves_png(&[panel], 720, 420).map_err(Failure::run)?;
    let path = args.out.join("perplexity.png");
    zoo_plot::png::write_bytes(&png, &path).map_err(Failure::run)?;
    println!(
        "checkpoints, metrics.jsonl, curves.png and perplexity.png in {}",
        args.out.display()
    );
    Ok(())
}
