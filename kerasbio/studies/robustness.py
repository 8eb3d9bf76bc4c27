"""The robustness study: correlated noise and correlated dropout (Dutta 2019, chs. 2-4).

- Experiment 1 (2.4, Tables 2.3, 2.5): All-CNN-C with 10 maps in layer 1 (Table 2.2), layer 1
  without noise (baseline) or with uncorrelated / correlated Gaussian (UG, CG; variance = the
  activation, Fano factor 1) or Poisson (UP, CP) noise (Table 2.1), evaluated on the test set,
  the six occlusions (2.4.3) and the CIFAR-10-C corruptions (2.4.4).
- Experiment 2 (Tables 2.4, 2.6): the same with dropout, 20% on the input and 50% after the
  stride-2 layers (conv3, conv6).
- Experiment 3 (4.2, Tables 4.1-4.5): VGG-11 (Table 3.1) with SpatialDropout, SpatialDropoutMod
  (`SimilarMapDropout`), DropBlock (one mask shared by the maps), DropBlockRandom and CorrDrop
  at the thesis' layer 1, 3, 5, 6 or 8, the DropBlock rates ramped linearly from 0.
- Experiment 4 (3.2.4, Table 3.2): VGG-11 trained without augmentation (vanilla), with input
  mixup or with manifold mixup (`kerasbio.analysis.ManifoldMixup`; alpha and mixing points in
  `robustness_models`), each analysed by chapter 3 at the thesis' layers 3, 5, 6, 8 and 9.
- Chapter 3 on every trained network: the kernel-smoothed correlation of its units as a function
  of distance and kernel similarity (`kerasbio.analysis`, Table 3.2 summary, contour figure).

All conditions run through `kerasbio.layers`: UG/UP are `CorrelatedNoise` with the correlation
switched off (`a = b = c = 0`, Sigma = I), so they differ from CG/CP in nothing but the
correlation. The noise wraps conv1 (before its ReLU: the Fano scale and the Poisson rate use
`max(a, 0)`); the chapter 4 methods act on the chosen convolution's output, before its batch
normalization (the wrappers need the convolution's kernel). Noise and dropout are off at test
time (their expectation, as in the thesis).

Full settings: CIFAR-10 (10,000 training images held out for validation, the best validation
epoch kept, as the thesis), CIFAR-10-C read through TFDS (`cifar10_corrupted`, all 19; missing
ones are skipped with the reason); experiments 1-2: SGD with Nesterov momentum 0.9, lr 0.01
decayed x0.1 at epochs 200, 250 and 300 of 350, L2 1e-3; experiment 3: SGD momentum 0.9, lr
0.01 (not given in the thesis), weight decay 1e-3 (PyTorch's, i.e. L2 5e-4), 50 epochs; batch
128; five seeds. Quick settings: the bundled 8x8 digits (occlusions scaled to 8x8, corruptions
computed by `kerasbio.data.corrupt`), All-CNN-C at 0.35 width, Adam 1e-3 (SGD at the thesis'
rate does not leave chance level in a few epochs on digits), 10 epochs, two seeds, experiments
1-2 (`--experiment 3` adds chapter 4: VGG-11 at 0.25 width, layers 1 and 3, DropBlock blocks of
3). Settings' `extra["corruptions"]` names the corruptions evaluated (None: the registry's, or
on CIFAR-10 the published 19). Experiment 4: SGD momentum 0.9, lr 0.01, weight decay
1e-4 (3.2.3; L2 5e-5), 50 epochs (the thesis trains to ~80% test accuracy); quick: as experiment
3, correlations at layers 3 and 5 (`--experiment 4`, not in the default quick run).

`evaluate(model, x, y)` runs the evaluation on any classifier.
"""

import dataclasses

import keras
import keras_tuner
import numpy as np
import pandas as pd

import kerasbio

from kerasbio._core.validation import (invalid_argument, validate_array, validate_choice,
                                       validate_int)
from kerasbio.studies import robustness_models
from kerasbio.studies.base import (Settings, Study, StudyHyperModel, check_finite_history,
                                   experiment_numbers, predicted_probabilities)

