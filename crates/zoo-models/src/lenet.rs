//! LeNet-5 as the course builds it (d2l 7.6; LeCun et al. 1998).
//!
//! conv 5x5 (6) -> act -> 2x2 pool -> conv 5x5 (16) -> act -> 2x2 pool ->
//! flatten -> 120 -> act -> 84 -> act -> classes. The current course pads
//! the first convolution by 2 (28x28 in, 16x5x5 flattened); the older notes
//! do not (16x4x4 flattened): both via `conv1_padding`. Sigmoid and average
//! pooling as in the course, ReLU and max pooling on request.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::ops::{AvgPoolOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor};
use zoo_layers::activation::Activation;
use zoo_layers::conv_size::conv_output_size;
use zoo_layers::trace;

/// The nonlinearity between layers.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum LeNetActivation {
    /// The course's sigmoid.
    Sigmoid,
    /// ReLU (the modern variant).
    Relu,
}

/// The pooling of LeNet.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum LeNetPool {
    /// The course's 2x2 stride-2 average pooling.
    Avg,
    /// 2x2 stride-2 max pooling.
    Max,
}

/// Configuration of [`LeNet`].
#[derive(Config, Debug)]
pub struct LeNetConfig {
    /// Input channels.
    #[config(default = 1)]
    pub in_channels: usize,
    /// Output classes.
    #[config(default = 10)]
    pub num_classes: usize,
    /// Input height and width.
    #[config(default = "[28, 28]")]
    pub input_size: [usize; 2],
    /// Padding of the first convolution (2 in the current course, 0 in the older notes).
    #[config(default = 2)]
    pub conv1_padding: usize,
    /// Activation.
    #[config(default = "LeNetActivation::Sigmoid")]
    pub activation: LeNetActivation,
    /// Pooling.
    #[config(default = "LeNetPool::Avg")]
    pub pool: LeNetPool,
}

/// LeNet-5; see the module docs.
#[derive(Module, Debug)]
pub struct LeNet {
    /// First convolution, 5x5, 6 channels.
    pub conv1: Conv2d,
    /// Second convolution, 5x5, 16 channels.
    pub conv2: Conv2d,
    /// Dense layer to 120.
    pub fc1: Linear,
    /// Dense layer to 84.
    pub fc2: Linear,
    /// Output layer.
    pub fc3: Linear,
    #[module(skip)]
    activation: LeNetActivation,
    #[module(skip)]
    pool: LeNetPool,
}

impl LeNetConfig {
    /// The flattened size after the second pooling, `16 * h * w`.
    ///
    /// An error when the input is too small for the two convolutions and poolings.
    pub fn flat_features(&self) -> Result<usize, String> {
        let side = |n: usize| -> Result<usize, String> {
            let n = conv_output_size(n, 5, 1, self.conv1_padding, 1).map_err(|e| e.to_string())?;
            let n = conv_output_size(n, 2, 2, 0, 1).map_err(|e| e.to_string())?;
            let n = conv_output_size(n, 5, 1, 0, 1).map_err(|e| e.to_string())?;
            conv_output_size(n, 2, 2, 0, 1).map_err(|e| e.to_string())
        };
        Ok(16 * side(self.input_size[0])? * side(self.input_size[1])?)
    }

    /// Builds the model initialised as the course trains it: PyTorch's
    /// default initialisation, then Xavier-uniform weights on every
    /// convolution and dense layer (`nn.init.xavier_uniform_` in d2l's
    /// `train_ch6`), the biases left at PyTorch's `U(-1/sqrt(fan_in),
    /// 1/sqrt(fan_in))`.
    ///
    /// # Panics
    /// When the input size is too small for LeNet (see [`Self::flat_features`]).
    pub fn init(&self, device: &Device) -> LeNet {
        let flat = self
            .flat_features()
            .unwrap_or_else(|e| panic!("LeNet input {:?}: {e}", self.input_size));
        let p = self.conv1_padding;
        let model = LeNet {
            conv1: Conv2dConfig::new([self.in_channels, 6], [5, 5])
                .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                .init(device),
            conv2: Conv2dConfig::new([6, 16], [5, 5]).init(device),
            fc1: LinearConfig::new(flat, 120).init(device),
            fc2: LinearConfig::new(120, 84).init(device),
            fc3: LinearConfig::new(84, self.num_classes).init(device),
            activation: self.activation,
            pool: self.pool,
        };
        zoo_layers::init::xavier_uniform_conv_linear(model)
    }
}

