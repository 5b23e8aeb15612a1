"""Writes parity cases (the SPEC's format) for torchvision's inference
presets on a user's photo and for PIL's decoding to RGB, into
`xtask/cases/` (committed; CI runs them on every device):

    python3 scripts/make_preset_cases.py xtask/cases
    cargo xtask conformance xtask/cases --device flex \
        --ops preset_classification,preset_segmentation,preset_detection,decode_rgb

The path is torchvision's for a file: `Image.open(f).convert("RGB")`, then
`transforms._presets.ImageClassification` / `SemanticSegmentation` /
`ObjectDetection` on the PIL image (the resize runs in PIL).

Every case holds the encoded file, `in.file` (U8 [n]). Outputs:

- `out.image` [3, H, W]: the preset's output (`decode_rgb`: the RGB image
  / 255, which is also `ObjectDetection`'s);
- `out.pixels` (U8 [3, H, W], compared exactly): the 8-bit image the preset
  normalises (`pil_to_tensor` of the resized, cropped PIL image;
  `decode_rgb`: `pil_to_tensor(img.convert("RGB"))`).

Params: `preset_classification`: crop_size, resize_size, mean, std,
interpolation (nearest / bilinear / bicubic), antialias;
`preset_segmentation`: resize_size (null: no resize), mean, std,
interpolation, antialias; `preset_detection`, `decode_rgb`: none.

Inputs: the two photographs of assets/images (full size, JPEG), a crop of
chelsea decoded by PIL and stored as PNG, and small images of every mode
PIL and the `image` crate decode differently (grey L of 1, 2, 4, 8 bits,
LA, RGBA, P with transparency, 16-bit grey (PIL's I;16, also with a
transparent value), 16-bit grey + alpha, 16-bit RGB and RGBA, RGB with a
transparent colour; JPEGs: grey, RGB 4:2:0, CMYK), made with numpy's
generator seeded 0 and stored inside the cases. 16-bit PNGs are written
chunk by chunk (PIL does not write them).

Tolerances. PNG inputs are integer-exact: `out.pixels` must match exactly
and `out.image` within 1e-6 (float32 `/ 255`, `- mean`, `/ std` as torch
computes them give the same bits). JPEG inputs are not: the zoo decodes
with zune-jpeg (through the `image` crate), whose integer IDCT and
two-stage rounded chroma upsampling are not libjpeg-turbo's ISLOW IDCT and
"fancy" upsampling that PIL uses (no option of the decoder changes that);
the colour conversion agrees. Measured decode differences, in 8-bit levels
(max / mean over all samples / share of samples differing): chelsea.jpg
4 / 0.176 / 12.6%, hubble_deep_field.jpg 4 / 0.154 / 10.9%, the generated
32x24 RGB 4:2:0 JPEG 9 / 0.358 / 24% (9 on its last row and column, where
the chroma upsampling meets the partial MCU; 3 inside), the grey JPEG
1 / 0.009 / 0.9% (the IDCT alone), the CMYK JPEG 2 / 0.023 / 2.3%.
After a preset the difference is about that many levels / 255 / std (4
levels through std 0.229: 0.0685; resizing averages some of it away), so
a JPEG case allows `atol` = the measured maximum of its own output
difference rounded up (`JPEG_ATOL` below, measured with `cargo xtask
conformance` on the cases written with atol 0), and has no `out.pixels`.
The full-size photos' `out.image` is stored as F16 to keep the files small
(its rounding, at most 1e-3, is included in the measurement and far below
those tolerances); every other float is F32.
"""

import io
import json
import os
import struct
import sys
import zlib

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as F
from torchvision.transforms._presets import ImageClassification, ObjectDetection, SemanticSegmentation

import PIL

SOURCE = f"torchvision {torchvision.__version__} (torch {torch.__version__}), Pillow {PIL.__version__}"
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))

