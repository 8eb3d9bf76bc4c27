"""The uncertainty study: variational CNNs with and without MC sampling (McClure 2018, ch. 3).

Six ways to train the thesis' CNNs (3.2, Table 3.1): MAP, Bernoulli and Gaussian dropconnect,
Bernoulli and Gaussian dropout (before each non-linearity) and spike-and-slab dropout, every p a
network-wide hyperparameter. Each trained network is evaluated twice, at the expectation of its
noise ("MC training only", `kerasbio.mc_sampling(model, enabled=False)`) and with MC sampling
(`kerasbio.mc_predict`, 10 samples), on the test set and on test images with added Gaussian
noise (3.3.2): error, NLL, Brier score, ECE (15 bins), McClure's calibration MSE, mean
predictive entropy and mutual information.

- Experiment 1: the six methods at one p (Table 3.1, Figs. 3.5-3.7).
- Experiment 2: the p sweep (Fig. 3.8): test error against p for each sampling method.

Full settings: MNIST with Table 3.2's network (image noise std 0-5) or, with `--dataset
cifar10`, CIFAR-10 with Table 3.3's (random horizontal flips; std 0-1); 10,000 training
images held out for validation (not used: p is fixed here, where the thesis tuned it), five
seeds. The thesis does not state its optimiser or schedule: Adam (learning rate 1e-3), batch
128 and 50 (MNIST) / 100 (CIFAR-10) epochs are our choice; p = 0.5 (spike-and-slab: dropout
0.5, dropconnect 0.1, as in its Appendix Fig. A.1). Quick settings: the bundled digits with the
MNIST network at a quarter of its width (per-example dropconnect weights are slow on a CPU),
image noise std 0-1, 30 epochs, two seeds, and the p sweep for Bernoulli and Gaussian dropout
only.

`evaluate(model, x, y, noise_stds, samples)` runs the same protocol on any model.
"""

import keras
import keras_tuner
import numpy as np
import pandas as pd

import kerasbio

from kerasbio._core.validation import validate_int, validate_range
from kerasbio.studies.base import Settings, Study, StudyHyperModel, check_finite_history

METHODS = ("map", "bernoulli_dropconnect", "gaussian_dropconnect", "bernoulli_dropout",
           "gaussian_dropout", "spike_and_slab")
INFERENCES = ("expectation", "mc")
METRICS = ("error", "nll", "brier", "ece", "calibration_mse", "entropy", "mutual_information")
ECE_BINS = 15
CURVE_BINS = 10
EVAL_BATCH = 512

FULL = {
    "mnist": {"noise_stds": (0.0, 1.0, 2.0, 3.0, 4.0, 5.0), "epochs": 50, "flips": False},
    "cifar10": {"noise_stds": (0.0, 0.25, 0.5, 0.75, 1.0), "epochs": 100, "flips": True},
    "rates": (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7), "sweep_methods": METHODS[1:],
    "seeds": 5, "batch_size": 128, "width": 1.0,
}
QUICK = {
    "digits": {"noise_stds": (0.0, 0.25, 0.5, 1.0), "epochs": 30, "flips": False},
    "rates": (0.25, 0.5, 0.75), "sweep_methods": ("bernoulli_dropout", "gaussian_dropout"),
    "seeds": 2, "batch_size": 32, "width": 0.25,
}
RATE = 0.5
SPIKE_AND_SLAB_DROPCONNECT = 0.1
LEARNING_RATE = 1e-3


def probabilities_at_expectation(model, x, batch_size=EVAL_BATCH):
    """Class probabilities with every stochastic layer at its expectation (`training=False`)."""
    with kerasbio.mc_sampling(model, enabled=False):
        return np.concatenate([keras.ops.convert_to_numpy(
            model(x[start:start + batch_size], training=False))
            for start in range(0, len(x), batch_size)]).astype("float64")


def predictions(model, x, noise_stds, samples, seed=0, sample=True):
    """Yield `(noise_std, inference, probabilities, mutual_information)` for every std and both
    inferences (`sample=False`: the expectation only); the noisy images of one std are shared
    by both (`seed + index` per std)."""
    for index, std in enumerate(noise_stds):
        noisy = kerasbio.data.gaussian_noise(x, std, seed=seed + index) if std > 0 else x
        mean = probabilities_at_expectation(model, noisy)
        yield std, "expectation", mean, np.zeros(len(x))
        if not sample:
            continue
        sampled = kerasbio.mc_predict(model, noisy, samples=samples, verbose=0)
        yield std, "mc", sampled.mean.astype("float64"), sampled.mutual_information


def metrics_row(y, probabilities, mutual_information):
    """The study's metrics of one set of predictions (see the module docstring)."""
    from kerasbio import metrics

    return {
        "error": float(np.mean(np.argmax(probabilities, -1) != y)),
        "nll": metrics.negative_log_likelihood(y, probabilities),
        "brier": metrics.brier_score(y, probabilities),
        "ece": metrics.expected_calibration_error(y, probabilities, bins=ECE_BINS),
        "calibration_mse": metrics.calibration_mse(y, probabilities, bins=CURVE_BINS),
        "entropy": float(np.mean(metrics.predictive_entropy(probabilities))),
        "mutual_information": float(np.mean(mutual_information)),
    }


