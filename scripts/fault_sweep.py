"""Feeds every flag of the binaries bad values and reports how each run ended.

    python3 scripts/fault_sweep.py [TARGET_DIR/debug]

A run ends well when it exits 2 (or 1 for a failure while running) with an
`error:` line on stderr that names what was wrong; it ends badly when it
panics, aborts, is killed by a signal, runs past the time limit, or exits 0
on a value that cannot be right. Prints one line per bad run and the counts.
The binaries are the ones `cargo build -p examples -p xtask` made.
"""

import os
import subprocess
import sys
import tempfile

BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/zoo/target/debug")
LIMIT_S = 120

NUMBERS = ["0", "-1", "NaN", "inf", "1e39", "18446744073709551615", "18446744073709551616", "abc", ""]
SIZES = ["0", "1", "100000", "18446744073709551615", "-3", "x"]

# binary, fixed arguments, {flag: values}
TARGETS = [
    ("lenet", ["--epochs", "1"], {"--lr": NUMBERS, "--batch-size": SIZES, "--epochs": ["0", "-1", "x"], "--device": ["tpu", ""], "--augment": ["bogus", ""], "--data-dir": ["/nonexistent", "/etc"]}),
    ("resnet", ["--epochs", "1", "--limit", "16", "--input-size", "32"], {"--lr": NUMBERS, "--batch-size": SIZES, "--input-size": SIZES, "--limit": ["0"], "--model": ["vgg11", "resnet1000", ""], "--weights": ["/nonexistent.pth", "/etc/passwd"]}),
    ("summary", ["resnet18"], {"--input-size": SIZES + ["3x", "x3", "0x5", "74"], "--batch": ["0", "x"], "--num-classes": ["0", "1000000000000"], "--in-channels": ["0", "100000000"]}),
    ("ssd", ["--epochs", "1", "--train", "8", "--val", "4", "--size", "64"], {"--lr": NUMBERS, "--batch-size": SIZES, "--size": SIZES, "--train": ["0", "1000000000000"], "--val": ["0"], "--objects": ["0", "1000000000"]}),
    ("augment", ["assets/images/chelsea.jpg"], {"--cell": SIZES, "--columns": ["0", "x"], "--out": ["x.jpg", "/", "/nonexistent/dir/x.png"]}),
    ("style-transfer", ["--content", "assets/images/chelsea.jpg", "--style", "assets/images/hubble_deep_field.jpg", "--steps", "1", "--size", "32"], {"--size": SIZES + ["31x40"], "--style-weight": NUMBERS, "--optimizer": ["sgd"], "--out": ["x.jpg", "/"]}),
    ("xtask", ["bench", "matmul", "--runs", "1", "--size", "64"], {"--runs": SIZES, "--size": SIZES, "--batch-size": SIZES}),
    ("devices", [], {"--bogus": [None], "extra": [None]}),
]


def run(argv, cwd):
    try:
        p = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=LIMIT_S)
    except subprocess.TimeoutExpired:
        return "timeout", ""
    err = p.stderr
    if p.returncode < 0:
        return f"signal {-p.returncode}", err
    if "panicked" in err or "memory allocation" in err:
        return "panic", err
    if p.returncode == 0:
        return "exit 0", err
    if "error" in err.lower():
        return "clean", err
    return f"exit {p.returncode} without a message", err


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    counts = {}
    with tempfile.TemporaryDirectory() as tmp:
        for binary, fixed, flags in TARGETS:
            for flag, values in flags.items():
                for value in values:
                    argv = [os.path.join(BIN, binary)] + fixed
                    if flag == "extra":
                        argv.append("unexpected-positional")
                    elif value is None:
                        argv.append(flag)
                    else:
                        argv += [flag, value]
                    if binary in ("lenet", "resnet", "ssd") and "--out" not in argv:
                        argv += ["--out", os.path.join(tmp, f"{binary}-{len(counts)}")]
                    outcome, err = run(argv, root)
                    counts[outcome] = counts.get(outcome, 0) + 1
                    if outcome != "clean":
                        last = err.strip().splitlines()[-1] if err.strip() else ""
                        print(f"{outcome:>10}: {' '.join(argv[1:])}  | {last[:160]}")
    total = sum(counts.values())
    print(f"{total} runs: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
