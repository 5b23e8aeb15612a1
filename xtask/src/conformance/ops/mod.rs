//! The dispatch table: case `op` -> the project's implementation.
//!
//! Each op reads its inputs and params through [`Ctx`] and returns its
//! outputs in the order the SPEC lists them (the first is the primary output
//! that gradients are taken through). An op that is not in the table is
//! reported UNSUPPORTED, never PASS.

mod augment;
mod classic;
mod detect;
mod detection_models;
mod explain;
mod generative;
mod layers;
mod losses;
mod models;
mod optim;
mod presets;
mod proposals;
mod rcnn;
mod rcnn_heads;
mod segmentation;
mod sequence;
mod style;

use std::cell::RefCell;
use std::collections::BTreeMap;

use burn::tensor::{Device, Int, Tensor, TensorData};
use serde_json::Value;

use super::case::{Case, HostTensor, Kind};
use super::value::DynTensor;

/// An op's implementation.
pub type OpFn = fn(&Ctx) -> Result<Outputs, String>;

/// Finds the implementation of `op`, if the project has one.
pub fn lookup(op: &str) -> Option<OpFn> {
    let f: OpFn = match op {
        "hflip" => augment::hflip,
        "vflip" => augment::vflip,
        "crop" => augment::crop,
        "pad" => augment::pad,
        "adjust_brightness" => augment::adjust_brightness,
        "adjust_contrast" => augment::adjust_contrast,
        "adjust_saturation" => augment::adjust_saturation,
        "rgb_to_grayscale" => augment::rgb_to_grayscale,
        "normalize" => augment::normalize,
        "erase" => augment::erase,
        "mixup" => augment::mixup,
        "cutmix" => augment::cutmix,
        "sample_pairing" => augment::sample_pairing,
        "rgb_to_hsv" => augment::rgb_to_hsv,
        "hsv_to_rgb" => augment::hsv_to_rgb,
        "rgb_to_hsl" => augment::rgb_to_hsl,
        "hsl_to_rgb" => augment::hsl_to_rgb,
        "adjust_hue" => augment::adjust_hue,
        "gaussian_blur" => augment::gaussian_blur,
        "gaussian_noise" => augment::gaussian_noise,
        "rotate" => augment::rotate,
        "resize" => augment::resize,
        "resized_crop" => augment::resized_crop,
        "smote" => augment::smote,
        "affine" => augment::affine,
        "posterize" => augment::posterize,
        "solarize" => augment::solarize,
        "autocontrast" => augment::autocontrast,
        "equalize" => augment::equalize,
        "adjust_sharpness" => augment::adjust_sharpness,
        "invert" => augment::invert,
        "adjust_gamma" => augment::adjust_gamma,
        "smote_counts" => augment::smote_counts,
        "activation" => layers::activation,
        "conv2d" => layers::conv2d,
        "conv_transpose2d" => layers::conv_transpose2d,
        "max_pool2d" => layers::max_pool2d,
        "avg_pool2d" => layers::avg_pool2d,
        "adaptive_avg_pool2d" => layers::adaptive_avg_pool2d,
        "batch_norm" => layers::batch_norm,
        "prelu" => layers::prelu,
        "maxout" => layers::maxout,
        "adaptive_max_pool2d" => layers::adaptive_max_pool2d,
        "spatial_pyramid_pool" => layers::spatial_pyramid_pool,
        "local_response_norm" => layers::local_response_norm,
        "conv_output_size" => layers::conv_output_size,
        "bilinear_kernel" => layers::bilinear_kernel,
        "xavier_uniform_bound" => layers::xavier_uniform_bound,
        "kaiming_normal_std" => layers::kaiming_normal_std,
        "mse_loss" => losses::mse_loss,
        "l1_loss" => losses::l1_loss,
        "smooth_l1_loss" => losses::smooth_l1_loss,
        "huber_loss" => losses::huber_loss,
        "bce_with_logits" => losses::bce_with_logits,
        "cross_entropy" => losses::cross_entropy,
        "half_mse_loss" => losses::half_mse_loss,
        "multiclass_svm_loss" => losses::multiclass_svm_loss,
        "box_iou" => detect::box_iou,
        "generalized_box_iou" => detect::generalized_box_iou,
        "distance_box_iou" => detect::distance_box_iou,
        "complete_box_iou" => detect::complete_box_iou,
        "giou_loss" => detect::giou_loss,
        "diou_loss" => detect::diou_loss,
        "ciou_loss" => detect::ciou_loss,
        "box_convert" => detect::box_convert,
        "nms" => detect::nms,
        "batched_nms" => detect::batched_nms,
        "multibox_prior" => detect::multibox_prior,
        "assign_anchor_to_bbox" => detect::assign_anchor_to_bbox,
        "offset_boxes" => detect::offset_boxes,
        "offset_inverse" => detect::offset_inverse,
        "multibox_target" => detect::multibox_target,
        "multibox_detection" => detect::multibox_detection,
        "roi_pool" => detect::roi_pool,
        "roi_align" => detect::roi_align,
        "gram_matrix" => style::gram_matrix,
        "style_loss" => style::style_loss,
        "content_loss" => style::content_loss,
        "tv_loss" => style::tv_loss,
        "perplexity" => losses::perplexity,
        "l2_penalty" => losses::l2_penalty,
        "l1_penalty" => losses::l1_penalty,
        "optimizer_trajectory" => optim::optimizer_trajectory,
        "lr_schedule" => optim::lr_schedule,
        "weight_average" => optim::weight_average,
        "clip_grad_norm" => optim::clip_grad_norm,
        "gradient_descent" => optim::gradient_descent,
        "model_params" => models::model_params,
        "model_forward" => models::model_forward,
        "detection_forward" => detection_models::detection_forward,
        "rnn" => sequence::rnn,
        "rnn_lm" => sequence::rnn_lm,
        "rnn_lm_predict" => sequence::rnn_lm_predict,
        "rnn_lm_train" => sequence::rnn_lm_train,
        "text_corpus" => sequence::text_corpus,
        "seq_partition" => sequence::seq_partition,
        "segmentation_metrics" => segmentation::segmentation_metrics,
        "voc_label_indices" => segmentation::voc_label_indices,
        "gan_train" => generative::gan_train,
        "vae" => generative::vae,
        "knn" => classic::knn,
        "linear_classifier_loss" => classic::linear_classifier_loss,
        "sobel" => classic::sobel,
        "canny" => classic::canny,
        "hog" => classic::hog,
        "saliency_map" => explain::saliency_map,
        "occlusion_map" => explain::occlusion_map,
        "tsne_affinities" => explain::tsne_affinities,
        "tsne_gradient" => explain::tsne_gradient,
        "preset_classification" => presets::preset_classification,
        "preset_segmentation" => presets::preset_segmentation,
        "preset_detection" => presets::preset_detection,
        "decode_rgb" => presets::decode_rgb,
        "rcnn_transform" => rcnn::rcnn_transform,
        "rcnn_postprocess" => rcnn::rcnn_postprocess,
        "anchor_generator" => rcnn::anchor_generator,
        "box_coder_encode" => rcnn::box_coder_encode,
        "box_coder_decode" => rcnn::box_coder_decode,
        "rpn_filter_proposals" => rcnn::rpn_filter_proposals,
        "rpn_assign_targets" => rcnn::rpn_assign_targets,
        "rpn_loss" => rcnn::rpn_loss,
        "felzenszwalb" => proposals::felzenszwalb,
        "multiscale_roi_align" => rcnn_heads::multiscale_roi_align,
        "roi_heads_assign_targets" => rcnn_heads::roi_heads_assign_targets,
        "fastrcnn_loss" => rcnn_heads::fastrcnn_loss,
        "roi_heads_postprocess" => rcnn_heads::roi_heads_postprocess,
        "maskrcnn_loss" => rcnn_heads::maskrcnn_loss,
        "maskrcnn_inference" => rcnn_heads::maskrcnn_inference,
        "paste_masks_in_image" => rcnn_heads::paste_masks_in_image,
        _ => return None,
    };
    Some(f)
}

