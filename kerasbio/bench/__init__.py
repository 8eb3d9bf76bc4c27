"""`kerasbio bench`: timed comparisons of kerasbio paths against references, printed as ratios.

Each benchmark module exposes `run(quick=False)` yielding `Row`s; `BENCHMARKS` maps the names
accepted by `kerasbio bench NAME` to those modules.
"""

import importlib

from kerasbio.bench._timing import Row, format_rows

BENCHMARKS = {
    "correlated": "kerasbio.bench.correlated",
    "memorization": "kerasbio.bench.memorization",
    "mc": "kerasbio.bench.mc",
    "noise": "kerasbio.bench.noise",
    "rdl": "kerasbio.bench.rdl",
    "structured": "kerasbio.bench.structured",
    "studies": "kerasbio.bench.studies",
}


def run(names=None, quick=False, echo=print, progress=None):
    """Run the named benchmarks (all when `names` is empty); echo the aligned table at the end.

    `progress`, if given, is called with each row as soon as it is measured.
    """
    names = list(names or BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        raise ValueError(f"Unknown benchmark(s) {unknown}. Available: {sorted(BENCHMARKS)}")
    rows = []
    for name in names:
        for row in importlib.import_module(BENCHMARKS[name]).run(quick=quick):
            rows.append(row)
            if progress is not None:
                progress(row)
    echo(format_rows(rows))
    return rows


__all__ = ["BENCHMARKS", "Row", "run"]
