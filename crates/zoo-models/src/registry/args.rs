//! Builder arguments, and the checks every model's arguments pass before
//! any layer is built.

use burn::tensor::Device;

use super::{ModelInfo, RegistryError};

/// Builder arguments; `None` takes the builder's default. Which ones a
/// model takes is its builder's business: a given argument a model does not
/// take is an error, not silently ignored.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelArgs {
    /// Output classes.
    pub num_classes: Option<usize>,
    /// Input channels.
    pub in_channels: Option<usize>,
    /// Input height and width (the course's LeNet, AlexNet and VGG size
    /// their first linear layer from it).
    pub input_size: Option<[usize; 2]>,
    /// GoogLeNet / Inception v3: auxiliary classifiers.
    pub aux_logits: Option<bool>,
    /// GoogLeNet / Inception v3: re-normalise ImageNet inputs.
    pub transform_input: Option<bool>,
    /// `d2l_lenet`: padding of the first convolution.
    pub conv1_padding: Option<usize>,
    /// `d2l_lenet`: ReLU and max pooling instead of sigmoid and average.
    pub relu: Option<bool>,
    /// `d2l_vgg11` / `d2l_resnet18`: `[convs, channels]` per block;
    /// `d2l_densenet`: `[convs]` per dense block.
    pub blocks: Option<Vec<Vec<usize>>>,
    /// `d2l_densenet`: stem channels.
    pub num_channels: Option<usize>,
    /// `d2l_densenet`: growth rate.
    pub growth_rate: Option<usize>,
}

/// Every builder argument's name, as the parity cases and torchvision
/// spell it.
pub const ARG_NAMES: [&str; 10] = [
    "num_classes",
    "in_channels",
    "input_size",
    "aux_logits",
    "transform_input",
    "conv1_padding",
    "relu",
    "blocks",
    "num_channels",
    "growth_rate",
];

impl ModelArgs {
    /// No argument given (a `fn` pointer for [`super::Registration`]).
    pub fn default_args() -> Self {
        Self::default()
    }

    /// The names of the arguments that are set.
    pub(crate) fn given(&self) -> Vec<&'static str> {
        let set = [
            self.num_classes.is_some(),
            self.in_channels.is_some(),
            self.input_size.is_some(),
            self.aux_logits.is_some(),
            self.transform_input.is_some(),
            self.conv1_padding.is_some(),
            self.relu.is_some(),
            self.blocks.is_some(),
            self.num_channels.is_some(),
            self.growth_rate.is_some(),
        ];
        ARG_NAMES
            .iter()
            .zip(set)
            .filter(|(_, s)| *s)
            .map(|(n, _)| *n)
            .collect()
    }
}

/// What a family's builder gets: the name, the registered metadata, the
/// arguments as given, and the common ones resolved against the defaults
/// (already checked: non-zero, within the size budget).
pub struct Build<'a> {
    /// The registered name.
    pub name: &'a str,
    /// Its metadata.
    pub info: &'a ModelInfo,
    /// The arguments as given.
    pub args: &'a ModelArgs,
    /// `num_classes`, or the model's default.
    pub num_classes: usize,
    /// `in_channels`, or the model's default.
    pub in_channels: usize,
    /// `input_size`, or the model's default.
    pub input_size: [usize; 2],
    /// The device to build on.
    pub device: &'a Device,
}

impl<'a> Build<'a> {
    /// Resolves and checks the common arguments.
    pub(crate) fn new(
        name: &'a str,
        info: &'a ModelInfo,
        args: &'a ModelArgs,
        device: &'a Device,
    ) -> Result<Self, RegistryError> {
        let meta = info;
        let classes = args.num_classes.unwrap_or(meta.num_classes);
        let channels = args.in_channels.unwrap_or(meta.input[0]);
        let size = args.input_size.unwrap_or([meta.input[1], meta.input[2]]);
        for (arg, v) in [("num_classes", classes), ("in_channels", channels)] {
            if v == 0 {
                return Err(RegistryError::Arg {
                    arg: arg.into(),
                    reason: "0, expected at least 1".into(),
                });
            }
        }
        // Sizes from outside are checked before any layer is built.
        let budget = |arg: &str, what: &str, dims: &[u128]| {
            zoo_device::budget::check(what, dims)
                .map(|_| ())
                .map_err(|e| RegistryError::Arg {
                    arg: arg.into(),
                    reason: e.to_string(),
                })
        };
        // At most 1,000 convolutions in the blocks (the deepest course model has
        // about 120), and the widest layer a 3x3 convolution within the budget.
        let convs: u128 = args
            .blocks
            .iter()
            .flatten()
            .map(|b| b.first().copied().unwrap_or(0) as u128)
            .sum();
        if convs > 1000 {
            return Err(RegistryError::Arg {
                arg: "blocks".into(),
                reason: format!("{convs} convolutions in all, expected at most 1000"),
            });
        }
        let widest = [
            channels as u128,
            args.blocks
                .iter()
                .flatten()
                .filter_map(|b| b.get(1).map(|&c| c as u128))
                .max()
                .unwrap_or(0),
            (args.num_channels.unwrap_or(0) as u128).saturating_add(
                (args.growth_rate.unwrap_or(0) as u128).saturating_mul(convs.max(1)),
            ),
            64,
        ]
        .into_iter()
        .max()
        .unwrap_or(64);
        budget(
            "blocks / num_channels / growth_rate / in_channels",
            "the widest 3x3 convolution's weight",
            &[widest, widest, 3, 3],
        )?;
        // The widest classifier input of the registry is 4096 features, and
        // every model's first feature maps have at most 64 channels.
        budget(
            "num_classes",
            "a classifier of 4096 inputs and num_classes outputs",
            &[4096, classes as u128],
        )?;
        let pad = 2 * args.conv1_padding.unwrap_or(0) as u128;
        budget(
            if pad == 0 {
                "input_size"
            } else {
                "input_size / conv1_padding"
            },
            "64 feature maps of the padded input",
            &[
                64,
                channels as u128,
                size[0] as u128 + pad,
                size[1] as u128 + pad,
            ],
        )?;
        Ok(Self {
            name,
            info,
            args,
            num_classes: classes,
            in_channels: channels,
            input_size: size,
            device,
        })
    }

    /// An error about one argument.
    pub fn arg_err(&self, arg: &str, reason: String) -> RegistryError {
        RegistryError::Arg {
            arg: arg.to_string(),
            reason,
        }
    }

    /// `blocks` as `[convs, channels]` pairs (VGG's and ResNet's stages).
    pub fn pairs(&self) -> Result<Option<Vec<[usize; 2]>>, RegistryError> {
        let (args, what) = (self.args, self.name);
        args.blocks
            .as_ref()
            .map(|b| {
                b.iter()
                    .map(|e| <[usize; 2]>::try_from(e.as_slice()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| RegistryError::Arg {
                        arg: "blocks".into(),
                        reason: format!("{what} expects [[convs, channels], ...], got {b:?}"),
                    })
            })
            .transpose()
    }

    /// The depth in a torchvision name (`vgg16_bn` with prefix `vgg`: 16).
    pub fn depth(&self, prefix: &str) -> Option<usize> {
        self.name
            .strip_prefix(prefix)
            .and_then(|d| d.trim_end_matches("_bn").parse::<usize>().ok())
    }
}
