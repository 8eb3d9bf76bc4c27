"""The capacity study: biological constraints on memorization (Tsvetkov et al. 2020).

Internal Gaussian noise after every hidden activation (on at test time too, as in the authors'
convolution modules), an information bottleneck (few first-layer filters) and sigmoid units,
on structured images, Gaussian-pixel images (each pixel drawn from the data's per-channel
mean and std) and random labels (Zhang et al. 2017).

- Experiment 1: training accuracy (the memorization measure; as Keras reports it during `fit`,
  noise on, and evaluated at the expectation, noise off) and test accuracy against the noise
  std, per activation, bottleneck and data.
- Experiment 2: training accuracy at a noise above the threshold for 10 -> 2 classes and
  1000 -> 10 examples per class. As in the authors' code, a smaller training set is trained
  for the same number of steps (here: tiled to the size of the full set).
- Experiment 3: test accuracy on uniform-noise and salt-and-pepper test images (Geirhos et al.
  2018; level 0-0.5) at moderate and high internal noise, with and without bottleneck.

Full settings follow the paper (CIFAR-10, small Inception and small AlexNet, SGD with learning
rate 0.1 / 0.01 decayed by 5% per epoch, batch 128, 100 epochs, four seeds). Quick settings use
the bundled digits, a width-reduced small AlexNet, ReLU only and grids thinned to run in minutes;
the noise grid is finer where the digits network's threshold lies (the paper's 0.6 is CIFAR's).
"""

import math

import keras
import keras_tuner
import numpy as np

import kerasbio

from kerasbio.studies.base import (Settings, Study, StudyHyperModel, accuracy,
                                   check_finite_history, experiment_numbers)

DATA = ("structured", "gaussian_pixels", "random_labels")
MANIPULATIONS = ("uniform", "salt_pepper")
LEVELS = tuple(round(0.05 * i, 2) for i in range(11))
EVAL_BATCH = 256

FULL = {
    "architectures": ("small_inception", "small_alexnet"),
    "activations": ("relu", "sigmoid"),
    "learning_rate": {"small_inception": 0.1, "small_alexnet": 0.01},
    "train_per_class": None,
    "width": 1.0,
    "batch_norm_momentum": 0.99,
    "noise": {"relu": tuple(round(0.05 * i, 2) for i in range(25)),
              "sigmoid": tuple(round(0.02 * i, 2) for i in range(11))},
    "constraint_noise": {"relu": (0.0, 0.2, 0.4), "sigmoid": (0.0, 0.04, 0.1)},
    "high_noise": {"relu": 0.8, "sigmoid": 0.16},
    "classes": (10, 5, 2),
    "examples_per_class": (1000, 100, 10),
}
QUICK = {
    "architectures": ("small_alexnet",),
    "activations": ("relu",),
    "learning_rate": {"small_alexnet": 0.2},
    "train_per_class": 60,
    "width": 0.25,
    "batch_norm_momentum": 0.9,
    # Finer where digits' threshold lies (0.5-0.8, not CIFAR's 0.6); 62 trials fit 10 minutes.
    "noise": {"relu": (0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8)},
    "random_labels_noise": {"relu": (0.0, 0.4, 0.7)},
    "constraint_noise": {"relu": (0.0, 0.2, 0.4)},
    "high_noise": {"relu": 0.8},
    "classes": (10, 2),
    "examples_per_class": (60, 10),
}


