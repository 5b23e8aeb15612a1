//! Recurrent layers with `torch.nn.RNN` / `GRU` / `LSTM` semantics (d2l's
//! "Recurrent Neural Networks" and "Modern RNNs", CS231n lecture 10):
//!
//! - RNN: `h_t = phi(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`, `phi` tanh or
//!   ReLU;
//! - GRU (gates in torch's order r, z, n):
//!   `r = s(W_ir x + b_ir + W_hr h + b_hr)`, `z = s(W_iz x + b_iz + W_hz h + b_hz)`,
//!   `n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`, `h' = (1 - z) n + z h`;
//! - LSTM (gates i, f, g, o): `c' = f c + i g`, `h' = o tanh(c')`.
//!
//! [`Rnn`] is the multi-layer, optionally bidirectional layer over a whole
//! sequence (time-major `[T, N, I]`, or `[N, T, I]` with `batch_first`),
//! with dropout between layers, an initial state in and the final state out.
//! Its parameters are laid out as torch's (`weight_ih [G*H, I]`,
//! `weight_hh [G*H, H]`, `bias_ih`, `bias_hh`, one [`RnnCell`] per layer
//! and direction) and [`Rnn::torch_key`] names them as torch's `state_dict`
//! does (`weight_ih_l0`, `bias_hh_l1_reverse`, ...), so a torch checkpoint
//! loads into it. [`RnnCell`] alone is `torch.nn.RNNCell` / `GRUCell` /
//! `LSTMCell`, one step for decoding.
//!
//! ```
//! use burn::tensor::Tensor;
//! use zoo_layers::recurrent::{RnnConfig, RnnMode};
//! let device = zoo_device::from_name("flex").unwrap();
//! let lstm = RnnConfig::new(RnnMode::Lstm, 3, 5).with_num_layers(2).init(&device);
//! let x = Tensor::<3>::zeros([7, 2, 3], &device); // [T, N, I]
//! let (y, state) = lstm.forward(x, None).unwrap();
//! assert_eq!(y.dims(), [7, 2, 5]);
//! assert_eq!(state.h.dims(), [2, 2, 5]); // [layers * directions, N, H]
//! assert_eq!(lstm.torch_key("cells.1.weight_hh"), "weight_hh_l1");
//! ```

use burn::config::Config;
use burn::module::{Module, Param, ParamId};
use burn::nn::{Dropout, DropoutConfig, Initializer};
use burn::tensor::activation::{relu, tanh};
use burn::tensor::{Device, Int, Tensor};

/// The recurrence.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum RnnMode {
    /// Elman RNN with tanh (`torch.nn.RNN`, `nonlinearity='tanh'`).
    RnnTanh,
    /// Elman RNN with ReLU.
    RnnRelu,
    /// Gated recurrent unit.
    Gru,
    /// Long short-term memory.
    Lstm,
}

impl RnnMode {
    /// Gates stacked in the weights: 1, 1, 3, 4.
    pub fn gates(self) -> usize {
        match self {
            RnnMode::RnnTanh | RnnMode::RnnRelu => 1,
            RnnMode::Gru => 3,
            RnnMode::Lstm => 4,
        }
    }

    /// The mode named as the parity cases and torch name it: `rnn_tanh`
    /// (or `rnn`), `rnn_relu`, `gru`, `lstm`.
    pub fn parse(name: &str) -> Result<Self, RecurrentError> {
        match name.trim().to_ascii_lowercase().as_str() {
            "rnn" | "rnn_tanh" | "tanh" => Ok(RnnMode::RnnTanh),
            "rnn_relu" | "relu" => Ok(RnnMode::RnnRelu),
            "gru" => Ok(RnnMode::Gru),
            "lstm" => Ok(RnnMode::Lstm),
            _ => Err(RecurrentError::Config(format!(
                "unknown recurrent mode {name:?}, expected rnn_tanh, rnn_relu, gru or lstm"
            ))),
        }
    }

    /// The name [`RnnMode::parse`] reads.
    pub fn name(self) -> &'static str {
        match self {
            RnnMode::RnnTanh => "rnn_tanh",
            RnnMode::RnnRelu => "rnn_relu",
            RnnMode::Gru => "gru",
            RnnMode::Lstm => "lstm",
        }
    }
}

