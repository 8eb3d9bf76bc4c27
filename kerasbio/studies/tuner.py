"""The keras-tuner tuner that runs a study's trials: one fit per trial, histories to the oracle."""

import contextlib
import os
import time

import keras
import keras_tuner

from kerasbio.studies.oracle import FINISHED, write_json_atomically, write_trial_error

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
        save_models: Save each trial's trained model as `trial_<id>/model.keras` (`--export`).
        **kwargs: Passed to `keras_tuner.Tuner` (`directory`, `project_name`,
            `distribution_strategy`, ...).
    """

    def __init__(self, oracle, hypermodel, verbose=0, echo=print, shown_metrics=None,
                 save_models=False, **kwargs):
        super().__init__(oracle, hypermodel, **kwargs)
        self.save_models = save_models
        self.oracle.verbose = 0
        self.fit_verbose = verbose
        self.echo = echo
        self.shown_metrics = shown_metrics
        self.session_seconds = []
        self.last_trial_id = None

    def run_trial(self, trial, *args, **kwargs):
        start = time.perf_counter()
        try:
            model = self._build(trial.hyperparameters)
            # Where a HyperModel may keep a trial's files (e.g. predictions for a McNemar test).
            self.hypermodel.trial_directory = self.get_trial_dir(trial.trial_id)
            callbacks = [ReportEpochs(self.oracle, trial.trial_id)]
            results = self.hypermodel.fit(trial.hyperparameters, model, callbacks=callbacks,
                                          verbose=self.fit_verbose)
            if self.save_models:
                model.save(trial_model_path(self.get_trial_dir(trial.trial_id)))
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

    def pre_create_trial(self):
        """In a `multi_worker` cluster (one tuner id), the workers that do not report wait
        until the reporting one has ended their trial, so as not to be handed it again."""
        if self.last_trial_id is None or getattr(self.oracle, "should_report", True):
            return
        while self.oracle.get_trial(self.last_trial_id).status not in FINISHED:
            time.sleep(0.1)

    def on_trial_end(self, trial):
        self.last_trial_id = trial.trial_id
        if self._is_worker() and trial.message:
            # keras-tuner's gRPC messages drop the error; the chief reads it from the trial's
            # directory (the workers share the output directory).
            write_trial_error(self.get_trial_dir(trial.trial_id), trial.message)
        super().on_trial_end(trial)
        ended = self.oracle.get_trial(trial.trial_id)
        ended.message = ended.message or trial.message
        self.echo(self._progress_line(ended))

    def save(self):
        if not self._is_worker():
            self.oracle.save()
        write_json_atomically(self._get_tuner_fname(), self.get_state())

    def _progress_line(self, trial):
        seconds = trial_seconds(trial)
        self.session_seconds.append(seconds)
        summary = trial_summary(trial, self.shown_metrics)
        if self._is_worker():  # the chief counts the finished trials and prints the ETA
            return f"[{self.tuner_id}] {summary}"
        done, total = len(self.oracle.finished_trials()), self.oracle.max_trials
        mean = sum(self.session_seconds) / len(self.session_seconds)
        return f"[{done}/{total}] {summary} | ETA {duration(mean * (total - done))}"


def trial_seconds(trial):
    """The wall time a trial reported (0 if it reported none)."""
    return trial.metrics.get_last_value("seconds") if trial.metrics.exists("seconds") else 0.0


def trial_summary(trial, shown_metrics=None):
    """`trial 03 axis=value ... | metric=value ... (or the error) | 1.2s`."""
    cell = " ".join(f"{key}={value}" for key, value in trial.hyperparameters.values.items())
    if trial.status == "COMPLETED":
        outcome = " ".join(f"{name}={value:.3f}" for name, value in
                           _final_metrics(trial).items() if name != "seconds" and
                           (shown_metrics is None or name in shown_metrics))
    else:
        outcome = f"{trial.status}: {error_line(trial.message)}"
    return f"trial {trial.trial_id} {cell} | {outcome} | {trial_seconds(trial):.1f}s"


def _final_metrics(trial):
    names = [name for name in trial.metrics.metrics if not name.startswith(HISTORY_PREFIX)]
    return {name: trial.metrics.get_last_value(name) for name in names}


def error_line(message):
    """The last non-empty line of a traceback (the exception and its message)."""
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def duration(seconds):
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"


def project_directory(out):
    """Where a study's keras-tuner project (oracle and trial files) lives inside `out`."""
    return os.path.join(out, "search")


def trial_model_path(trial_directory):
    """Where a trial's trained model is saved when the tuner's `save_models` is on."""
    return os.path.join(trial_directory, "model.keras")