/// The name under which a case is UNSUPPORTED although its `op` exists:
/// an architecture the project does not have yet.
pub fn unsupported_variant(case: &Case) -> Option<String> {
    if case.op == "model_params" || case.op == "model_forward" {
        let arch = case.param("arch").and_then(|v| v.as_str()).unwrap_or("");
        if !models::known(arch) {
            return Some(format!("{} (arch {arch})", case.op));
        }
    }
    None
}

/// One output of an op.
pub enum Out {
    /// A float tensor still on the device (gradients flow through it).
    Float(Box<DynTensor>),
    /// A value already on the host (integer results such as indices).
    Host(HostTensor),
}

/// An op's outputs, in the SPEC's order.
#[derive(Default)]
pub struct Outputs(pub Vec<(String, Out)>);

impl Outputs {
    /// Adds a float output.
    pub fn float(mut self, name: &str, t: DynTensor) -> Self {
        self.0.push((name.to_string(), Out::Float(Box::new(t))));
        self
    }

    /// Adds a host output.
    pub fn host(mut self, name: &str, t: HostTensor) -> Self {
        self.0.push((name.to_string(), Out::Host(t)));
        self
    }
}

/// What an op sees of its case: inputs on the device, params, and the
/// leaves whose gradients the runner will read.
pub struct Ctx<'a> {
    case: &'a Case,
    device: Device,
    leaves: RefCell<BTreeMap<String, DynTensor>>,
}