/// Why a recurrent layer could not run.
#[derive(Debug, thiserror::Error)]
pub enum RecurrentError {
    /// A tensor has the wrong shape.
    #[error("{what}: shape {got:?}, expected {expected}")]
    Shape {
        /// Which tensor.
        what: String,
        /// Its shape.
        got: Vec<usize>,
        /// What was expected.
        expected: String,
    },
    /// A setting is out of range.
    #[error("{0}")]
    Config(String),
}

fn shape_err(what: &str, got: &[usize], expected: String) -> RecurrentError {
    RecurrentError::Shape {
        what: what.to_string(),
        got: got.to_vec(),
        expected,
    }
}

/// The hidden state of a recurrent layer: `h [L*D, N, H]`, and the cell
/// state `c` of the same shape for an LSTM.
#[derive(Clone, Debug)]
pub struct RnnState {
    /// Hidden state.
    pub h: Tensor<3>,
    /// Cell state (LSTM only).
    pub c: Option<Tensor<3>>,
}

impl RnnState {
    /// Both tensors cut from the autodiff graph (truncated backpropagation
    /// through time: d2l's `state.detach_()`).
    pub fn detach(self) -> Self {
        Self {
            h: self.h.detach(),
            c: self.c.map(|c| c.detach()),
        }
    }
}

/// Configuration of [`RnnCell`] (`torch.nn.RNNCell` / `GRUCell` / `LSTMCell`).
#[derive(Config, Debug)]
pub struct RnnCellConfig {
    /// The recurrence.
    pub mode: RnnMode,
    /// Input features.
    pub input_size: usize,
    /// Hidden features.
    pub hidden_size: usize,
    /// Whether the cell has `bias_ih` and `bias_hh`.
    #[config(default = true)]
    pub bias: bool,
}

impl RnnCellConfig {
    /// A cell initialised as torch does: every weight and bias uniform in
    /// `[-1/sqrt(H), 1/sqrt(H)]`.
    pub fn init(&self, device: &Device) -> RnnCell {
        assert!(
            self.hidden_size > 0,
            "RnnCellConfig: hidden_size must be at least 1"
        );
        let k = 1.0 / (self.hidden_size as f64).sqrt();
        let init = Initializer::Uniform { min: -k, max: k };
        let gh = self.mode.gates() * self.hidden_size;
        let bias = || self.bias.then(|| init.init([gh], device));
        RnnCell {
            weight_ih: init.init([gh, self.input_size], device),
            weight_hh: init.init([gh, self.hidden_size], device),
            bias_ih: bias(),
            bias_hh: bias(),
            mode: self.mode,
        }
    }
}

/// One layer and direction of a recurrent layer, or a cell on its own:
/// torch's parameters (`weight_ih [G*H, I]`, `weight_hh [G*H, H]`,
/// `bias_ih [G*H]`, `bias_hh [G*H]`, gates stacked in torch's order).
#[derive(Module, Debug)]
pub struct RnnCell {
    /// Input-to-hidden weights.
    pub weight_ih: Param<Tensor<2>>,
    /// Hidden-to-hidden weights.
    pub weight_hh: Param<Tensor<2>>,
    /// Input-to-hidden bias.
    pub bias_ih: Option<Param<Tensor<1>>>,
    /// Hidden-to-hidden bias.
    pub bias_hh: Option<Param<Tensor<1>>>,
    #[module(skip)]
    mode: RnnMode,
}

