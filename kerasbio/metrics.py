"""Calibration and uncertainty metrics for probabilistic classifiers (McClure 2018, ch. 3-4).

Functions take integer labels `y_true` of shape `(N,)` and predicted probabilities of shape
`(N, C)` (for MC prediction: the MC average, `mc_predict(...).mean`), except
`mutual_information`, which takes the MC samples `(N, T, C)`. Entropies are in nats.
Binned statistics use `bins` equal-width bins on [0, 1] (a probability of 1 falls in the last).
`ExpectedCalibrationError` and `CalibrationMSE` are the same quantities as streaming
`keras.metrics.Metric`s for `model.compile(metrics=[...])`.
"""

import dataclasses

import keras
import numpy as np
from keras import ops

from kerasbio._core.plotting import new_figure, save_png
from kerasbio._core.validation import validate_choice, validate_range

KINDS = ("top_label", "all_classes")


@dataclasses.dataclass
class CalibrationCurve:
    """Per bin: mean predicted probability, observed frequency, count (empty bins: NaN, 0)."""

    confidence: np.ndarray
    accuracy: np.ndarray
    count: np.ndarray
    edges: np.ndarray


def calibration_pairs(y_true, probabilities, kind="top_label"):
    """(predicted probability, 0/1 outcome) pairs that calibration bins.

    `"top_label"`: one pair per example, the largest probability and whether its class is the
    true label. `"all_classes"` (McClure Fig. 3.5B, 3.7): one pair per example and class, the
    probability of that class and whether it is the true label.
    """
    validate_choice("kind", kind, KINDS)
    probabilities = ops.convert_to_tensor(probabilities, "float32")
    labels = ops.reshape(ops.cast(ops.convert_to_tensor(y_true), "int32"), (-1,))
    if kind == "top_label":
        hits = ops.cast(ops.equal(ops.cast(ops.argmax(probabilities, -1), "int32"), labels),
                        "float32")
        return ops.max(probabilities, -1), hits
    onehot = ops.one_hot(labels, ops.shape(probabilities)[-1], dtype="float32")
    return ops.reshape(probabilities, (-1,)), ops.reshape(onehot, (-1,))


def binned_sums(confidence, hits, bins, weights=None):
    """Per equal-width bin of `confidence`: (total weight, weighted sum of confidence, of hits)."""
    validate_range("bins", bins, low=1)
    index = ops.clip(ops.cast(ops.floor(confidence * bins), "int32"), 0, bins - 1)
    member = ops.one_hot(index, bins, dtype="float32")
    if weights is not None:
        member = member * ops.expand_dims(weights, -1)
    return (ops.sum(member, 0), ops.sum(member * ops.expand_dims(confidence, -1), 0),
            ops.sum(member * ops.expand_dims(hits, -1), 0))


def ece_from_sums(count, confidence_sum, hit_sum):
    """`sum_b (n_b / N) |accuracy_b - confidence_b|` (top-label ECE, Naeini et al. 2015)."""
    return ops.sum(ops.abs(hit_sum - confidence_sum)) / ops.maximum(ops.sum(count), 1e-12)


def squared_calibration_error_from_sums(count, confidence_sum, hit_sum, weighted=False):
    """Mean over non-empty bins of `(frequency_b - confidence_b)^2`, optionally count-weighted."""
    gap = (hit_sum - confidence_sum) / ops.maximum(count, 1e-12)
    weights = count if weighted else ops.cast(count > 0, "float32")
    return ops.sum(weights * ops.square(gap)) / ops.maximum(ops.sum(weights), 1e-12)


def calibration_curve(y_true, probabilities, bins=10, kind="top_label"):
    """Reliability diagram data: per bin mean predicted probability, frequency and count."""
    count, confidence_sum, hit_sum = (
        ops.convert_to_numpy(s).astype("float64")
        for s in binned_sums(*calibration_pairs(y_true, probabilities, kind), bins))
    with np.errstate(invalid="ignore", divide="ignore"):
        return CalibrationCurve(confidence=confidence_sum / count, accuracy=hit_sum / count,
                                count=count.astype("int64"), edges=np.linspace(0.0, 1.0, bins + 1))


def expected_calibration_error(y_true, probabilities, bins=10):
    """Top-label expected calibration error over `bins` equal-width confidence bins."""
    sums = binned_sums(*calibration_pairs(y_true, probabilities, "top_label"), bins)
    return float(ece_from_sums(*sums))


def calibration_mse(y_true, probabilities, bins=10, weighted=False):
    """McClure's calibration MSE (thesis Fig. 3.5B): distance of the calibration plot from x = y.

    Every example and every class gives a pair (predicted probability of the class, whether the
    class is the true label); pairs are binned by probability and the result is the mean over
    non-empty bins of `(frequency_b - mean probability_b)^2` (`weighted=True`: weighted by the
    number of pairs per bin).
    """
    sums = binned_sums(*calibration_pairs(y_true, probabilities, "all_classes"), bins)
    return float(squared_calibration_error_from_sums(*sums, weighted=weighted))