impl<'a> Ctx<'a> {
    /// A context for `case` on `device` (an autodiff device when the case has gradients).
    pub fn new(case: &'a Case, device: Device) -> Self {
        Self {
            case,
            device,
            leaves: RefCell::new(BTreeMap::new()),
        }
    }

    /// All of the case's params.
    pub fn params(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.case.params
    }

    /// The device.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The leaf made for `in.<name>`, if the op asked for it.
    pub fn leaf(&self, name: &str) -> Option<DynTensor> {
        self.leaves.borrow().get(name).cloned()
    }

    /// The case's `w.<key>` weights, by torchvision key.
    pub fn weights(&self) -> &BTreeMap<String, HostTensor> {
        &self.case.weights
    }

    /// Every `in.<name>` of the case, by name.
    pub fn inputs(&self) -> &BTreeMap<String, HostTensor> {
        &self.case.inputs
    }

    /// Whether the case has `in.<name>`.
    pub fn has(&self, name: &str) -> bool {
        self.case.inputs.contains_key(name)
    }

    /// The host tensor `in.<name>`.
    pub fn host(&self, name: &str) -> Result<&HostTensor, String> {
        self.case
            .inputs
            .get(name)
            .ok_or_else(|| format!("missing input `in.{name}`"))
    }

    /// The float input `in.<name>` on the device; a gradient leaf when the
    /// case has `grad.<name>` (the same leaf on every call).
    pub fn input(&self, name: &str) -> Result<DynTensor, String> {
        if let Some(leaf) = self.leaf(name) {
            return Ok(leaf);
        }
        let host = self.host(name)?;
        if host.kind() != Kind::Float {
            return Err(format!(
                "input `in.{name}` has dtype {:?}, expected a float (F32)",
                host.dtype
            ));
        }
        let t = DynTensor::from_host(host, &self.device);
        if self.case.grads.contains_key(name) {
            let t = t.require_grad();
            self.leaves.borrow_mut().insert(name.to_string(), t.clone());
            return Ok(t);
        }
        Ok(t)
    }

    /// The float input `in.<name>` as rank `D`.
    pub fn input_n<const D: usize>(&self, name: &str) -> Result<Tensor<D>, String> {
        self.input(name)?.to::<D>(&format!("in.{name}"))
    }

