"""kerasbio studies: the papers' experiments as resumable keras-tuner grid searches.

`STUDIES` maps each study's name (as in `kerasbio study NAME`) to its module; a new study is a
module with a `STUDY` object (a `Study`) added here. Nothing heavy is imported until used, so
`kerasbio --help` stays fast.
"""

import importlib

STUDIES = {
    "capacity": "kerasbio.studies.capacity",
    "uncertainty": "kerasbio.studies.uncertainty",
    "readout": "kerasbio.studies.readout",
    "robustness": "kerasbio.studies.robustness",
    "rdl": "kerasbio.studies.rdl",
}

STRATEGIES = ("default", "one_device", "mirrored", "multi_worker")

_LAZY = {
    "Finding": "kerasbio.studies.base",
    "Settings": "kerasbio.studies.base",
    "Study": "kerasbio.studies.base",
    "StudyHyperModel": "kerasbio.studies.base",
    "GridOracle": "kerasbio.studies.oracle",
    "StudyTuner": "kerasbio.studies.tuner",
    "run_study": "kerasbio.studies.runner",
    "rebuild_report": "kerasbio.studies.report",
}


def get_study(name):
    """The `Study` registered as `name`."""
    if name not in STUDIES:
        raise ValueError(f"Unknown study {name!r}. Available: {sorted(STUDIES)}")
    return importlib.import_module(STUDIES[name]).STUDY


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kerasbio.studies' has no attribute {name!r}")


__all__ = ["STRATEGIES", "STUDIES", "get_study", *sorted(_LAZY)]
