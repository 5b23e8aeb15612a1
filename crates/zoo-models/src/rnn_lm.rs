//! The course's recurrent language model (d2l's `RNNModel`, "Concise
//! Implementation of Recurrent Neural Networks"): one-hot tokens, a
//! recurrent layer ([`zoo_layers::recurrent::Rnn`]), and a linear head on
//! the time-major outputs. Parameter keys are d2l's (`rnn.weight_ih_l0`,
//! ..., `linear.weight`, `linear.bias`), so its `state_dict` loads with
//! [`RnnLm::load_torch`].
//!
//! Generation: [`RnnLm::predict`] is d2l's `predict_ch8` (a zero state, a
//! warm-up over the prefix, then greedy steps); [`Sampling`] adds
//! temperature and top-k sampling from a seeded RNG.
//!
//! ```
//! use burn::tensor::{Int, Tensor};
//! use zoo_layers::recurrent::RnnMode;
//! use zoo_models::rnn_lm::RnnLmConfig;
//! let device = zoo_device::from_name("flex").unwrap();
//! let lm = RnnLmConfig::new(RnnMode::Gru, 28, 32).init(&device);
//! let tokens = Tensor::<2, Int>::zeros([4, 35], &device); // [N, T]
//! let (logits, state) = lm.forward(tokens, None).unwrap();
//! assert_eq!(logits.dims(), [35 * 4, 28]); // time-major rows
//! assert_eq!(state.h.dims(), [1, 4, 32]);
//! ```

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};
use zoo_layers::recurrent::{RecurrentError, Rnn, RnnConfig, RnnMode, RnnState};

use zoo_rng::Rng;

use crate::weights::{StateDict, WeightsError, load_state_dict};

/// Configuration of [`RnnLm`].
#[derive(Config, Debug)]
pub struct RnnLmConfig {
    /// The recurrence.
    pub mode: RnnMode,
    /// Vocabulary size (input one-hot width and output classes).
    pub vocab_size: usize,
    /// Hidden units.
    pub hidden_size: usize,
    /// Stacked layers.
    #[config(default = 1)]
    pub num_layers: usize,
    /// Two directions (d2l's bidirectional RNN; not for generation).
    #[config(default = false)]
    pub bidirectional: bool,
    /// Dropout between recurrent layers.
    #[config(default = 0.0)]
    pub dropout: f64,
}

impl RnnLmConfig {
    /// The model, initialised as torch initialises `nn.RNN` / `nn.Linear`.
    pub fn init(&self, device: &Device) -> RnnLm {
        let rnn = RnnConfig::new(self.mode, self.vocab_size, self.hidden_size)
            .with_num_layers(self.num_layers)
            .with_bidirectional(self.bidirectional)
            .with_dropout(self.dropout)
            .init(device);
        let linear = LinearConfig::new(rnn.output_size(), self.vocab_size).init(device);
        RnnLm { rnn, linear }
    }
}

/// d2l's `RNNModel`.
#[derive(Module, Debug)]
pub struct RnnLm {
    /// The recurrent layer (time-major).
    pub rnn: Rnn,
    /// The output layer, `[D*H] -> [V]`.
    pub linear: Linear,
}

/// How [`RnnLm::generate`] picks each next token.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sampling {
    /// The most probable token (d2l's `predict_ch8`; ties to the first).
    Greedy,
    /// A draw from `softmax(logits / temperature)`, restricted to the `top_k`
    /// most probable tokens when given.
    Sample {
        /// Softmax temperature (> 0).
        temperature: f64,
        /// Keep only the `k` most probable tokens.
        top_k: Option<usize>,
    },
}

