//! Architectures: zoo-models.

use burn::module::Module;
use zoo_layers::params::num_trainable_params as count;
use zoo_models::alexnet::AlexNetConfig;
use zoo_models::densenet::DenseNetConfig;
use zoo_models::googlenet::{D2lGoogLeNetConfig, GoogLeNetConfig};
use zoo_models::lenet::LeNetConfig;
use zoo_models::nin::NinConfig;
use zoo_models::resnet::ResNetConfig;
use zoo_models::vgg::VggConfig;

use burn::tensor::{Tensor, TensorData};
use zoo_models::densenet::DenseNet;
use zoo_models::googlenet::GoogLeNet;
use zoo_models::resnet::ResNet;
use zoo_models::weights::{StateDict, load_state_dict};

use super::{Ctx, Outputs};
use crate::conformance::case::HostTensor;
use crate::conformance::value::DynTensor;

/// The `arch` names of `model_params` the project implements.
pub const PARAM_ARCHS: [&str; 25] = [
    "d2l_lenet",
    "d2l_alexnet",
    "d2l_vgg11",
    "d2l_nin",
    "d2l_googlenet",
    "d2l_resnet18",
    "d2l_densenet",
    "alexnet",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
    "googlenet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "densenet121",
    "densenet169",
    "densenet201",
];

/// `(num_convs, channels)` blocks from the case's `blocks` param.
fn blocks(ctx: &Ctx) -> Result<Option<Vec<[usize; 2]>>, String> {
    match ctx.param("blocks") {
        None => Ok(None),
        Some(v) => serde_json::from_value::<Vec<[usize; 2]>>(v.clone())
            .map(Some)
            .map_err(|e| format!("params.blocks: {e}, expected [[convs, channels], ...]")),
    }
}

pub fn model_params(ctx: &Ctx) -> Result<Outputs, String> {
    let arch = ctx.str_or("arch", "")?;
    let count = match arch {
        "d2l_lenet" => {
            let size = ctx.pair_or("input_size", [28, 28])?;
            let config = LeNetConfig::new()
                .with_in_channels(ctx.usize_or("in_channels", 1)?)
                .with_num_classes(ctx.usize_or("num_classes", 10)?)
                .with_input_size(size)
                .with_conv1_padding(ctx.usize_or("conv1_padding", 2)?);
            config.flat_features()?;
            // No running statistics in LeNet: burn's count equals torch's parameters().
            config.init(ctx.device()).num_params()
        }
        "d2l_alexnet" => count(
            &AlexNetConfig::d2l()
                .with_in_channels(ctx.usize_or("in_channels", 1)?)
                .with_num_classes(ctx.usize_or("num_classes", 10)?)
                .with_input_size(ctx.pair_or("input_size", [224, 224])?)
                .init(ctx.device()),
        ),
        "d2l_vgg11" => {
            let mut c = VggConfig::d2l_vgg11()
                .with_in_channels(ctx.usize_or("in_channels", 1)?)
                .with_num_classes(ctx.usize_or("num_classes", 10)?)
                .with_input_size(ctx.pair_or("input_size", [224, 224])?);
            if let Some(b) = blocks(ctx)? {
                c.blocks = b;
            }
            count(&c.init(ctx.device()))
        }
        "d2l_nin" => count(
            &NinConfig::new()
                .with_in_channels(ctx.usize_or("in_channels", 1)?)
                .with_num_classes(ctx.usize_or("num_classes", 10)?)
                .init(ctx.device()),
        ),
        "d2l_googlenet" => count(
            &D2lGoogLeNetConfig::new()
                .with_in_channels(ctx.usize_or("in_channels", 1)?)
                .with_num_classes(ctx.usize_or("num_classes", 10)?)
                .init(ctx.device()),
        ),
        "d2l_resnet18" => {
            let mut c = ResNetConfig::d2l_resnet18()
                .with_in_channels(ctx.usize_or("in_channels", 1)?)
                .with_num_classes(ctx.usize_or("num_classes", 10)?);
            if let Some(b) = blocks(ctx)? {
                c.stages = b;
            }
            count(&c.init(ctx.device()))
        }
        "d2l_densenet" => {
            let mut c = DenseNetConfig::d2l()
                .with_in_channels(ctx.usize_or("in_channels", 1)?)
                .with_num_classes(ctx.usize_or("num_classes", 10)?)
                .with_num_init_features(ctx.usize_or("num_channels", 64)?)
                .with_growth_rate(ctx.usize_or("growth_rate", 32)?);
            if let Some(v) = ctx.param("blocks") {
                c.blocks = serde_json::from_value(v.clone())
                    .map_err(|e| format!("params.blocks: {e}, expected [convs, ...]"))?;
            }
            count(&c.init(ctx.device()))
        }
        "alexnet" => count(
            &AlexNetConfig::new()
                .with_num_classes(ctx.usize_or("num_classes", 1000)?)
                .init(ctx.device()),
        ),
        "googlenet" => count(
            &GoogLeNetConfig::new()
                .with_num_classes(ctx.usize_or("num_classes", 1000)?)
                .with_aux_logits(ctx.bool_or("aux_logits", true)?)
                .with_transform_input(ctx.bool_or("transform_input", false)?)
                .init(ctx.device()),
        ),
        name => {
            let classes = ctx.usize_or("num_classes", 1000)?;
            let depth = |prefix: &str| {
                name.strip_prefix(prefix)
                    .and_then(|d| d.trim_end_matches("_bn").parse::<usize>().ok())
            };
            let config_err = || format!("arch `{name}` is not implemented");
            if let Some(d) = depth("resnet") {
                count(
                    &ResNetConfig::torchvision(d, classes)
                        .ok_or_else(config_err)?
                        .init(ctx.device()),
                )
            } else if let Some(d) = depth("vgg") {
                count(
                    &VggConfig::torchvision(d, name.ends_with("_bn"), classes)
                        .ok_or_else(config_err)?
                        .init(ctx.device()),
                )
            } else if let Some(d) = depth("densenet") {
                count(
                    &DenseNetConfig::torchvision(d, classes)
                        .ok_or_else(config_err)?
                        .init(ctx.device()),
                )
            } else {
                return Err(config_err());
            }
        }
    };
    Ok(Outputs::default().host(
        "num_params",
        HostTensor::from_ints(vec![], vec![count as i64]),
    ))
}

