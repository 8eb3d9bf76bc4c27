"""Timing helpers shared by the benchmarks: warm-up, then the median of repeats."""

import dataclasses
import statistics
import time

import numpy as np


@dataclasses.dataclass
class Row:
    """One comparison in `unit` ("ms": time of a step or call; "MiB": peak memory);
    `ratio = kerasbio / reference` (below 1: kerasbio is cheaper)."""

    name: str
    kerasbio: float
    reference: float
    unit: str = "ms"

    @property
    def ratio(self):
        return self.kerasbio / self.reference


def median_ms(fn, repeats=10, warmup=2):
    """Median wall time of `fn()` in milliseconds after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def random_batch(batch, shape, classes, seed=0):
    """Uniform `(batch, *shape)` float32 inputs and integer labels below `classes`."""
    rng = np.random.default_rng(seed)
    return rng.uniform(size=(batch, *shape)).astype("float32"), rng.integers(0, classes, batch)


def train_step(model, x, y, optimizer="adam", loss="sparse_categorical_crossentropy"):
    """Compile `model`; return a zero-argument callable running one training step on `(x, y)`."""
    model.compile(optimizer, loss)
    return lambda: model.train_on_batch(x, y)


def compare_alternately(kerasbio_fn, reference_fn, rounds=5, repeats=5):
    """Times two callables in alternating rounds (so machine noise hits both) -> (ms, ms)."""
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(median_ms(kerasbio_fn, repeats=repeats, warmup=1))
        theirs.append(median_ms(reference_fn, repeats=repeats, warmup=1))
    return float(np.median(ours)), float(np.median(theirs))


def format_rows(rows):
    """The rows as an aligned table, `name  kerasbio  reference  unit  ratio`, with a header."""
    width = max([len("name"), *(len(row.name) for row in rows)])
    lines = [f"{'name':<{width}}  {'kerasbio':>10}  {'reference':>10}  {'unit':>4}  {'ratio':>6}"]
    lines += [f"{r.name:<{width}}  {r.kerasbio:>10.2f}  {r.reference:>10.2f}  {r.unit:>4}  "
              f"{r.ratio:>6.2f}" for r in rows]
    return "\n".join(lines)