impl RnnCell {
    /// A cell from torch-layout tensors (`weight_ih [G*H, I]`,
    /// `weight_hh [G*H, H]`, biases `[G*H]` or none), used as they are: a
    /// tensor that tracks gradients keeps tracking them.
    pub fn from_tensors(
        mode: RnnMode,
        weight_ih: Tensor<2>,
        weight_hh: Tensor<2>,
        bias_ih: Option<Tensor<1>>,
        bias_hh: Option<Tensor<1>>,
    ) -> Result<Self, RecurrentError> {
        let [gh, h] = weight_hh.dims();
        let g = mode.gates();
        if h == 0 || gh != g * h {
            return Err(shape_err(
                "weight_hh",
                &[gh, h],
                format!("[{g} * H, H] ({} gates of a {})", g, mode.name()),
            ));
        }
        if weight_ih.dims()[0] != gh {
            return Err(shape_err(
                "weight_ih",
                &weight_ih.dims(),
                format!("[{gh}, I]"),
            ));
        }
        for (what, b) in [("bias_ih", &bias_ih), ("bias_hh", &bias_hh)] {
            if let Some(b) = b
                && b.dims() != [gh]
            {
                return Err(shape_err(what, &b.dims(), format!("[{gh}]")));
            }
        }
        if bias_ih.is_some() != bias_hh.is_some() {
            return Err(RecurrentError::Config(
                "bias_ih and bias_hh go together: give both or neither".into(),
            ));
        }
        let param = |t| Param::initialized(ParamId::new(), t);
        Ok(Self {
            weight_ih: param(weight_ih),
            weight_hh: param(weight_hh),
            bias_ih: bias_ih.map(|t| Param::initialized(ParamId::new(), t)),
            bias_hh: bias_hh.map(|t| Param::initialized(ParamId::new(), t)),
            mode,
        })
    }

    /// The recurrence.
    pub fn mode(&self) -> RnnMode {
        self.mode
    }

    /// Hidden features.
    pub fn hidden_size(&self) -> usize {
        self.weight_hh.dims()[1]
    }

    /// Input features.
    pub fn input_size(&self) -> usize {
        self.weight_ih.dims()[1]
    }

    /// `W_ih x + b_ih` for rows `x [M, I]`: `[M, G*H]`.
    fn input_gates(&self, x: Tensor<2>) -> Tensor<2> {
        let gi = x.matmul(self.weight_ih.val().transpose());
        match &self.bias_ih {
            Some(b) => gi + b.val().unsqueeze_dim(0),
            None => gi,
        }
    }

    /// `W_ih x + b_ih` for one-hot rows (`tokens [M]`): the columns of
    /// `W_ih` the tokens pick, `[M, G*H]` (exactly the one-hot product).
    fn token_gates(&self, tokens: Tensor<1, Int>) -> Tensor<2> {
        let gi = self.weight_ih.val().transpose().select(0, tokens);
        match &self.bias_ih {
            Some(b) => gi + b.val().unsqueeze_dim(0),
            None => gi,
        }
    }

    /// One step from the input gates `gi [N, G*H]`.
    fn step_gates(
        &self,
        gi: Tensor<2>,
        h: Tensor<2>,
        c: Option<Tensor<2>>,
    ) -> (Tensor<2>, Option<Tensor<2>>) {
        let mut gh = h.clone().matmul(self.weight_hh.val().transpose());
        if let Some(b) = &self.bias_hh {
            gh = gh + b.val().unsqueeze_dim(0);
        }
        match self.mode {
            RnnMode::RnnTanh => (tanh(gi + gh), None),
            RnnMode::RnnRelu => (relu(gi + gh), None),
            RnnMode::Gru => {
                let [ir, iz, inn]: [Tensor<2>; 3] = gi.chunk(3, 1).try_into().expect("3 gates");
                let [hr, hz, hn]: [Tensor<2>; 3] = gh.chunk(3, 1).try_into().expect("3 gates");
                let r = zoo_kernels::sigmoid(ir + hr);
                let z = zoo_kernels::sigmoid(iz + hz);
                let n = tanh(inn + r * hn);
                // (1 - z) n + z h
                (n.clone() + z * (h - n), None)
            }
            RnnMode::Lstm => {
                let [i, f, g, o]: [Tensor<2>; 4] =
                    (gi + gh).chunk(4, 1).try_into().expect("4 gates");
                let c = c.expect("an LSTM step has a cell state");
                let c = zoo_kernels::sigmoid(f) * c + zoo_kernels::sigmoid(i) * tanh(g);
                let h = zoo_kernels::sigmoid(o) * tanh(c.clone());
                (h, Some(c))
            }
        }
    }

