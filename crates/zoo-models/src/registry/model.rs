//! [`Model`]: any registered model, one variant per family, and the
//! [`Classifier`] trait each family implements beside its definition.

use std::path::Path;

use burn::module::Module;
use burn::store::RecordError;
use burn::tensor::{Device, Tensor};

use crate::weights::{StateDict, WeightsError, load_state_dict};

/// What every registered family offers the registry: its forward pass,
/// torchvision's key names and its classifier head. Implemented in each
/// family's file, next to the model.
pub trait Classifier {
    /// Logits `[N, classes]`.
    fn logits(&self, x: Tensor<4>) -> Tensor<2>;

    /// Logits and, when the model has auxiliary classifiers and `x` is on
    /// an autodiff device (training), their logits with the loss weight
    /// torchvision's recipes give them (GoogLeNet 0.3 each, Inception v3
    /// 0.4): `loss = CE(logits) + sum of weight * CE(aux)`.
    fn logits_with_aux(&self, x: Tensor<4>) -> (Tensor<2>, Vec<(f64, Tensor<2>)>) {
        (self.logits(x), Vec::new())
    }

    /// The convolutional trunk without the classifier, where the family
    /// has one (torchvision's families).
    fn trunk(&self, _x: Tensor<4>) -> Option<Tensor<4>> {
        None
    }

    /// torchvision's `state_dict` key of one of the model's parameter paths.
    fn state_dict_key(&self, path: &str) -> String {
        path.to_string()
    }

    /// A legacy `state_dict` key renamed to the current one, for families
    /// whose published checkpoints use older names (DenseNet's).
    fn legacy_key(&self, key: &str) -> Option<String> {
        let _ = key;
        None
    }

    /// The parameter-path prefixes of the classifier(s).
    fn head_prefixes(&self) -> &'static [&'static str];

    /// Replaces the classifier(s) with freshly initialised ones for
    /// `num_classes`.
    fn reset_head(&mut self, num_classes: usize, device: &Device);
}

/// The one list of families: `Model`'s variants and their dispatch. A new
/// family adds one line here and one slice to `super::FAMILIES`.
macro_rules! families {
    ($($(#[$doc:meta])* $variant:ident($ty:ty),)*) => {
        /// Any registered model.
        // A model is built once; boxing the variants would only add indirection.
        #[allow(clippy::large_enum_variant)]
        #[derive(Module, Debug)]
        pub enum Model {
            $($(#[$doc])* $variant($ty),)*
        }

        impl Model {
            fn family(&self) -> &dyn Classifier {
                match self {
                    $(Model::$variant(m) => m,)*
                }
            }

            fn family_mut(&mut self) -> &mut dyn Classifier {
                match self {
                    $(Model::$variant(m) => m,)*
                }
            }

            /// Loads `path` as a record of the family's own module (the
            /// keys `conv1.weight`, ... without the enum's variant).
            fn load_family_file(self, path: &Path) -> Result<Self, RecordError> {
                match self {
                    $(Model::$variant(m) => m.try_load_file(path).map(Model::$variant),)*
                }
            }
        }
    };
}

families! {
    /// The course's LeNet.
    LeNet(crate::lenet::LeNet),
    /// AlexNet.
    AlexNet(crate::alexnet::AlexNet),
    /// VGG.
    Vgg(crate::vgg::Vgg),
    /// The course's NiN.
    Nin(crate::nin::Nin),
    /// The course's GoogLeNet.
    D2lGoogLeNet(crate::googlenet::D2lGoogLeNet),
    /// torchvision's GoogLeNet.
    GoogLeNet(crate::googlenet::GoogLeNet),
    /// Inception v3.
    InceptionV3(crate::inception::InceptionV3),
    /// ResNet, ResNeXt, Wide ResNet.
    ResNet(crate::resnet::ResNet),
    /// DenseNet.
    DenseNet(crate::densenet::DenseNet),
}

impl Model {
    /// Logits `[N, classes]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.family().logits(x)
    }

    /// Logits and the weighted auxiliary logits of training
    /// ([`Classifier::logits_with_aux`]; empty for models without them).
    pub fn forward_with_aux(&self, x: Tensor<4>) -> (Tensor<2>, Vec<(f64, Tensor<2>)>) {
        self.family().logits_with_aux(x)
    }

    /// The convolutional trunk without the classifier, for the families
    /// that have one (torchvision's; `None` for LeNet, NiN and the course's
    /// GoogLeNet).
    pub fn features(&self, x: Tensor<4>) -> Option<Tensor<4>> {
        self.family().trunk(x)
    }

    /// torchvision's `state_dict` key of one of this model's parameter paths.
    pub fn torchvision_key(&self, path: &str) -> String {
        self.family().state_dict_key(path)
    }

    /// Loads a torchvision `state_dict` (every key must fit: see
    /// [`crate::weights`]). Legacy keys a family's published checkpoints
    /// use (DenseNet's `denselayer1.norm.1.weight`) are accepted, as
    /// torchvision accepts them.
    pub fn load_torchvision(self, sd: &StateDict) -> Result<Self, WeightsError> {
        let family = self.family();
        let renamed;
        let sd = if sd.keys().any(|k| family.legacy_key(k).is_some()) {
            renamed = sd.renamed(&|k: &str| family.legacy_key(k).unwrap_or_else(|| k.to_string()));
            &renamed
        } else {
            sd
        };
        let keys = |p: &str| Some(self.torchvision_key(p));
        load_state_dict(self.clone(), sd, &keys)
    }

    /// Loads a checkpoint file the examples write (`model.bpk`, burn's
    /// default file recorder) into this model: a record of the registry's
    /// `Model` (what the classifier examples save) or of the family's own
    /// module (what the `lenet` example saves). The model must be built
    /// with the arguments of the run that wrote it (its `state.json`
    /// records them); the error names the file and the first mismatch.
    pub fn load_file(self, path: &Path) -> Result<Self, String> {
        match self.clone().try_load_file(path) {
            Ok(model) => Ok(model),
            Err(as_model) => self.load_family_file(path).map_err(|as_family| {
                format!(
                    "{}: not a checkpoint of this model (as the registry's model: {as_model}; as the family's module: {as_family})",
                    path.display()
                )
            }),
        }
    }

    /// The parameter-path prefixes of the classifier(s): what a new head
    /// replaces and what `freeze_features` leaves trainable.
    pub fn head_prefixes(&self) -> &'static [&'static str] {
        self.family().head_prefixes()
    }

    /// The model with new, freshly initialised classifier(s) for
    /// `num_classes` (timm's `reset_classifier`): the fine-tuning recipe's
    /// new head.
    pub fn reset_classifier(mut self, num_classes: usize, device: &Device) -> Self {
        self.family_mut().reset_head(num_classes, device);
        self
    }

    /// The model with every parameter outside the classifier frozen (no
    /// gradient, so optimizers leave it alone): the fine-tuning recipe's
    /// frozen trunk.
    pub fn freeze_features(self) -> Self {
        let heads = self.head_prefixes();
        crate::weights::set_trainable(self, &|path| {
            heads
                .iter()
                .any(|h| path == *h || path.starts_with(&format!("{h}.")))
        })
    }
}
