"""`kerasbio bench studies`: one capacity trial through the study runner against the same
`build` + `fit` in a bare loop.

The runner's trial includes the keras-tuner oracle and tuner, the trial files written
atomically, per-epoch histories sent to the oracle and the progress line; the reference does
the same model building, training and evaluation without them. Goal: ratio <= 1.05.
"""

import tempfile

import keras
import keras_tuner

from kerasbio.bench._timing import Row, compare_alternately
from kerasbio.studies import get_study
from kerasbio.studies.oracle import GridOracle
from kerasbio.studies.tuner import StudyTuner

CELL = {"experiment": "1", "architecture": "small_alexnet", "activation": "relu",
        "bottleneck": False, "data": "structured", "noise_std": 0.1, "classes": 10,
        "examples_per_class": 0, "seed": 0}


def runner_trial(study, hypermodel):
    """A fresh one-cell search through `StudyTuner` and `GridOracle`."""
    def trial():
        with tempfile.TemporaryDirectory() as directory:
            tuner = StudyTuner(GridOracle([CELL], study.objective), hypermodel,
                               echo=lambda line: None, directory=directory,
                               project_name="search")
            tuner.search()
    return trial


def bare_trial(hypermodel):
    """The same build, fit and evaluation, called directly."""
    hp = keras_tuner.HyperParameters()
    hp.values = dict(CELL)

    def trial():
        keras.backend.clear_session(free_memory=False)
        hypermodel.fit(hp, hypermodel.build(hp))
    return trial


def run(quick=False):
    study = get_study("capacity")
    epochs = 3 if quick else 10
    hypermodel = study.hypermodel(study.settings(quick=True, epochs=epochs, seeds=1))
    hypermodel.prepare()  # both paths share the loaded data, as the trials of a search do
    ours, reference = compare_alternately(runner_trial(study, hypermodel),
                                          bare_trial(hypermodel),
                                          rounds=2 if quick else 4, repeats=1)
    yield Row(f"studies: capacity trial ({epochs} epochs) runner vs bare build+fit",
              ours, reference)