    /// One step: `x [N, I]`, `h [N, H]` (and `c [N, H]` for an LSTM; zeros
    /// when `None`) to the next `h` (and `c`).
    pub fn forward(
        &self,
        x: Tensor<2>,
        h: Option<Tensor<2>>,
        c: Option<Tensor<2>>,
    ) -> Result<(Tensor<2>, Option<Tensor<2>>), RecurrentError> {
        let [n, i] = x.dims();
        let hd = self.hidden_size();
        if i != self.input_size() {
            return Err(shape_err(
                "input",
                &[n, i],
                format!("[N, {}]", self.input_size()),
            ));
        }
        let device = x.device();
        let check = |what: &str, t: Option<Tensor<2>>| -> Result<Tensor<2>, RecurrentError> {
            match t {
                Some(t) if t.dims() != [n, hd] => {
                    Err(shape_err(what, &t.dims(), format!("[{n}, {hd}]")))
                }
                Some(t) => Ok(t),
                None => Ok(Tensor::zeros([n, hd], &device)),
            }
        };
        let h = check("hidden state", h)?;
        let c = match self.mode {
            RnnMode::Lstm => Some(check("cell state", c)?),
            _ if c.is_some() => {
                return Err(RecurrentError::Config(format!(
                    "a cell state was given to a {} cell; only an LSTM has one",
                    self.mode.name()
                )));
            }
            _ => None,
        };
        Ok(self.step_gates(self.input_gates(x), h, c))
    }

    /// The whole sequence in one direction from the input gates
    /// `gi [T, N, G*H]`: the outputs `[T, N, H]` (in time order) and the last
    /// state.
    fn run(
        &self,
        gi: Tensor<3>,
        mut h: Tensor<2>,
        mut c: Option<Tensor<2>>,
        reverse: bool,
    ) -> (Tensor<3>, Tensor<2>, Option<Tensor<2>>) {
        let [t, n, g] = gi.dims();
        let hd = g / self.mode.gates();
        // On flex the whole direction is one op (forward and backward
        // through time in zoo-kernels); elsewhere the steps are tensor ops.
        let code = match self.mode {
            RnnMode::RnnTanh => 0,
            RnnMode::RnnRelu => 1,
            RnnMode::Gru => 2,
            RnnMode::Lstm => 3,
        };
        let device = gi.device();
        let b_hh = match &self.bias_hh {
            Some(b) => b.val(),
            None => Tensor::zeros([g], &device),
        };
        let c0 = c.clone().unwrap_or_else(|| Tensor::zeros([n, hd], &device));
        if let Some(out) = zoo_kernels::recurrent(
            gi.clone(),
            self.weight_hh.val(),
            b_hh,
            h.clone(),
            c0,
            code,
            reverse,
        ) {
            let y = out.clone().narrow(0, 0, t);
            let last = if reverse { 0 } else { t - 1 };
            let h_n = y.clone().narrow(0, last, 1).reshape([n, hd]);
            let c_n = (self.mode == RnnMode::Lstm).then(|| out.narrow(0, t, 1).reshape([n, hd]));
            return (y, h_n, c_n);
        }
        let mut ys: Vec<Option<Tensor<2>>> = vec![None; t];
        for step in 0..t {
            let s = if reverse { t - 1 - step } else { step };
            let gi_t = gi.clone().narrow(0, s, 1).reshape([n, g]);
            (h, c) = self.step_gates(gi_t, h, c);
            ys[s] = Some(h.clone());
        }
        let ys: Vec<Tensor<2>> = ys.into_iter().map(|y| y.expect("every step ran")).collect();
        (Tensor::stack(ys, 0), h, c)
    }
}

/// Configuration of [`Rnn`] (`torch.nn.RNN` / `GRU` / `LSTM`).
#[derive(Config, Debug)]
pub struct RnnConfig {
    /// The recurrence.
    pub mode: RnnMode,
    /// Input features.
    pub input_size: usize,
    /// Hidden features.
    pub hidden_size: usize,
    /// Stacked layers.
    #[config(default = 1)]
    pub num_layers: usize,
    /// Whether every cell has `bias_ih` and `bias_hh`.
    #[config(default = true)]
    pub bias: bool,
    /// Inputs and outputs `[N, T, F]` instead of `[T, N, F]` (the state
    /// stays `[L*D, N, H]`, as in torch).
    #[config(default = false)]
    pub batch_first: bool,
    /// Dropout on the outputs of every layer but the last (training only).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// A second, reversed direction per layer; outputs concatenated.
    #[config(default = false)]
    pub bidirectional: bool,
}