/// The `arch` names of `model_forward` the project implements.
pub const FORWARD_ARCHS: [&str; 21] = [
    "alexnet",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
    "vgg16_features",
    "vgg19_features",
    "googlenet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "densenet121",
    "densenet161",
    "densenet169",
    "densenet201",
];

fn state_dict(ctx: &Ctx) -> StateDict {
    let mut sd = StateDict::new();
    for (key, t) in ctx.weights() {
        let data = if t.floats.is_empty() && !t.ints.is_empty() {
            TensorData::new(t.ints.clone(), t.shape.clone())
        } else {
            TensorData::new(t.floats.clone(), t.shape.clone())
        };
        sd.insert(key.clone(), data);
    }
    sd
}

/// torchvision's model in evaluation mode with the case's weights.
pub fn model_forward(ctx: &Ctx) -> Result<Outputs, String> {
    let arch = ctx.str_or("arch", "")?;
    let classes = ctx.usize_or("num_classes", 1000)?;
    let x: Tensor<4> = ctx.input_n("x")?;
    let sd = state_dict(ctx);
    let d = ctx.device();
    let err = |e: zoo_models::weights::WeightsError| format!("loading the weights: {e}");
    let depth = |prefix: &str| {
        arch.strip_prefix(prefix).and_then(|r| {
            r.trim_end_matches("_features")
                .trim_end_matches("_bn")
                .parse::<usize>()
                .ok()
        })
    };
    let unknown = || format!("arch `{arch}` is not implemented");
    let (name, out) = if arch == "alexnet" {
        let m = AlexNetConfig::new().with_num_classes(classes).init(d);
        let m = load_state_dict(m.clone(), &sd, &|p| Some(m.torchvision_key(p))).map_err(err)?;
        ("logits", DynTensor::new(m.valid().forward(x)))
    } else if arch == "googlenet" {
        let m = GoogLeNetConfig::new()
            .with_num_classes(classes)
            .with_aux_logits(ctx.bool_or("aux_logits", false)?)
            .with_transform_input(ctx.bool_or("transform_input", false)?)
            .init(d);
        let m = load_state_dict(m, &sd, &|p| Some(GoogLeNet::torchvision_key(p))).map_err(err)?;
        ("logits", DynTensor::new(m.valid().forward(x)))
    } else if let Some(n) = depth("resnet") {
        let m = ResNetConfig::torchvision(n, classes)
            .ok_or_else(unknown)?
            .init(d);
        let m = load_state_dict(m, &sd, &|p| Some(ResNet::torchvision_key(p))).map_err(err)?;
        ("logits", DynTensor::new(m.valid().forward(x)))
    } else if let Some(n) = depth("densenet") {
        let m = DenseNetConfig::torchvision(n, classes)
            .ok_or_else(unknown)?
            .init(d);
        let m = load_state_dict(m, &sd, &|p| Some(DenseNet::torchvision_key(p))).map_err(err)?;
        ("logits", DynTensor::new(m.valid().forward(x)))
    } else if let Some(n) = depth("vgg") {
        let bn = arch.trim_end_matches("_features").ends_with("_bn");
        let m = VggConfig::torchvision(n, bn, classes)
            .ok_or_else(unknown)?
            .init(d);
        if arch.ends_with("_features") {
            let keys = |p: &str| p.starts_with("features.").then(|| m.torchvision_key(p));
            let m = load_state_dict(m.clone(), &sd, &keys).map_err(err)?;
            ("features", DynTensor::new(m.valid().features(x)))
        } else {
            let m =
                load_state_dict(m.clone(), &sd, &|p| Some(m.torchvision_key(p))).map_err(err)?;
            ("logits", DynTensor::new(m.valid().forward(x)))
        }
    } else {
        return Err(unknown());
    };
    Ok(Outputs::default().float(name, out))
}
