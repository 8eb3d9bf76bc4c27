"""What every study is made of: settings, a keras-tuner HyperModel, a grid, findings.

A study module subclasses `Study` (grid, data, metrics, figures, the paper's findings) and
`StudyHyperModel` (build a compiled model from hyperparameters; `fit` with the paper's schedule
and return the study's metrics). The runner (`kerasbio.studies.runner`) does the rest.
"""

import dataclasses
import importlib
import math

import keras
import keras_tuner
import numpy as np


@dataclasses.dataclass
class Settings:
    """How a study is run: its data, schedule and grid size. Saved as `settings.json`.

    Args:
        study: The study's name (e.g. `"capacity"`).
        quick: Quick settings (bundled digits, thinned grid) or the paper's (`False`).
        experiments: The experiments to run (their numbers).
        dataset: Data set name for `kerasbio.data.load`.
        data_dir: TFDS data directory (`None`: TFDS' default).
        epochs: Training epochs per trial.
        seeds: Number of seeds (each its own trial): seeds `0 .. seeds - 1`.
        batch_size: Global batch size (split over replicas by the strategy).
        extra: Study-specific settings (JSON-serializable).
    """

    study: str
    quick: bool
    experiments: tuple
    dataset: str
    epochs: int
    seeds: int
    batch_size: int
    data_dir: str = None
    extra: dict = dataclasses.field(default_factory=dict)

    def to_dict(self):
        return {**dataclasses.asdict(self), "experiments": list(self.experiments)}

    @classmethod
    def from_dict(cls, config):
        return cls(**{**config, "experiments": tuple(config["experiments"])})


@dataclasses.dataclass
class Finding:
    """One result of the paper, compared with this run: a row of the paper-vs-here table."""

    claim: str
    paper: str
    here: str
    reproduced: object  # True, False, or None when this run cannot tell (cells missing)

    @property
    def verdict(self):
        return {True: "yes", False: "no", None: "not tested"}[self.reproduced]

    @property
    def sentence(self):
        """The finding in one sentence: whether it reproduced, and the numbers."""
        opening = {True: "Reproduced", False: "Not reproduced",
                   None: "Not tested by this run"}[self.reproduced]
        return f"{opening}: {self.claim.rstrip('.')} (paper: {self.paper}; here: {self.here})."


class Study:
    """A published study: its grids, HyperModel, figures and reference values.

    Subclasses set `name`, `title`, `paper`, `objective`, `experiments` (number -> one-line
    description) and `axes` (the grid's hyperparameter names, `"experiment"` first and
    `"seed"` last) and implement the methods below. `figures`, `findings` and `tables` are
    served by the module named `report_module` (its `figures(settings, results, directory)`,
    `findings(settings, results)` and `tables(settings, results)`) unless overridden. Hyperparameters are flat: every cell holds a
    value for every axis, so one HyperModel serves all experiments. A cell's `experiment` is
    its experiment's number, or several joined by `+` when experiments share it.
    """

    name = None
    title = None
    paper = None
    objective = None
    experiments = {}
    axes = ()
    progress_metrics = None  # the metrics shown in the progress lines (None: all)
    report_module = None  # e.g. "kerasbio.studies.capacity_report", imported when first used

    def settings(self, quick=False, experiments=None, dataset=None, data_dir=None, epochs=None,
                 seeds=None):
        """The `Settings` for a run, quick or full, with the given overrides."""
        raise NotImplementedError

    def cells(self, settings):
        """The grid: a list of hyperparameter dicts (one per trial, seed included), in order."""
        raise NotImplementedError

    def hypermodel(self, settings):
        """A `StudyHyperModel` for `settings`."""
        raise NotImplementedError

    def figures(self, settings, results, histories, directory):
        """Write the paper's figures as PNGs into `directory`; return `[(file, caption)]`."""
        return self._report().figures(settings, results, directory)

    def findings(self, settings, results):
        """The paper-vs-here rows (`Finding`s) for the completed trials in `results`."""
        return self._report().findings(settings, results)

    def tables(self, settings, results):
        """Markdown sections of results as mean +- sd over seeds: `[(heading, markdown)]`."""
        return self._report().tables(settings, results)

    def _report(self):
        if self.report_module is None:
            raise NotImplementedError(f"{type(self).__name__} names no `report_module`.")
        return importlib.import_module(self.report_module)