CONDITIONS = ("baseline", "ug", "up", "cg", "cp")
METHODS = ("spatial_dropout", "spatial_dropout_mod", "dropblock", "dropblock_random", "corrdrop")
PARADIGMS = ("vanilla", "input_mixup", "manifold_mixup")
METRICS = ("accuracy", "nll", "ece")
SEVERITIES = (1, 2, 3, 4, 5)
ECE_BINS = 15
EVAL_BATCH = 512
CHUNK_IMAGES = 50_000
TABLE_COLUMNS = ("kind", "name", "severity", *METRICS, "skipped")
# The 19 CIFAR-10-C corruptions, by their TFDS config names (as `kerasbio.data.corruptions()`).
CIFAR10_C = ("brightness", "contrast", "defocus_blur", "elastic", "fog", "frost",
             "frosted_glass_blur", "gaussian_blur", "gaussian_noise", "impulse_noise",
             "jpeg_compression", "motion_blur", "pixelate", "saturate", "shot_noise", "snow",
             "spatter", "speckle_noise", "zoom_blur")

FULL = {"chapter2": {"width": 1.0, "epochs": 350, "optimizer": "nesterov", "learning_rate": 0.01,
                     "boundaries": (200, 250, 300), "l2": 1e-3},
        "chapter4": {"width": 1.0, "epochs": 50, "optimizer": "momentum", "learning_rate": 0.01,
                     "boundaries": (), "l2": 5e-4},
        "chapter3": {"width": 1.0, "epochs": 50, "optimizer": "momentum", "learning_rate": 0.01,
                     "boundaries": (), "l2": 5e-5},
        "layers": (1, 3, 5, 6, 8), "seeds": 5, "batch_size": 128, "block_size": 5,
        "correlation": {"samples": 100, "all_cnn_c": ["conv1"], "vgg11": ["conv5", "conv6"],
                        "mixup": ["conv2", "conv3", "conv4", "conv5", "conv6"]}}
QUICK = {"chapter2": {"width": 0.35, "epochs": 10, "optimizer": "adam", "learning_rate": 1e-3,
                      "boundaries": (), "l2": 0.0},
         "chapter4": {"width": 0.25, "epochs": 10, "optimizer": "adam", "learning_rate": 1e-3,
                      "boundaries": (), "l2": 0.0},
         "chapter3": {"width": 0.25, "epochs": 10, "optimizer": "adam", "learning_rate": 1e-3,
                      "boundaries": (), "l2": 0.0},
         "layers": (1, 3), "seeds": 2, "batch_size": 32, "block_size": 3,
         "correlation": {"samples": 16, "all_cnn_c": ["conv1", "conv2"], "vgg11": ["conv2"],
                         "mixup": ["conv2", "conv3"]}}
SPATIAL_RATE = 0.5  # "the dropout probability is 50%" (4.2.2)
DROPBLOCK_RATE = 0.1  # Ghiasi et al.'s final drop rate; the thesis gives none for chapter 4
CORRELATION_GRID = 9  # points per axis of the stored smoothed-correlation grid


# ---------------------------------------------------------------- evaluation of any classifier

@dataclasses.dataclass(eq=False)
class EvaluationSet:
    """A test set of the evaluation: `kind` is "clean", "occlusion" or "corruption"; `images`
    is None and `skipped` the reason when a corruption could not be made."""

    kind: str
    name: str
    severity: int
    images: np.ndarray = None
    skipped: str = None


def evaluation_images(x):
    """Float32 images in [0, 1] from float images in [0, 1] or uint8 images in 0-255 (the
    `kerasbio.data` convention), rank 4, finite, non-empty."""
    x = validate_array("x", x, ndim=4)
    if x.dtype == np.uint8:
        return (x / 255.0).astype("float32")
    if x.dtype.kind != "f":
        raise invalid_argument("x", "float images in [0, 1] or uint8 images in 0-255",
                               f"dtype {x.dtype}")
    if x.min() < 0 or x.max() > 1:
        raise invalid_argument("x", "float images in [0, 1] (or uint8 in 0-255); standardize "
                               "inside the model or with `preprocess`",
                               f"values from {x.min():.4g} to {x.max():.4g}")
    return x.astype("float32")


