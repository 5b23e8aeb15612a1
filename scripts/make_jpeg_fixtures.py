"""Writes the JPEG fixtures of `datasets/tests/jpeg.rs`: small JPEG files
and the pixels PIL decodes from them, which `zoo_datasets::jpeg` must
reproduce byte for byte.

    python3 scripts/make_jpeg_fixtures.py datasets/tests/data/jpeg
    python3 scripts/make_jpeg_fixtures.py /tmp/many --many 400   # a larger random sweep

For each case NAME it writes NAME.jpg and:

- NAME.png: the pixels of `Image.open(f)` in PIL's mode (L or RGB; a
  CMYK image as an RGBA PNG of its C, M, Y, K bytes) and, for CMYK,
  NAME.rgb.png, its `convert("RGB")`;
- or NAME.err when PIL refuses the file: a first line `truncated`,
  `unsupported` or `corrupt` (what the Rust error must be), then PIL's
  message; for a truncated file also NAME.loadtrunc.png, what PIL gives
  with `ImageFile.LOAD_TRUNCATED_IMAGES = True` (NAME.loadtrunc.err when
  it cannot open the file even so).

The files come from PIL's own encoder (qualities 10..100, subsampling
4:4:4 / 4:2:2 / 4:2:0, progressive, optimized tables, restart markers,
grey, CMYK, keep_rgb, odd sizes), from edits of its output (scans cut off,
which turns on libjpeg's block smoothing; data cut short, with or without
an end marker; garbage between markers; restart markers out of order),
and from the small baseline / spectral-selection encoder below, for what
PIL cannot write: other sampling factors (4:4:0, 4:1:1, 3x1, 1x1 luma with
2x2 chroma, ...), non-interleaved scans, no Huffman tables (libjpeg's
defaults), RGB / YCCK / plain CMYK colour transforms, progressive files
whose scans leave coefficients out.

It also prints the SHA-256 of PIL's `convert("RGB")` of the photos in
assets/images, which the Rust test compares against.
"""

import argparse
import hashlib
import io
import os
import random
import struct
import sys
import zlib

import numpy as np
from PIL import Image, ImageFile, features

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

ZIGZAG = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27,
    20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58,
    59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
]

STD_BITS = {
    ("dc", 0): [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
    ("dc", 1): [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
    ("ac", 0): [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 125],
    ("ac", 1): [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 119],
}
STD_VALS = {
    ("dc", 0): list(range(12)),
    ("dc", 1): list(range(12)),
    ("ac", 0): [
        1, 2, 3, 0, 4, 17, 5, 18, 33, 49, 65, 6, 19, 81, 97, 7, 34, 113, 20, 50, 129, 145, 161, 8,
        35, 66, 177, 193, 21, 82, 209, 240, 36, 51, 98, 114, 130, 9, 10, 22, 23, 24, 25, 26, 37, 38,
        39, 40, 41, 42, 52, 53, 54, 55, 56, 57, 58, 67, 68, 69, 70, 71, 72, 73, 74, 83, 84, 85, 86,
        87, 88, 89, 90, 99, 100, 101, 102, 103, 104, 105, 106, 115, 116, 117, 118, 119, 120, 121,
        122, 131, 132, 133, 134, 135, 136, 137, 138, 146, 147, 148, 149, 150, 151, 152, 153, 154,
        162, 163, 164, 165, 166, 167, 168, 169, 170, 178, 179, 180, 181, 182, 183, 184, 185, 186,
        194, 195, 196, 197, 198, 199, 200, 201, 202, 210, 211, 212, 213, 214, 215, 216, 217, 218,
        225, 226, 227, 228, 229, 230, 231, 232, 233, 234, 241, 242, 243, 244, 245, 246, 247, 248,
        249, 250,
    ],
    ("ac", 1): [
        0, 1, 2, 3, 17, 4, 5, 33, 49, 6, 18, 65, 81, 7, 97, 113, 19, 34, 50, 129, 8, 20, 66, 145,
        161, 177, 193, 9, 35, 51, 82, 240, 21, 98, 114, 209, 10, 22, 36, 52, 225, 37, 241, 23, 24,
        25, 26, 38, 39, 40, 41, 42, 53, 54, 55, 56, 57, 58, 67, 68, 69, 70, 71, 72, 73, 74, 83, 84,
        85, 86, 87, 88, 89, 90, 99, 100, 101, 102, 103, 104, 105, 106, 115, 116, 117, 118, 119, 120,
        121, 122, 130, 131, 132, 133, 134, 135, 136, 137, 138, 146, 147, 148, 149, 150, 151, 152,
        153, 154, 162, 163, 164, 165, 166, 167, 168, 169, 170, 178, 179, 180, 181, 182, 183, 184,
        185, 186, 194, 195, 196, 197, 198, 199, 200, 201, 202, 210, 211, 212, 213, 214, 215, 216,
        217, 218, 226, 227, 228, 229, 230, 231, 232, 233, 234, 242, 243, 244, 245, 246, 247, 248,
        249, 250,
    ],
}

# Annex K's tables, scaled as libjpeg scales them for a quality.
LUMA_Q = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69,
    56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104,
    113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
]
CHROMA_Q = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99,
    99, 47, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
]