class StudyHyperModel(keras_tuner.HyperModel):
    """A study's HyperModel: a `Choice` per grid axis; `fit` returns the study's metrics.

    Subclasses implement `build_model(hp)` (a compiled model; called after seeding) and
    `train_and_measure(hp, model, callbacks, verbose)` (returns the metrics dict). `fit` stops a
    trial whose loss goes NaN (`keras.callbacks.TerminateOnNaN`) and raises
    `keras_tuner.errors.FailedTrialError`, so that any tuner records the trial as failed.

    Args:
        settings: The study's `Settings`.
        space: Dict of axis name -> list of values (declared as `hp.Choice`).
    """

    def __init__(self, settings, space, **kwargs):
        super().__init__(**kwargs)
        self.settings = settings
        self.space = {name: list(values) for name, values in space.items()}
        self._data = None

    def prepare(self):
        """Load what every trial needs, before the search: missing data fails here, once."""
        self.data()

    def data(self):
        """What `load_data()` returns, loaded once for all trials."""
        if self._data is None:
            self._data = self.load_data()
        return self._data

    def load_data(self):
        """The study's data (splits, tables, ...); `None` for a study without any."""
        return None

    def declare_hyperparameters(self, hp):
        for name, values in self.space.items():
            hp.Choice(name, values)

    def values(self, hp):
        """The trial's value of every axis."""
        self.declare_hyperparameters(hp)
        return {name: hp.get(name) for name in self.space}

    def build(self, hp):
        keras.utils.set_random_seed(int(self.values(hp)["seed"]))
        return self.build_model(hp)

    def fit(self, hp, model, *args, callbacks=None, verbose=0, **kwargs):
        callbacks = [keras.callbacks.TerminateOnNaN(), *(callbacks or [])]
        return self.train_and_measure(hp, model, callbacks, verbose)

    def build_model(self, hp):
        raise NotImplementedError

    def train_and_measure(self, hp, model, callbacks, verbose):
        raise NotImplementedError


def experiment_numbers(label):
    """The experiments a cell serves: `1` -> {1}; `"1+3"` -> {1, 3}."""
    return {int(part) for part in str(label).split("+")}


def experiment_rows(results, number):
    """The rows of `results` that belong to experiment `number`."""
    if results.empty:
        return results
    return results[results["experiment"].map(lambda label: number in experiment_numbers(label))]


def check_finite_history(history, epochs):
    """Raise `FailedTrialError` if the loss went NaN/inf (training stopped by TerminateOnNaN)."""
    losses = history.history.get("loss", [])
    finished = len(losses)
    if finished == epochs and all(math.isfinite(value) for value in losses):
        return
    bad = next((i for i, value in enumerate(losses) if not math.isfinite(value)), finished - 1)
    raise keras_tuner.errors.FailedTrialError(
        f"The training loss became NaN or infinite in epoch {bad + 1} of {epochs}; "
        f"keras.callbacks.TerminateOnNaN stopped the training.")


def predicted_probabilities(model, x, batch_size):
    """`model`'s outputs on `x` at inference (`training=False`), in batches, as float64.

    `predict_on_batch` reuses one traced function without building a data pipeline per call
    (a trial evaluates many small sets, e.g. 22 manipulated test sets); the last batch is
    zero-padded to `batch_size` so that every call has the same shape and nothing retraces.
    """
    outputs = []
    for start in range(0, len(x), batch_size):
        batch = x[start:start + batch_size]
        padded = np.concatenate([batch, np.zeros((batch_size - len(batch), *batch.shape[1:]),
                                                 batch.dtype)])
        outputs.append(np.asarray(model.predict_on_batch(padded))[:len(batch)])
    return np.concatenate(outputs).astype("float64")


def accuracy(model, x, y, batch_size):
    """Accuracy of `model` on `(x, y)` at inference (`training=False`), in batches."""
    predicted = np.argmax(predicted_probabilities(model, x, batch_size), axis=-1)
    return float(np.mean(predicted == y))