impl RnnLm {
    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.rnn.input_size()
    }

    /// d2l's `begin_state`: zeros `[L*D, N, H]` (and the cell state of an LSTM).
    pub fn begin_state(&self, n: usize, device: &Device) -> RnnState {
        self.rnn.zero_state(n, device)
    }

    /// `tokens [N, T]` to logits `[T*N, V]` (time-major: row `t*N + n`, as
    /// d2l's `Y.reshape(-1, H)`) and the final state.
    pub fn forward(
        &self,
        tokens: Tensor<2, Int>,
        state: Option<RnnState>,
    ) -> Result<(Tensor<2>, RnnState), RecurrentError> {
        let (y, state) = self.rnn.forward_tokens(tokens.transpose(), state)?;
        let [t, n, f] = y.dims();
        Ok((self.linear.forward(y.reshape([t * n, f])), state))
    }

    /// torch's `state_dict` key of a parameter path (`rnn.cells.0.weight_ih`:
    /// `rnn.weight_ih_l0`).
    pub fn torch_key(&self, path: &str) -> String {
        match path.strip_prefix("rnn.") {
            Some(rest) => format!("rnn.{}", self.rnn.torch_key(rest)),
            None => path.to_string(),
        }
    }

    /// Loads a d2l `RNNModel` `state_dict`: every key must be present with
    /// torch's shape (a wrong gate size is an error naming the key).
    pub fn load_torch(self, sd: &StateDict) -> Result<Self, WeightsError> {
        let keys = |p: &str| Some(self.torch_key(p));
        load_state_dict(self.clone(), sd, &keys)
    }

    /// d2l's `predict_ch8` generalised: a zero state, the prefix fed one
    /// token at a time (its outputs ignored), then `num_preds` tokens each
    /// chosen by `sampling` from the logits of the last one and fed back.
    /// Returns the prefix followed by the generated tokens. `seed` drives
    /// the draws of [`Sampling::Sample`].
    pub fn generate(
        &self,
        prefix: &[usize],
        num_preds: usize,
        sampling: Sampling,
        seed: u64,
        device: &Device,
    ) -> Result<Vec<usize>, RecurrentError> {
        let v = self.vocab_size();
        let Some(&first) = prefix.first() else {
            return Err(RecurrentError::Config(
                "an empty prefix: generation starts from at least one token".into(),
            ));
        };
        if let Some(bad) = prefix.iter().find(|&&t| t >= v) {
            return Err(RecurrentError::Config(format!(
                "prefix token {bad} outside the vocabulary of {v}"
            )));
        }
        if let Sampling::Sample { temperature, top_k } = sampling
            && (temperature.is_nan() || temperature <= 0.0 || top_k == Some(0))
        {
            return Err(RecurrentError::Config(format!(
                "temperature {temperature} and top_k {top_k:?}: expected a positive temperature and k"
            )));
        }
        let mut rng = Rng::new(seed);
        let one =
            |t: usize| Tensor::<2, Int>::from_data(TensorData::new(vec![t as i64], [1, 1]), device);
        let mut state = Some(self.begin_state(1, device));
        let mut out = vec![first];
        for &t in &prefix[1..] {
            let (_, s) = self.forward(one(*out.last().expect("non-empty")), state)?;
            state = Some(s);
            out.push(t);
        }
        for _ in 0..num_preds {
            let (logits, s) = self.forward(one(*out.last().expect("non-empty")), state)?;
            state = Some(s);
            let logits: Vec<f64> = logits
                .into_data()
                .try_into_vec_as::<f64>()
                .expect("float logits");
            out.push(pick(&logits, sampling, &mut rng));
        }
        Ok(out)
    }

    /// d2l's `predict_ch8`: greedy generation.
    pub fn predict(
        &self,
        prefix: &[usize],
        num_preds: usize,
        device: &Device,
    ) -> Result<Vec<usize>, RecurrentError> {
        self.generate(prefix, num_preds, Sampling::Greedy, 0, device)
    }
}

