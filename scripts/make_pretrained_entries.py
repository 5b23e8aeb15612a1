"""Writes zoo-models' weight entries and category lists from torchvision's
own source: `crates/zoo-models/src/pretrained/entries.rs` (one
`WeightsEntry` per member of each model's `*_Weights` enum, and its
`DEFAULT`) and `crates/zoo-models/data/{imagenet,coco,voc}_categories.txt`
(`_IMAGENET_CATEGORIES`, `_COCO_CATEGORIES`, `_VOC_CATEGORIES` of
`torchvision/models/_meta.py`, one a line).

torchvision is read as source, not imported (no torch needed): the
`Weights(...)` expressions and the `_COMMON_META` dictionaries are evaluated
with stand-ins for `partial`, the preset classes and the category lists.

    pip download torchvision==0.29.2 --no-deps -d /tmp/tv
    (cd /tmp/tv && unzip -q -o torchvision-*.whl 'torchvision/models/*')
    python3 scripts/make_pretrained_entries.py /tmp/tv/torchvision
    rustfmt --edition 2024 crates/zoo-models/src/pretrained/entries.rs
"""

import ast
import math
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODELS_SRC = ROOT / "crates/zoo-models/src/pretrained/entries.rs"
DATA = ROOT / "crates/zoo-models/data"