impl RnnConfig {
    /// The layer, initialised as torch does (uniform in `[-1/sqrt(H), 1/sqrt(H)]`).
    ///
    /// # Panics
    ///
    /// On a zero size or layer count, or a dropout outside `[0, 1)`: a
    /// program's own settings, not data.
    pub fn init(&self, device: &Device) -> Rnn {
        assert!(
            self.hidden_size > 0 && self.num_layers > 0 && self.input_size > 0,
            "RnnConfig: input_size, hidden_size and num_layers must be at least 1, got {self:?}"
        );
        assert!(
            (0.0..1.0).contains(&self.dropout),
            "RnnConfig: dropout {} outside [0, 1)",
            self.dropout
        );
        let dirs = if self.bidirectional { 2 } else { 1 };
        let cells = (0..self.num_layers)
            .flat_map(|l| (0..dirs).map(move |_| l))
            .map(|l| {
                let input = if l == 0 {
                    self.input_size
                } else {
                    dirs * self.hidden_size
                };
                RnnCellConfig::new(self.mode, input, self.hidden_size)
                    .with_bias(self.bias)
                    .init(device)
            })
            .collect();
        Rnn {
            cells,
            dropout: DropoutConfig::new(self.dropout).init(),
            mode: self.mode,
            num_layers: self.num_layers,
            bidirectional: self.bidirectional,
            batch_first: self.batch_first,
        }
    }
}

/// A multi-layer recurrent layer; see the module docs.
#[derive(Module, Debug)]
pub struct Rnn {
    /// One cell per layer and direction, `layer * directions + direction`.
    pub cells: Vec<RnnCell>,
    /// Dropout between layers.
    pub dropout: Dropout,
    #[module(skip)]
    mode: RnnMode,
    #[module(skip)]
    num_layers: usize,
    #[module(skip)]
    bidirectional: bool,
    #[module(skip)]
    batch_first: bool,
}

/// The input of [`Rnn`]'s first layer.
enum Input {
    /// Features `[T, N, I]`.
    Dense(Tensor<3>),
    /// One-hot tokens `[T, N]`.
    Tokens(Tensor<2, Int>),
}

impl Rnn {
    /// A layer from its cells (`layer * directions + direction`, each as
    /// [`RnnCell::from_tensors`] makes them), checked against each other.
    pub fn from_cells(
        cells: Vec<RnnCell>,
        num_layers: usize,
        bidirectional: bool,
        batch_first: bool,
        dropout: f64,
    ) -> Result<Self, RecurrentError> {
        let dirs = if bidirectional { 2 } else { 1 };
        if num_layers == 0 || cells.len() != num_layers * dirs {
            return Err(RecurrentError::Config(format!(
                "{} cells for {num_layers} layers of {dirs} direction(s), expected {}",
                cells.len(),
                num_layers * dirs
            )));
        }
        if !(0.0..1.0).contains(&dropout) {
            return Err(RecurrentError::Config(format!(
                "dropout {dropout} outside [0, 1)"
            )));
        }
        let (mode, hd) = (cells[0].mode, cells[0].hidden_size());
        for (k, c) in cells.iter().enumerate() {
            let l = k / dirs;
            if c.mode != mode || c.hidden_size() != hd {
                return Err(RecurrentError::Config(format!(
                    "cell {k} is a {} of {} hidden units, expected a {} of {hd}",
                    c.mode.name(),
                    c.hidden_size(),
                    mode.name()
                )));
            }
            if l > 0 && c.input_size() != dirs * hd {
                return Err(shape_err(
                    &format!("weight_ih_l{l}"),
                    &c.weight_ih.dims(),
                    format!(
                        "[{}, {}] (layer {l} reads the previous layer's outputs)",
                        c.mode.gates() * hd,
                        dirs * hd
                    ),
                ));
            }
        }
        Ok(Self {
            cells,
            dropout: DropoutConfig::new(dropout).init(),
            mode,
            num_layers,
            bidirectional,
            batch_first,
        })
    }

