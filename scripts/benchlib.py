"""What the benchmark scripts share: the median of timed runs and the
`name: X ms` lines of a `cargo xtask bench` output."""
import statistics
import time


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