# The zoo's models with torchvision weights, by torchvision module, in the
# registry's order; then the segmentation and detection models.
MODULES = [
    ("alexnet.py", ["alexnet"]),
    (
        "vgg.py",
        ["vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"],
    ),
    ("googlenet.py", ["googlenet"]),
    ("inception.py", ["inception_v3"]),
    (
        "resnet.py",
        [
            "resnet18",
            "resnet34",
            "resnet50",
            "resnet101",
            "resnet152",
            "resnext50_32x4d",
            "resnext101_32x8d",
            "resnext101_64x4d",
            "wide_resnet50_2",
            "wide_resnet101_2",
        ],
    ),
    ("densenet.py", ["densenet121", "densenet161", "densenet169", "densenet201"]),
    ("segmentation/fcn.py", ["fcn_resnet50", "fcn_resnet101"]),
    # The two-stage detectors (zoo-detect's `rcnn::models`).
    ("detection/faster_rcnn.py", ["fasterrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn_v2"]),
    ("detection/mask_rcnn.py", ["maskrcnn_resnet50_fpn"]),
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Preset:
    def __init__(self, kind, **kw):
        self.kind = kind
        self.kw = kw


def preset(kind):
    return lambda **kw: Preset(kind, **kw)


def partial(f, **kw):
    return f(**kw)


class Interp:
    BILINEAR = "Bilinear"
    BICUBIC = "Bicubic"


def weights(url, transforms, meta):
    return {"url": url, "transforms": transforms, "meta": meta}


ENV = {
    "Weights": weights,
    "partial": partial,
    "ImageClassification": preset("Classification"),
    "SemanticSegmentation": preset("Segmentation"),
    "ObjectDetection": preset("Detection"),
    "InterpolationMode": Interp,
    "_IMAGENET_CATEGORIES": "ImageNet1k",
    "_COCO_CATEGORIES": "Coco",
    "_VOC_CATEGORIES": "Voc",
    "float": float,
    "None": None,
}


def evaluate(node, names):
    return eval(compile(ast.Expression(node), "<torchvision>", "eval"), dict(ENV, **names))


def hash_prefix(url):
    # torch.hub's HASH_REGEX = re.compile(r"-([a-f0-9]*)\.") on the file name.
    import re

    m = re.search(r"-([a-f0-9]*)\.", url.rsplit("/", 1)[1])
    return m.group(1)


def builders(tree):
    """builder name -> its weights enum's name (the `weights` annotation)."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            for arg in node.args.kwonlyargs:
                if arg.arg == "weights" and arg.annotation is not None:
                    ann = ast.unparse(arg.annotation)
                    out[node.name] = ann.removeprefix("Optional[").removesuffix("]")
    return out


def enums(tree, names):
    """enum name -> ([(tag, Weights)], default tag)."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id == "_COMMON_META":
                names["_COMMON_META"] = evaluate(node.value, names)
        if isinstance(node, ast.ClassDef) and any(
            ast.unparse(b) == "WeightsEnum" for b in node.bases
        ):
            members, default = [], None
            for item in node.body:
                if not isinstance(item, ast.Assign):
                    continue
                tag = item.targets[0].id
                if isinstance(item.value, ast.Name):
                    assert tag == "DEFAULT", tag
                    default = item.value.id
                else:
                    members.append((tag, evaluate(item.value, names)))
            out[node.name] = (members, default)
    return out


def rs_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rs_f64(x):
    if isinstance(x, float) and math.isnan(x):
        return "f64::NAN"
    r = repr(float(x))
    return r


def rs_triple(t):
    return "[" + ", ".join(rs_f64(x) for x in t) + "]"


def rs_preset(p):
    if callable(p):
        # `transforms=ObjectDetection`: the preset class itself, no arguments.
        p = p()
    kw = dict(p.kw)
    mean = kw.pop("mean", IMAGENET_MEAN)
    std = kw.pop("std", IMAGENET_STD)
    interp = kw.pop("interpolation", Interp.BILINEAR)
    kw.pop("antialias", None)
    if p.kind == "Classification":
        crop = kw.pop("crop_size")
        resize = kw.pop("resize_size", 256)
        assert not kw, kw
        return (
            f"PresetSpec::Classification {{ crop_size: {crop}, resize_size: {resize}, "
            f"interpolation: Interpolation::{interp}, mean: {rs_triple(mean)}, std: {rs_triple(std)} }}"
        )
    if p.kind == "Segmentation":
        resize = kw.pop("resize_size")
        assert not kw, kw
        r = "None" if resize is None else f"Some({resize})"
        return (
            f"PresetSpec::Segmentation {{ resize_size: {r}, interpolation: Interpolation::{interp}, "
            f"mean: {rs_triple(mean)}, std: {rs_triple(std)} }}"
        )
    return "PresetSpec::Detection"


def rs_metrics(m):
    ((dataset, values),) = m.items()
    if dataset == "ImageNet-1K":
        return f"Metrics::ImageNet {{ acc1: {rs_f64(values['acc@1'])}, acc5: {rs_f64(values['acc@5'])} }}"
    if dataset == "COCO-val2017-VOC-labels":
        return f"Metrics::CocoVoc {{ miou: {rs_f64(values['miou'])}, pixel_acc: {rs_f64(values['pixel_acc'])} }}"
    if dataset == "COCO-val2017":
        mask = values.get("mask_map")
        mask = "None" if mask is None else f"Some({rs_f64(mask)})"
        return f"Metrics::Coco {{ box_map: {rs_f64(values['box_map'])}, mask_map: {mask} }}"
    raise ValueError(dataset)


def rs_entry(model, enum, tag, w):
    meta = w["meta"]
    cats = meta.get("categories")
    cats = "None" if cats is None else f"Some(Categories::{cats})"
    recipe = meta.get("recipe")
    recipe = "None" if recipe is None else f"Some({rs_str(recipe)})"
    h, wd = meta["min_size"]
    return f"""WeightsEntry {{
        model: {rs_str(model)},
        enum_name: {rs_str(enum)},
        tag: {rs_str(tag)},
        url: {rs_str(w['url'])},
        sha256_prefix: {rs_str(hash_prefix(w['url']))},
        preset: {rs_preset(w['transforms'])},
        categories: {cats},
        metrics: {rs_metrics(meta['_metrics'])},
        num_params: {meta['num_params']:_},
        gflops: {rs_f64(meta['_ops'])},
        file_size_mb: {rs_f64(meta['_file_size'])},
        min_size: [{h}, {wd}],
        recipe: {recipe},
    }}"""


def main(tv):
    tv = pathlib.Path(tv)
    models_dir = tv / "models"
    meta_ns = {}
    exec((models_dir / "_meta.py").read_text(), meta_ns)
    DATA.mkdir(parents=True, exist_ok=True)
    for name, var in [
        ("imagenet", "_IMAGENET_CATEGORIES"),
        ("coco", "_COCO_CATEGORIES"),
        ("voc", "_VOC_CATEGORIES"),
    ]:
        cats = meta_ns[var]
        assert all("\n" not in c for c in cats)
        (DATA / f"{name}_categories.txt").write_text("\n".join(cats) + "\n")

    version = (tv / "version.py").read_text() if (tv / "version.py").exists() else ""
    version = next(
        (l.split("=")[1].strip().strip("'\"").split("+")[0] for l in version.splitlines() if l.startswith("__version__")),
        "unknown",
    )
    tables = []
    for module, models in MODULES:
        tree = ast.parse((models_dir / module).read_text())
        names = {}
        all_enums = enums(tree, names)
        by_builder = builders(tree)
        for model in models:
            enum = by_builder[model]
            members, default = all_enums[enum]
            entries = ",\n".join(rs_entry(model, enum, tag, w) for tag, w in members)
            tables.append(
                f"""ModelWeights {{
    model: {rs_str(model)},
    enum_name: {rs_str(enum)},
    default: {rs_str(default)},
    entries: &[{entries}],
}}"""
            )
    out = f"""//! The weight entries, generated by `scripts/make_pretrained_entries.py`
//! from torchvision {version}'s source (`torchvision/models/*.py`: each
//! `*_Weights` enum's members, their `transforms` and `meta`, and its
//! `DEFAULT`). Do not edit by hand: regenerate.

use super::{{Categories, Interpolation, Metrics, PresetSpec, WeightsEntry}};

/// A model's weights enum: its members and torchvision's `DEFAULT`.
pub(crate) struct ModelWeights {{
    /// The builder's name (`resnet50`).
    pub model: &'static str,
    /// The enum's name (`ResNet50_Weights`).
    pub enum_name: &'static str,
    /// The tag `DEFAULT` stands for.
    pub default: &'static str,
    /// The members, in torchvision's order.
    pub entries: &'static [WeightsEntry],
}}

/// Every model with published weights, the registry's order.
pub(crate) static MODELS: &[ModelWeights] = &[
{",".join(tables)}
];
"""
    MODELS_SRC.parent.mkdir(parents=True, exist_ok=True)
    MODELS_SRC.write_text(out)
    print(f"wrote {MODELS_SRC} ({len(tables)} models) and {DATA}/*_categories.txt")


if __name__ == "__main__":
    main(sys.argv[1])
