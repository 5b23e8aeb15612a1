"""Feeds every flag of the example binaries and xtask bad values and reports
how each run ended, one row per binary.

    cargo build -p examples -p xtask          # the binaries it runs
    python3 scripts/fault_sweep.py [--bin DIR] [--only NAME[,NAME]] [--jobs N]
        [--limit-s 120] [--mem-gb 8] [--keep] [--json FILE] [--list]

`--bin` is the directory of the binaries (default: $CARGO_TARGET_DIR/debug,
else ~/.cache/zoo/target/debug, else target/debug); `--only lenet,xtask`
sweeps those binaries; `--list` prints the runs without running them;
`--keep` leaves the temporary directory (the fixtures, the run folders)
for a look; `--json` writes every run's command, outcome and output tail.

Every run has a fresh temporary directory as its working directory (its
`--out` / `--run-dir` / `--dir` inside it, repo assets by absolute path),
`ZOO_DATA_DIR` pointing to an empty folder there (so nothing is read from or
written to ~/.cache/zoo), stdin from /dev/null, at most `--limit-s` seconds
(120) and `ulimit -v` of `--mem-gb` GiB (8: a run that asks for more gets
a failed allocation, an abort, instead of taking the machine's memory). The
runs are cheap: one epoch, a handful of images (`--limit`, `--train`, a
128-image Fashion-MNIST directory the script writes), small sizes.

The bad values: numbers out of range, NaN / inf, 1e39 (past float32),
1e12, 2^64-1 and 2^64, text, empty strings; files that are missing, a
directory, /etc/passwd, empty, a truncated PNG, a 20,000 x 20,000 grey PNG
"bomb" of a few hundred KB, a truncated JPEG; Fashion-MNIST directories that
are empty, hold 3 images, or hold damaged IDX files (truncated, a label out
of range, a header claiming 2^32-1 images, a corrupt gzip); checkpoints with
bytes flipped (header / payload), truncated, or of another model (a
`lenet --relu` run given to lenet's --ensemble of sigmoid LeNets, and to
saliency, occlusion, dream, tsne and hog-svm, which must load it as the
ReLU LeNet it is; a vae checkpoint); a fresh training run (no --resume) and a --resume run into the
folder of another run. Before the sweep it trains three tiny runs it needs
(lenet, lenet --relu, vae; printed as "setup").

How a run ended (the columns of the table):
  clean    exit non-zero with an `error...` line on stderr (conformance:
           or a FAIL line), the refusal a bad value should get;
  ok       exit 0 where the value may be right (a batch larger than the
           set, a huge seed, a valid edge case), with no NaN / inf printed;
           also exit 0 on a standalone `.bpk` given to --weights (no
           state.json beside it) with the `warning:` that its bytes cannot
           be verified (warned: the project loads such files);
           also a run of 2^64-1 epochs / iterations still going after
           LONG_S seconds (it started, which is all that is asked);
  panic    a Rust panic (`panicked at`);
  signal   killed by a signal (an abort: a failed allocation, a stack
           overflow; a segfault);
  timeout  still running after --limit-s;
  nonsense exit 0 on a value that cannot be right, or exit 0 whose
           output shows NaN or inf;
  silent   exit non-zero without an `error` line.
`base` rows (the cheap run every case varies) must end `ok`; a base that
does not is listed, since the cases built on it then test less.

Prints a table (one row per binary, counts per outcome, totals) and every
run that did not end clean / ok: its command (the temporary directory
written $T) and the last line of its stderr.
"""

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASSETS = os.path.join(ROOT, "assets", "images")
CHELSEA = os.path.join(ASSETS, "chelsea.jpg")
HUBBLE = os.path.join(ASSETS, "hubble_deep_field.jpg")
LIMIT_S = 120
LONG_S = 10
U64_MAX = "18446744073709551615"
OUTCOMES = ["clean", "ok", "panic", "signal", "timeout", "nonsense", "silent"]
BINARIES = [
    "alexnet", "augment", "dcgan", "densenet", "devices", "dream", "edges", "fcn", "gan",
    "googlenet", "hog-svm", "knn", "lenet", "linear", "nin", "occlusion", "resnet", "rnn",
    "saliency", "ssd", "style-transfer", "summary", "tsne", "vae", "vgg", "xtask",
    "classify", "segment",
]
# The values a run's output is scanned for on exit 0.
NAN_RE = re.compile(r"(?<![A-Za-z])(NaN|nan|-?inf|-?Inf|infinity)(?![A-Za-z])")
REMOVE = object()  # drops a base argument
AUTO_DIR, AUTO_PNG = "<auto-dir>", "<auto-png>"  # a fresh output path per run


# ---------------------------------------------------------------- fixtures


def png_bytes(width, height, colour, rows):
    """A PNG of `rows` (an iterable of raw scanlines without filter byte);
    colour 0 grey, 2 RGB, 8-bit."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    comp = zlib.compressobj(9)
    parts = []
    for r in rows:
        parts.append(comp.compress(b"\x00" + r))
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


def rgb_rows(w, h, seed):
    for y in range(h):
        yield bytes(((x * 7 + y * 3 + seed * 40) % 256 if c == 0 else (x * y + seed) % 256 if c == 1 else (x ^ y) % 256)
                    for x in range(w) for c in range(3))


def bomb_png(path, side=20000):
    """A side x side grey PNG of zeros: ~400 MB of pixels in a few hundred KB."""
    row = b"\x00" * (side + 1)
    block = row * 50
    comp = zlib.compressobj(9)
    parts = [comp.compress(block) for _ in range(side // 50)]
    parts.append(comp.flush())

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b""))


def read_idx(path):
    import gzip
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return dims, data[4 + 4 * ndim:]


def idx_bytes(dims, payload):
    return bytes([0, 0, 8, len(dims)]) + struct.pack(">" + "I" * len(dims), *dims) + payload


def fashion_source():
    """(train images, train labels, test images, test labels) as raw bytes
    and where they came from: the Debian package's files, else the
    repository's embedded subset, else synthetic bytes."""
    names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    for d in ["/usr/share/datasets/fashion-mnist", os.path.join(ROOT, "datasets", "data", "fashion-mnist-subset")]:
        found = []
        for n in names:
            p = next((os.path.join(d, n + e) for e in (".gz", "") if os.path.isfile(os.path.join(d, n + e))), None)
            found.append(p)
        if all(found):
            try:
                return [read_idx(p)[1] for p in found], d
            except Exception:
                pass
    n = 256
    images = bytes((i * 37 + j) % 256 for i in range(n) for j in range(784))
    labels = bytes(i % 10 for i in range(n))
    return [images, labels, images, labels], "synthetic bytes"


def write_fashion(d, train, test, src, gz=False, mutate=None):
    """A Fashion-MNIST directory of `train` / `test` images from `src`;
    `mutate(name, bytes) -> bytes` damages a file."""
    import gzip
    os.makedirs(d, exist_ok=True)
    ti, tl, vi, vl = src
    files = {
        "train-images-idx3-ubyte": idx_bytes((train, 28, 28), ti[:train * 784]),
        "train-labels-idx1-ubyte": idx_bytes((train,), tl[:train]),
        "t10k-images-idx3-ubyte": idx_bytes((test, 28, 28), vi[:test * 784]),
        "t10k-labels-idx1-ubyte": idx_bytes((test,), vl[:test]),
    }
    for name, data in files.items():
        if mutate:
            data = mutate(name, data)
        if gz:
            with open(os.path.join(d, name + ".gz"), "wb") as f:
                f.write(gzip.compress(data, mtime=0))
        else:
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
    return d


def flipped(src, dst, where):
    """A copy of `src` with 32 bytes inverted at `where` (a fraction of its length)."""
    data = bytearray(open(src, "rb").read())
    at = min(int(len(data) * where), max(0, len(data) - 32))
    for i in range(at, min(at + 32, len(data))):
        data[i] ^= 0xFF
    with open(dst, "wb") as f:
        f.write(data)
    return dst


