"""Run a study's grid through keras-tuner (`GridOracle` + `StudyTuner`) into an output directory.

`out/` holds `settings.json` (the study's settings), `runs.json` (command line, versions and
wall time of every invocation), `search/` (the keras-tuner project: the oracle's state and one
file per trial), and the outputs rebuilt from it: `results.csv`, `histories.csv`, the figures
and `report.md`; with `export_samples`, `models/` (each condition's best model as a SavedModel,
see `kerasbio.studies.exports`).
"""

import json
import os
import resource
import shutil
import sys
import time

from kerasbio.studies import STRATEGIES
from kerasbio.studies.base import Settings
from kerasbio.studies.exports import export_best_models
from kerasbio.studies.oracle import GridOracle, write_json_atomically
from kerasbio.studies.tuner import StudyTuner, project_directory

SETTINGS = "settings.json"
RUNS = "runs.json"


def make_strategy(name):
    """`None` for the default strategy, else a `tf.distribute` strategy over the local devices.

    A `tf.distribute.Strategy` passes through unchanged.
    """
    import tensorflow as tf

    if isinstance(name, tf.distribute.Strategy):
        return name
    if name not in STRATEGIES:
        raise ValueError(f"Invalid value received for argument `strategy`. Expected one of "
                         f"{STRATEGIES}. Received: strategy={name!r}")
    if name == "default":
        return None
    if name == "one_device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    return tf.distribute.MirroredStrategy()


def run_study(study, settings, out, strategy="default", overwrite=False, verbose=0,
              cells=None, echo=print, command=None, export_samples=None):
    """Run (or resume) `study` with `settings` into `out`; write the tables and the report.

    Args:
        study: A `Study`.
        settings: Its `Settings`.
        out: Output directory.
        strategy: `"default"`, `"one_device"`, `"mirrored"` or a `tf.distribute.Strategy`;
            models are built and trained in its scope and `settings.batch_size` is the global
            batch size.
        overwrite: Delete `out` first and start afresh.
        verbose: Keras' per-epoch output (0: one progress line per trial only).
        cells: The grid to run (default: `study.cells(settings)`), e.g. a part of it.
        echo: Function printing progress.
        command: The command line recorded in the report (default: `sys.argv`).
        export_samples: When set, every trial saves its model and each condition's best is
            exported to `out/models/` with this many MC draws in its `mc_predict` endpoint.

    Returns:
        The results table (a `pandas.DataFrame`, one row per trial).
    """
    from kerasbio.studies.report import write_report
    from kerasbio.studies.results import write_tables

    started = time.perf_counter()
    cells = list(study.cells(settings) if cells is None else cells)
    hypermodel = study.hypermodel(settings)
    hypermodel.prepare()  # missing data fails here, before anything is written
    if overwrite and os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out, exist_ok=True)
    _check_or_save_settings(out, settings, cells)
    tuner = StudyTuner(GridOracle(cells, study.objective), hypermodel,
                       verbose=verbose, echo=echo, shown_metrics=study.progress_metrics,
                       directory=out, project_name="search", save_models=bool(export_samples),
                       distribution_strategy=make_strategy(strategy))
    done = len(tuner.oracle.finished_trials())
    if tuner.oracle.is_finished():
        echo(f"The study in {out} is already finished ({done} trials); rebuilding its report. "
             f"Use --overwrite to start afresh.")
    else:
        if done:
            echo(f"Resuming the study in {out}: {done} of {len(cells)} trials finished.")
        echo(f"Running {len(cells) - done} trials of the {study.name} study into {out}.")
        tuner.search()
    results, histories = write_tables(out, axes=list(study.axes))
    if export_samples:
        export_best_models(study, out, results, export_samples, echo=echo)
    _record_run(out, command, strategy, time.perf_counter() - started)
    write_report(study, settings, out, results, histories, load_runs(out))
    return results


def _check_or_save_settings(out, settings, cells):
    path = os.path.join(out, SETTINGS)
    state = {"settings": settings.to_dict(), "cells": len(cells)}
    if os.path.exists(path):
        with open(path) as file:
            saved = json.load(file)
        if saved != json.loads(json.dumps(state)):
            raise ValueError(
                f"{out!r} holds a run with other settings ({saved}); use another --out or "
                f"--overwrite to start afresh.")
        return
    write_json_atomically(path, state)


def load_settings(out):
    """The `Settings` saved in a run directory."""
    with open(os.path.join(out, SETTINGS)) as file:
        return Settings.from_dict(json.load(file)["settings"])


def load_runs(out):
    """The invocations recorded in a run directory (command, versions, wall seconds)."""
    path = os.path.join(out, RUNS)
    if not os.path.exists(path):
        return []
    with open(path) as file:
        return json.load(file)


def _record_run(out, command, strategy, seconds):
    runs = load_runs(out)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    runs.append({"command": command or " ".join(["kerasbio", *sys.argv[1:]]),
                 "strategy": strategy if isinstance(strategy, str) else type(strategy).__name__,
                 "versions": versions(), "seconds": seconds,
                 "cpu_seconds": usage.ru_utime + usage.ru_stime,
                 "finished": time.strftime("%Y-%m-%d %H:%M:%S")})
    write_json_atomically(os.path.join(out, RUNS), runs)


def versions():
    """Versions of kerasbio, Keras, TensorFlow, keras-tuner and Python."""
    import keras
    import keras_tuner
    import tensorflow as tf

    import kerasbio

    return {"kerasbio": kerasbio.__version__, "keras": keras.__version__,
            "tensorflow": tf.__version__, "keras-tuner": keras_tuner.__version__,
            "python": sys.version.split()[0]}


def project_exists(out):
    return os.path.isdir(project_directory(out))
