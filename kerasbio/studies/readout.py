"""The read-out study: linear read-outs of CNN layers against human confidence (McClure 2018,
4.2.3-4.3.3).

Three networks of Table 4.1's architecture: MAP (no sampling), Gaussian unit noise before each
ReLU during training only ("MC training", the expectation at test time), and during training
and inference ("MC training and testing", 10 samples). The two noisy networks are one trained
network evaluated both ways (as `kerasbio.mc_sampling` does for Table 4.2). On every hidden
layer's representation (after its ReLU) and on the softmax output, a linear logistic read-out
learns the images' labels with leave-one-set-out cross-validation over the image sets
(Eberhardt et al. 2016: five sets of 300). For MAP and MC training the representation is
deterministic; for MC training and testing it is a sample `z ~ p(z_m | x)`: one sample per
training step (Eq. 4.7 with n = 1) and 10 averaged at test (Eq. 4.8). Measured per layer and
held-out set: read-out accuracy and the Pearson correlation between the read-out's probability
of the true class and the images' confidence (the fraction of observers who were right; the
thesis says "output probabilities", and the probability of the true class is the one that
scores the same event as the confidence). The thesis' test between networks: paired t-tests on
these correlations, across all layers and sets, and per layer across sets (4.3.3, Fig. 4.2).

Full settings: Table 4.1's CNN at full width with p = 0.2 and SGD with momentum (thesis);
kerasbio.data has no ImageNet or Eco-set, so it trains on `--dataset` (default CIFAR-100, whose
classes include animals) and the human data come from `--confidence FILE.csv`; epochs,
learning rate and the read-outs' optimiser are our choices (the thesis does not state them).
Quick settings: the same architecture at 1/8 width on the bundled digits, read-outs on the 360
test digits in five sets, and a synthetic confidence (`readout_data.synthetic_confidence`).

`evaluate(model, x, labels, sets, confidence, ...)` runs the read-out protocol on any model.
"""

import os

import keras
import keras_tuner
import numpy as np
import pandas as pd

import kerasbio

from kerasbio._core.validation import validate_int
from kerasbio.studies import readout_data
from kerasbio.studies.base import (Settings, Study, StudyHyperModel, accuracy,
                                   check_finite_history)

NETWORKS = ("map", "mc_training", "mc_training_testing")
TRAININGS = {"map": ("map",), "sampling": ("mc_training", "mc_training_testing")}
METRICS = ("accuracy", "correlation")
SAMPLES = 10
EVAL_BATCH = 512

FULL = {"dataset": "cifar100", "epochs": 60, "seeds": 1, "batch_size": 128, "width": 1.0,
        "optimizer": "sgd", "learning_rate": 0.01, "grid": 4,
        "readout": {"steps": 1000, "batch_size": 256, "learning_rate": 0.01, "l2": 1e-3}}
QUICK = {"dataset": "digits", "epochs": 30, "seeds": 1, "batch_size": 32, "width": 0.125,
         "optimizer": "adam", "learning_rate": 1e-3, "grid": None,
         "readout": {"steps": 300, "batch_size": 512, "learning_rate": 0.01, "l2": 1e-3}}
RATE = 0.2


def readout_layers(model):
    """The zoo's layers a read-out reads: every `act_<name>` (hidden layer after its
    non-linearity), then `softmax`."""
    names = [layer.name for layer in model.layers if layer.name.startswith("act_")]
    return names + [layer.name for layer in model.layers if layer.name == "softmax"]