# The atol of each JPEG case (by file name): the maximum difference of the
# zoo's output from torchvision's, measured with `cargo xtask conformance`
# on cases written with atol 0, rounded up. A JPEG case missing here is
# written with atol 0, to be measured.
JPEG_ATOL = {
    # 4 levels / 255 / 0.229 = 0.0685 where the resize keeps a pixel's error.
    "preset_classification__chelsea_resnet50_v1_224_256": 0.07,  # 0.0687
    "preset_classification__hubble_resnet50_v2_224_232": 0.055,  # 0.0524
    "preset_classification__chelsea_inception_v3_299_342": 0.055,  # 0.0527
    "preset_classification__hubble_efficientnet_b0_224_256_bicubic": 0.055,  # 0.0527
    "preset_classification__grey_jpeg_16_20": 0.02,  # 0.0175 (1 level)
    "preset_classification__rgb420_jpeg_16_20_bicubic": 0.055,  # 0.0523
    "preset_classification__cmyk_jpeg_16_20": 0.02,  # 0.0175
    # Its last row and column differ by up to 9 levels (the chroma
    # upsampling at a partial MCU's edge), upscaled: 0.122.
    "preset_segmentation__rgb420_jpeg_20": 0.125,
    "preset_detection__grey_jpeg": 0.005,  # 1 level: 0.0039
    "decode_rgb__grey_jpeg": 0.005,  # 1 level: 0.0039
    "decode_rgb__rgb420_jpeg": 0.04,  # 9 levels: 0.0353
    "decode_rgb__cmyk_jpeg": 0.01,  # 2 levels: 0.0078
}

DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.int64: "I64", torch.uint8: "U8"}