def evaluate(model, x, y, noise_stds=(0.0,), samples=10, seed=0):
    """The uncertainty study's protocol on any classifier: a tidy table of its metrics.

    For every image-noise std (`x + N(0, std^2)`, McClure 2018, 3.3.2) the model is evaluated
    at the expectation of its stochastic layers (`inference="expectation"`, "MC training only")
    and by MC sampling (`"mc"`, `samples` passes averaged, Eq. 3.3). Columns: `noise_std`,
    `inference`, `error`, `nll` (mean -log p of the true class), `brier` (multi-class Brier
    score), `ece` (top-label, 15 equal-width bins), `calibration_mse` (McClure's, every class'
    probability against its frequency, 10 bins), `entropy` (mean predictive entropy, nats) and
    `mutual_information` (mean MC mutual information; 0 at the expectation).

    Args:
        model: A Keras model outputting class probabilities; its kerasbio layers sample in `"mc"`.
        x: Test images, a float array with examples first.
        y: Integer labels, shape `(len(x),)`.
        noise_stds: Image-noise standard deviations (0: the clean test set).
        samples: MC samples per example.
        seed: Seed of the image noise.

    Returns:
        A `pandas.DataFrame`, one row per std and inference.
    """
    x, y = _checked_data(x, y)
    noise_stds = [validate_range("noise_stds", float(std), low=0) for std in noise_stds]
    if not noise_stds:
        raise ValueError("Invalid value received for argument `noise_stds`. Expected at least "
                         "one standard deviation. Received: noise_stds=[]")
    samples = validate_int("samples", samples, low=1)
    rows = [{"noise_std": std, "inference": inference, **metrics_row(y, mean, information)}
            for std, inference, mean, information in predictions(model, x, noise_stds, samples,
                                                                  seed)]
    return pd.DataFrame(rows, columns=["noise_std", "inference", *METRICS])


