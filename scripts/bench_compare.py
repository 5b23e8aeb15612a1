#!/usr/bin/env python3
"""The zoo / PyTorch ratios, from runs interleaved in one invocation: this
machine's speed drifts 20-40% between periods, so each round times the zoo
(`xtask bench WHAT`, a subprocess) and then PyTorch (the matching
`scripts/bench_WHAT.py`, in process) back to back, and the ratio of each
round is kept. Prints each benchmark's median ratio over the rounds with
its range, and the medians of the times.

    cargo build -p xtask        # once; the binary is run directly
    python3 scripts/bench_compare.py models kernels --rounds 5 --runs 3 [--baseline]

`--baseline` also times, each round, the same binary with `ZOO_KERNELS=burn`
(burn's own flex ops instead of the zoo's kernels): the before / after of
the kernels, measured in the same period. `--only a,b` runs the benchmarks
whose names start with `a` or `b` (both sides read `ZOO_BENCH_ONLY`). A
`bench_WHAT.py` with its own `zoo_measure(runs)` (`classify`: the example
binary, not xtask) times the zoo's side itself; with `rates(times)` it also
prints images/s.
"""
import argparse
import importlib
import os
import resource
import statistics
import subprocess
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def busy_seconds():
    """CPU seconds all processes on this machine spent busy (from /proc/stat),
    and those of this process and its finished children: their difference
    over a measurement is the other work that ran meanwhile."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]  # idle, iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    ours = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    return (total - idle) / tick, ours


def zoo_times(binary, what, runs, device, burn_ops=False):
    env = dict(os.environ)
    env.setdefault("ZOO_BENCH_PROFILE", "0")
    if burn_ops:
        env["ZOO_KERNELS"] = "burn"
    out = subprocess.run(
        [binary, "bench", what, "--runs", str(runs), "--device", device],
        check=True, capture_output=True, text=True, env=env).stdout
    times = {}
    for line in out.splitlines():
        if line.strip().endswith(" ms") and ":" in line and not line.startswith(" "):
            name, value = line.split(":", 1)
            times[name.strip()] = float(value.strip().split()[0])
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", nargs="+", help="models, kernels, ...")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3, help="timed runs per round on each side")
    ap.add_argument("--device", default="flex")
    ap.add_argument("--baseline", action="store_true",
                    help="also time the zoo with ZOO_KERNELS=burn (burn's own flex ops) each round")
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/zoo/target"))
    ap.add_argument("--xtask", default=os.path.join(target, "debug", "xtask"))
    ap.add_argument("--only", default="",
                    help="comma-separated name prefixes: only those benchmarks (ZOO_BENCH_ONLY)")
    ap.add_argument("--max-other", type=float, default=None,
                    help="redo a benchmark's pair of measurements (up to --tries times) while other "
                         "processes used more than this many CPUs on average meanwhile (0.1: a tenth "
                         "of a core); the rounds' other load is printed either way")
    ap.add_argument("--tries", type=int, default=5)
    ap.add_argument("--wait", type=float, default=0.0,
                    help="seconds to wait before measuring a pair again (with --max-other)")
    ap.add_argument("--split", action="store_true",
                    help="with --only: each prefix timed on its own, zoo and PyTorch back to back "
                         "(finer interleaving), the side that goes first alternating by round")
    args = ap.parse_args()
    if args.split and not args.only:
        ap.error("--split needs --only")
    groups = [p.strip() for p in args.only.split(",") if p.strip()] if args.split else [args.only]
    known = sorted(f[len("bench_"):-3] for f in os.listdir(HERE)
                   if f.startswith("bench_") and f.endswith(".py") and f != "bench_compare.py"
                   and "def measure(" in open(os.path.join(HERE, f)).read())
    for what in args.what:
        if what not in known:
            ap.error(f"no PyTorch side for `{what}`: expected one of {', '.join(known)}")
    if args.rounds < 1 or args.runs < 1:
        ap.error(f"--rounds {args.rounds} --runs {args.runs}: expected at least 1 each")
    own = [w for w in args.what if "def zoo_measure(" in open(os.path.join(HERE, f"bench_{w}.py")).read()]
    if len(own) < len(args.what) and not os.access(args.xtask, os.X_OK):
        ap.error(f"{args.xtask}: no xtask binary there (run `cargo build -p xtask`, or pass --xtask)")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"{args.rounds} rounds of {args.runs} runs, zoo on {args.device}")
    for what in args.what:
        torch_side = importlib.import_module(f"bench_{what}")
        ratios, zt, tt, base, bt = {}, {}, {}, {}, {}
        others = []
        for r in range(args.rounds):
            z, b, t = {}, {}, {}
            for group in groups:
                if group:
                    os.environ["ZOO_BENCH_ONLY"] = group
                # The side that goes first alternates by round (with --split).
                order = ("torch", "zoo") if args.split and r % 2 else ("zoo", "torch")
                for attempt in range(args.tries):
                    zg, bg, tg = {}, {}, {}
                    busy0, ours0 = busy_seconds()
                    wall0 = time.perf_counter()
                    for side in order:
                        if side == "torch":
                            tg.update(torch_side.measure(args.runs))
                        elif hasattr(torch_side, "zoo_measure"):
                            zg.update(torch_side.zoo_measure(args.runs))
                        else:
                            zg.update(zoo_times(args.xtask, what, args.runs, args.device))
                            if args.baseline:
                                bg.update(zoo_times(args.xtask, what, args.runs, args.device, True))
                    busy1, ours1 = busy_seconds()
                    other = max(0.0, (busy1 - busy0) - (ours1 - ours0)) / (time.perf_counter() - wall0)
                    if args.max_other is None or other <= args.max_other:
                        break
                    if attempt + 1 < args.tries:
                        print(f"  ({group or what}: other processes used {other:.2f} CPUs: "
                              f"measured again)", flush=True)
                        time.sleep(args.wait)
                others.append(other)
                z.update(zg)
                b.update(bg)
                t.update(tg)
            for name, ms in t.items():
                if name in z:
                    ratios.setdefault(name, []).append(z[name] / ms)
                    zt.setdefault(name, []).append(z[name])
                    tt.setdefault(name, []).append(ms)
                if name in b:
                    base.setdefault(name, []).append(b[name] / ms)
                    bt.setdefault(name, []).append(b[name])
            print(f"  round {r + 1}: " + ", ".join(
                f"{n} {z[n] / t[n]:.2f}" for n in t if n in z)
                + f" (other processes: {max(others[-len(groups):]):.2f} CPUs at most)", flush=True)
        print(f"{what}:")
        for name, rs in ratios.items():
            line = (f"  {name}: zoo / torch = {statistics.median(rs):.2f} "
                    f"(range {min(rs):.2f}-{max(rs):.2f}; zoo {statistics.median(zt[name]):.2f} ms, "
                    f"torch {statistics.median(tt[name]):.2f} ms)")
            if name in base:
                line += (f"; burn's flex ops / torch = {statistics.median(base[name]):.2f} "
                         f"({statistics.median(bt[name]):.2f} ms)")
            if hasattr(torch_side, "rates"):
                zr = torch_side.rates({name: statistics.median(zt[name])})[name]
                tr = torch_side.rates({name: statistics.median(tt[name])})[name]
                line += f"; zoo {zr:.1f} images/s, torch {tr:.1f} images/s"
            print(line)


if __name__ == "__main__":
    main()
