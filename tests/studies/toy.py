"""A tiny study for the runner's tests: a small dense network on made-up data.

Axis `mode`: "ok" trains normally, "raise" raises, "nan" feeds a NaN so the loss goes NaN.
Each fit start and end (`start|end INDEX-SEED TUNER_ID`) is appended to `settings.extra["log"]`
(when given), so tests can count how often, and where, a trial ran; `settings.extra["sleep"]` slows trials down for the kill test.
"""

import os
import time

import keras
import keras_tuner
import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure

from kerasbio.studies.base import Finding, Settings, Study, StudyHyperModel, check_finite_history
from kerasbio.studies.results import format_mean_sd, mean_sd


class ToyHyperModel(StudyHyperModel):
    def build_model(self, hp):
        self.replicas = tf.distribute.get_strategy().num_replicas_in_sync
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                                  keras.layers.Dense(2, activation="softmax")])
        model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model

    def train_and_measure(self, hp, model, callbacks, verbose):
        cell = self.values(hp)
        name = f"{cell['index']}-{cell['seed']} {os.environ.get('KERASTUNER_TUNER_ID', 'local')}"
        self._log(f"start {name}")
        if cell["mode"] == "raise":
            raise RuntimeError("toy failure for testing")
        rng = np.random.default_rng(cell["seed"])
        x = rng.normal(size=(64, 4)).astype("float32")
        y = (x[:, 0] > 0).astype("int32")
        if cell["mode"] == "nan":
            x[3, 0] = np.nan
        time.sleep(self.settings.extra.get("sleep", 0))
        history = model.fit(x, y, epochs=self.settings.epochs, batch_size=16, shuffle=False,
                            callbacks=callbacks, verbose=verbose)
        check_finite_history(history, self.settings.epochs)
        self._log(f"end {name}")
        return {"train_accuracy": float(history.history["accuracy"][-1]),
                "loss": float(history.history["loss"][-1]), "replicas": float(self.replicas)}

    def _log(self, line):
        path = self.settings.extra.get("log")
        if path:
            with open(path, "a") as file:
                file.write(line + "\n")
                file.flush()
                os.fsync(file.fileno())


class ToyStudy(Study):
    name = "toy"
    title = "Toy study"
    paper = "none (a test fixture)"
    objective = keras_tuner.Objective("train_accuracy", "max")
    experiments = {1: "toy cells"}
    axes = ("experiment", "index", "mode", "seed")

    def __init__(self, modes=("ok", "ok")):
        self.modes = modes

    def settings(self, quick=True, epochs=1, seeds=1, **extra):
        return Settings(study=self.name, quick=quick, experiments=(1,), dataset="made-up",
                        epochs=epochs, seeds=seeds, batch_size=16, extra=extra)

    def cells(self, settings):
        return [{"experiment": 1, "index": index, "mode": mode, "seed": seed}
                for index, mode in enumerate(self.modes) for seed in range(settings.seeds)]

    def hypermodel(self, settings):
        cells = self.cells(settings)
        return ToyHyperModel(settings, {axis: sorted({c[axis] for c in cells})
                                        for axis in self.axes})

    def figures(self, settings, results, histories, directory):
        figure = Figure(figsize=(4, 3))
        ax = figure.subplots()
        ax.plot(results["index"], results["train_accuracy"], "o")
        ax.set(xlabel="cell", ylabel="training accuracy", ylim=(0, 1.05))
        figure.savefig(os.path.join(directory, "toy.png"))
        return [("toy.png", "Toy: training accuracy per cell.")]

    def findings(self, settings, results):
        value = results["train_accuracy"].mean()
        return [Finding("Toy cells train.", "n/a", f"mean training accuracy {value:.3f}",
                        bool(value > 0))]

    def tables(self, settings, results):
        summary = mean_sd(results, ["index"], ["train_accuracy"])
        return [("Toy results", format_mean_sd(summary, ["index"], ["train_accuracy"]))]


STUDY = ToyStudy()