class Fixtures:
    """The files and directories the cases name, in the temporary directory `t`."""

    def __init__(self, t):
        self.t = t
        p = lambda *a: os.path.join(t, *a)
        os.makedirs(p("files"))
        os.makedirs(p("zoo-data"))
        os.makedirs(p("out"))
        os.makedirs(p("cwd"))
        self.cwd = p("cwd")
        self.data_home = p("zoo-data")
        self.missing = p("files", "does-not-exist.png")
        self.dir = p("files")
        self.empty = p("files", "empty.png")
        open(self.empty, "wb").close()
        self.small_png = p("files", "small.png")
        with open(self.small_png, "wb") as f:
            f.write(png_bytes(64, 48, 2, rgb_rows(64, 48, 1)))
        self.small_png2 = p("files", "small2.png")
        with open(self.small_png2, "wb") as f:
            f.write(png_bytes(48, 40, 2, rgb_rows(48, 40, 2)))
        self.tiny_png = p("files", "tiny.png")
        with open(self.tiny_png, "wb") as f:
            f.write(png_bytes(1, 1, 2, [b"\x80\x40\x20"]))
        big = png_bytes(200, 200, 2, rgb_rows(200, 200, 3))
        self.trunc_png = p("files", "truncated.png")
        with open(self.trunc_png, "wb") as f:
            f.write(big[: len(big) * 6 // 10])
        self.bomb = p("files", "bomb.png")
        bomb_png(self.bomb)
        self.text_png = p("files", "text.png")
        with open(self.text_png, "w") as f:
            f.write("not an image\n")
        self.trunc_jpg = p("files", "truncated.jpg")
        with open(CHELSEA, "rb") as f:
            data = f.read()
        with open(self.trunc_jpg, "wb") as f:
            f.write(data[: len(data) // 2])
        self.garbage_pth = p("files", "garbage.pth")
        self.garbage_st = p("files", "garbage.safetensors")
        self.garbage_bpk = p("files", "garbage.bpk")
        for g in (self.garbage_pth, self.garbage_st, self.garbage_bpk):
            shutil.copyfile("/etc/passwd", g)
        self.empty_bpk = p("files", "empty.bpk")
        open(self.empty_bpk, "wb").close()
        # Fashion-MNIST directories.
        src, self.fashion_origin = fashion_source()
        self.small = write_fashion(p("fm-small"), 128, 40, src)
        self.three = write_fashion(p("fm-three"), 3, 3, src)
        self.fm_empty = p("fm-empty")
        os.makedirs(self.fm_empty)
        self.fm_trunc = write_fashion(p("fm-truncated"), 128, 40, src,
                                      mutate=lambda n, d: d[: len(d) // 2] if "images" in n else d)
        self.fm_label = write_fashion(p("fm-bad-label"), 128, 40, src,
                                      mutate=lambda n, d: d[:-1] + b"\xc8" if "labels" in n else d)
        self.fm_huge = write_fashion(p("fm-huge-header"), 128, 40, src,
                                     mutate=lambda n, d: d[:4] + b"\xff\xff\xff\xff" + d[8:] if "images" in n else d)
        self.fm_gz = p("fm-bad-gzip")
        write_fashion(self.fm_gz, 128, 40, src, gz=True)
        for n in os.listdir(self.fm_gz):
            if "images" in n:
                path = os.path.join(self.fm_gz, n)
                data = open(path, "rb").read()
                with open(path, "wb") as f:
                    f.write(data[:12] + bytes(b ^ 0x5A for b in data[12:40]) + data[40:])
        self.data_bad = [
            ("/nonexistent/fashion", "bad"), ("/etc", "bad"), ("/etc/passwd", "bad"), ("", "bad"),
            (self.fm_empty, "bad"), (self.fm_trunc, "bad"), (self.fm_label, "bad"),
            (self.fm_huge, "bad"), (self.fm_gz, "bad"), (self.three, "ok"),
        ]
        # rnn: a time-machine file that is not UTF-8.
        self.tm_bad = p("tm-binary")
        os.makedirs(os.path.join(self.tm_bad, "time-machine"))
        shutil.copyfile(self.trunc_png, os.path.join(self.tm_bad, "time-machine", "timemachine.txt"))
        # conformance: a directory with one garbage case file.
        self.cases_bad = p("cases-garbage")
        os.makedirs(self.cases_bad)
        shutil.copyfile("/etc/passwd", os.path.join(self.cases_bad, "matmul__garbage.safetensors"))
        self.counter = 0
        self.lock = threading.Lock()
        # Filled by setup().
        self.lenet_run = self.relu_run = self.vae_run = p("runs", "missing")
        self.lenet_bpk = self.relu_bpk = self.vae_bpk = p("runs", "missing", "model.bpk")
        self.cwd_relu = p("cwd-relu")
        os.makedirs(self.cwd_relu)

    def fresh(self, kind, name):
        with self.lock:
            self.counter += 1
            n = self.counter
        base = os.path.join(self.t, "out", f"{name}-{n}")
        return base + ".png" if kind == "png" else base

    def img_bad(self):
        return [(self.missing, "bad"), (self.dir, "bad"), ("/etc/passwd", "bad"), (self.empty, "bad"),
                (self.trunc_png, "bad"), (self.bomb, "bad"), (self.text_png, "bad"), ("", "bad"),
                (self.tiny_png, "ok"), (self.trunc_jpg, "ok"), (CHELSEA, "ok")]

    def weights_bad(self, lenet_reader=False):
        v = [(os.path.join(self.t, "files", "none.bpk"), "bad"), (self.dir, "bad"), ("/etc/passwd", "bad"),
             (self.empty_bpk, "bad"), (self.trunc_png, "bad"), (self.garbage_pth, "bad"),
             (self.garbage_st, "bad"), (self.garbage_bpk, "bad"), ("", "bad")]
        v += [(self.damaged_header, "bad"), (self.damaged_payload, "bad"), (self.truncated_bpk, "bad"),
              (self.damaged_in_place, "bad"), (self.vae_bpk, "bad")]
        # A lenet --relu checkpoint is loaded as the ReLU LeNet its state.json
        # records (the readers of a LeNet build the model a checkpoint holds).
        v.append((self.relu_bpk, "ok" if lenet_reader else "bad"))
        if not lenet_reader:
            v.append((self.lenet_bpk, "bad"))
        return v

    def other_run(self):
        """A copy of the lenet --relu run folder (a prep step: each case gets its own)."""
        dst = self.fresh("dir", "other-run")
        return dst, ("copytree", self.relu_run, dst)

    def out_dir_bad(self):
        return [("", "bad"), ("/etc/passwd", "bad"), ("/etc/passwd/sub", "bad"), ("/proc/zoo-fault", "bad")]

    def out_png_bad(self):
        return [("", "bad"), ("/", "bad"), ("/etc/passwd/x.png", "bad"), ("/proc/zoo-fault.png", "bad"),
                (os.path.join(self.t, "files", "x.jpg"), "bad"), (self.dir, "bad"),
                (os.path.join(self.t, "out", "new", "sub", "x.png"), "ok")]


# ---------------------------------------------------------------- value sets


def usize(zero="bad", huge="bad", one="ok", extra=()):
    """A count / size flag: parse errors, 0, 1, and the huge values."""
    v = [("-1", "bad"), ("abc", "bad"), ("", "bad"), ("1e12", "bad"), ("18446744073709551616", "bad"),
         ("0", zero)]
    if one:
        v.append(("1", one))
    if huge == "long":
        v.append((U64_MAX, "long"))
    else:
        v += [("1000000000000", huge), (U64_MAX, huge)]
    return v + list(extra)


def floats(zero="bad", neg="bad", big="bad", extra=()):
    """A real-valued flag: NaN / inf always wrong, 1e39 past float32."""
    return [("NaN", "bad"), ("inf", "bad"), ("-inf", "bad"), ("abc", "bad"), ("", "bad"),
            ("1e39", big), ("0", zero), ("-1", neg)] + list(extra)


SEED = [("-1", "bad"), ("abc", "bad"), ("", "bad"), (U64_MAX, "ok"), ("18446744073709551616", "bad")]
DEVICE = [("tpu", "bad"), ("", "bad"), ("FLEX!", "bad")]
STRING = [("bogus", "bad"), ("", "bad")]
BOOL = [(None, "ok"), ("=bogus", "bad")]


# ---------------------------------------------------------------- cases


class Case:
    def __init__(self, binary, label, argv, expect, cwd=None, env=None, prep=None, stdin=None, clean_re=None):
        self.binary, self.label, self.argv, self.expect = binary, label, argv, expect
        self.cwd, self.env, self.prep, self.stdin, self.clean_re = cwd, env or {}, prep or [], stdin, clean_re


def build_argv(base, key, value, fx, binary):
    """`base` (a list of (key, value): `--flag`, `@positional`) with `key`
    set to `value` (REMOVE drops it, None is a bare flag, a list several
    values); AUTO_* become fresh paths."""
    items = list(base)
    if key is not None:
        for i, (k, _) in enumerate(items):
            if k == key:
                items[i] = (k, value)
                break
        else:
            items.append((key, value))
    argv = []
    for k, v in items:
        if v is REMOVE:
            continue
        if v == AUTO_DIR:
            v = fx.fresh("dir", binary)
        elif v == AUTO_PNG:
            v = fx.fresh("png", binary)
        if k.startswith("@"):
            argv.append(v)
        elif v is None:
            argv.append(k)
        elif isinstance(v, str) and v.startswith("="):
            argv.append(k + v)
        elif isinstance(v, list):
            argv += [k] + v
        elif isinstance(v, str) and v.startswith("-"):
            argv.append(f"{k}={v}")  # `--lr=-1`: the value, not a flag
        else:
            argv += [k, v]
    return argv


def setk(base, key, value):
    """`base` with `key` set to `value` (replaced where present, else appended)."""
    items = [(k, value if k == key else v) for k, v in base]
    return items if any(k == key for k, _ in base) else items + [(key, value)]


def sweep(binary, base, flags, fx, cases, prefix=(), base_expect="base", **kw):
    """A base run and one run per (flag, value) of `flags`."""
    prefix = list(prefix)
    cases.append(Case(binary, "base " + " ".join(prefix), prefix + build_argv(base, None, None, fx, binary),
                      base_expect, **kw))
    for flag, values in flags:
        for value, expect in values:
            argv = prefix + build_argv(base, flag, value, fx, binary)
            shown = "" if value is None else (value if not isinstance(value, list) else " ".join(value))
            cases.append(Case(binary, f"{flag} {shown}", argv, expect, **kw))


def run_folder_cases(binary, base, fx, cases, out_flag="--out", prefix=()):
    """A fresh run and a --resume run into a copy of another run's folder."""
    for extra, label in ((None, "fresh"), ("--resume", "--resume")):
        dst, prep = fx.other_run()
        b = [(k, v) for k, v in base if k != out_flag] + [(out_flag, dst)]
        argv = list(prefix) + build_argv(b, extra, None, fx, binary)
        cases.append(Case(binary, f"{out_flag} <another run's folder> ({label})", argv, "bad", prep=[prep]))


def recipe_flags(fx):
    return [
        ("--ema", floats(zero="ok", neg="bad", big="bad", extra=[("1", "bad"), ("1.5", "bad"), ("0.9", "ok")])),
        ("--swa-start", usize(zero="bad", huge="bad")),
        ("--mix", STRING + [("mixup", "ok"), ("cutmix", "ok"), ("pairing", "ok")]),
        ("--label-smoothing", floats(zero="ok", extra=[("1", "bad"), ("1.5", "bad"), ("0.1", "ok")])),
        ("--ensemble", [([fx.missing], "bad"), ([fx.dir], "bad"), (["/etc/passwd"], "bad"), ([""], "bad"),
                        ([fx.relu_run], "bad"), ([fx.vae_run], "bad"), ([fx.damaged_run], "bad"),
                        ([fx.lenet_run, fx.missing], "bad")]),
    ]


def make_cases(fx):
    cases = []
    data = fx.data_bad

    # lenet
    base = [("--epochs", "1"), ("--batch-size", "16"), ("--data-dir", fx.small), ("--out", AUTO_DIR)]
    sweep("lenet", base, [
        ("--epochs", usize(zero="bad", huge="long")),
        ("--batch-size", usize(zero="bad", huge="ok")),
        ("--lr", floats()),
        ("--device", DEVICE + [("wgpu", "ok")]),
        ("--data-dir", data),
        ("--relu", BOOL),
        ("--seed", SEED),
        ("--out", fx.out_dir_bad()),
        ("--resume", BOOL),
        ("--augment", STRING + [("auto", "ok"), ("crop", "ok")]),
    ] + recipe_flags(fx), fx, cases)
    cases.append(Case("lenet", "--relu --ensemble <sigmoid lenet run>",
                      build_argv(base + [("--relu", None)], "--ensemble", [fx.lenet_run], fx, "lenet"), "bad"))
    cases.append(Case("lenet", "--ensemble <its own run> (valid)",
                      build_argv(base, "--ensemble", [fx.lenet_run], fx, "lenet"), "ok"))
    cases.append(Case("lenet", "--ema 0.9 --swa-start 1 (conflict)",
                      build_argv(base + [("--ema", "0.9")], "--swa-start", "1", fx, "lenet"), "bad"))
    cases.append(Case("lenet", "--mix-alpha without --mix", build_argv(base, "--mix-alpha", "NaN", fx, "lenet"), "bad"))
    for v, e in floats(zero="bad", extra=[("0.4", "ok")]):
        cases.append(Case("lenet", f"--mix mixup --mix-alpha {v}",
                          build_argv(base + [("--mix", "mixup")], "--mix-alpha", v, fx, "lenet"), e))
    cases.append(Case("lenet", "ZOO_DEVICE=tpu", build_argv(base, None, None, fx, "lenet"), "bad", env={"ZOO_DEVICE": "tpu"}))
    run_folder_cases("lenet", base, fx, cases)
    dst = fx.fresh("dir", "damaged-run")
    cases.append(Case("lenet", "--resume <its own run, model.bpk flipped>",
                      build_argv(setk(base, "--out", dst), "--resume", None, fx, "lenet"), "bad",
                      prep=[("copytree", fx.lenet_run, dst), ("flip_model", dst)]))
    dst = fx.fresh("dir", "resume-run")
    cases.append(Case("lenet", "--resume --epochs 2 <its own run> (valid)",
                      build_argv(setk(setk(base, "--out", dst), "--epochs", "2"), "--resume", None, fx, "lenet"), "ok",
                      prep=[("copytree", fx.lenet_run, dst)]))

    # the classification family (examples::Flags)
    family = {"alexnet": "96", "vgg": "32", "nin": "96", "googlenet": "64", "resnet": "32", "densenet": "32"}
    other_family = {"alexnet": "resnet18", "vgg": "alexnet", "nin": "vgg11", "googlenet": "densenet121",
                    "resnet": "vgg11", "densenet": "resnet18"}
    # The smallest input each takes (torchvision's weights meta `min_size`):
    # ResNet's is (1, 1), so --input-size 1 is a valid run; torchvision's
    # GoogLeNet's is 15 and Inception v3's 75 (below); the course's GoogLeNet
    # (the example's default model) pads every pooling, so it takes 1x1 as
    # PyTorch's does; the rest refuse 1.
    input_one = {"resnet": "ok", "googlenet": "ok"}
    input_extra = {}
    for name, side in family.items():
        base = [("--epochs", "1"), ("--limit", "8"), ("--batch-size", "4"), ("--input-size", side),
                ("--data-dir", fx.small), ("--out", AUTO_DIR)]
        aux = [(None, "ok" if name == "googlenet" else "bad"), ("=bogus", "bad")]
        sweep(name, base, [
            ("--model", STRING + [(other_family[name], "bad"), ("d2l_lenet", "bad"), ("resnet1000", "bad")]),
            ("--epochs", usize(zero="bad", huge="long")),
            ("--batch-size", usize(zero="bad", huge="ok")),
            ("--lr", floats()),
            ("--input-size", usize(zero="bad", huge="bad", one=input_one.get(name, "bad"),
                                   extra=[("100000", "bad")] + input_extra.get(name, []))),
            ("--device", DEVICE),
            ("--data-dir", data),
            ("--limit", usize(zero="bad", huge="ok")),
            ("--weights", fx.weights_bad()),
            ("--freeze-features", BOOL),
            ("--reset-head", [(None, "bad")]),
            ("--seed", SEED),
            ("--out", fx.out_dir_bad()),
            ("--resume", BOOL),
            ("--augment", STRING + [("trivial", "ok")]),
            ("--head-lr-mult", floats(big="bad", extra=[("10", "ok")])),
            ("--aux", aux),
        ] + recipe_flags(fx), fx, cases)
        if name == "googlenet":
            for model, side, want in [("googlenet", "14", "bad"), ("googlenet", "15", "ok"),
                                      ("inception_v3", "74", "bad"), ("inception_v3", "75", "ok")]:
                cases.append(Case(name, f"--model {model} --input-size {side}",
                                  build_argv([(k, v) for k, v in base if k != "--input-size"]
                                             + [("--model", model)], "--input-size", side, fx, name), want))
        cases.append(Case(name, "--mix-alpha NaN --mix cutmix",
                          build_argv(base + [("--mix", "cutmix")], "--mix-alpha", "NaN", fx, name), "bad"))
        cases.append(Case(name, "--ema 0.9 --swa-start 1 (conflict)",
                          build_argv(base + [("--ema", "0.9")], "--swa-start", "1", fx, name), "bad"))
        cases.append(Case(name, "--ensemble <lenet run>", build_argv(base, "--ensemble", [fx.lenet_run], fx, name), "bad"))
        cases.append(Case(name, "--weights <lenet> --reset-head",
                          build_argv(base + [("--weights", fx.lenet_bpk)], "--reset-head", None, fx, name), "bad"))
        run_folder_cases(name, base, fx, cases)
    cases.append(Case("resnet", "ZOO_DEVICE=tpu", build_argv(
        [("--epochs", "1"), ("--limit", "8"), ("--input-size", "32"), ("--data-dir", fx.small), ("--out", AUTO_DIR)],
        None, None, fx, "resnet"), "bad", env={"ZOO_DEVICE": "tpu"}))

    # augment
    base = [("@image", fx.small_png), ("--cell", "48"), ("--columns", "6"), ("--out", AUTO_PNG)]
    sweep("augment", base, [
        ("@image", fx.img_bad()),
        ("--out", fx.out_png_bad()),
        ("--cell", usize(zero="bad", huge="bad", one="bad", extra=[("15", "bad")])),
        ("--columns", usize(zero="bad", huge="bad")),
        ("--seed", SEED),
        ("--device", DEVICE),
        ("--bogus", [(None, "bad")]),
    ], fx, cases)

    # dcgan
    base = [("--epochs", "1"), ("--limit", "8"), ("--batch-size", "4"), ("--width", "2"), ("--latent", "4"),
            ("--data-dir", fx.small), ("--out", AUTO_DIR)]
    sweep("dcgan", base, [
        ("--epochs", usize(zero="bad", huge="long")),
        ("--batch-size", usize(zero="bad", huge="ok")),
        ("--lr", floats()),
        ("--width", usize(zero="bad", huge="bad", extra=[("513", "bad")])),
        ("--latent", usize(zero="bad", huge="bad", extra=[("4097", "bad")])),
        ("--limit", usize(zero="bad", huge="ok")),
        ("--seed", SEED),
        ("--out", fx.out_dir_bad()),
        ("--resume", BOOL),
        ("--device", DEVICE),
        ("--data-dir", data),
    ], fx, cases)
    run_folder_cases("dcgan", base, fx, cases)

    # devices
    sweep("devices", [], [("--bogus", [(None, "bad")]), ("@extra", [("unexpected-positional", "bad")]),
                          ("--device", [("flex", "bad")]), ("--help", [(None, "ok")])], fx, cases)

    # the LeNet readers
    # A run folder for a checkpoint: taking its newest checkpoint is as fine as a refusal.
    lenet_weights = fx.weights_bad(lenet_reader=True) + [(fx.lenet_run, "ok")]
    readers = {
        "dream": ([("--iterations", "2")], [
            ("--iterations", usize(zero="bad", huge="long")),
            ("--lr", floats()),
            ("--l2", floats(zero="ok")),
            ("--jitter", usize(zero="ok", huge="bad", extra=[("100", "ok")])),
            ("--blur-every", usize(zero="ok", huge="ok")),
            ("--seed", SEED),
        ]),
        "occlusion": ([], [
            ("--patch", usize(zero="bad", huge="bad", extra=[("29", "bad")])),
            ("--stride", usize(zero="bad", huge="ok")),
            ("--fill", floats(zero="ok", neg="ok")),
        ]),
        "saliency": ([], []),
        "tsne": ([("--images", "30"), ("--perplexity", "5"), ("--iterations", "10")], [
            ("--images", usize(zero="bad", huge="ok", one="bad", extra=[("9", "bad")])),
            ("--perplexity", floats(extra=[("1000", "bad")])),
            ("--iterations", usize(zero="bad", huge="long")),
            ("--pixels", BOOL),
            ("--seed", SEED),
        ]),
    }
    for name, (extra, flags) in readers.items():
        base = extra + [("--weights", fx.lenet_bpk), ("--data-dir", fx.small), ("--out", AUTO_PNG)]
        sweep(name, base, flags + [
            ("--weights", lenet_weights),
            ("--data-dir", data),
            ("--out", fx.out_png_bad()),
            ("--device", DEVICE),
        ], fx, cases)
        b = [(k, v) for k, v in base if k != "--weights"]
        cases.append(Case(name, "no --weights, cwd runs/lenet = a lenet --relu run",
                          build_argv(b, None, None, fx, name), "ok", cwd=fx.cwd_relu))
        cases.append(Case(name, "no --weights, no runs/lenet", build_argv(b, None, None, fx, name), "bad"))

    # classify: the zoo's own LeNet run (torchvision's weights cannot be
    # fetched here; --offline makes that a prompt error naming the URL)
    base = [("@image", fx.small_png), ("--checkpoint", fx.lenet_run), ("--out", AUTO_PNG)]
    sweep("classify", base, [
        ("@image", fx.img_bad() + [(fx.dir, "ok")]),
        ("--checkpoint", lenet_weights + [(fx.vae_run, "bad")]),
        ("--out", fx.out_png_bad()),
        ("--topk", usize(zero="bad", huge="ok")),
        ("--batch-size", usize(zero="bad", huge="bad")),
        ("--json", BOOL),
        ("--device", DEVICE),
        ("--bogus", [(None, "bad")]),
    ], fx, cases)
    b = [(k, v) for k, v in base if k != "--checkpoint"]
    for model in ["resnet18", "resnet5", "fcn_resnet50", "ResNet18_Weights.IMAGENET1K_V9", ""]:
        cases.append(Case("classify", f"--offline --model {model!r} (not cached)",
                          build_argv(b + [("--offline", None), ("--model", model)], None, None, fx, "classify"), "bad"))
    cases.append(Case("classify", "--weights garbage.pth",
                      build_argv(b + [("--model", "resnet18"), ("--weights", fx.garbage_pth)], None, None, fx,
                                 "classify"), "bad"))

    # segment: only refusals can run here (no FCN weights offline)
    base = [("@image", fx.small_png), ("--offline", None), ("--out", AUTO_PNG)]
    sweep("segment", base, [
        ("@image", fx.img_bad()),
        ("--model", [("fcn_resnet50", "bad"), ("resnet50", "bad"), ("fcn", "bad"), ("", "bad")]),
        ("--weights", fx.weights_bad()),
        ("--out", fx.out_png_bad()),
        ("--masks", [("/proc/zoo-masks", "bad"), ("", "bad")]),
        ("--device", DEVICE),
    ], fx, cases)

    # hog-svm
    base = [("--train", "40"), ("--test", "10"), ("--iterations", "5"), ("--data-dir", fx.small), ("--out", AUTO_DIR)]
    sweep("hog-svm", base, [
        ("--train", usize(zero="bad", huge="ok")),
        ("--test", usize(zero="bad", huge="ok")),
        ("--cell", usize(zero="bad", huge="bad", extra=[("29", "bad")])),
        ("--orientations", usize(zero="bad", huge="bad")),
        ("--iterations", usize(zero="bad", huge="long")),
        ("--lr", floats()),
        ("--reg", floats(zero="ok")),
        ("--weights", lenet_weights),
        ("--data-dir", data),
        ("--out", fx.out_dir_bad()),
        ("--device", DEVICE),
    ], fx, cases)
    cases.append(Case("hog-svm", "no --weights, cwd runs/lenet = a lenet --relu run",
                      build_argv(base, None, None, fx, "hog-svm"), "ok", cwd=fx.cwd_relu))

    # edges
    base = [("@image", fx.small_png), ("--out", AUTO_PNG)]
    sweep("edges", base, [
        ("@image", fx.img_bad()),
        ("--sigma", floats(zero="ok")),
        ("--low", floats(zero="ok", extra=[("0.9", "bad"), ("2", "bad")])),
        ("--high", floats(extra=[("0.01", "bad"), ("2", "bad")])),
        ("--cell", usize(zero="bad", huge="bad", extra=[("65", "bad"), ("64", "ok")])),
        ("--orientations", usize(zero="bad", huge="bad", extra=[("37", "bad")])),
        ("--out", fx.out_png_bad()),
        ("--device", DEVICE + [("wgpu", "ok")]),
    ], fx, cases)

    # fcn
    # 8 held-out images with 2 objects each: every class is in them (an absent one has no IoU).
    base = [("--epochs", "1"), ("--batch-size", "2"), ("--size", "64"), ("--train", "4"), ("--val", "8"),
            ("--objects", "2"), ("--out", AUTO_DIR)]
    sweep("fcn", base, [
        ("--epochs", usize(zero="bad", huge="long")),
        ("--batch-size", usize(zero="bad", huge="ok")),
        ("--lr", floats()),
        ("--optimizer", STRING + [("sgd", "ok")]),
        ("--size", usize(zero="bad", huge="bad", one="bad", extra=[("33", "bad"), ("1056", "bad")])),
        ("--train", usize(zero="bad", huge="bad", one="bad")),
        ("--val", usize(zero="bad", huge="bad")),
        ("--objects", usize(zero="ok", huge="bad")),
        ("--weights", fx.weights_bad()),
        ("--voc", [("/nonexistent/voc", "bad"), (fx.fm_empty, "bad"), ("/etc/passwd", "bad"), ("", "bad")]),
        ("--seed", SEED),
        ("--out", fx.out_dir_bad()),
        ("--resume", BOOL),
        ("--device", DEVICE),
    ], fx, cases)
    run_folder_cases("fcn", base, fx, cases)

    # gan
    base = [("--epochs", "1"), ("--out", AUTO_DIR)]
    sweep("gan", base, [
        ("--epochs", usize(zero="bad", huge="long")),
        ("--batch-size", usize(zero="bad", huge="ok")),
        ("--lr-d", floats()),
        ("--lr-g", floats()),
        ("--seed", SEED),
        ("--out", fx.out_dir_bad()),
        ("--resume", BOOL),
        ("--device", DEVICE),
    ], fx, cases)
    run_folder_cases("gan", base, fx, cases)

    # knn
    base = [("--train", "40"), ("--test", "10"), ("--folds", "2"), ("--ks", "1,3"), ("--data-dir", fx.small),
            ("--out", AUTO_DIR)]
    sweep("knn", base, [
        ("--dataset", STRING + [("cifar-10", "bad")]),
        ("--metric", STRING + [("l2", "ok")]),
        ("--train", usize(zero="bad", huge="ok")),
        ("--test", usize(zero="bad", huge="ok")),
        ("--folds", usize(zero="bad", huge="bad", one="bad")),
        ("--ks", [("0", "bad"), ("", "bad"), ("1,,3", "bad"), ("-1", "bad"), ("abc", "bad"), (U64_MAX, "bad"),
                  ("1000000000000", "bad"), ("1e12", "bad"), ("18446744073709551616", "bad"), ("5,5", "ok")]),
        ("--data-dir", data),
        ("--out", fx.out_dir_bad()),
        ("--device", DEVICE),
    ], fx, cases)

    # linear
    base = [("--train", "40"), ("--test", "10"), ("--iterations", "5"), ("--batch-size", "8"),
            ("--data-dir", fx.small), ("--out", AUTO_DIR)]
    sweep("linear", base, [
        ("--train", usize(zero="bad", huge="ok")),
        ("--test", usize(zero="bad", huge="ok")),
        ("--iterations", usize(zero="bad", huge="long")),
        ("--batch-size", usize(zero="bad", huge="ok")),
        ("--lr", floats()),
        ("--reg", floats(zero="ok")),
        ("--seed", SEED),
        ("--data-dir", data),
        ("--out", fx.out_dir_bad()),
        ("--device", DEVICE),
    ], fx, cases)

    # rnn
    base = [("--epochs", "1"), ("--hidden", "8"), ("--batch-size", "4"), ("--num-steps", "8"),
            ("--max-tokens", "2000"), ("--valid-tokens", "200"), ("--num-preds", "5"), ("--out", AUTO_DIR)]
    sweep("rnn", base, [
        ("--model", STRING + [("NaN", "bad"), ("lstm", "ok"), ("rnn", "ok")]),
        ("--layers", usize(zero="bad", huge="bad", extra=[("17", "bad")])),
        ("--hidden", usize(zero="bad", huge="bad", extra=[("8193", "bad")])),
        ("--random-iter", BOOL),
        ("--epochs", usize(zero="bad", huge="long")),
        ("--lr", floats()),
        ("--adam", BOOL),
        ("--batch-size", usize(zero="bad", huge="bad")),
        ("--num-steps", usize(zero="bad", huge="bad")),
        ("--max-tokens", usize(zero="bad", huge="ok")),
        ("--valid-tokens", usize(zero="bad", huge="ok")),
        ("--clip", floats()),
        ("--prefix", [("", "bad"), ("   ", "bad"), ("\u00e9\u00e9", "ok"), ("time", "ok")]),
        ("--num-preds", usize(zero="ok", huge="bad", extra=[("100001", "bad")])),
        ("--sample-every", usize(zero="ok", huge="ok")),
        ("--temperature", floats()),
        ("--top-k", usize(zero="bad", huge="ok")),
        ("--device", DEVICE),
        ("--data-dir", [("/nonexistent/data", "bad"), ("/etc/passwd", "bad"), ("", "bad"), (fx.fm_empty, "bad"),
                        (fx.tm_bad, "bad")]),
        ("--text", [(fx.missing, "bad"), (fx.dir, "bad"), (fx.empty, "bad"), (fx.trunc_png, "bad"), ("", "bad"),
                    ("/etc/passwd", "ok")]),
        ("--seed", SEED),
        ("--out", fx.out_dir_bad()),
        ("--resume", BOOL),
    ], fx, cases)
    run_folder_cases("rnn", base, fx, cases)

    # ssd
    base = [("--epochs", "1"), ("--size", "64"), ("--train", "4"), ("--val", "2"), ("--batch-size", "2"),
            ("--out", AUTO_DIR)]
    sweep("ssd", base, [
        ("--epochs", usize(zero="bad", huge="long")),
        ("--size", usize(zero="bad", huge="bad", one="bad", extra=[("63", "bad"), ("100000", "bad")])),
        ("--train", usize(zero="bad", huge="bad")),
        ("--val", usize(zero="bad", huge="bad")),
        ("--objects", usize(zero="ok", huge="bad", extra=[("17", "bad")])),
        ("--batch-size", usize(zero="bad", huge="ok")),
        ("--lr", floats()),
        ("--device", DEVICE),
        ("--seed", SEED),
        ("--voc", [("/nonexistent/voc", "bad"), (fx.fm_empty, "bad"), ("/etc/passwd", "bad"), ("", "bad")]),
        ("--out", fx.out_dir_bad()),
        ("--resume", BOOL),
    ], fx, cases)
    run_folder_cases("ssd", base, fx, cases)

    # style-transfer
    base = [("--content", fx.small_png), ("--style", fx.small_png2), ("--steps", "1"), ("--every", "1"),
            ("--size", "32"), ("--out", AUTO_PNG), ("--run-dir", AUTO_DIR)]
    sweep("style-transfer", base, [
        ("--content", fx.img_bad()),
        ("--style", fx.img_bad()),
        ("--out", fx.out_png_bad()),
        ("--weights", fx.weights_bad()),
        ("--size", [("0", "bad"), ("31", "bad"), ("x", "bad"), ("32x", "bad"), ("x32", "bad"), ("32x32x32", "bad"),
                    ("", "bad"), ("-32", "bad"), ("100000x100000", "bad"), (U64_MAX, "bad"), ("1e12", "bad"),
                    ("32x40", "ok")]),
        ("--steps", usize(zero="bad", huge="long")),
        ("--optimizer", STRING + [("lbfgs", "ok")]),
        ("--every", usize(zero="ok", huge="ok")),  # 0: no intermediate pictures
        ("--run-dir", fx.out_dir_bad()),
        ("--resume", BOOL),
        ("--noise", BOOL),
        ("--avg-pool", BOOL),
        ("--after-relu", BOOL),
        ("--style-weight", floats(zero="ok")),
        ("--device", DEVICE),
    ], fx, cases)
    run_folder_cases("style-transfer", base, fx, cases, out_flag="--run-dir")

    # summary
    base = [("@model", "d2l_lenet")]
    sweep("summary", base, [
        ("@model", STRING + [("resnet18", "ok")]),
        ("--list", BOOL),
        ("--input-size", [("0", "bad"), ("1", "bad"), ("x", "bad"), ("3x", "bad"), ("x3", "bad"), ("0x5", "bad"),
                          ("28x0", "bad"), ("28x28x28", "bad"), ("", "bad"), ("-28", "bad"), ("100000", "bad"),
                          (U64_MAX, "bad"), ("1e12", "bad"), ("32", "ok"), ("28x36", "ok")]),
        ("--in-channels", usize(zero="bad", huge="bad", extra=[("100000000", "bad")])),
        ("--num-classes", usize(zero="bad", huge="bad")),
        ("--batch", usize(zero="bad", huge="bad")),
        ("--depth", usize(zero="ok", huge="ok")),
        ("--timed", BOOL),
        ("--device", DEVICE + [("wgpu", "ok")]),
    ], fx, cases)
    for v, e in [("74", "ok"), ("0", "bad"), ("224", "ok")]:
        cases.append(Case("summary", f"resnet18 --input-size {v}", build_argv([("@model", "resnet18")], "--input-size", v, fx, "summary"), e))
    cases.append(Case("summary", "ZOO_DEVICE=tpu", ["d2l_lenet"], "bad", env={"ZOO_DEVICE": "tpu"}))

    # vae
    base = [("--epochs", "1"), ("--batch-size", "16"), ("--latent", "4"), ("--data-dir", fx.small), ("--out", AUTO_DIR)]
    sweep("vae", base, [
        ("--epochs", usize(zero="bad", huge="long")),
        ("--batch-size", usize(zero="bad", huge="ok")),
        ("--lr", floats()),
        ("--latent", usize(zero="bad", huge="bad", extra=[("4097", "bad")])),
        ("--seed", SEED),
        ("--out", fx.out_dir_bad()),
        ("--resume", BOOL),
        ("--device", DEVICE),
        ("--data-dir", data),
    ], fx, cases)
    run_folder_cases("vae", base, fx, cases)

    # xtask
    base = [("--runs", "1"), ("--size", "16")]
    sweep("xtask", base, [
        ("--size", usize(zero="bad", huge="bad")),
        # At most 1,000,000 runs (that many still starts: "long").
        ("--runs", usize(zero="bad", huge="bad", extra=[("1000000", "long"), ("1000001", "bad")])),
        ("--batch-size", usize(zero="bad", huge="bad")),
        ("--resize", usize(zero="bad", huge="bad")),
        ("--device", DEVICE),
    ], fx, cases, prefix=["bench", "matmul"])
    for what, e in [("bogus", "bad"), ("", "bad")]:
        cases.append(Case("xtask", f"bench {what!r}", ["bench", what, "--runs", "1"], e))
    base = [("--runs", "1"), ("--batch-size", "4"), ("--data-dir", fx.small)]
    sweep("xtask", base, [
        ("--data-dir", data),
        # 0 to 1024 threads (0: loaded on the calling thread).
        ("--workers", usize(zero="ok", huge="bad", extra=[("1024", "ok"), ("1025", "bad")])),
        ("--resize", usize(zero="bad", huge="bad", extra=[("100000", "bad")])),
        ("--batch-size", usize(zero="bad", huge="bad", extra=[("100000", "ok")])),
    ], fx, cases, prefix=["bench", "data"])
    # 3 images are too few for kNN's k = 5 and t-SNE's perplexity 30: refused.
    for d, e in [(fx.fm_empty, "bad"), (fx.three, "bad"), ("/nonexistent/fashion", "bad")]:
        cases.append(Case("xtask", f"bench classic --data-dir {d}", ["bench", "classic", "--runs", "1", "--data-dir", d], e))
    base = [("@dir", fx.cases_bad)]
    sweep("xtask", base, [
        ("@dir", [("/nonexistent/cases", "bad"), (fx.fm_empty, "bad"), ("/etc/passwd", "bad"), ("", "bad")]),
        ("--timeout-s", floats(big="bad", extra=[("1e300", "bad"), ("1e-300", "bad")])),
        ("--ops", [("", "bad"), ("bogus", "bad"), (",,", "bad")]),
        ("--filter", [("no-such-case", "bad"), ("", "bad")]),
        ("--allow-unsupported", BOOL),
        ("--device", DEVICE),
    ], fx, cases, prefix=["conformance"], base_expect="bad", clean_re=r"\bFAIL\b")
    cases.append(Case("xtask", "conformance-worker --device tpu", ["conformance-worker", "--device", "tpu"], "bad"))
    cases.append(Case("xtask", "conformance-worker, stdin: garbage paths", ["conformance-worker"], "ok",
                      stdin="/nonexistent.safetensors\n\n/etc/passwd\n" + os.path.join(fx.cases_bad, "matmul__garbage.safetensors") + "\n"))
    dl = lambda: fx.fresh("dir", "download")
    for label, argv, e in [
        ("download bogus", ["download", "bogus", "--dir", dl(), "--from", fx.small], "bad"),
        ("download ''", ["download", "", "--dir", dl(), "--from", fx.small], "bad"),
        ("download --from missing", ["download", "fashion-mnist", "--dir", dl(), "--from", "/nonexistent/fm"], "bad"),
        ("download --from empty dir", ["download", "fashion-mnist", "--dir", dl(), "--from", fx.fm_empty], "bad"),
        ("download --from 3-image files", ["download", "fashion-mnist", "--dir", dl(), "--from", fx.three], "bad"),
        ("download --from /etc/passwd", ["download", "fashion-mnist", "--dir", dl(), "--from", "/etc/passwd"], "bad"),
        ("download --dir /etc/passwd", ["download", "fashion-mnist", "--dir", "/etc/passwd", "--from", fx.small], "bad"),
        ("download --dir /proc", ["download", "fashion-mnist", "--dir", "/proc/zoo-fault", "--from", fx.small], "bad"),
        ("download --mirror not-a-url", ["download", "fashion-mnist", "--dir", dl(), "--mirror", "not a url", "--quiet"], "bad"),
        ("download --mirror refused", ["download", "fashion-mnist", "--dir", dl(), "--mirror", "http://127.0.0.1:9/", "--quiet"], "bad"),
        ("download --md5 x", ["download", "fashion-mnist", "--dir", dl(), "--from", fx.small, "--md5", "x"], "bad"),
        ("download --md5 wrong", ["download", "fashion-mnist", "--dir", dl(), "--from", fx.small,
                                  "--md5", "train-images-idx3-ubyte.gz=00"], "bad"),
        ("download --mirror --from (conflict)", ["download", "fashion-mnist", "--dir", dl(), "--from", fx.small,
                                                 "--mirror", "http://127.0.0.1:9/"], "bad"),
        ("download resnet18 --from empty", ["download", "resnet18", "--dir", dl(), "--from", fx.fm_empty], "bad"),
        ("download time-machine --from /etc", ["download", "time-machine", "--dir", dl(), "--from", "/etc"], "bad"),
    ]:
        cases.append(Case("xtask", label, argv, e))
    cases.append(Case("xtask", "no task", [], "bad"))
    cases.append(Case("xtask", "unknown task", ["bogus"], "bad"))
    return cases


# ---------------------------------------------------------------- running


def do_prep(steps, fx):
    for step in steps:
        if step[0] == "copytree":
            if os.path.isdir(step[1]):
                shutil.copytree(step[1], step[2])
        elif step[0] == "flip_model":
            for dirpath, _, files in os.walk(step[1]):
                for f in files:
                    if f.endswith(".bpk") and "optim" not in f:
                        path = os.path.join(dirpath, f)
                        flipped(path, path, 0.5)


def execute(argv, cwd, env_extra, stdin, limit, mem_gb, data_home):
    env = dict(os.environ)
    env.pop("ZOO_DEVICE", None)
    env.update({"ZOO_DATA_DIR": data_home, "RUST_BACKTRACE": "0", "NO_COLOR": "1"})
    env.update(env_extra)
    wrapped = ["/bin/sh", "-c", f'ulimit -v {int(mem_gb * 1024 * 1024)} 2>/dev/null; exec "$@"', "sh"] + argv
    start = time.time()
    p = subprocess.Popen(wrapped, cwd=cwd, env=env, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = p.communicate(input=stdin.encode() if stdin else None, timeout=limit)
        timed_out = False
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = p.communicate()
        timed_out = True
    dec = lambda b: b.decode("utf-8", "replace")
    return p.returncode, dec(out), dec(err), timed_out, time.time() - start


# The warning a standalone `.bpk` (no state.json beside it to check its hash
# against) is loaded with.
UNVERIFIED_RE = re.compile(r"^warning: .*\.bpk\b.*\bno state\.json beside it\b.*\bcannot be verified\b")


def unverified_warning(case, err):
    """A `.bpk` given to --weights with no state.json beside it cannot be
    checked, so the project loads it with a printed `warning:` rather than
    refusing it (its bytes may be right): exit 0 with that warning counts as
    ok (warned), not nonsense."""
    if "--weights" not in case.argv:
        return False
    w = case.argv[case.argv.index("--weights") + 1:case.argv.index("--weights") + 2]
    if not (w and w[0].endswith(".bpk")) or os.path.isfile(os.path.join(os.path.dirname(w[0]), "state.json")):
        return False
    return any(UNVERIFIED_RE.search(line.strip()) for line in err.splitlines())


def classify(case, rc, out, err, timed_out, t):
    text = (out + "\n" + err).replace(t, "$T")
    if timed_out:
        return "ok" if case.expect == "long" else "timeout"
    if "panicked at" in err:
        return "panic"
    if rc < 0:
        return "signal"
    if rc == 0:
        if NAN_RE.search(text):
            return "nonsense"
        if case.expect == "bad" and not unverified_warning(case, err):
            return "nonsense"
        return "ok"
    if any(line.strip().lower().startswith("error") for line in err.splitlines()):
        return "clean"
    if case.clean_re and re.search(case.clean_re, text):
        return "clean"
    return "silent"


def last_line(out, err, t):
    """The line that says what happened: a panic's message, an `error` line
    (clap's, not its `--help` hint), a failed allocation, else the last line."""
    lines = err.splitlines()
    for i, l in enumerate(lines):
        if "panicked at" in l:
            msg = " ".join(x.strip() for x in lines[i:i + 3] if x.strip() and not x.startswith("note:"))
            return msg.replace(t, "$T")[:300]
    for l in lines:
        if l.strip().lower().startswith("error") or "memory allocation" in l:
            return l.strip().replace(t, "$T")[:300]
    for text in (err, out):
        lines = [l for l in text.strip().splitlines() if l.strip()]
        if lines:
            return lines[-1].replace(t, "$T")[:300]
    return ""


def shell_join(argv):
    import shlex
    return " ".join(shlex.quote(a) for a in argv)


def setup(fx, bindir, mem_gb):
    """The three small runs whose folders and checkpoints the cases use."""
    runs = os.path.join(fx.t, "runs")
    os.makedirs(runs, exist_ok=True)
    common = ["--epochs", "1", "--batch-size", "16", "--data-dir", fx.small]
    jobs = [
        ("lenet", ["lenet"] + common + ["--out", os.path.join(runs, "lenet")]),
        ("lenet-relu", ["lenet"] + common + ["--relu", "--out", os.path.join(runs, "lenet-relu")]),
        ("vae", ["vae"] + common + ["--latent", "4", "--out", os.path.join(runs, "vae")]),
    ]
    found = {}
    for name, argv in jobs:
        rc, out, err, to, _ = execute([os.path.join(bindir, argv[0])] + argv[1:], fx.cwd, {}, None, LIMIT_S,
                                      mem_gb, fx.data_home)
        run = os.path.join(runs, name)
        ckpts = sorted(d for d in (os.listdir(os.path.join(run, "checkpoints"))
                                   if os.path.isdir(os.path.join(run, "checkpoints")) else [])
                       if d.startswith("epoch-"))
        bpk = None
        if ckpts:
            d = os.path.join(run, "checkpoints", ckpts[-1])
            names = sorted(f for f in os.listdir(d) if f.endswith(".bpk") and "optim" not in f)
            if "model.bpk" in names:
                bpk = os.path.join(d, "model.bpk")
            elif names:
                bpk = os.path.join(d, names[0])
        status = "ok" if rc == 0 and bpk else f"FAILED (exit {rc}{', timed out' if to else ''}): {last_line(out, err, fx.t)}"
        print(f"setup {name}: {status}", flush=True)
        found[name] = (run, bpk)
    missing = os.path.join(fx.t, "runs", "missing", "model.bpk")
    fx.lenet_run, b = found["lenet"]
    fx.lenet_bpk = b or missing
    fx.relu_run, b = found["lenet-relu"]
    fx.relu_bpk = b or missing
    fx.vae_run, b = found["vae"]
    fx.vae_bpk = b or missing
    if os.path.isdir(fx.relu_run):
        shutil.copytree(fx.relu_run, os.path.join(fx.cwd_relu, "runs", "lenet"))
    files = os.path.join(fx.t, "files")
    if os.path.isfile(fx.lenet_bpk):
        fx.damaged_header = flipped(fx.lenet_bpk, os.path.join(files, "damaged-header.bpk"), 0.0)
        fx.damaged_payload = flipped(fx.lenet_bpk, os.path.join(files, "damaged-payload.bpk"), 0.5)
        data = open(fx.lenet_bpk, "rb").read()
        fx.truncated_bpk = os.path.join(files, "truncated.bpk")
        with open(fx.truncated_bpk, "wb") as f:
            f.write(data[: len(data) * 6 // 10])
        fx.damaged_run = os.path.join(runs, "lenet-damaged")
        shutil.copytree(fx.lenet_run, fx.damaged_run)
        do_prep([("flip_model", fx.damaged_run)], fx)
        # The flipped model.bpk in its checkpoint folder, beside the state.json that records its hash.
        fx.damaged_in_place = os.path.join(fx.damaged_run, os.path.relpath(fx.lenet_bpk, fx.lenet_run))
    else:
        fx.damaged_header = fx.damaged_payload = fx.truncated_bpk = fx.damaged_in_place = missing
        fx.damaged_run = os.path.join(runs, "missing")


def default_bindir():
    for d in [os.path.join(os.environ["CARGO_TARGET_DIR"], "debug") if os.environ.get("CARGO_TARGET_DIR") else None,
              os.path.expanduser("~/.cache/zoo/target/debug"), os.path.join(ROOT, "target", "debug")]:
        if d and os.path.isfile(os.path.join(d, "lenet")):
            return d
    return os.path.expanduser("~/.cache/zoo/target/debug")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bin_pos", nargs="?", help=argparse.SUPPRESS)
    ap.add_argument("--bin", help="directory of the binaries")
    ap.add_argument("--only", help="comma-separated binaries to sweep (e.g. lenet,xtask)")
    ap.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1), help="runs at a time")
    ap.add_argument("--limit-s", type=float, default=LIMIT_S, help="seconds a run may take (120)")
    ap.add_argument("--mem-gb", type=float, default=8, help="ulimit -v of each run, GiB (8)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--json", help="write every run's result here")
    ap.add_argument("--list", action="store_true", help="print the runs, run nothing")
    args = ap.parse_args()
    bindir = os.path.abspath(args.bin or args.bin_pos or default_bindir())
    only = None
    if args.only:
        only = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in only if n not in BINARIES]
        if unknown:
            sys.exit(f"error: --only {','.join(unknown)}: unknown; expected some of {', '.join(BINARIES)}")
    selected = only or BINARIES
    missing = [b for b in selected if not os.path.isfile(os.path.join(bindir, b))]
    if missing and not args.list:
        print(f"note: not built in {bindir}: {', '.join(missing)} (their runs are skipped)", flush=True)
    t = tempfile.mkdtemp(prefix="zoo-fault-")
    try:
        t0 = time.time()
        fx = Fixtures(t)
        print(f"fixtures in {t} ({time.time() - t0:.1f} s; Fashion-MNIST images from {fx.fashion_origin})", flush=True)
        if args.list:
            fx.damaged_header = fx.damaged_payload = fx.truncated_bpk = fx.damaged_run = "<setup>"
            fx.damaged_in_place = "<setup>"
        elif os.path.isfile(os.path.join(bindir, "lenet")) and os.path.isfile(os.path.join(bindir, "vae")):
            setup(fx, bindir, args.mem_gb)
        else:
            print("setup skipped: lenet / vae not built; checkpoint cases use missing paths", flush=True)
            fx.damaged_header = fx.damaged_payload = fx.truncated_bpk = os.path.join(t, "runs", "missing", "model.bpk")
            fx.damaged_in_place = fx.damaged_header
            fx.damaged_run = os.path.join(t, "runs", "missing")
        cases = [c for c in make_cases(fx) if c.binary in selected]
        if args.list:
            for c in cases:
                print(f"{c.binary:15} {c.expect:5} {shell_join(c.argv)}".replace(t, "$T"))
            print(f"{len(cases)} runs")
            return
        cases = [c for c in cases if c.binary not in missing]
        print(f"{len(cases)} runs of {len(set(c.binary for c in cases))} binaries, {args.jobs} at a time, "
              f"at most {args.limit_s:.0f} s each", flush=True)
        results = []
        lock = threading.Lock()
        done = [0]

        def one(case):
            do_prep(case.prep, fx)
            argv = [os.path.join(bindir, case.binary)] + case.argv
            limit = min(LONG_S, args.limit_s) if case.expect == "long" else args.limit_s
            for attempt in range(3):
                rc, out, err, to, secs = execute(argv, case.cwd or fx.cwd, case.env, case.stdin, limit, args.mem_gb,
                                                 fx.data_home)
                # 126 / 127 from the shell: the binary is being rebuilt (replaced) just now.
                if rc not in (126, 127) or "sh:" not in err:
                    break
                time.sleep(20)
            outcome = classify(case, rc, out, err, to, t)
            r = {"binary": case.binary, "label": case.label, "expect": case.expect, "outcome": outcome,
                 "exit": rc, "seconds": round(secs, 1),
                 "command": (("ZOO_DEVICE=%s " % case.env["ZOO_DEVICE"]) if "ZOO_DEVICE" in case.env else "")
                 + (f"(cd {case.cwd}) " if case.cwd else "") + f"{case.binary} {shell_join(case.argv)}",
                 "last": last_line(out, err, t), "stdout_tail": out[-1500:], "stderr_tail": err[-1500:]}
            if outcome == "ok" and case.expect == "bad":
                r["warned"] = True  # exit 0 on a standalone .bpk, with its warning
            if outcome == "nonsense" and case.expect != "bad":
                # Exit 0 with NaN / inf printed: show where.
                hit = next((l for l in (out + "\n" + err).replace(t, "$T").splitlines() if NAN_RE.search(l)), "")
                r["last"] = hit.strip()[:300]
            r["command"] = r["command"].replace(t, "$T")
            with lock:
                results.append(r)
                done[0] += 1
                bad = outcome not in ("clean", "ok") or (case.expect == "base" and outcome != "ok")
                if bad:
                    print(f"[{done[0]}/{len(cases)}] {outcome:>8}: {r['command']}  | {r['last'][:200]}", flush=True)
                elif done[0] % 100 == 0:
                    print(f"[{done[0]}/{len(cases)}] {time.time() - t0:.0f} s", flush=True)
            return r

        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            list(pool.map(one, cases))
        order = {c: i for i, c in enumerate(BINARIES)}
        results.sort(key=lambda r: order[r["binary"]])
        report(results, selected, missing, time.time() - t0)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
    finally:
        if args.keep:
            print(f"kept {t}")
        else:
            shutil.rmtree(t, ignore_errors=True)


def report(results, selected, missing, secs):
    print()
    head = f"{'binary':16}" + "".join(f"{o:>9}" for o in OUTCOMES) + f"{'runs':>7}  base"
    print(head)
    print("-" * len(head))
    totals = {o: 0 for o in OUTCOMES}
    for b in selected:
        rs = [r for r in results if r["binary"] == b]
        if b in missing:
            print(f"{b:16}  (not built)")
            continue
        counts = {o: sum(r["outcome"] == o for r in rs) for o in OUTCOMES}
        for o in OUTCOMES:
            totals[o] += counts[o]
        bases = [r["outcome"] for r in rs if r["expect"] == "base"]
        print(f"{b:16}" + "".join(f"{counts[o]:>9}" for o in OUTCOMES) + f"{len(rs):>7}  {','.join(bases)}")
    print("-" * len(head))
    print(f"{'total':16}" + "".join(f"{totals[o]:>9}" for o in OUTCOMES) + f"{sum(totals.values()):>7}")
    warned = sum(bool(r.get("warned")) for r in results)
    print(f"({secs:.0f} s)" + (f"; {warned} ok runs loaded a standalone .bpk with a `warning:`" if warned else ""))
    bad = [r for r in results if r["outcome"] not in ("clean", "ok") or (r["expect"] == "base" and r["outcome"] != "ok")]
    if bad:
        print(f"\n{len(bad)} runs that did not end clean / ok:")
        for r in bad:
            tag = r["outcome"] + (" (base)" if r["expect"] == "base" else "")
            print(f"{tag:>15}: {r['command']}\n{'':17}| {r['last']}")


if __name__ == "__main__":
    main()