impl LeNet {
    fn act<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match self.activation {
            LeNetActivation::Sigmoid => Activation::Sigmoid.forward(x),
            LeNetActivation::Relu => Activation::Relu.forward(x),
        }
    }

    fn pool(&self, x: Tensor<4>) -> Tensor<4> {
        match self.pool {
            LeNetPool::Avg => trace::avg_pool2d(x, AvgPoolOptions::new([2, 2]).with_stride([2, 2])),
            LeNetPool::Max => trace::max_pool2d(x, MaxPoolOptions::new([2, 2]).with_stride([2, 2])),
        }
    }

    /// Logits `[N, classes]` of images `[N, C, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        trace::linear(&self.fc3, self.penultimate(x))
    }

    /// The feature maps after the second convolution, activation and
    /// pooling: `[N, 16, 5, 5]` at 28x28 (what DeepDream can amplify).
    pub fn conv_features(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.pool(self.act(trace::conv2d(&self.conv1, x)));
        self.pool(self.act(trace::conv2d(&self.conv2, x)))
    }

    /// The 84 activations before the classifier (the features t-SNE and
    /// nearest neighbours look at): `[N, 84]`.
    pub fn penultimate(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.act(trace::linear(
            &self.fc1,
            trace::flatten(self.conv_features(x)),
        ));
        self.act(trace::linear(&self.fc2, x))
    }
}

// The registry's entries for this family (see `crate::registry`).

use crate::registry::{Build, Classifier, Model, Registration, RegistryError, d2l};

const LENET: &str = "LeCun et al. 1998, Gradient-based learning applied to document recognition";

/// The registered models of this family.
pub(crate) const MODELS: &[Registration] = &[Registration::new(
    d2l("d2l_lenet", "lenet", LENET, 28, (0.9, 10, 256)),
    &[
        "num_classes",
        "in_channels",
        "input_size",
        "conv1_padding",
        "relu",
    ],
    build_d2l,
)];

fn build_d2l(b: &Build) -> Result<Model, RegistryError> {
    let mut c = LeNetConfig::new()
        .with_in_channels(b.in_channels)
        .with_num_classes(b.num_classes)
        .with_input_size(b.input_size)
        .with_conv1_padding(b.args.conv1_padding.unwrap_or(2));
    if b.args.relu == Some(true) {
        c = c
            .with_activation(LeNetActivation::Relu)
            .with_pool(LeNetPool::Max);
    }
    c.flat_features().map_err(|e| b.arg_err("input_size", e))?;
    Ok(Model::LeNet(c.init(b.device)))
}

impl LeNet {
    /// The field path of a key as the course's `nn.Sequential` numbers its
    /// layers (`0` conv1, `3` conv2, `7` fc1, `9` fc2, `11` fc3: the
    /// activations, poolings and the flatten hold the other indices), or
    /// `None` for any other key.
    pub fn course_key(key: &str) -> Option<String> {
        let (index, rest) = key.split_once('.')?;
        let field = match index {
            "0" => "conv1",
            "3" => "conv2",
            "7" => "fc1",
            "9" => "fc2",
            "11" => "fc3",
            _ => return None,
        };
        Some(format!("{field}.{rest}"))
    }
}

impl Classifier for LeNet {
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        LeNet::forward(self, x)
    }
    /// The course's own `nn.Sequential` checkpoints (`net.state_dict()` in
    /// d2l) load as they are.
    fn legacy_key(&self, key: &str) -> Option<String> {
        LeNet::course_key(key)
    }
    fn head_prefixes(&self) -> &'static [&'static str] {
        &["fc3"]
    }
    fn reset_head(&mut self, num_classes: usize, device: &Device) {
        self.fc3 = crate::parts::new_head(&self.fc3, num_classes, device);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_parameters_follow_the_course() {
        let device = zoo_device::from_name("flex").unwrap();
        // d2l's shape trace: 16 x 5 x 5 before the dense layers.
        assert_eq!(LeNetConfig::new().flat_features().unwrap(), 400);
        assert_eq!(
            LeNetConfig::new()
                .with_conv1_padding(0)
                .flat_features()
                .unwrap(),
            256
        );
        let model = LeNetConfig::new().init(&device);
        // 156 + 2416 + 48120 + 10164 + 850.
        assert_eq!(model.num_params(), 61_706);
        let y = model.forward(Tensor::zeros([2, 1, 28, 28], &device));
        assert_eq!(y.dims(), [2, 10]);
        assert!(
            LeNetConfig::new()
                .with_input_size([8, 8])
                .flat_features()
                .is_err()
        );
    }
}