def class_labels(y, count):
    """Integer labels `(count,)`, non-negative."""
    y = validate_array("y", y, ndim=1)
    if len(y) != count:
        raise ValueError(f"`x` and `y` must hold the same examples. Received {count} images and "
                         f"{len(y)} labels.")
    if np.any(y != np.round(y)) or y.min() < 0:
        raise invalid_argument("y", "non-negative integer class labels", f"values such as {y[:3]}")
    return y.astype("int64")


def evaluation_sets(x, occlusions=kerasbio.data.OCCLUSIONS, corruptions=None,
                    severities=SEVERITIES, seed=0, corruption_options=None):
    """Yield the `EvaluationSet`s: clean, each occlusion (`kerasbio.data.occlude`), then each
    corruption of the registry (`kerasbio.data.corruptions()`, or `corruptions`) at each
    severity. A corruption that raises `ValueError` or `OSError` (e.g. RGB-only on grey images,
    or user data such as frost images missing) is skipped, with the error as the reason.

    `corruption_options` maps a corruption's name to keyword arguments of `corrupt` (e.g. a
    directory of frost images); noise corruptions are seeded by `seed`, corruption and severity.
    """
    yield EvaluationSet("clean", "clean", 0, x)
    for kind in occlusions:
        yield EvaluationSet("occlusion", kind, 0, kerasbio.data.occlude(x, kind))
    names = kerasbio.data.corruptions() if corruptions is None else tuple(corruptions)
    for index, name in enumerate(names):
        options = (corruption_options or {}).get(name, {})
        for severity in severities:
            try:
                images = kerasbio.data.corrupt(x, name, severity, seed=seed + 10 * index + severity,
                                               **options)
            except (ValueError, OSError) as error:
                yield EvaluationSet("corruption", name, severity, skipped=str(error))
                break
            yield EvaluationSet("corruption", name, severity, images.astype("float32"))


def published_evaluation_sets(x, names=CIFAR10_C, severities=SEVERITIES, data_dir=None):
    """The clean and occluded sets of `x` (the CIFAR-10 test set), then the published CIFAR-10-C
    through TFDS; a corruption missing from `data_dir` is skipped with the reason."""
    yield from evaluation_sets(x, corruptions=())
    for name in names:
        for severity in severities:
            config = f"cifar10_corrupted/{name}_{severity}"
            try:
                images, _ = kerasbio.data.load(config, split="test", data_dir=data_dir)
            except (ValueError, OSError) as error:
                yield EvaluationSet("corruption", name, severity, skipped=str(error))
                break
            yield EvaluationSet("corruption", name, severity, images)


def measure(model, sets, y, batch_size=EVAL_BATCH, preprocess=None):
    """The evaluation table of `model` on `EvaluationSet`s (see `evaluate`)."""
    rows = []
    for chunk in _chunks(sets):
        made = [part for part in chunk if part.skipped is None]
        probabilities = iter(_chunk_probabilities(model, made, batch_size, preprocess))
        for part in chunk:
            row = {"kind": part.kind, "name": part.name, "severity": part.severity,
                   "skipped": part.skipped}
            if part.skipped is None:
                row.update(_metrics(y, next(probabilities)))
            rows.append(row)
    return with_corruption_means(pd.DataFrame(rows, columns=TABLE_COLUMNS))


def _chunks(sets, limit=CHUNK_IMAGES):
    """Consecutive groups of test sets holding at most about `limit` images each, so that one
    prediction call covers many small sets (8x8 digits: all of them) and memory stays bounded
    (CIFAR-10-C: five sets of 10,000 images)."""
    chunk, count = [], 0
    for part in sets:
        size = 0 if part.images is None else len(part.images)
        if chunk and count + size > limit:
            yield chunk
            chunk, count = [], 0
        chunk.append(part)
        count += size
    if chunk:
        yield chunk