def _checked_data(x, y):
    x, y = np.asarray(x, "float32"), np.asarray(y)
    if len(x) == 0 or len(x) != len(y) or y.ndim != 1:
        raise ValueError(f"Expected images `x` and integer labels `y` of shape (len(x),) with at "
                         f"least one example. Received: x.shape={x.shape}, y.shape={y.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("The images `x` hold NaN or infinite values.")
    return x, y.astype("int64")


def calibration_sums(y, probabilities):
    """Per probability bin (McClure's calibration plot, every class): count, sums of the
    predicted probabilities and of the outcomes."""
    from kerasbio import metrics

    pairs = metrics.calibration_pairs(y, probabilities, kind="all_classes")
    return np.stack([keras.ops.convert_to_numpy(part) for part in
                     metrics.binned_sums(*pairs, CURVE_BINS)])


def column(metric, inference, std):
    """Results column of a metric: e.g. `ece_mc_std0.5`."""
    return f"{metric}_{inference}_std{std:g}"


def curve_columns(inference):
    """Results columns of the calibration curve pooled over image-noise levels."""
    return ([f"curve_{inference}_probability{b}" for b in range(CURVE_BINS)],
            [f"curve_{inference}_frequency{b}" for b in range(CURVE_BINS)])


def trial_metrics(model, x, y, noise_stds, samples, sample=True):
    """The flat metrics of a trial: every metric per inference and std, and each inference's
    calibration curve pooled over the stds (empty bins left out); `sample=False`: the
    expectation only (MAP)."""
    values, sums = {}, {inference: 0.0 for inference in INFERENCES[:1 + sample]}
    for std, inference, mean, information in predictions(model, x, noise_stds, samples,
                                                         sample=sample):
        for name, value in metrics_row(y, mean, information).items():
            values[column(name, inference, std)] = value
        sums[inference] = sums[inference] + calibration_sums(y, mean)
    for inference, (count, probability, frequency) in sums.items():
        for b, (probability_name, frequency_name) in enumerate(zip(*curve_columns(inference))):
            if count[b] > 0:
                values[probability_name] = float(probability[b] / count[b])
                values[frequency_name] = float(frequency[b] / count[b])
    return values


class UncertaintyHyperModel(StudyHyperModel):
    """Builds the thesis' CNN with a cell's method and p; `fit` trains and evaluates it."""

    def load_data(self):
        """Training and test splits (the validation split held out)."""
        load = dict(name=self.settings.dataset, data_dir=self.settings.data_dir)
        return kerasbio.data.load(split="train", **load), kerasbio.data.load(split="test", **load)

    def build_model(self, hp):
        from kerasbio import models

        cell = self.values(hp)
        (x, y), _ = self.data()
        architecture = (models.mcclure_cifar_cnn if self.settings.dataset.startswith("cifar")
                        else models.mcclure_mnist_cnn)
        method = cell["method"]
        model = architecture(x.shape[1:], int(y.max()) + 1,
                             width=self.settings.extra["width"],
                             variational=None if method == "map" else method,
                             rate=float(cell["rate"]),
                             dropconnect_rate=self.settings.extra["spike_and_slab_dropconnect"])
        model.compile(keras.optimizers.Adam(self.settings.extra["learning_rate"]),
                      "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    def train_and_measure(self, hp, model, callbacks, verbose):
        cell = self.values(hp)
        (x, y), (x_test, y_test) = self.data()
        epochs = self.settings.epochs
        history = model.fit(self.training_data(x, y, int(cell["seed"])),
                            epochs=epochs, shuffle=False, callbacks=callbacks,
                            verbose=verbose)
        check_finite_history(history, epochs)
        return trial_metrics(model, x_test, y_test, self.settings.extra["noise_stds"],
                             self.settings.extra["samples"], sample=cell["method"] != "map")

    def training_data(self, x, y, seed):
        """Shuffled batches, randomly flipped left-right when the settings ask for it."""
        import tensorflow as tf

        dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed)
        if self.settings.extra["flips"]:
            dataset = dataset.map(lambda image, label: (
                tf.image.random_flip_left_right(image), label))
        return dataset.batch(self.settings.batch_size).prefetch(2)


class UncertaintyStudy(Study):
    name = "uncertainty"
    title = "Uncertainty study: variational CNNs with and without MC sampling"
    paper = ("McClure (2018), Representational distance learning and Bayesian deep neural "
             "networks, PhD thesis, chapter 3 (Table 3.1, Figs. 3.5-3.8).")
    objective = keras_tuner.Objective("error_expectation_std0", "min")  # MAP has no MC
    experiments = {1: "six methods, expectation vs MC, against image noise (Table 3.1, "
                      "Figs. 3.5-3.7)",
                   2: "p sweep: test error against p per method (Fig. 3.8)"}
    progress_metrics = ("error_expectation_std0", "error_mc_std0")
    axes = ("experiment", "method", "rate", "seed")
    report_module = "kerasbio.studies.uncertainty_report"

    def settings(self, quick=False, experiments=None, dataset=None, data_dir=None, epochs=None,
                 seeds=None):
        grid = QUICK if quick else FULL
        dataset = dataset or ("digits" if quick else "mnist")
        protocol = grid.get(dataset, grid.get("cifar10" if dataset.startswith("cifar")
                                              else "mnist", QUICK["digits"]))
        extra = {"noise_stds": list(protocol["noise_stds"]), "flips": protocol["flips"],
                 "samples": 10, "rates": list(grid["rates"]), "rate": RATE,
                 "sweep_methods": list(grid["sweep_methods"]),
                 "spike_and_slab_dropconnect": SPIKE_AND_SLAB_DROPCONNECT,
                 "learning_rate": LEARNING_RATE, "width": grid["width"]}
        return Settings(study=self.name, quick=quick,
                        experiments=tuple(experiments or sorted(self.experiments)),
                        dataset=dataset, data_dir=data_dir,
                        epochs=epochs or protocol["epochs"], seeds=seeds or grid["seeds"],
                        batch_size=grid["batch_size"], extra=extra)

    def cells(self, settings):
        """Experiment 1's methods at p = 0.5 (MAP: p = 0) and experiment 2's sampling methods
        at each p of the sweep, seeds innermost; a cell both serve runs once (`"1+2"`)."""
        shared = {}
        for number in settings.experiments:
            for method, rate in _experiment_cells(number, settings):
                shared.setdefault((method, rate), []).append(str(number))
        return [{"experiment": "+".join(numbers), "method": method, "rate": rate, "seed": seed}
                for (method, rate), numbers in shared.items() for seed in range(settings.seeds)]

    def hypermodel(self, settings):
        cells = self.cells(settings)
        space = {axis: sorted({cell[axis] for cell in cells}) for axis in self.axes}
        return UncertaintyHyperModel(settings, space)


def _experiment_cells(number, settings):
    if number == 1:
        return [(method, 0.0 if method == "map" else settings.extra["rate"])
                for method in METHODS]
    return [(method, float(rate)) for method in settings.extra["sweep_methods"]
            for rate in settings.extra["rates"]]


def tidy(results):
    """Results (one row per trial) as one row per trial, inference and image-noise std."""
    rows = []
    for _, trial in results.iterrows():
        stds = sorted({float(name.rsplit("_std", 1)[1]) for name in trial.index
                       if name.startswith("error_") and "_std" in name})
        for inference in INFERENCES:
            for std in stds:
                if column("error", inference, std) not in trial or pd.isna(
                        trial[column("error", inference, std)]):
                    continue
                rows.append({"trial_id": trial["trial_id"], "experiment": trial["experiment"],
                             "method": trial["method"], "rate": trial["rate"],
                             "seed": trial["seed"], "status": trial["status"],
                             "inference": inference, "noise_std": std,
                             **{name: trial[column(name, inference, std)] for name in METRICS}})
    return pd.DataFrame(rows)


STUDY = UncertaintyStudy()