class CapacityHyperModel(StudyHyperModel):
    """Builds the study's network for a cell; `fit` trains it and measures memorization."""

    def load_data(self):
        """The data set's training and test splits."""
        load = dict(name=self.settings.dataset, data_dir=self.settings.data_dir)
        x, y = kerasbio.data.load(split="train", validation=0, **load)
        per_class = self.settings.extra.get("train_per_class")
        if per_class:
            x, y = kerasbio.data.class_subset(x, y, examples_per_class=per_class, seed=0)
        return (x, y), kerasbio.data.load(split="test", **load)

    def build_model(self, hp):
        from kerasbio import models

        cell = self.values(hp)
        (x, _), _ = self.data()
        std = float(cell["noise_std"])
        noise = (lambda: kerasbio.layers.GaussianNoise(std, mc=True)) if std > 0 else None
        model = getattr(models, cell["architecture"])(
            x.shape[1:], int(cell["classes"]), activation=cell["activation"], noise=noise,
            width=self.settings.extra["width"], bottleneck=bool(cell["bottleneck"]),
            batch_norm_momentum=self.settings.extra["batch_norm_momentum"])
        steps_per_epoch = math.ceil(len(x) / self.settings.batch_size)
        schedule = keras.optimizers.schedules.ExponentialDecay(
            self.settings.extra["learning_rate"][cell["architecture"]], steps_per_epoch,
            1.0 - self.settings.extra["decay"], staircase=True)
        model.compile(keras.optimizers.SGD(schedule), "sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model

    def trial_data(self, cell):
        """`(x, y), (x_test, y_test)` of a cell: its classes, examples, data kind and seed."""
        (x, y), (x_test, y_test) = self.data()
        seed, classes = int(cell["seed"]), int(cell["classes"])
        per_class = int(cell["examples_per_class"]) or None
        if classes < int(y.max()) + 1 or per_class:
            x, y = kerasbio.data.class_subset(x, y, classes, per_class, seed=seed)
            x_test, y_test = kerasbio.data.class_subset(x_test, y_test, classes)
        full_x = self.data()[0][0]
        if cell["data"] == "gaussian_pixels":
            x = kerasbio.data.gaussian_pixels(full_x, n=len(x), seed=seed)
            x_test = kerasbio.data.gaussian_pixels(full_x, n=len(x_test), seed=seed + 1)
        elif cell["data"] == "random_labels":
            y = kerasbio.data.permute_labels(y, seed=seed)
        return (x, y), (x_test, y_test)

    def train_and_measure(self, hp, model, callbacks, verbose):
        cell = self.values(hp)
        (x, y), (x_test, y_test) = self.trial_data(cell)
        repeats = max(1, round(len(self.data()[0][1]) / len(y)))
        epochs = self.settings.epochs
        history = model.fit(np.tile(x, (repeats, 1, 1, 1)), np.tile(y, repeats),
                            batch_size=self.settings.batch_size, epochs=epochs,
                            callbacks=callbacks, verbose=verbose)
        check_finite_history(history, epochs)
        metrics = {"train_accuracy_fit": float(history.history["accuracy"][-1]),
                   "test_accuracy": accuracy(model, x_test, y_test, EVAL_BATCH)}
        if 3 in experiment_numbers(cell["experiment"]) and cell["data"] == "structured":
            # Experiment 3 manipulates real test images (the grid pairs it with structured data
            # only; a free tuner may not, and noise on random images measures nothing).
            metrics.update(manipulated_accuracies(model, x_test, y_test))
        with kerasbio.mc_sampling(model, enabled=False):
            metrics["train_accuracy"] = accuracy(model, x, y, EVAL_BATCH)
            metrics["test_accuracy_expectation"] = accuracy(model, x_test, y_test, EVAL_BATCH)
        return metrics


def manipulated_accuracies(model, x, y):
    """Test accuracy (noise on) under Geirhos' uniform noise and salt-and-pepper, level 0-0.5.

    As in the authors' code: the image is converted to grey and the noise added without
    Geirhos' contrast reduction (`contrast=1`), then clipped to [0, 1].
    """
    make = {"uniform": kerasbio.data.uniform_noise, "salt_pepper": kerasbio.data.salt_and_pepper}
    return {f"{kind}_{level:.2f}":
            accuracy(model, make[kind](x, level, contrast=1.0, seed=index), y, EVAL_BATCH)
            for kind in MANIPULATIONS for index, level in enumerate(LEVELS)}


class CapacityStudy(Study):
    name = "capacity"
    title = "Capacity study: biological constraints on memorization"
    paper = ("Tsvetkov, Malhotra, Evans & Bowers (2020), Adding biological constraints to deep "
             "neural networks reduces their capacity to learn unstructured data (CogSci).")
    objective = keras_tuner.Objective("train_accuracy_fit", "max")
    experiments = {1: "internal noise x activation x bottleneck x data",
                   2: "classes x examples per class at high noise",
                   3: "image-noise generalization at moderate and high internal noise"}
    progress_metrics = ("train_accuracy_fit", "train_accuracy", "test_accuracy")
    axes = ("experiment", "architecture", "activation", "bottleneck", "data", "noise_std",
            "classes", "examples_per_class", "seed")
    report_module = "kerasbio.studies.capacity_report"

    def settings(self, quick=False, experiments=None, dataset=None, data_dir=None, epochs=None,
                 seeds=None):
        grid = QUICK if quick else FULL
        extra = {"train_per_class": grid["train_per_class"], "width": grid["width"],
                 "learning_rate": dict(grid["learning_rate"]), "decay": 0.05,
                 "batch_norm_momentum": grid["batch_norm_momentum"],
                 "architectures": list(grid["architectures"]),
                 "activations": list(grid["activations"])}
        return Settings(study=self.name, quick=quick,
                        experiments=tuple(experiments or sorted(self.experiments)),
                        dataset=dataset or ("digits" if quick else "cifar10"),
                        data_dir=data_dir, epochs=epochs or (20 if quick else 100),
                        seeds=seeds or (2 if quick else 4), batch_size=128, extra=extra)

    def cells(self, settings):
        """Each experiment's cells, seeds innermost; a cell that two experiments share (the
        structured-data cells of experiment 1 at experiment 3's noise levels) runs once, its
        `experiment` naming both (`"1+3"`)."""
        grid = QUICK if settings.quick else FULL
        shared = {}
        for number in settings.experiments:
            for part in _experiment_cells(number, grid, settings):
                shared.setdefault(tuple(part.items()), []).append(str(number))
        return [{"experiment": "+".join(numbers), **dict(part), "seed": seed}
                for part, numbers in shared.items() for seed in range(settings.seeds)]

    def hypermodel(self, settings):
        cells = self.cells(settings)
        space = {axis: sorted({cell[axis] for cell in cells}) for axis in self.axes}
        return CapacityHyperModel(settings, space)

    def findings(self, settings, results):
        from kerasbio.studies import capacity_report

        return capacity_report.findings(settings, results, QUICK if settings.quick else FULL)


def _experiment_cells(number, grid, settings):
    """The cells (without seed) of one experiment, in a fixed order."""
    base = {"classes": 10, "examples_per_class": 0}
    for architecture in settings.extra["architectures"]:
        for activation in settings.extra["activations"]:
            common = {**base, "architecture": architecture, "activation": activation}
            if number == 1:
                yield from _experiment1(common, grid, activation)
            elif number == 2:
                for data in ("structured", "gaussian_pixels"):
                    for classes in grid["classes"]:
                        for per_class in grid["examples_per_class"]:
                            yield {**common, "bottleneck": False, "data": data,
                                   "noise_std": grid["high_noise"][activation],
                                   "classes": classes, "examples_per_class": per_class}
            else:
                for bottleneck in (False, True):
                    for std in grid["constraint_noise"][activation]:
                        yield {**common, "bottleneck": bottleneck, "data": "structured",
                               "noise_std": std}


def _experiment1(common, grid, activation):
    """Every noise level without bottleneck; the bottleneck at the constraint levels, on the
    data of the paper's Fig. 2 (structured and random images)."""
    for data in DATA:
        levels = grid["noise"][activation]
        if data == "random_labels":
            levels = grid.get("random_labels_noise", {}).get(activation, levels)
        for std in levels:
            yield {**common, "bottleneck": False, "data": data, "noise_std": std}
    for data in ("structured", "gaussian_pixels"):
        for std in grid["constraint_noise"][activation]:
            yield {**common, "bottleneck": True, "data": data, "noise_std": std}


STUDY = CapacityStudy()