/// The next token from `logits` by `sampling`.
fn pick(logits: &[f64], sampling: Sampling, rng: &mut Rng) -> usize {
    let argmax = || {
        let mut best = 0;
        for (i, &l) in logits.iter().enumerate() {
            if l > logits[best] {
                best = i;
            }
        }
        best
    };
    match sampling {
        Sampling::Greedy => argmax(),
        Sampling::Sample { temperature, top_k } => {
            let mut order: Vec<usize> = (0..logits.len()).collect();
            // Most probable first; ties keep the lower index first.
            order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
            order.truncate(top_k.unwrap_or(logits.len()).min(logits.len()));
            let top = logits[order[0]];
            let weights: Vec<f64> = order
                .iter()
                .map(|&i| ((logits[i] - top) / temperature).exp())
                .collect();
            let total: f64 = weights.iter().sum();
            let mut u = rng.unit_f64() * total;
            for (&i, w) in order.iter().zip(&weights) {
                if u < *w {
                    return i;
                }
                u -= w;
            }
            *order.last().expect("at least one token")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_follows_temperature_and_top_k() {
        let logits = [0.0, 1.0, 3.0, 2.0];
        let mut rng = Rng::new(7);
        assert_eq!(pick(&logits, Sampling::Greedy, &mut rng), 2);
        // top_k 1 is greedy whatever the temperature.
        let one = Sampling::Sample {
            temperature: 5.0,
            top_k: Some(1),
        };
        assert!((0..50).all(|_| pick(&logits, one, &mut rng) == 2));
        // top_k 2 never leaves the two best; frequencies follow softmax(l / T).
        let two = Sampling::Sample {
            temperature: 1.0,
            top_k: Some(2),
        };
        let n = 20_000;
        let threes = (0..n).filter(|_| pick(&logits, two, &mut rng) == 3).count();
        let p3 = 1.0 / (1.0 + 1f64.exp()); // e^2 / (e^3 + e^2)
        assert!((threes as f64 / n as f64 - p3).abs() < 0.015, "{threes}");
        let seen: std::collections::BTreeSet<usize> =
            (0..500).map(|_| pick(&logits, two, &mut rng)).collect();
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![2, 3]);
    }

    #[test]
    fn a_checkpoint_of_another_recurrence_or_a_bad_state_is_a_clear_error() {
        use crate::weights::export_state_dict;
        let device = zoo_device::from_name("flex").unwrap();
        let lstm = RnnLmConfig::new(RnnMode::Lstm, 10, 6).init(&device);
        let sd = export_state_dict(&lstm, &|p: &str| Some(lstm.torch_key(p)));
        assert!(sd.get("rnn.weight_ih_l0").is_some() && sd.get("linear.weight").is_some());
        // The LSTM's weights load back into an LSTM...
        RnnLmConfig::new(RnnMode::Lstm, 10, 6)
            .init(&device)
            .load_torch(&sd)
            .unwrap();
        // ...but their 4 * 6 gate rows do not fit a GRU's 3 * 6.
        let e = RnnLmConfig::new(RnnMode::Gru, 10, 6)
            .init(&device)
            .load_torch(&sd)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("rnn.weight_ih_l0") && e.contains("24") && e.contains("18"),
            "{e}"
        );
        // A state of the wrong shape names what was expected.
        let tokens = Tensor::<2, Int>::zeros([2, 3], &device);
        let bad = RnnState {
            h: Tensor::zeros([1, 3, 6], &device),
            c: Some(Tensor::zeros([1, 3, 6], &device)),
        };
        let e = lstm
            .forward(tokens.clone(), Some(bad))
            .unwrap_err()
            .to_string();
        assert!(e.contains("hidden state") && e.contains("[1, 2, 6]"), "{e}");
        let no_c = RnnState {
            h: Tensor::zeros([1, 2, 6], &device),
            c: None,
        };
        assert!(lstm.forward(tokens.clone(), Some(no_c)).is_err());
        // Tokens outside the vocabulary are refused before any lookup.
        let big = Tensor::<2, Int>::from_data(TensorData::new(vec![0i64, 10], [1, 2]), &device);
        assert!(
            lstm.forward(big, None)
                .unwrap_err()
                .to_string()
                .contains("0..10")
        );
        assert!(lstm.predict(&[], 5, &device).is_err());
    }
}
