"""The keras-tuner tuner that runs a study's trials: one fit per trial, histories to the oracle."""

import contextlib
import os
import time

import keras
import keras_tuner

from kerasbio.studies.oracle import write_json_atomically

HISTORY_PREFIX = "history/"


class ReportEpochs(keras.callbacks.Callback):
    """Reports each epoch's logs to the oracle as `history/<name>` at step `epoch`."""

    def __init__(self, oracle, trial_id):
        super().__init__()
        self.oracle = oracle
        self.trial_id = trial_id

    def on_epoch_end(self, epoch, logs=None):
        metrics = {f"{HISTORY_PREFIX}{name}": float(value) for name, value in (logs or {}).items()}
        if metrics:
            self.oracle.update_trial(self.trial_id, metrics, step=epoch)


class StudyTuner(keras_tuner.Tuner):
    """Runs each trial as `hypermodel.build` then `hypermodel.fit`, without checkpoints.

    Per-epoch logs go to the oracle (`history/...` metrics), the trial's wall time as
    `seconds`; a progress line with an ETA is printed per finished trial.

    Args:
        oracle: A `GridOracle` (or any oracle accepting metrics without the objective).
        hypermodel: A `StudyHyperModel`.
        verbose: Keras' per-epoch output for `fit` (0: none).
        echo: Function printing the progress lines.
        shown_metrics: Names of the metrics shown in the progress lines (default: all).
        **kwargs: Passed to `keras_tuner.Tuner` (`directory`, `project_name`,
            `distribution_strategy`, ...).
    """

    def __init__(self, oracle, hypermodel, verbose=0, echo=print, shown_metrics=None, **kwargs):
        super().__init__(oracle, hypermodel, **kwargs)
        self.oracle.verbose = 0
        self.fit_verbose = verbose
        self.echo = echo
        self.shown_metrics = shown_metrics
        self.session_seconds = []

    def run_trial(self, trial, *args, **kwargs):
        start = time.perf_counter()
        try:
            model = self._build(trial.hyperparameters)
            # Where a HyperModel may keep a trial's files (e.g. predictions for a McNemar test).
            self.hypermodel.trial_directory = self.get_trial_dir(trial.trial_id)
            callbacks = [ReportEpochs(self.oracle, trial.trial_id)]
            results = self.hypermodel.fit(trial.hyperparameters, model, callbacks=callbacks,
                                          verbose=self.fit_verbose)
        except Exception:
            self.oracle.update_trial(trial.trial_id, {"seconds": time.perf_counter() - start})
            raise
        return {**results, "seconds": time.perf_counter() - start}

    def _build(self, hp):
        """Build in the strategy's scope after clearing Keras' state.

        Unlike keras-tuner's `_try_build`, without forcing garbage collection: it costs
        seconds per trial with TensorFlow loaded, and Python frees the models anyway.
        """
        keras.backend.clear_session(free_memory=False)
        strategy = self.distribution_strategy
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            model = self.hypermodel.build(hp)
        if not isinstance(model, keras.Model):
            raise keras_tuner.errors.FatalTypeError(
                f"Expected the HyperModel's build() to return a keras.Model. Received: "
                f"{model!r}")
        return model

    def _populate_initial_space(self):
        """The study's HyperModel declares its whole space (a `Choice` per axis, no
        conditions), so keras-tuner's exploratory model builds are not needed."""
        hp = self.oracle.get_space()
        self.hypermodel.declare_hyperparameters(hp)
        self.oracle.update_space(hp)

    def on_search_begin(self):
        # The tuner file marks the project as started: a restart reloads the oracle from it.
        self.save()

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        self.echo(self._progress_line(self.oracle.get_trial(trial.trial_id)))

    def save(self):
        if not self._is_worker():
            self.oracle.save()
        write_json_atomically(self._get_tuner_fname(), self.get_state())

    def _progress_line(self, trial):
        seconds = trial.metrics.get_last_value("seconds") if trial.metrics.exists("seconds") \
            else 0.0
        self.session_seconds.append(seconds)
        total = getattr(self.oracle, "max_trials", None)
        done = len(self.oracle.finished_trials()) if hasattr(self.oracle, "finished_trials") \
            else None
        cell = " ".join(f"{key}={value}" for key, value in trial.hyperparameters.values.items())
        if trial.status == "COMPLETED":
            outcome = " ".join(f"{name}={value:.3f}" for name, value in
                               _final_metrics(trial).items() if name != "seconds" and
                               (self.shown_metrics is None or name in self.shown_metrics))
        else:
            outcome = f"{trial.status}: {error_line(trial.message)}"
        line = f"[{done}/{total}] trial {trial.trial_id} {cell} | {outcome} | {seconds:.1f}s"
        if done is not None and total:
            mean = sum(self.session_seconds) / len(self.session_seconds)
            line += f" | ETA {_duration(mean * (total - done))}"
        return line


def _final_metrics(trial):
    names = [name for name in trial.metrics.metrics if not name.startswith(HISTORY_PREFIX)]
    return {name: trial.metrics.get_last_value(name) for name in names}


def error_line(message):
    """The last non-empty line of a traceback (the exception and its message)."""
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _duration(seconds):
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"


def project_directory(out):
    """Where a study's keras-tuner project (oracle and trial files) lives inside `out`."""
    return os.path.join(out, "search")