def write(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name, t in tensors.items():
        t = t.contiguous()
        raw = t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(w, h, depth, colour, rows, extra=b""):
    """A PNG written chunk by chunk: rows are the packed bytes of each row."""
    raw = b"".join(b"\x00" + r for r in rows)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def png16(a, colour, extra=b""):
    h, w = a.shape[:2]
    return png(w, h, 16, colour, [a[y].astype(">u2").tobytes() for y in range(h)], extra)


def low_bit_grey(g, bits):
    h, w = g.shape
    rows = []
    for y in range(h):
        v = n = 0
        out = bytearray()
        for x in range(w):
            v, n = (v << bits) | int(g[y, x]), n + bits
            if n == 8:
                out.append(v)
                v = n = 0
        if n:
            out.append(v << (8 - n))
        rows.append(bytes(out))
    return png(w, h, bits, 0, rows)


def encode(img, fmt, **kw):
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    return b.getvalue()


def inputs():
    """name -> (file bytes, is_jpeg)."""
    rng = np.random.default_rng(0)
    files = {}
    for name, f in [("chelsea", "chelsea.jpg"), ("hubble", "hubble_deep_field.jpg")]:
        with open(os.path.join(ROOT, "assets", "images", f), "rb") as fh:
            files[name] = (fh.read(), True)
    chelsea = Image.open(io.BytesIO(files["chelsea"][0])).convert("RGB")
    files["chelsea_crop_png"] = (encode(chelsea.crop((150, 60, 310, 180)), "PNG"), False)
    W, H = 29, 21
    u8 = lambda *shape: rng.integers(0, 256, shape, dtype=np.uint8)
    files["rgb_png"] = (encode(Image.fromarray(u8(H, W, 3), "RGB"), "PNG"), False)
    files["l_png"] = (encode(Image.fromarray(u8(H, W), "L"), "PNG"), False)
    files["la_png"] = (encode(Image.fromarray(u8(H, W, 2), "LA"), "PNG"), False)
    files["rgba_png"] = (encode(Image.fromarray(u8(H, W, 4), "RGBA"), "PNG"), False)
    p = Image.fromarray(rng.integers(0, 16, (H, W), dtype=np.uint8), "P")
    p.putpalette(u8(48).tolist())
    files["p_trns_png"] = (encode(p, "PNG", transparency=bytes([0, 128, 255, 7])), False)
    files["p4_png"] = (encode(p, "PNG", bits=4), False)
    for bits in (1, 2, 4):
        files[f"l{bits}_png"] = (low_bit_grey(rng.integers(0, 1 << bits, (H, W), dtype=np.uint8), bits), False)
    # 16-bit grey: values around 255 so PIL's clamp shows, and the full range.
    g16 = rng.integers(0, 65536, (H, W), dtype=np.uint16)
    g16[: H // 2] = rng.integers(0, 400, (H // 2, W), dtype=np.uint16)
    files["l16_png"] = (png16(g16, 0), False)
    files["l16_trns_png"] = (png16(g16, 0, chunk(b"tRNS", struct.pack(">H", int(g16[0, 0])))), False)
    files["la16_png"] = (png16(rng.integers(0, 65536, (H, W, 2), dtype=np.uint16), 4), False)
    files["rgb16_png"] = (png16(rng.integers(0, 65536, (H, W, 3), dtype=np.uint16), 2), False)
    files["rgba16_png"] = (png16(rng.integers(0, 65536, (H, W, 4), dtype=np.uint16), 6), False)
    rgb = u8(H, W, 3)
    files["rgb_trns_png"] = (encode(Image.fromarray(rgb, "RGB"), "PNG", transparency=tuple(int(v) for v in rgb[0, 0])), False)
    files["one_pixel_png"] = (encode(Image.fromarray(u8(1, 1, 3), "RGB"), "PNG"), False)
    files["tiny_png"] = (encode(Image.fromarray(u8(5, 7, 3), "RGB"), "PNG"), False)
    files["square_png"] = (encode(Image.fromarray(u8(6, 6, 3), "RGB"), "PNG"), False)
    # JPEGs: smooth gradients with noise, as a photo's content.
    yy, xx = np.mgrid[0:24, 0:32]
    grad = ((yy * 8 + xx * 5) % 256).astype(np.uint8)
    noise = rng.integers(0, 40, (24, 32), dtype=np.uint8)
    files["grey_jpeg"] = (encode(Image.fromarray(grad + noise, "L"), "JPEG", quality=90), True)
    rgbj = np.stack([grad, 255 - grad, grad // 2 + noise], -1).astype(np.uint8)
    files["rgb420_jpeg"] = (encode(Image.fromarray(rgbj, "RGB"), "JPEG", quality=90), True)
    cmyk = np.concatenate([rgbj, noise[..., None]], -1)
    files["cmyk_jpeg"] = (encode(Image.fromarray(cmyk, "CMYK"), "JPEG", quality=90), True)
    return files


def file_tensor(data):
    return torch.frombuffer(bytearray(data), dtype=torch.uint8)


def opened(data):
    return Image.open(io.BytesIO(data)).convert("RGB")


def chw(img):
    return F.pil_to_tensor(img)


def case(out, op, name, params, data, jpeg, image, pixels, f16=False):
    tensors = {"in.file": file_tensor(data)}
    tensors["out.image"] = image.to(torch.float16 if f16 else torch.float32)
    if pixels is not None and not jpeg:
        tensors["out.pixels"] = pixels
    file = f"{op}__{name.split('__')[-1]}"
    atol = JPEG_ATOL.get(file, 0) if jpeg else 1e-6
    meta = {"op": op, "params": json.dumps(params), "rtol": "0", "atol": str(atol), "source": SOURCE}
    write(os.path.join(out, f"{file}.safetensors"), tensors, meta)


def classification(out, files, what, src, crop, resize, interp="bilinear", mean_std=IMAGENET, f16=False):
    data, jpeg = files[src]
    mean, std = mean_std
    mode = InterpolationMode(interp)
    preset = ImageClassification(crop_size=crop, resize_size=resize, mean=mean, std=std, interpolation=mode)
    img = opened(data)
    y = preset(img)
    pixels = chw(F.center_crop(F.resize(img, [resize], interpolation=mode), [crop]))
    assert torch.equal(F.normalize(pixels.float() / 255, mean=list(mean), std=list(std)), y)
    params = {"crop_size": crop, "resize_size": resize, "mean": list(mean), "std": list(std),
              "interpolation": interp, "antialias": True}
    case(out, "preset_classification", f"{src}__{what}", params, data, jpeg, y, pixels, f16)


def segmentation(out, files, what, src, resize, interp="bilinear", image=True):
    data, jpeg = files[src]
    mode = InterpolationMode(interp)
    preset = SemanticSegmentation(resize_size=resize, interpolation=mode)
    img = opened(data)
    y = preset(img)
    pixels = chw(F.resize(img, [resize], interpolation=mode) if resize is not None else img)
    params = {"resize_size": resize, "mean": list(IMAGENET[0]), "std": list(IMAGENET[1]),
              "interpolation": interp, "antialias": True}
    if image:
        case(out, "preset_segmentation", f"{src}__{what}", params, data, jpeg, y, pixels)
    else:
        # Only the 8-bit image: the float output of a 520-pixel side would
        # be 3 MB; its normalisation is checked by the other cases.
        assert not jpeg
        tensors = {"in.file": file_tensor(data), "out.pixels": pixels}
        meta = {"op": "preset_segmentation", "params": json.dumps(params), "rtol": "0", "atol": "1e-6", "source": SOURCE}
        write(os.path.join(out, f"preset_segmentation__{what}.safetensors"), tensors, meta)


def detection(out, files, what, src):
    data, jpeg = files[src]
    img = opened(data)
    y = ObjectDetection()(img)
    case(out, "preset_detection", f"{src}__{what}", {}, data, jpeg, y, chw(img))


def decode(out, files, src):
    data, jpeg = files[src]
    pixels = chw(opened(data))
    case(out, "decode_rgb", f"{src}__{src}", {}, data, jpeg, pixels.float() / 255, pixels)


def main(out, dump=None):
    os.makedirs(out, exist_ok=True)
    files = inputs()
    if dump:
        # The inputs as files, to measure the JPEG decoders' difference.
        os.makedirs(dump, exist_ok=True)
        for name, (data, jpeg) in files.items():
            with open(os.path.join(dump, name + (".jpg" if jpeg else ".png")), "wb") as f:
                f.write(data)
    # The full-size photographs, with the weights' presets (4 cases).
    classification(out, files, "chelsea_resnet50_v1_224_256", "chelsea", 224, 256, f16=True)
    classification(out, files, "hubble_resnet50_v2_224_232", "hubble", 224, 232, f16=True)
    classification(out, files, "chelsea_inception_v3_299_342", "chelsea", 299, 342, f16=True)
    classification(out, files, "hubble_efficientnet_b0_224_256_bicubic", "hubble", 224, 256, "bicubic", f16=True)
    # Real content, exact: a crop of chelsea as PIL decodes it, as PNG.
    classification(out, files, "chelsea_crop_64_72_bicubic", "chelsea_crop_png", 64, 72, "bicubic")
    # Small images: down- and upscaling, each filter, crop offsets that
    # round half to even, a crop larger than the resized image (zero
    # padding), another mean and std.
    classification(out, files, "rgb_12_16_bilinear", "rgb_png", 12, 16)
    classification(out, files, "rgb_12_16_bicubic", "rgb_png", 12, 16, "bicubic")
    classification(out, files, "rgb_12_16_nearest", "rgb_png", 12, 16, "nearest")
    classification(out, files, "rgb_10_15_half_to_even", "rgb_png", 10, 15)
    classification(out, files, "rgb_24_16_crop_larger_pads", "rgb_png", 24, 16)
    classification(out, files, "rgb_25_14_crop_larger_odd", "rgb_png", 25, 14, "bicubic")
    classification(out, files, "tiny_upscale_20_24_bilinear", "tiny_png", 20, 24)
    classification(out, files, "tiny_upscale_20_24_bicubic", "tiny_png", 20, 24, "bicubic")
    classification(out, files, "tiny_upscale_20_24_nearest", "tiny_png", 20, 24, "nearest")
    classification(out, files, "one_pixel_8_8", "one_pixel_png", 8, 8)
    classification(out, files, "l16_12_16_mean_std", "l16_png", 12, 16, mean_std=((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)))
    classification(out, files, "p_trns_12_16_bicubic", "p_trns_png", 12, 16, "bicubic")
    classification(out, files, "grey_jpeg_16_20", "grey_jpeg", 16, 20)
    classification(out, files, "rgb420_jpeg_16_20_bicubic", "rgb420_jpeg", 16, 20, "bicubic")
    classification(out, files, "cmyk_jpeg_16_20", "cmyk_jpeg", 16, 20)
    # Segmentation: the weights' 520 (8-bit image only), smaller sides, none.
    segmentation(out, files, "square_520_bilinear", "square_png", 520, image=False)
    segmentation(out, files, "rgba_16_bilinear", "rgba_png", 16)
    segmentation(out, files, "rgb_40_bicubic", "rgb_png", 40, "bicubic")
    segmentation(out, files, "la_none", "la_png", None)
    segmentation(out, files, "rgb420_jpeg_20", "rgb420_jpeg", 20)
    # Detection: to float.
    detection(out, files, "rgb16", "rgb16_png")
    detection(out, files, "p_trns", "p_trns_png")
    detection(out, files, "grey_jpeg", "grey_jpeg")
    # Decoding every mode.
    for src in ["l_png", "la_png", "rgba_png", "p_trns_png", "p4_png", "l1_png", "l2_png", "l4_png",
                "l16_png", "l16_trns_png", "la16_png", "rgb16_png", "rgba16_png", "rgb_trns_png",
                "one_pixel_png", "grey_jpeg", "rgb420_jpeg", "cmyk_jpeg"]:
        decode(out, files, src)


if __name__ == "__main__":
    args = sys.argv[1:]
    dump = None
    if "--dump" in args:
        i = args.index("--dump")
        dump = args[i + 1]
        del args[i : i + 2]
    main(args[0] if args else "xtask/cases", dump)
