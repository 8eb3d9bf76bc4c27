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
from kerasbio.studies.tuner import StudyTuner, duration, project_directory, trial_summary

SETTINGS = "settings.json"
RUNS = "runs.json"


def make_strategy(name):
    """`None` for the default strategy, else a `tf.distribute` strategy.

    `"one_device"`: the first GPU (or the CPU); `"mirrored"`: all local GPUs (or the CPU);
    `"multi_worker"`: a `MultiWorkerMirroredStrategy` over the cluster in `TF_CONFIG`. A
    `tf.distribute.Strategy` passes through unchanged.
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
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--strategy multi_worker needs the cluster in the TF_CONFIG "
                             "environment variable (see tf.distribute.MultiWorkerMirroredStrategy)"
                             "; start every worker of the cluster with its own TF_CONFIG.")
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.MirroredStrategy()


def run_study(study, settings, out, strategy="default", overwrite=False, verbose=0,
              cells=None, echo=print, command=None, distribution=None, gpus=None,
              export_samples=None):
    """Run (or resume) `study` with `settings` into `out`; write the tables and the report.

    Batch size and learning rate: under every strategy `settings.batch_size` is the global
    batch (each of R replicas trains on `batch_size / R` examples of it and the gradients are
    summed over replicas) and the learning rate is the paper's, so a trial optimizes exactly
    as the paper's single-device training did; more replicas only share the arithmetic.

    Args:
        study: A `Study`.
        settings: Its `Settings`.
        out: Output directory (shared by the chief and the workers of a distributed study).
        strategy: `"default"`, `"one_device"`, `"mirrored"`, `"multi_worker"` or a
            `tf.distribute.Strategy`; models are built and trained in its scope.
        overwrite: Delete `out` first and start afresh (not for a worker).
        verbose: Keras' per-epoch output (0: one progress line per trial only).
        cells: The grid to run (default: `study.cells(settings)`), e.g. a part of it.
        echo: Function printing progress.
        command: The command line recorded in the report (default: `sys.argv`).
        distribution: A `kerasbio.studies.distributed.Distribution` to run as keras-tuner's
            chief (serves the grid, then writes the tables and report) or as a worker (runs
            trials); `None`: run every trial in this process.
        gpus: Indices of the GPUs to use (e.g. `"0,1"`); memory growth is turned on.
        export_samples: When set, every trial saves its model and each condition's best is
            exported to `out/models/` with this many MC draws in its `mc_predict` endpoint
            (workers save, the chief exports).

    Returns:
        The results table (a `pandas.DataFrame`, one row per trial); `None` on a worker.
    """
    from kerasbio.studies.distributed import CHIEF, WORKER, tuner_environment, use_gpus
    from kerasbio.studies.report import write_report
    from kerasbio.studies.results import write_tables

    started = time.perf_counter()
    role = distribution.role if distribution is not None else None
    if overwrite and role == WORKER:
        raise ValueError("--overwrite deletes the shared output directory: give it to the "
                         "chief only.")
    use_gpus(gpus)
    # Before any TensorFlow op: a MultiWorkerMirroredStrategy must come first.
    tf_strategy = None if role == CHIEF else _checked_strategy(strategy, settings)
    cells = list(study.cells(settings) if cells is None else cells)
    hypermodel = study.hypermodel(settings)
    if role != CHIEF:  # the chief trains nothing
        hypermodel.prepare()  # missing data fails here, before anything is written
    if overwrite and os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out, exist_ok=True)
    _check_or_save_settings(out, settings, cells)
    with tuner_environment(distribution):
        if role == WORKER:
            _run_worker(study, hypermodel, cells, out, tf_strategy, distribution, verbose, echo,
                        save_models=bool(export_samples))
            return None
        tuner = _tuner(study, hypermodel, cells, out, tf_strategy, verbose, echo,
                       save_models=bool(export_samples))
        _search(tuner, study, cells, out, echo, distribution)
    results, histories = write_tables(out, axes=list(study.axes))
    if export_samples:
        export_best_models(study, out, results, export_samples, echo=echo)
    _record_run(out, command, strategy, time.perf_counter() - started)
    write_report(study, settings, out, results, histories, load_runs(out))
    return results


def _checked_strategy(name, settings):
    strategy = make_strategy(name)
    replicas = 1 if strategy is None else strategy.num_replicas_in_sync
    if settings.batch_size < replicas:
        raise ValueError(f"The global batch size {settings.batch_size} is smaller than the "
                         f"{replicas} replicas of the strategy: every replica needs examples.")
    return strategy


def _tuner(study, hypermodel, cells, out, strategy, verbose, echo, save_models=False):
    """The `StudyTuner` of the grid in `out` under `strategy` (a `tf.distribute.Strategy`, or
    `None`: the default one); `save_models` keeps each trial's model (for `--export`)."""
    return StudyTuner(GridOracle(cells, study.objective), hypermodel, verbose=verbose,
                      echo=echo, shown_metrics=study.progress_metrics, directory=out,
                      project_name="search", save_models=save_models,
                      distribution_strategy=strategy)


def _search(tuner, study, cells, out, echo, distribution):
    """Run the grid's remaining trials here, or serve them to the workers (a chief)."""
    from kerasbio.studies.distributed import serve_grid

    done = len(tuner.oracle.finished_trials())
    if tuner.oracle.is_finished():
        echo(f"The study in {out} is already finished ({done} trials); rebuilding its report. "
             f"Use --overwrite to start afresh.")
        return
    if done:
        echo(f"Resuming the study in {out}: {done} of {len(cells)} trials finished.")
    if distribution is None:
        echo(f"Running {len(cells) - done} trials of the {study.name} study into {out}.")
        tuner.search()
        return
    echo(f"Serving {len(cells) - done} trials of the {study.name} study to workers at "
         f"{distribution.address}; results go to {out}.")
    tuner.save()  # a restarted chief reloads the oracle from it
    serve_grid(tuner.oracle, distribution.address, echo=echo,
               on_trial_end=_chief_progress(tuner.oracle, study, done, echo))


def _chief_progress(oracle, study, done_before, echo):
    """Prints a line per finished trial, with an ETA from this session's rate."""
    started = time.perf_counter()

    def show(trial):
        done = len(oracle.finished_trials())
        rate = (time.perf_counter() - started) / max(done - done_before, 1)
        echo(f"[{done}/{oracle.max_trials}] {trial_summary(trial, study.progress_metrics)} "
             f"| ETA {duration(rate * (oracle.max_trials - done))}")

    return show


def _run_worker(study, hypermodel, cells, out, strategy, distribution, verbose, echo,
                save_models=False):
    from kerasbio.studies.distributed import run_worker, wait_for_chief

    echo(f"Worker {distribution.tuner_id}: waiting up to {distribution.connect_timeout:g} s "
         f"for the chief at {distribution.address}.")
    wait_for_chief(distribution)
    run_worker(_tuner(study, hypermodel, cells, out, strategy, verbose, echo, save_models),
               distribution)
    echo(f"Worker {distribution.tuner_id}: no trials left; the chief writes the report in "
         f"{out}.")


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