def scaled_q(table, quality):
    s = 5000 // quality if quality < 50 else 200 - 2 * quality
    return [min(255, max(1, (v * s + 50) // 100)) for v in table]


DCT = np.array(
    [
        [(np.sqrt(1 / 8) if u == 0 else np.sqrt(2 / 8)) * np.cos((2 * x + 1) * u * np.pi / 16) for x in range(8)]
        for u in range(8)
    ]
)


def codes(bits, vals):
    """The Huffman code of each symbol: symbol -> (code, length)."""
    out, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(bits[length - 1]):
            out[vals[k]] = (code, length)
            k += 1
            code += 1
        code <<= 1
    return out


class Bits:
    """Writes bits MSB first, stuffing 00 after FF, padding with 1s."""

    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, value, length):
        if length == 0:
            return
        self.acc = (self.acc << length) | (value & ((1 << length) - 1))
        self.n += length
        while self.n >= 8:
            b = (self.acc >> (self.n - 8)) & 0xFF
            self.out.append(b)
            if b == 0xFF:
                self.out.append(0)
            self.n -= 8
        self.acc &= (1 << self.n) - 1

    def flush(self):
        if self.n:
            self.put((1 << (8 - self.n)) - 1, 8 - self.n)
        data = bytes(self.out)
        self.out = bytearray()
        return data


def magnitude(v):
    """(category, bits) of a DC difference or AC value."""
    s = int(abs(v)).bit_length()
    return s, (v if v >= 0 else v + (1 << s) - 1)


def segment(marker, payload):
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def encode(
    comps,
    width,
    height,
    seed,
    quality=75,
    interleaved=True,
    restart=0,
    jfif=True,
    adobe=None,
    dht=True,
    progressive=None,
    q16=False,
    qscale=1,
):
    """A JPEG of random smooth content: `comps` a list of (id, h, v, table
    index 0/1); baseline (SOF0) unless `progressive` is a list of scans
    (component indices, Ss, Se, Al), spectral selection only (Ah = 0);
    `q16` writes 16-bit quantization tables (and SOF1), their values
    multiplied by `qscale`."""
    rng = np.random.default_rng(seed)
    max_h = max(c[1] for c in comps)
    max_v = max(c[2] for c in comps)
    mcux = -(-width // (8 * max_h))
    mcuy = -(-height // (8 * max_v))
    blocks = []
    for _, h, v, t in comps:
        bw, bh = mcux * h, mcuy * v
        yy, xx = np.mgrid[0 : bh * 8, 0 : bw * 8]
        base = 128 + 90 * np.sin(xx / (3 + 5 * rng.random()) + rng.random() * 6) * np.cos(yy / (4 + 6 * rng.random()))
        plane = np.clip(base + rng.normal(0, 18, base.shape), 0, 255)
        q = [v * qscale for v in scaled_q(LUMA_Q if t == 0 else CHROMA_Q, quality)]
        qn = np.zeros(64)
        for k in range(64):
            qn[ZIGZAG[k]] = q[k]
        qn = qn.reshape(8, 8)
        comp_blocks = np.zeros((bh, bw, 64), dtype=np.int64)
        for by in range(bh):
            for bx in range(bw):
                f = DCT @ (plane[by * 8 : by * 8 + 8, bx * 8 : bx * 8 + 8] - 128) @ DCT.T
                z = np.round(f / qn).astype(np.int64).reshape(64)
                comp_blocks[by, bx] = [z[ZIGZAG[k]] for k in range(64)]
        blocks.append(comp_blocks)
    wib = [-(-width * h // (8 * max_h)) for _, h, _, _ in comps]
    hib = [-(-height * v // (8 * max_v)) for _, _, v, _ in comps]

    out = bytearray(b"\xff\xd8")
    if jfif:
        out += segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    if adobe is not None:
        out += segment(0xEE, b"Adobe" + struct.pack(">HHHB", 100, 0, 0, adobe))
    for t in sorted({c[3] for c in comps}):
        q = [v * qscale for v in scaled_q(LUMA_Q if t == 0 else CHROMA_Q, quality)]
        if q16:
            out += segment(0xDB, bytes([0x10 | t]) + b"".join(struct.pack(">H", v) for v in q))
        else:
            out += segment(0xDB, bytes([t]) + bytes(q))
    sof = 0xC2 if progressive else 0xC1 if q16 else 0xC0
    payload = struct.pack(">BHHB", 8, height, width, len(comps))
    for cid, h, v, t in comps:
        payload += bytes([cid, (h << 4) | v, t])
    out += segment(sof, payload)
    tables = {}
    for t in sorted({c[3] for c in comps}):
        for kind in ("dc", "ac"):
            bits, vals = STD_BITS[(kind, t)], STD_VALS[(kind, t)]
            tables[(kind, t)] = codes(bits, vals)
            if dht:
                cls = 0x00 if kind == "dc" else 0x10
                out += segment(0xC4, bytes([cls | t]) + bytes(bits) + bytes(vals))
    if restart:
        out += segment(0xDD, struct.pack(">H", restart))

    def mcus(scan_comps):
        if len(scan_comps) > 1:
            for my in range(mcuy):
                for mx in range(mcux):
                    yield [
                        (ci, mx * comps[ci][1] + dx, my * comps[ci][2] + dy)
                        for ci in scan_comps
                        for dy in range(comps[ci][2])
                        for dx in range(comps[ci][1])
                    ]
        else:
            ci = scan_comps[0]
            for by in range(hib[ci]):
                for bx in range(wib[ci]):
                    yield [(ci, bx, by)]

    def scan(scan_comps, ss, se, al):
        payload = bytes([len(scan_comps)])
        for ci in scan_comps:
            payload += bytes([comps[ci][0], (comps[ci][3] << 4) | comps[ci][3]])
        payload += bytes([ss, se, al])
        data = bytearray(segment(0xDA, payload))
        w = Bits()
        pred = {ci: 0 for ci in scan_comps}
        for i, mcu in enumerate(mcus(scan_comps)):
            if restart and i and i % restart == 0:
                data += w.flush() + bytes([0xFF, 0xD0 + (i // restart - 1) % 8])
                pred = {ci: 0 for ci in scan_comps}
            for ci, bx, by in mcu:
                coef = blocks[ci][by, bx]
                dct, act = tables[("dc", comps[ci][3])], tables[("ac", comps[ci][3])]
                if ss == 0:
                    dc = int(coef[0]) >> al
                    s, b = magnitude(dc - pred[ci])
                    pred[ci] = dc
                    w.put(*dct[s])
                    w.put(b, s)
                if se > 0:
                    run = 0
                    for k in range(max(ss, 1), se + 1):
                        c = int(coef[k])
                        c = -((-c) >> al) if c < 0 else c >> al
                        if c == 0:
                            run += 1
                            continue
                        while run > 15:
                            w.put(*act[0xF0])
                            run -= 16
                        s, b = magnitude(c)
                        w.put(*act[(run << 4) | s])
                        w.put(b, s)
                        run = 0
                    if run:
                        w.put(*act[0x00])
        data += w.flush()
        return bytes(data)

    if progressive:
        for scan_comps, ss, se, al in progressive:
            out += scan(scan_comps, ss, se, al)
    elif interleaved:
        out += scan(list(range(len(comps))), 0, 63, 0)
    else:
        for ci in range(len(comps)):
            out += scan([ci], 0, 63, 0)
    out += b"\xff\xd9"
    return bytes(out)


def photo(width, height, seed, mode="RGB"):
    """A crop of the cat photograph, resized, with some noise."""
    src = Image.open(os.path.join(ROOT, "assets/images/chelsea.jpg")).convert("RGB")
    rng = random.Random(seed)
    x0, y0 = rng.randrange(0, 200), rng.randrange(0, 120)
    im = src.crop((x0, y0, x0 + 240, y0 + 170)).resize((width, height), Image.BILINEAR)
    a = np.asarray(im).astype(np.int16)
    a = np.clip(a + np.random.default_rng(seed).integers(-12, 13, a.shape), 0, 255).astype(np.uint8)
    im = Image.fromarray(a, "RGB")
    if mode == "L":
        return im.convert("L")
    if mode == "CMYK":
        return im.convert("CMYK")
    return im


def pil_jpeg(im, **kw):
    buf = io.BytesIO()
    im.save(buf, "JPEG", **kw)
    return buf.getvalue()


def scans_of(data):
    """The byte offsets of the SOS markers of a JPEG (outside segments)."""
    out, i = [], 2
    while i < len(data) - 1:
        if data[i] != 0xFF:
            i += 1
            continue
        m = data[i + 1]
        if m == 0xDA:
            out.append(i)
            i += 2 + struct.unpack(">H", data[i + 2 : i + 4])[0]
            # Skip the entropy-coded data.
            while i < len(data) - 1 and not (data[i] == 0xFF and data[i + 1] not in (0, *range(0xD0, 0xD8))):
                i += 1
        elif m in (0xD8, 0xD9, 0x01) or 0xD0 <= m <= 0xD7 or m == 0xFF:
            i += 2 if m != 0xFF else 1
        else:
            i += 2 + struct.unpack(">H", data[i + 2 : i + 4])[0]
    return out


def write_case(out, name, data):
    """Writes NAME.jpg and what PIL makes of it."""
    with open(os.path.join(out, name + ".jpg"), "wb") as f:
        f.write(data)
    try:
        im = Image.open(io.BytesIO(data))
        im.load()
    except Exception as e:  # noqa: BLE001 - PIL's refusal is the expected result
        msg = str(e)
        kind = "truncated" if "truncated" in msg.lower() else "unsupported" if "cannot handle" in msg else "corrupt"
        with open(os.path.join(out, name + ".err"), "w") as f:
            f.write(f"{kind}\n{type(e).__name__}: {msg}\n")
        if kind == "truncated":
            ImageFile.LOAD_TRUNCATED_IMAGES = True
            try:
                im = Image.open(io.BytesIO(data))
                im.load()
                save_pixels(im, os.path.join(out, name + ".loadtrunc"))
            except Exception as e:  # noqa: BLE001 - PIL cannot open it at all
                with open(os.path.join(out, name + ".loadtrunc.err"), "w") as f:
                    f.write(f"{type(e).__name__}: {e}\n")
            finally:
                ImageFile.LOAD_TRUNCATED_IMAGES = False
        return
    save_pixels(im, os.path.join(out, name))


def save_pixels(im, stem):
    if im.mode == "CMYK":
        Image.frombytes("RGBA", im.size, im.tobytes()).save(stem + ".png", optimize=True)
        im.convert("RGB").save(stem + ".rgb.png", optimize=True)
    else:
        assert im.mode in ("L", "RGB"), im.mode
        im.save(stem + ".png", optimize=True)


def pil_cases(seed=0):
    """(name, bytes) of the files PIL writes, and edits of them."""
    cases = []
    sizes = [(37, 29), (1, 1), (7, 5), (17, 33), (250, 3), (3, 250)]
    for q in (10, 50, 75, 90, 95, 100):
        for sub in ("4:4:4", "4:2:2", "4:2:0"):
            cases.append((f"q{q}_{sub.replace(':', '')}", pil_jpeg(photo(37, 29, q), quality=q, subsampling=sub)))
    for w, h in sizes[1:]:
        for sub in ("4:4:4", "4:2:2", "4:2:0"):
            tag = sub.replace(":", "")
            cases.append((f"size{w}x{h}_{tag}", pil_jpeg(photo(w, h, w * h), quality=85, subsampling=sub)))
            cases.append(
                (f"size{w}x{h}_{tag}_prog", pil_jpeg(photo(w, h, w + h), quality=85, subsampling=sub, progressive=True))
            )
    for sub in ("4:4:4", "4:2:2", "4:2:0"):
        tag = sub.replace(":", "")
        im = photo(45, 38, 7)
        cases.append((f"prog_{tag}", pil_jpeg(im, quality=80, subsampling=sub, progressive=True)))
        cases.append((f"prog_opt_{tag}", pil_jpeg(im, quality=30, subsampling=sub, progressive=True, optimize=True)))
        cases.append((f"opt_{tag}", pil_jpeg(im, quality=60, subsampling=sub, optimize=True)))
        cases.append((f"rst_blocks1_{tag}", pil_jpeg(im, quality=70, subsampling=sub, restart_marker_blocks=1)))
        cases.append((f"rst_blocks3_{tag}", pil_jpeg(im, quality=70, subsampling=sub, restart_marker_blocks=3)))
        cases.append((f"rst_rows1_{tag}", pil_jpeg(im, quality=70, subsampling=sub, restart_marker_rows=1)))
        cases.append(
            (f"rst_prog_{tag}", pil_jpeg(im, quality=70, subsampling=sub, progressive=True, restart_marker_blocks=2))
        )
    grey = photo(41, 23, 3, "L")
    cases.append(("grey_q50", pil_jpeg(grey, quality=50)))
    cases.append(("grey_q95", pil_jpeg(grey, quality=95)))
    cases.append(("grey_prog", pil_jpeg(grey, quality=75, progressive=True)))
    cases.append(("grey_1x1", pil_jpeg(photo(1, 1, 5, "L"), quality=75)))
    cmyk = photo(29, 21, 4, "CMYK")
    cases.append(("cmyk_q90", pil_jpeg(cmyk, quality=90)))
    cases.append(("cmyk_prog", pil_jpeg(cmyk, quality=60, progressive=True)))
    cases.append(("keep_rgb", pil_jpeg(photo(30, 20, 6), quality=80, keep_rgb=True)))

    # Progressive files cut after k scans (an end marker appended): the
    # coefficients left inexact turn on libjpeg's block smoothing.
    for sub in ("4:4:4", "4:2:0"):
        tag = sub.replace(":", "")
        for w, h in ((45, 38), (17, 33), (70, 9)):
            data = pil_jpeg(photo(w, h, w), quality=75, subsampling=sub, progressive=True)
            sos = scans_of(data)
            for k in range(1, len(sos)):
                cases.append((f"prog_{tag}_{w}x{h}_scans{k}", data[: sos[k]] + b"\xff\xd9"))
    data = pil_jpeg(grey, quality=75, progressive=True)
    sos = scans_of(data)
    for k in (1, 2, 4):
        cases.append((f"grey_prog_scans{k}", data[: sos[k]] + b"\xff\xd9"))

    # Data cut short: without an end marker PIL refuses the file (and with
    # LOAD_TRUNCATED_IMAGES appends one); with one it decodes zero bits.
    base = pil_jpeg(photo(45, 38, 9), quality=80, subsampling="4:2:0")
    prog = pil_jpeg(photo(45, 38, 10), quality=80, subsampling="4:2:0", progressive=True)
    rst = pil_jpeg(photo(45, 38, 11), quality=80, subsampling="4:2:0", restart_marker_blocks=2)
    for name, data in (("base", base), ("prog", prog), ("rst", rst)):
        start = scans_of(data)[0]
        for frac in (0.3, 0.7):
            cut = start + int((len(data) - start) * frac)
            cases.append((f"cut_{name}_{int(frac * 100)}", data[:cut]))
            cases.append((f"cut_{name}_{int(frac * 100)}_eoi", data[:cut] + b"\xff\xd9"))
    cases.append(("cut_in_header", base[:40]))
    cases.append(("cut_before_eoi", base[:-2]))
    # Garbage before the end marker, and between scans.
    cases.append(("garbage_before_eoi", base[:-2] + b"\x12\x34\xff\x00\x56" + base[-2:]))
    sos = scans_of(prog)
    cases.append(("garbage_between_scans", prog[: sos[3]] + b"\x00\x11\xff\xff" + prog[sos[3] :]))
    # Restart markers out of order: RST numbers shifted in the middle.
    data = bytearray(rst)
    idx = [i for i in range(len(data) - 1) if data[i] == 0xFF and 0xD0 <= data[i + 1] <= 0xD7]
    for j, i in enumerate(idx):
        if j in (3, 9):
            data[i + 1] = 0xD0 + ((data[i + 1] - 0xD0 + 2) % 8)
        if j == 6:
            data[i + 1] = 0xD0 + ((data[i + 1] - 0xD0 + 5) % 8)
    cases.append(("rst_out_of_order", bytes(data)))
    return cases


def encoder_cases():
    """(name, bytes) from the encoder above: what PIL cannot write."""
    ycc = lambda hv: [(1, *hv[0], 0), (2, *hv[1], 1), (3, *hv[2], 1)]  # noqa: E731
    layouts = {
        "440": [(1, 2), (1, 1), (1, 1)],
        "411": [(4, 1), (1, 1), (1, 1)],
        "410": [(4, 2), (1, 1), (1, 1)],
        "h3": [(3, 1), (1, 1), (1, 1)],
        "h3v2": [(3, 2), (1, 1), (1, 1)],
        "luma_small": [(1, 1), (2, 2), (2, 2)],
        "mixed": [(2, 2), (1, 2), (2, 1)],
        "h1v2_in_2x2": [(2, 2), (2, 1), (2, 1)],
        "v4": [(1, 4), (1, 2), (1, 1)],
        "h4v1_h2v1": [(4, 1), (2, 1), (1, 1)],
    }
    cases = []
    for name, hv in layouts.items():
        for w, h in ((37, 29), (2, 9), (67, 3)):
            comps = ycc(hv)
            cases.append((f"enc_{name}_{w}x{h}", encode(comps, w, h, seed=zlib.crc32(f'{name}{w}'.encode()) % 1000)))
        cases.append((f"enc_{name}_rst", encode(ycc(hv), 37, 29, seed=5, restart=2)))
        cases.append((f"enc_{name}_sep", encode(ycc(hv), 37, 29, seed=6, interleaved=False, restart=3)))
    # 18 blocks in an MCU: libjpeg refuses it.
    cases.append(("enc_mcu_too_big", encode(ycc([(4, 4), (1, 1), (1, 1)]), 40, 40, seed=1)))
    # A ratio that is not whole.
    cases.append(("enc_fractional", encode(ycc([(3, 1), (2, 1), (1, 1)]), 40, 16, seed=1)))
    cases.append(("enc_sof1_q16", encode(ycc([(2, 1), (1, 1), (1, 1)]), 37, 29, seed=7, q16=True)))
    cases.append(("enc_sof1_q16_big", encode(ycc([(2, 2), (1, 1), (1, 1)]), 37, 29, seed=7, quality=95, q16=True, qscale=9)))
    cases.append(("enc_no_dht", encode(ycc([(2, 2), (1, 1), (1, 1)]), 37, 29, seed=2, dht=False)))
    grey = [(1, 1, 1, 0)]
    cases.append(("enc_grey_2x2", encode([(1, 2, 2, 0)], 19, 13, seed=3)))
    cases.append(("enc_rgb_adobe", encode([(82, 1, 1, 0), (71, 1, 1, 0), (66, 1, 1, 0)], 23, 17, seed=4, jfif=False, adobe=0)))
    cases.append(("enc_rgb_ids", encode([(82, 1, 1, 0), (71, 1, 1, 0), (66, 1, 1, 0)], 23, 17, seed=4, jfif=False)))
    cases.append(("enc_ycc_odd_ids", encode([(7, 2, 1, 0), (8, 1, 1, 1), (9, 1, 1, 1)], 23, 17, seed=4, jfif=False)))
    cases.append(("enc_adobe_ycc", encode(ycc([(2, 2), (1, 1), (1, 1)]), 23, 17, seed=4, jfif=False, adobe=1)))
    cmyk = [(1, 1, 1, 0), (2, 1, 1, 1), (3, 1, 1, 1), (4, 1, 1, 0)]
    cases.append(("enc_cmyk_plain", encode(cmyk, 21, 14, seed=8, jfif=False)))
    cases.append(("enc_cmyk_adobe", encode(cmyk, 21, 14, seed=8, jfif=False, adobe=0)))
    ycck = [(1, 2, 2, 0), (2, 1, 1, 1), (3, 1, 1, 1), (4, 2, 2, 0)]
    cases.append(("enc_ycck", encode(ycck, 21, 14, seed=9, jfif=False, adobe=2)))
    # Progressive, spectral selection only, some bands never sent.
    full = [([0, 1, 2], 0, 0, 0), ([0], 1, 5, 0), ([0], 6, 63, 0), ([1], 1, 63, 0), ([2], 1, 63, 0)]
    dc_only = [([0, 1, 2], 0, 0, 0)]
    dc_al = [([0, 1, 2], 0, 0, 1), ([0], 1, 9, 2), ([1], 1, 9, 1), ([2], 1, 63, 0)]
    for name, hv in (("420", [(2, 2), (1, 1), (1, 1)]), ("440", [(1, 2), (1, 1), (1, 1)]), ("411", [(4, 1), (1, 1), (1, 1)])):
        for w, h in ((37, 29), (13, 50)):
            for sname, script in (("full", full), ("dconly", dc_only), ("dcal", dc_al), ("lowac", full[:2])):
                cases.append((f"encprog_{name}_{sname}_{w}x{h}", encode(ycc(hv), w, h, seed=w + h, progressive=script)))
    cases.append(("encprog_grey_dconly", encode(grey, 30, 20, seed=3, progressive=[([0], 0, 0, 0)])))
    cases.append(("encprog_separate_dc", encode(ycc([(2, 2), (1, 1), (1, 1)]), 30, 20, seed=3, progressive=[([0], 0, 0, 0), ([1], 0, 0, 0), ([2], 0, 0, 0), ([0], 1, 2, 0)])))
    cases.append(("encprog_rst", encode(ycc([(2, 1), (1, 1), (1, 1)]), 37, 29, seed=12, restart=3, progressive=full)))
    return cases


def many_cases(n, seed):
    """A random sweep over sizes, qualities, samplings and options."""
    rng = random.Random(seed)
    cases = []
    for i in range(n):
        w, h = rng.randint(1, 90), rng.randint(1, 90)
        kind = rng.random()
        if kind < 0.6:
            mode = rng.choice(["RGB", "RGB", "RGB", "L", "CMYK"])
            kw = dict(quality=rng.randint(5, 100))
            if mode == "RGB":
                kw["subsampling"] = rng.choice(["4:4:4", "4:2:2", "4:2:0"])
            if rng.random() < 0.4:
                kw["progressive"] = True
            if rng.random() < 0.3:
                kw["optimize"] = True
            if rng.random() < 0.2:
                kw["restart_marker_blocks"] = rng.randint(1, 5)
            data = pil_jpeg(photo(w, h, i, mode), **kw)
            if kw.get("progressive") and rng.random() < 0.5:
                sos = scans_of(data)
                data = data[: sos[rng.randrange(1, len(sos))]] + b"\xff\xd9"
            cases.append((f"many{i}", data))
        else:
            nc = rng.choice([1, 3, 3, 3, 4])
            while True:
                hv = [(rng.randint(1, 4), rng.randint(1, 4)) for _ in range(nc)]
                mh, mv = max(a for a, _ in hv), max(b for _, b in hv)
                if all(mh % a == 0 and mv % b == 0 for a, b in hv) and sum(a * b for a, b in hv) <= 10:
                    break
            comps = [(k + 1, a, b, min(k, 1)) for k, (a, b) in enumerate(hv)]
            prog = None
            if rng.random() < 0.4:
                prog = [(list(range(nc)), 0, 0, rng.choice([0, 0, 1]))]
                for ci in range(nc):
                    if rng.random() < 0.8:
                        cut = rng.randint(1, 20)
                        prog.append(([ci], 1, cut, rng.choice([0, 0, 1])))
                        if rng.random() < 0.7:
                            prog.append(([ci], cut + 1, 63, 0))
            cases.append(
                (
                    f"many{i}",
                    encode(
                        comps,
                        w,
                        h,
                        seed=i,
                        quality=rng.randint(10, 100),
                        interleaved=rng.random() < 0.7,
                        restart=rng.choice([0, 0, 0, 1, 4]),
                        jfif=nc == 3,
                        adobe=2 if nc == 4 and rng.random() < 0.5 else None,
                        progressive=prog,
                    ),
                )
            )
    return cases


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="the fixtures folder (datasets/tests/data/jpeg)")
    ap.add_argument("--many", type=int, default=0, help="write N random cases instead of the fixtures")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    print(f"PIL {Image.__version__}, libjpeg-turbo {features.version('libjpeg_turbo')}", file=sys.stderr)
    os.makedirs(args.out, exist_ok=True)
    cases = many_cases(args.many, args.seed) if args.many else pil_cases() + encoder_cases()
    for name, data in cases:
        write_case(args.out, name, data)
    print(f"{len(cases)} cases in {args.out}", file=sys.stderr)
    for name in ("chelsea.jpg", "hubble_deep_field.jpg"):
        im = Image.open(os.path.join(ROOT, "assets/images", name)).convert("RGB")
        print(f"{name}: {im.size[0]}x{im.size[1]} sha256 {hashlib.sha256(im.tobytes()).hexdigest()}")


if __name__ == "__main__":
    main()