    /// The recurrence.
    pub fn mode(&self) -> RnnMode {
        self.mode
    }

    /// Hidden features.
    pub fn hidden_size(&self) -> usize {
        self.cells[0].hidden_size()
    }

    /// Input features of the first layer.
    pub fn input_size(&self) -> usize {
        self.cells[0].input_size()
    }

    /// Stacked layers.
    pub fn num_layers(&self) -> usize {
        self.num_layers
    }

    /// 2 when bidirectional, else 1.
    pub fn directions(&self) -> usize {
        if self.bidirectional { 2 } else { 1 }
    }

    /// Output features: `directions * hidden_size`.
    pub fn output_size(&self) -> usize {
        self.directions() * self.hidden_size()
    }

    /// torch's `state_dict` key of a parameter path (`cells.3.bias_ih` of a
    /// bidirectional layer: `bias_ih_l1_reverse`); other paths unchanged.
    pub fn torch_key(&self, path: &str) -> String {
        let parts: Vec<&str> = path.split('.').collect();
        match parts.as_slice() {
            ["cells", k, name] => match k.parse::<usize>() {
                Ok(k) => {
                    let (l, d) = (k / self.directions(), k % self.directions());
                    let reverse = if d == 1 { "_reverse" } else { "" };
                    format!("{name}_l{l}{reverse}")
                }
                Err(_) => path.to_string(),
            },
            _ => path.to_string(),
        }
    }

    /// A zero state for a batch of `n`.
    pub fn zero_state(&self, n: usize, device: &Device) -> RnnState {
        let shape = [self.num_layers * self.directions(), n, self.hidden_size()];
        RnnState {
            h: Tensor::zeros(shape, device),
            c: (self.mode == RnnMode::Lstm).then(|| Tensor::zeros(shape, device)),
        }
    }

    fn check_state(&self, state: &RnnState, n: usize) -> Result<(), RecurrentError> {
        let want = [self.num_layers * self.directions(), n, self.hidden_size()];
        let expected = format!("{want:?} (layers * directions, batch, hidden)");
        if state.h.dims() != want {
            return Err(shape_err("hidden state h", &state.h.dims(), expected));
        }
        match (&state.c, self.mode) {
            (Some(c), RnnMode::Lstm) if c.dims() != want => {
                Err(shape_err("cell state c", &c.dims(), expected))
            }
            (None, RnnMode::Lstm) => Err(RecurrentError::Config(
                "an LSTM state needs a cell state c beside h".into(),
            )),
            (Some(_), mode) if mode != RnnMode::Lstm => Err(RecurrentError::Config(format!(
                "a cell state c was given to a {} layer; only an LSTM has one",
                mode.name()
            ))),
            _ => Ok(()),
        }
    }

    /// The whole sequence: `x [T, N, I]` (`[N, T, I]` with `batch_first`)
    /// and an initial state (zeros when `None`) to the outputs
    /// `[T, N, D*H]` (`[N, T, D*H]`) of the last layer and the final state
    /// of every layer and direction.
    pub fn forward(
        &self,
        x: Tensor<3>,
        state: Option<RnnState>,
    ) -> Result<(Tensor<3>, RnnState), RecurrentError> {
        let x = if self.batch_first {
            x.swap_dims(0, 1)
        } else {
            x
        };
        let dims = x.dims();
        if dims[0] == 0 || dims[1] == 0 {
            return Err(shape_err(
                "input",
                &dims,
                "at least one step and one sequence".into(),
            ));
        }
        if dims[2] != self.input_size() {
            let layout = if self.batch_first {
                "[N, T, I]"
            } else {
                "[T, N, I]"
            };
            return Err(shape_err(
                "input",
                &dims,
                format!("{layout} with I = {}", self.input_size()),
            ));
        }
        let (y, state) = self.run(Input::Dense(x), dims[1], state)?;
        Ok((
            if self.batch_first {
                y.swap_dims(0, 1)
            } else {
                y
            },
            state,
        ))
    }