def _chunk_probabilities(model, parts, batch_size, preprocess):
    """One prediction over the concatenated sets, split back per set."""
    if not parts:
        return []
    images = [np.asarray(part.images if preprocess is None else preprocess(part.images))
              for part in parts]
    probabilities = predicted_probabilities(model, np.concatenate(images), batch_size)
    return np.split(probabilities, np.cumsum([len(part) for part in images])[:-1])


def _metrics(y, probabilities):
    from kerasbio import metrics

    labels, probabilities = metrics.validate_predictions(y, probabilities)
    return {"accuracy": float(np.mean(np.argmax(probabilities, -1) == labels)),
            "nll": metrics.negative_log_likelihood(labels, probabilities),
            "ece": metrics.expected_calibration_error(labels, probabilities, ECE_BINS)}


def with_corruption_means(table):
    """Append the uncertainty-baselines aggregates: per severity the mean over corruptions
    (`kind="severity_mean"`), and the mean over every corruption x severity
    (`kind="corruption_mean"`, severity 0). Skipped corruptions are left out."""
    done = table[(table["kind"] == "corruption") & table["skipped"].isna()]
    if done.empty:
        return table
    per_severity = done.groupby("severity", sort=True)[list(METRICS)].mean().reset_index()
    per_severity = per_severity.assign(kind="severity_mean", name="mean")
    overall = pd.DataFrame([{"kind": "corruption_mean", "name": "mean", "severity": 0,
                             **done[list(METRICS)].mean().to_dict()}])
    return pd.concat([table, per_severity, overall], ignore_index=True)[list(TABLE_COLUMNS)]


def evaluate(model, x, y, occlusions=kerasbio.data.OCCLUSIONS, corruptions=None,
             severities=SEVERITIES, seed=0, batch_size=EVAL_BATCH, preprocess=None,
             corruption_options=None):
    """Dutta's robustness evaluation on any classifier: a tidy table of accuracy, NLL and ECE.

    Rows (`kind`, `name`, `severity`): the clean set (`"clean"`), each occlusion (2.4.3), each
    corruption x severity of the registry (2.4.4), then per severity the mean over corruptions
    (`"severity_mean"`) and the mean over all corruption x severity cells (`"corruption_mean"`),
    as uncertainty-baselines reports CIFAR-10-C. A corruption that cannot be made (a `skipped`
    reason) has no metrics and stays out of the means. NLL is the mean `-log p(y)` in nats;
    ECE is top-label with 15 equal-width bins.

    Args:
        model: A Keras classifier outputting class probabilities (run with `training=False`).
        x: Test images `(n, h, w, c)`, float in [0, 1] or uint8 in 0-255 (scaled to [0, 1]).
        y: Integer labels `(n,)`.
        occlusions: Occlusion kinds (`kerasbio.data.OCCLUSIONS`).
        corruptions: Corruption names (default: every one `kerasbio.data.corruptions()` has).
        severities: Severities, integers 1-5.
        seed: Seed of the noise corruptions.
        batch_size: Prediction batch size.
        preprocess: Optional function applied to every image set before the model (e.g.
            standardization); the manipulations work on [0, 1] images.
        corruption_options: Dict of corruption name -> keyword arguments of `corrupt`.

    Returns:
        A `pandas.DataFrame` with columns `kind, name, severity, accuracy, nll, ece, skipped`.
    """
    x = evaluation_images(x)
    y = class_labels(y, len(x))
    for name in corruptions or ():
        validate_choice("corruptions", name, kerasbio.data.corruptions())
    severities = [validate_int("severities", severity, low=1, high=5) for severity in severities]
    batch_size = validate_int("batch_size", batch_size, low=1)
    return measure(model, evaluation_sets(x, occlusions, corruptions, severities, seed,
                                    corruption_options), y, batch_size, preprocess)


def flat_metrics(table):
    """An evaluation table as flat trial metrics, e.g. `accuracy_central`, `nll_fog_s3`,
    `accuracy_mean_s2` (a severity's mean) and `accuracy_mean` (over all corruptions)."""
    values = {}
    for row in table.itertuples():
        if isinstance(row.skipped, str):
            continue
        suffix = row.name if row.kind in ("clean", "occlusion", "corruption_mean") \
            else f"{row.name}_s{row.severity}"
        values.update({f"{metric}_{suffix}": float(getattr(row, metric)) for metric in METRICS})
    return values