    /// An optional float input of rank `D`.
    pub fn opt_input_n<const D: usize>(&self, name: &str) -> Result<Option<Tensor<D>>, String> {
        if self.has(name) {
            self.input_n(name).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The integer input `in.<name>` (I64) as rank `D`.
    pub fn int_input_n<const D: usize>(&self, name: &str) -> Result<Tensor<D, Int>, String> {
        let host = self.host(name)?;
        if host.kind() != Kind::Int {
            return Err(format!(
                "input `in.{name}` has dtype {:?}, expected I64",
                host.dtype
            ));
        }
        if host.shape.len() != D {
            return Err(format!(
                "input `in.{name}` must have rank {D}, got shape {:?}",
                host.shape
            ));
        }
        let dims: [usize; D] = host.shape.clone().try_into().unwrap();
        Ok(Tensor::from_data(
            TensorData::new(host.ints.clone(), dims),
            &self.device,
        ))
    }

    /// A param as raw JSON, if present and not null.
    pub fn param(&self, key: &str) -> Option<&Value> {
        self.case.param(key)
    }

    /// A list of numbers with a default.
    pub fn f64_list_or(&self, key: &str, default: &[f64]) -> Result<Vec<f64>, String> {
        match self.param(key) {
            None => Ok(default.to_vec()),
            Some(v) => v
                .as_array()
                .and_then(|items| items.iter().map(|x| x.as_f64()).collect::<Option<Vec<_>>>())
                .ok_or_else(|| format!("param `{key}` must be a list of numbers, got {v}")),
        }
    }

    /// A number param.
    pub fn f64(&self, key: &str) -> Result<f64, String> {
        let v = self
            .param(key)
            .ok_or_else(|| format!("missing param `{key}`"))?;
        v.as_f64()
            .ok_or_else(|| format!("param `{key}` must be a number, got {v}"))
    }

    /// A number param with a default.
    pub fn f64_or(&self, key: &str, default: f64) -> Result<f64, String> {
        if self.param(key).is_some() {
            self.f64(key)
        } else {
            Ok(default)
        }
    }

    /// A non-negative integer param with a default.
    pub fn usize_or(&self, key: &str, default: usize) -> Result<usize, String> {
        match self.param(key) {
            None => Ok(default),
            Some(v) => v
                .as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| format!("param `{key}` must be a non-negative integer, got {v}")),
        }
    }

    /// An integer param (possibly negative) with a default.
    pub fn isize_or(&self, key: &str, default: isize) -> Result<isize, String> {
        match self.param(key) {
            None => Ok(default),
            Some(v) => v
                .as_i64()
                .map(|n| n as isize)
                .ok_or_else(|| format!("param `{key}` must be an integer, got {v}")),
        }
    }

    /// A boolean param with a default.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, String> {
        match self.param(key) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| format!("param `{key}` must be a boolean, got {v}")),
        }
    }

    /// A string param with a default.
    pub fn str_or<'s>(&'s self, key: &str, default: &'s str) -> Result<&'s str, String> {
        match self.param(key) {
            None => Ok(default),
            Some(v) => v
                .as_str()
                .ok_or_else(|| format!("param `{key}` must be a string, got {v}")),
        }
    }

    /// A spatial param `[h, w]` (a single integer `n` means `[n, n]`, as torch allows).
    pub fn pair(&self, key: &str) -> Result<[usize; 2], String> {
        let v = self
            .param(key)
            .ok_or_else(|| format!("missing param `{key}`"))?;
        let bad = || format!("param `{key}` must be [h, w] of non-negative integers, got {v}");
        if let Some(n) = v.as_u64() {
            return Ok([n as usize; 2]);
        }
        let items = v.as_array().ok_or_else(bad)?;
        let nums: Vec<usize> = items
            .iter()
            .map(|x| x.as_u64().map(|n| n as usize))
            .collect::<Option<_>>()
            .ok_or_else(bad)?;
        match nums.as_slice() {
            [n] => Ok([*n, *n]),
            [h, w] => Ok([*h, *w]),
            _ => Err(bad()),
        }
    }

    /// A list of non-negative integers.
    pub fn usize_list(&self, key: &str) -> Result<Vec<usize>, String> {
        let v = self
            .param(key)
            .ok_or_else(|| format!("missing param `{key}`"))?;
        v.as_array()
            .and_then(|items| {
                items
                    .iter()
                    .map(|x| x.as_u64().map(|n| n as usize))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| {
                format!("param `{key}` must be a list of non-negative integers, got {v}")
            })
    }

    /// A spatial param with a default.
    pub fn pair_or(&self, key: &str, default: [usize; 2]) -> Result<[usize; 2], String> {
        if self.param(key).is_some() {
            self.pair(key)
        } else {
            Ok(default)
        }
    }
}
