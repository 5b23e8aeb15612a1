"""What the benchmark scripts share: the median of timed runs and the
`name: X ms` lines of a `cargo xtask bench` output."""
import os
import statistics
import time


def wanted(name):
    """Whether benchmark `name` runs: `ZOO_BENCH_ONLY` (comma-separated name
    prefixes) picks some, as it does for `cargo xtask bench`; unset, all."""
    only = [p.strip() for p in os.environ.get("ZOO_BENCH_ONLY", "").split(",") if p.strip()]
    return not only or any(name.startswith(p) for p in only)


def median_ms(fn, warmup, runs):
    """Median milliseconds of `runs` calls of `fn` after `warmup` unmeasured ones."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def read_zoo(path):
    """`{name: ms}` from the lines `name: X ms` of a `cargo xtask bench` output (empty without a path)."""
    zoo = {}
    if path:
        for line in open(path):
            if line.strip().endswith(" ms") and ":" in line:
                name, value = line.split(":", 1)
                zoo[name.strip()] = float(value.strip().split()[0])
    return zoo