def feature_extractor(model, layers, grid=None):
    """A model `x -> [flat representation of each layer]`, sharing `model`'s layers (and its
    sampling switches). With `grid`, maps larger than `grid x grid` are average-pooled to
    about that size first (our choice, to bound a 224x224 layer's read-out)."""
    outputs = []
    for name in layers:
        output = model.get_layer(name).output
        if grid is not None and len(output.shape) == 4 and max(output.shape[1:3]) > grid:
            size = -(-max(output.shape[1:3]) // grid)
            output = keras.layers.AveragePooling2D(size, padding="same",
                                                   name=f"readout_pool_{name}")(output)
        if len(output.shape) > 2:
            output = keras.layers.Flatten(name=f"readout_flat_{name}")(output)
        outputs.append(output)
    return keras.Model(model.inputs, outputs, name="readout_features")


class Representations:
    """The layers' representations of images `x`: deterministic (the expectation of every
    noise layer), or with `sample=True` a fresh sample `z ~ p(z_m | x)` on every `draw`.

    A context manager: inside `with`, the model's kerasbio layers sample when `sample` (the
    switch is made once, so the extractor is traced once); their flags are restored on exit.
    """

    def __init__(self, model, layers, x, sample=False, grid=None):
        self.extractor = feature_extractor(model, layers, grid)
        self.x, self.sample = x, sample
        with kerasbio.mc_sampling(self.extractor, enabled=False):
            self.expectation = self._run(np.arange(len(x)))
        self._switch = None

    def __enter__(self):
        if self.sample:
            self._switch = kerasbio.mc_sampling(self.extractor, enabled=True)
            self._switch.__enter__()
        return self

    def __exit__(self, *exception):
        if self._switch is not None:
            self._switch.__exit__(*exception)
            self._switch = None

    def _run(self, indices):
        parts = [_as_list(self.extractor.predict_on_batch(self.x[indices[start:start
                                                                             + EVAL_BATCH]]))
                 for start in range(0, len(indices), EVAL_BATCH)]
        return [np.concatenate([np.asarray(part[i]) for part in parts])
                for i in range(len(parts[0]))]

    def draw(self, indices):
        """One representation per index (a sample when stochastic), a list over layers."""
        if not self.sample:
            return [layer[indices] for layer in self.expectation]
        if self._switch is None:
            raise RuntimeError("Draw samples inside `with representations:`.")
        return self._run(indices)


def _as_list(outputs):
    """A model's outputs as a list (a one-output model returns a bare array)."""
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


class LinearReadout:
    """Multinomial logistic regression on one layer: `p(y | z) = softmax(W^T s(z) + b)`, with
    `s(z) = (z - mean) / scale` fixed; fitted by Adam on the mean cross-entropy of a batch
    plus `l2 * |W|^2`. Given one sample of a stochastic `z` per step, its steps ascend the MC
    objective of Eq. 4.7 with one sample (McClure 2018), as MC Gaussian dropout trains.

    Args:
        mean, scale: Per-feature standardization, shape `(features,)`.
        classes: Number of classes.
        learning_rate, l2: Adam's step size and the weights' L2 penalty.
    """

    BETAS = (0.9, 0.999)
    EPSILON = 1e-8

    def __init__(self, mean, scale, classes, learning_rate=0.01, l2=1e-3):
        self.mean, self.scale = np.asarray(mean, "float64"), np.asarray(scale, "float64")
        self.weights = np.zeros((len(self.mean), classes))
        self.bias = np.zeros(classes)
        self.learning_rate, self.l2 = learning_rate, l2
        # Adam's first and second moments: weights', then bias'.
        self._moments = [np.zeros_like(part) for part in (self.weights, self.weights,
                                                          self.bias, self.bias)]
        self._steps = 0

    @classmethod
    def standardizing(cls, features, classes, **kwargs):
        """A read-out standardizing with the mean and sd of `features` (training images)."""
        features = np.asarray(features, "float64")
        return cls(features.mean(0), np.sqrt(features.var(0) + 1e-6), classes, **kwargs)

    def probabilities(self, z):
        logits = ((np.asarray(z, "float64") - self.mean) / self.scale) @ self.weights + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exponentials = np.exp(logits)
        return exponentials / exponentials.sum(axis=1, keepdims=True)

    def loss_and_gradients(self, z, y):
        """`-mean log p(y | z) + l2 |W|^2` and its gradients with respect to `W` and `b`."""
        p = self.probabilities(z)
        loss = -np.mean(np.log(p[np.arange(len(y)), y] + 1e-300)) + self.l2 * np.sum(
            self.weights ** 2)
        p[np.arange(len(y)), y] -= 1.0
        standardized = (np.asarray(z, "float64") - self.mean) / self.scale
        return loss, (standardized.T @ p / len(y) + 2 * self.l2 * self.weights, p.mean(0))

    def step(self, z, y):
        """One Adam step on a batch; returns the batch's loss before the step."""
        loss, gradients = self.loss_and_gradients(z, y)
        self._steps += 1
        (beta1, beta2), parameters = self.BETAS, (self.weights, self.bias)
        for i, (parameter, gradient) in enumerate(zip(parameters, gradients)):
            first, second = self._moments[2 * i], self._moments[2 * i + 1]
            first[...] = beta1 * first + (1 - beta1) * gradient
            second[...] = beta2 * second + (1 - beta2) * gradient ** 2
            corrected = first / (1 - beta1 ** self._steps)
            parameter -= self.learning_rate * corrected / (
                np.sqrt(second / (1 - beta2 ** self._steps)) + self.EPSILON)
        return loss


def train_readouts(representations, train, labels, classes, steps, batch_size, learning_rate,
                   l2, seed=0):
    """Fit a `LinearReadout` per layer on images `train` (indices), standardized with their
    expectation: each step a minibatch and, when the representations are stochastic, a fresh
    sample of them (Eq. 4.7 with one sample)."""
    readouts = [LinearReadout.standardizing(layer[train], classes, learning_rate=learning_rate,
                                            l2=l2) for layer in representations.expectation]
    rng = np.random.default_rng(seed)
    order, position = rng.permutation(train), 0
    for _ in range(steps):
        if position >= len(order):
            order, position = rng.permutation(train), 0
        batch = order[position:position + batch_size]
        position += len(batch)
        for readout, features in zip(readouts, representations.draw(batch)):
            readout.step(features, labels[batch])
    return readouts


def readout_probabilities(readouts, representations, indices, samples=SAMPLES):
    """Eq. 4.8: `p(y | x) = (1/n) sum_k p(y | x, z_k)`, `z_k ~ p(z_m | x)`, for every layer's
    read-out (n = 1 for deterministic representations). Returns a list of `(len, classes)`."""
    draws = samples if representations.sample else 1
    features = representations.draw(np.tile(indices, draws))
    return [readout.probabilities(layer).reshape(draws, len(indices), -1).mean(0)
            for readout, layer in zip(readouts, features)]


def pearson(a, b):
    """Pearson's r of two vectors; NaN when either is constant."""
    a, b = np.asarray(a, "float64") - np.mean(a), np.asarray(b, "float64") - np.mean(b)
    denominator = np.sqrt(np.sum(a * a) * np.sum(b * b))
    return float(np.sum(a * b) / denominator) if denominator > 0 else float("nan")


def standard_error(values):
    """Standard error of the mean, `sd (ddof=1) / sqrt(n)`, over the finite values."""
    values = np.asarray(values, "float64")
    values = values[np.isfinite(values)]
    return float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else np.nan


def evaluate(model, x, labels, sets, confidence, layers=None, sample=False, samples=SAMPLES,
             grid=None, steps=300, batch_size=512, learning_rate=0.01, l2=1e-3, seed=0):
    """The read-out protocol on any model: per layer and held-out image set, accuracy and the
    correlation of the read-out's probability of the true class with `confidence`.

    Args:
        model: A functional Keras model; its kerasbio layers sample when `sample`.
        x: The images, a float array with examples first.
        labels: Integer labels the read-outs learn, shape `(len(x),)`.
        sets: The image set of each image (leave-one-set-out cross-validation).
        confidence: Per-image confidence (e.g. the fraction of observers who were right).
        layers: Names of the layers to read (default: `readout_layers(model)`).
        sample: Stochastic representations: one sample per training step, `samples` averaged
            at test (McClure 2018, Eqs. 4.7-4.8); otherwise the expectation.
        samples: MC samples at test.
        grid: Average-pool larger maps to about `grid x grid` (None: read them whole).
        steps, batch_size, learning_rate, l2: The read-outs' Adam optimisation (our choice:
            the thesis does not give it).
        seed: Seed of the minibatch order.

    Returns:
        A `pandas.DataFrame` with a row per layer and held-out set: `layer`, `depth` (1 = first
        layer), `set`, `accuracy`, `correlation`, `images`.
    """
    x, labels, sets, confidence = _checked(x, labels, sets, confidence)
    samples = validate_int("samples", samples, low=1)
    layers = list(layers or readout_layers(model))
    if not layers:
        raise ValueError("No layer to read: pass `layers` (the zoo names them act_<name>).")
    classes = int(labels.max()) + 1
    rows = []
    with Representations(model, layers, x, sample=sample, grid=grid) as representations:
        for held_out in np.unique(sets):
            train, test = np.flatnonzero(sets != held_out), np.flatnonzero(sets == held_out)
            readouts = train_readouts(representations, train, labels, classes, steps,
                                      batch_size, learning_rate, l2, seed)
            probabilities = readout_probabilities(readouts, representations, test, samples)
            for depth, (name, p) in enumerate(zip(layers, probabilities), 1):
                rows.append({"layer": name, "depth": depth, "set": held_out,
                             "accuracy": float(np.mean(np.argmax(p, -1) == labels[test])),
                             "correlation": pearson(p[np.arange(len(test)), labels[test]],
                                                    confidence[test]),
                             "images": len(test)})
    return pd.DataFrame(rows)


def _checked(x, labels, sets, confidence):
    x = np.asarray(x, "float32")
    labels, sets = np.asarray(labels), np.asarray(sets)
    confidence = np.asarray(confidence, "float64")
    if not len(x) or any(part.shape != (len(x),) for part in (labels, sets, confidence)):
        raise ValueError(f"Expected images and per-image labels, sets and confidence of shape "
                         f"(len(x),). Received: x.shape={x.shape}, labels.shape={labels.shape}, "
                         f"sets.shape={sets.shape}, confidence.shape={confidence.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(confidence))):
        raise ValueError("The images `x` or the `confidence` hold NaN or infinite values.")
    if len(np.unique(sets)) < 2:
        raise ValueError("Leave-one-set-out cross-validation needs at least two image sets.")
    if labels.dtype.kind not in "iu" or labels.min() < 0:
        raise ValueError(f"Expected non-negative integer labels. Received dtype {labels.dtype}.")
    return x, labels.astype("int64"), sets, confidence


def column(metric, network, depth, held_out):
    """Results column of one read-out measure, e.g. `correlation_map_layer3_set2`."""
    return f"{metric}_{network}_layer{depth}_set{held_out}"


class ReadoutHyperModel(StudyHyperModel):
    """Builds Table 4.1's CNN, MAP or with Gaussian unit noise; `fit` trains it, then its
    read-outs (both inferences for the noisy network)."""

    def load_data(self):
        """Training split, test split and the confidence table with its images."""
        load = dict(name=self.settings.dataset, data_dir=self.settings.data_dir)
        train = kerasbio.data.load(split="train", validation=0, **load)
        test = kerasbio.data.load(split="test", **load)
        path = self.settings.extra["confidence"]
        if path is None:
            table = readout_data.synthetic_confidence(*train, *test)
        else:
            table = readout_data.load_confidence(path, sets=self.settings.extra["sets"])
        images = readout_data.confidence_images(table, train[0].shape[1:], test[0])
        return train, test, table, images

    def build_model(self, hp):
        from kerasbio import models

        (x, y), _, _, _ = self.data()
        extra = self.settings.extra
        model = models.mcclure_imagenet_cnn(
            x.shape[1:], int(y.max()) + 1, width=extra["width"], rate=extra["rate"],
            variational=None if self.values(hp)["training"] == "map" else "gaussian_dropout")
        optimizer = (keras.optimizers.SGD(extra["learning_rate"], momentum=0.9)
                     if extra["optimizer"] == "sgd" else keras.optimizers.Adam(
                         extra["learning_rate"]))
        model.compile(optimizer, "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    def train_and_measure(self, hp, model, callbacks, verbose):
        import tensorflow as tf

        cell = self.values(hp)
        (x, y), (x_test, y_test), table, images = self.data()
        batches = (tf.data.Dataset.from_tensor_slices((x, y))
                   .shuffle(len(x), seed=int(cell["seed"])).batch(self.settings.batch_size))
        history = model.fit(batches, epochs=self.settings.epochs, shuffle=False,
                            callbacks=callbacks, verbose=verbose)
        check_finite_history(history, self.settings.epochs)
        metrics = {"test_accuracy_expectation": accuracy(model, x_test, y_test, EVAL_BATCH),
                   "observer_accuracy": float(table["confidence"].mean())}
        samples = self.settings.extra["samples"]
        if cell["training"] == "sampling":
            sampled = kerasbio.mc_predict(model, x_test, samples=samples, verbose=0).mean
            metrics["test_accuracy_mc"] = float(np.mean(np.argmax(sampled, -1) == y_test))
        readout = dict(self.settings.extra["readout"], grid=self.settings.extra["grid"],
                       samples=samples, seed=int(cell["seed"]))
        for network in TRAININGS[cell["training"]]:
            rows = evaluate(model, images, table["label"], table["set"], table["confidence"],
                            sample=network == "mc_training_testing", **readout)
            for row in rows.itertuples():
                for metric in METRICS:
                    metrics[column(metric, network, row.depth, row.set)] = getattr(row, metric)
        return metrics


class ReadoutStudy(Study):
    name = "readout"
    title = "Read-out study: linear read-outs of CNN layers against human confidence"
    paper = ("McClure (2018), Representational distance learning and Bayesian deep neural "
             "networks, PhD thesis, 4.2.3-4.3.3 (Eqs. 4.6-4.8, Table 4.2, Fig. 4.2).")
    objective = keras_tuner.Objective("test_accuracy_expectation", "max")
    experiments = {1: "per-layer read-outs of MAP, MC training and MC training and testing "
                      "networks against human confidence (Fig. 4.2, Table 4.2)"}
    progress_metrics = ("test_accuracy_expectation", "test_accuracy_mc")
    axes = ("experiment", "training", "seed")
    report_module = "kerasbio.studies.readout_report"

    def settings(self, quick=False, experiments=None, dataset=None, data_dir=None, epochs=None,
                 seeds=None, confidence=None):
        grid = QUICK if quick else FULL
        if confidence is None and not quick:
            raise ValueError(
                "The full read-out study needs human confidence data: --confidence FILE.csv "
                "(columns image, set, label, confidence; see the README). Eberhardt et al. "
                "(2016)'s data are not redistributable; --quick runs with a synthetic stand-in.")
        extra = {"confidence": None if confidence is None else os.path.abspath(confidence),
                 "sets": readout_data.SETS, "width": grid["width"], "rate": RATE,
                 "optimizer": grid["optimizer"], "learning_rate": grid["learning_rate"],
                 "grid": grid["grid"], "samples": SAMPLES, "readout": dict(grid["readout"])}
        if confidence is None:
            extra["synthetic"] = {"observers": readout_data.OBSERVERS,
                                  "noise": readout_data.OBSERVER_NOISE,
                                  "seed": readout_data.OBSERVER_SEED}
        return Settings(study=self.name, quick=quick,
                        experiments=tuple(experiments or sorted(self.experiments)),
                        dataset=dataset or grid["dataset"], data_dir=data_dir,
                        epochs=epochs or grid["epochs"], seeds=seeds or grid["seeds"],
                        batch_size=grid["batch_size"], extra=extra)

    def cells(self, settings):
        return [{"experiment": "1", "training": training, "seed": seed}
                for training in TRAININGS for seed in range(settings.seeds)]

    def hypermodel(self, settings):
        cells = self.cells(settings)
        space = {axis: sorted({cell[axis] for cell in cells}) for axis in self.axes}
        return ReadoutHyperModel(settings, space)


def tidy(results):
    """Results (one row per trial) as one row per trial, network, layer and held-out set."""
    rows = []
    for _, trial in results.iterrows():
        for name in trial.index:
            if not name.startswith("accuracy_") or pd.isna(trial[name]):
                continue
            network, rest = name[len("accuracy_"):].rsplit("_layer", 1)
            depth, held_out = rest.split("_set", 1)
            rows.append({"trial_id": trial["trial_id"], "seed": trial["seed"],
                         "network": network, "depth": int(depth), "set": held_out,
                         "accuracy": trial[name],
                         "correlation": trial[name.replace("accuracy_", "correlation_", 1)]})
    return pd.DataFrame(rows, columns=["trial_id", "seed", "network", "depth", "set",
                                       "accuracy", "correlation"])


STUDY = ReadoutStudy()