# ---------------------------------------------------------------- the study

class RobustnessHyperModel(StudyHyperModel):
    """Builds a cell's network (chapter 2 or 4); `fit` trains it, keeps the best validation
    epoch, and returns its evaluation and correlation analysis as flat metrics."""

    def __init__(self, settings, space):
        super().__init__(settings, space)
        self._sets = None

    def load_data(self):
        """Training, validation and test splits."""
        load = dict(name=self.settings.dataset, data_dir=self.settings.data_dir)
        return tuple(kerasbio.data.load(split=split, **load)
                     for split in ("train", "validation", "test"))

    def sets(self):
        """The evaluation's test sets: computed once for all trials, or the published CIFAR-10-C
        read afresh for each (its 95 sets of 10,000 images take 12 GB as float32)."""
        x_test = self.data()[2][0]
        names = self.settings.extra["corruptions"]
        if self.settings.extra["published_corruptions"]:
            return published_evaluation_sets(x_test, names or CIFAR10_C,
                                       data_dir=self.settings.data_dir)
        if self._sets is None:
            self._sets = list(evaluation_sets(x_test, corruptions=names))
        return self._sets

    def protocol(self, cell):
        return self.settings.extra[f"chapter{_chapter(cell)}"]

    def build_model(self, hp):
        cell = self.values(hp)
        protocol = self.protocol(cell)
        (x, y), _, _ = self.data()
        shape, classes, seed = x.shape[1:], int(y.max()) + 1, int(cell["seed"])
        if _chapter(cell) == 2:
            model = robustness_models.chapter2_network(
                shape, classes, cell["condition"], bool(cell["dropout"]), protocol["width"],
                protocol["l2"], seed)
        elif _chapter(cell) == 3:
            model = robustness_models.chapter3_network(
                shape, classes, cell["condition"], protocol["width"], protocol["l2"], seed)
        else:
            model = robustness_models.chapter4_network(
                shape, classes, cell["condition"], int(cell["layer"]), protocol["width"],
                protocol["l2"], self.settings.extra["block_size"], seed,
                self.settings.extra["spatial_rate"], self.settings.extra["dropblock_rate"])
        model.compile(_optimizer(protocol, len(x), self.settings.batch_size),
                      "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    def train_and_measure(self, hp, model, callbacks, verbose):
        cell = self.values(hp)
        (x, y), validation, (x_test, y_test) = self.data()
        epochs = self.protocol(cell)["epochs"]
        best = keras.callbacks.EarlyStopping("val_accuracy", patience=epochs, mode="max",
                                             restore_best_weights=True)
        ramp = [kerasbio.callbacks.RateSchedule(epochs=epochs)] if _chapter(cell) == 4 and \
            cell["condition"] in ("dropblock", "dropblock_random", "corrdrop") else []
        history = model.fit(x, y, batch_size=self.settings.batch_size, epochs=epochs,
                            validation_data=validation, callbacks=[*callbacks, best, *ramp],
                            verbose=verbose)
        check_finite_history(history, epochs)
        metrics = {"best_validation_accuracy": float(max(history.history["val_accuracy"]))}
        metrics.update(flat_metrics(measure(model, self.sets(), y_test)))
        correlation = self.settings.extra["correlation"]
        network = robustness_models.trained_network(model)
        for name in correlation[{2: "all_cnn_c", 3: "mixup", 4: "vgg11"}[_chapter(cell)]]:
            metrics.update(robustness_models.correlation_metrics(
                network, name, x_test, correlation["samples"], CORRELATION_GRID, int(cell["seed"])))
        return metrics


def _chapter(cell):
    """The thesis chapter of a cell: 2 (experiments 1-2), 4 (experiment 3) or 3 (experiment 4)."""
    numbers = experiment_numbers(cell["experiment"])
    return 4 if 3 in numbers else 3 if 4 in numbers else 2


def _optimizer(protocol, examples, batch_size):
    """Adam, or SGD with (Nesterov) momentum 0.9 and the rate divided by 10 at each boundary
    epoch."""
    if protocol["optimizer"] == "adam":
        return keras.optimizers.Adam(protocol["learning_rate"])
    steps = -(-examples // batch_size)
    rate = protocol["learning_rate"]
    if protocol["boundaries"]:
        rate = keras.optimizers.schedules.PiecewiseConstantDecay(
            [epoch * steps for epoch in protocol["boundaries"]],
            [rate * 0.1 ** power for power in range(len(protocol["boundaries"]) + 1)])
    return keras.optimizers.SGD(rate, momentum=0.9,
                                nesterov=protocol["optimizer"] == "nesterov")


class RobustnessStudy(Study):
    name = "robustness"
    title = "Robustness study: correlated noise and correlated dropout"
    paper = ("Dutta (2019), Correlated noise in deep neural networks, MSc thesis, chapters 2-4 "
             "(Tables 2.3-2.6, 3.2, 4.1-4.5).")
    objective = keras_tuner.Objective("accuracy_clean", "max")
    experiments = {1: "All-CNN-C, layer-1 noise, no dropout (Tables 2.3, 2.5)",
                   2: "All-CNN-C, layer-1 noise, with dropout (Tables 2.4, 2.6)",
                   3: "VGG-11, structured dropout at one layer (Tables 4.1-4.5)",
                   4: "ch. 3: correlation analysis with and without mixup (Table 3.2)"}
    progress_metrics = ("accuracy_clean", "accuracy_central", "accuracy_mean")
    axes = ("experiment", "condition", "dropout", "layer", "seed")
    report_module = "kerasbio.studies.robustness_report"

    def settings(self, quick=False, experiments=None, dataset=None, data_dir=None, epochs=None,
                 seeds=None):
        grid = QUICK if quick else FULL
        dataset = dataset or ("digits" if quick else "cifar10")
        protocols = {chapter: {**grid[chapter], "boundaries": list(grid[chapter]["boundaries"])}
                     for chapter in ("chapter2", "chapter3", "chapter4")}
        if epochs:
            for protocol in protocols.values():
                protocol["boundaries"] = [round(b * epochs / protocol["epochs"])
                                          for b in protocol["boundaries"]]
                protocol["epochs"] = epochs
        extra = {**protocols, "layers": list(grid["layers"]), "block_size": grid["block_size"],
                 "spatial_rate": SPATIAL_RATE, "dropblock_rate": DROPBLOCK_RATE,
                 "correlation": grid["correlation"], "corruptions": None,
                 "published_corruptions": dataset == "cifar10" and not quick}
        default = (1, 2) if quick else tuple(sorted(self.experiments))
        return Settings(study=self.name, quick=quick, experiments=tuple(experiments or default),
                        dataset=dataset, data_dir=data_dir,
                        epochs=protocols["chapter2"]["epochs"], seeds=seeds or grid["seeds"],
                        batch_size=grid["batch_size"], extra=extra)

    def cells(self, settings):
        """Experiments 1-2: the five conditions without / with dropout; experiment 3: the five
        methods at each layer; experiment 4: the three training paradigms; seeds innermost."""
        parts = []
        for number in settings.experiments:
            if number in (1, 2):
                parts += [{"experiment": str(number), "condition": condition,
                           "dropout": number == 2, "layer": 1} for condition in CONDITIONS]
            elif number == 4:
                parts += [{"experiment": "4", "condition": paradigm, "dropout": False, "layer": 1}
                          for paradigm in PARADIGMS]
            else:
                parts += [{"experiment": "3", "condition": method, "dropout": False,
                           "layer": int(layer)}
                          for layer in settings.extra["layers"] for method in METHODS]
        return [{**part, "seed": seed} for part in parts for seed in range(settings.seeds)]

    def hypermodel(self, settings):
        cells = self.cells(settings)
        space = {axis: sorted({cell[axis] for cell in cells}, key=str) for axis in self.axes}
        return RobustnessHyperModel(settings, space)


STUDY = RobustnessStudy()