    /// The same on one-hot inputs given as token indices `[T, N]`
    /// (`[N, T]` with `batch_first`), each below `input_size`: exactly
    /// `forward` on their one-hot vectors, without building them.
    pub fn forward_tokens(
        &self,
        tokens: Tensor<2, Int>,
        state: Option<RnnState>,
    ) -> Result<(Tensor<3>, RnnState), RecurrentError> {
        let tokens = if self.batch_first {
            tokens.swap_dims(0, 1)
        } else {
            tokens
        };
        let dims = tokens.dims();
        if dims[0] == 0 || dims[1] == 0 {
            return Err(shape_err(
                "tokens",
                &dims,
                "at least one step and one sequence".into(),
            ));
        }
        let v = self.input_size();
        if dims.iter().product::<usize>() > 0 {
            // One read of both bounds (a device sync per call, not two).
            let bounds = Tensor::cat(vec![tokens.clone().min(), tokens.clone().max()], 0)
                .into_data()
                .try_into_vec_as::<i64>()
                .unwrap_or_default();
            let (lo, hi) = (
                bounds.first().copied().unwrap_or(0),
                bounds.last().copied().unwrap_or(0),
            );
            if lo < 0 || hi >= v as i64 {
                return Err(RecurrentError::Config(format!(
                    "token indices from {lo} to {hi}, expected 0..{v} (the input size)"
                )));
            }
        }
        let (y, state) = self.run(Input::Tokens(tokens), dims[1], state)?;
        Ok((
            if self.batch_first {
                y.swap_dims(0, 1)
            } else {
                y
            },
            state,
        ))
    }

    fn run(
        &self,
        x: Input,
        n: usize,
        state: Option<RnnState>,
    ) -> Result<(Tensor<3>, RnnState), RecurrentError> {
        let device = match &x {
            Input::Dense(x) => x.device(),
            Input::Tokens(t) => t.device(),
        };
        let state = match state {
            Some(s) => {
                self.check_state(&s, n)?;
                s
            }
            None => self.zero_state(n, &device),
        };
        let dirs = self.directions();
        let hd = self.hidden_size();
        let (mut hs, mut cs) = (Vec::new(), Vec::new());
        let mut x = x;
        for l in 0..self.num_layers {
            let mut outs = Vec::with_capacity(dirs);
            for d in 0..dirs {
                let k = l * dirs + d;
                let cell = &self.cells[k];
                let gi = match &x {
                    Input::Dense(x) => {
                        let [t, n, i] = x.dims();
                        cell.input_gates(x.clone().reshape([t * n, i])).reshape([
                            t,
                            n,
                            cell.mode.gates() * hd,
                        ])
                    }
                    Input::Tokens(tok) => {
                        let [t, n] = tok.dims();
                        cell.token_gates(tok.clone().reshape([t * n])).reshape([
                            t,
                            n,
                            cell.mode.gates() * hd,
                        ])
                    }
                };
                let h0 = state.h.clone().narrow(0, k, 1).reshape([n, hd]);
                let c0 = state
                    .c
                    .as_ref()
                    .map(|c| c.clone().narrow(0, k, 1).reshape([n, hd]));
                let (y, h, c) = cell.run(gi, h0, c0, d == 1);
                outs.push(y);
                hs.push(h);
                cs.extend(c);
            }
            let mut y = if dirs == 1 {
                outs.pop().expect("one direction")
            } else {
                Tensor::cat(outs, 2)
            };
            if l + 1 < self.num_layers {
                y = self.dropout.forward(y);
            }
            x = Input::Dense(y);
        }
        let Input::Dense(y) = x else {
            unreachable!("every layer outputs features")
        };
        let state = RnnState {
            h: Tensor::stack(hs, 0),
            c: (!cs.is_empty()).then(|| Tensor::stack(cs, 0)),
        };
        Ok((y, state))
    }

    /// One time step for decoding: `x [N, I]` to `[N, D*H]` and the state
    /// (a bidirectional layer sees a sequence of one).
    pub fn step(
        &self,
        x: Tensor<2>,
        state: Option<RnnState>,
    ) -> Result<(Tensor<2>, RnnState), RecurrentError> {
        let [n, i] = x.dims();
        let x = if self.batch_first {
            x.reshape([n, 1, i])
        } else {
            x.reshape([1, n, i])
        };
        let (y, state) = self.forward(x, state)?;
        Ok((y.reshape([n, self.output_size()]), state))
    }
}