def negative_log_likelihood(y_true, probabilities, epsilon=1e-12):
    """Mean `-log p(y_true)` of (MC-averaged) probabilities (McClure Eq. 3.3); p clipped at eps."""
    probabilities = np.asarray(probabilities, dtype="float64")
    labels = np.asarray(y_true).reshape(-1).astype("int64")
    true_probability = probabilities[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.maximum(true_probability, epsilon))))


def brier_score(y_true, probabilities):
    """Multi-class Brier score, `mean_n sum_c (p_nc - [y_n = c])^2` (Brier 1950), in [0, 2]."""
    probabilities = np.asarray(probabilities, dtype="float64")
    labels = np.asarray(y_true).reshape(-1).astype("int64")
    onehot = np.eye(probabilities.shape[-1])[labels]
    return float(np.mean(np.sum(np.square(probabilities - onehot), axis=-1)))


def entropy(probabilities, axis=-1):
    """`H[p] = -sum_c p_c log p_c` in nats (0 log 0 = 0), in `keras.ops` (works inside graphs)."""
    safe = ops.where(probabilities > 0, probabilities, ops.ones_like(probabilities))
    return -ops.sum(probabilities * ops.log(safe), axis=axis)


def information_gain(samples, axis=1):
    """`H[mean_t p_t] - mean_t H[p_t]` in `keras.ops`, the MC samples along `axis`."""
    return entropy(ops.mean(samples, axis=axis)) - ops.mean(entropy(samples), axis=axis)


def predictive_entropy(probabilities):
    """Entropy `H[p] = -sum_c p_c log p_c` over the last axis; of the MC mean: `H[mean_t p_t]`."""
    return ops.convert_to_numpy(entropy(ops.convert_to_tensor(np.asarray(probabilities, "float64"))))


def mutual_information(samples, axis=1):
    """Epistemic uncertainty `H[mean_t p_t] - mean_t H[p_t]` from MC samples (BALD; Gal 2016).

    Args:
        samples: Probabilities with the MC samples along `axis`, e.g. `(N, T, C)`.
        axis: The sample axis.
    """
    samples = ops.convert_to_tensor(np.asarray(samples, dtype="float64"))
    return ops.convert_to_numpy(information_gain(samples, axis=axis))


def plot_calibration(curves, path=None, title="Calibration"):
    """Reliability plot of one `CalibrationCurve` or a dict `{label: curve}` against x = y.

    Returns the matplotlib `Figure` (Agg canvas); saves a PNG when `path` is given.
    """
    if isinstance(curves, CalibrationCurve):
        curves = {"model": curves}
    figure = new_figure((4.5, 4.5))
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], "k--", linewidth=1, label="ideal")
    for label, curve in curves.items():
        filled = curve.count > 0
        axes.plot(curve.confidence[filled], curve.accuracy[filled], marker="o", label=label)
    axes.set(xlim=(0, 1), ylim=(0, 1), xlabel="predicted probability",
             ylabel="observed frequency", title=title)
    axes.legend(loc="upper left", fontsize="small")
    return save_png(figure, path)


class BinnedCalibrationMetric(keras.metrics.Metric):
    """Streaming binned calibration: accumulates per-bin counts and sums over batches."""

    kind = "top_label"

    def __init__(self, bins=10, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if int(bins) != bins or bins < 1:
            raise ValueError("Invalid value received for argument `bins`. Expected an integer "
                             f">= 1. Received: bins={bins}")
        self.bins = int(bins)
        self.sums = [self.add_variable(shape=(self.bins,), initializer="zeros", name=label)
                     for label in ("count", "confidence_sum", "hit_sum")]

    def update_state(self, y_true, y_pred, sample_weight=None):
        confidence, hits = calibration_pairs(y_true, y_pred, self.kind)
        weights = None
        if sample_weight is not None:
            weights = ops.reshape(ops.cast(sample_weight, "float32"), (-1,))
            if self.kind == "all_classes":
                weights = ops.repeat(weights, ops.shape(y_pred)[-1])
        for variable, value in zip(self.sums, binned_sums(confidence, hits, self.bins, weights)):
            variable.assign_add(value)

    def get_config(self):
        return {**super().get_config(), "bins": self.bins}


@keras.saving.register_keras_serializable(package="kerasbio")
class ExpectedCalibrationError(BinnedCalibrationMetric):
    """Top-label expected calibration error as a Keras metric (see
    `expected_calibration_error`); `y_true` integer labels, `y_pred` probabilities."""

    def __init__(self, bins=10, name="expected_calibration_error", dtype=None):
        super().__init__(bins=bins, name=name, dtype=dtype)

    def result(self):
        return ece_from_sums(*self.sums)


@keras.saving.register_keras_serializable(package="kerasbio")
class CalibrationMSE(BinnedCalibrationMetric):
    """McClure's calibration MSE as a Keras metric (see `calibration_mse`, unweighted bins)."""

    kind = "all_classes"

    def __init__(self, bins=10, name="calibration_mse", dtype=None):
        super().__init__(bins=bins, name=name, dtype=dtype)

    def result(self):
        return squared_calibration_error_from_sums(*self.sums)
