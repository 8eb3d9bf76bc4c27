"""Calibration and uncertainty metrics for probabilistic classifiers (McClure 2018, ch. 3-4).

Functions take labels `y_true` (integers `(N,)`, or one-hot `(N, C)`) and predicted
probabilities `(N, C)` (for MC prediction: the MC average, `mc_predict(...).mean`; a binary
model's `(N, 1)` works too), except `mutual_information`, which takes the MC draws `(N, T, C)`.
Inputs are checked: probabilities must lie in [0, 1] and sum to 1 per example (logits get an
error saying to apply a softmax), labels must match them. Entropies are in nats.
Binned statistics use `bins` equal-width bins on [0, 1] (a probability of 1 falls in the last).
`ExpectedCalibrationError` and `CalibrationMSE` are the same quantities as streaming
`keras.metrics.Metric`s for `model.compile(metrics=[...])`.
"""

import dataclasses

import keras
import numpy as np
from keras import ops

from kerasbio._core.plotting import new_figure, save_png
from kerasbio._core.validation import (
    validate_array,
    validate_bool,
    validate_choice,
    validate_int,
)

KINDS = ("top_label", "all_classes")
# How far the probabilities of one distribution may sum from 1 (float32 softmax: ~1e-6).
SUM_TOLERANCE = 1e-3


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
    y_true, probabilities = validate_predictions(y_true, probabilities)
    validate_int("bins", bins, low=1)
    count, confidence_sum, hit_sum = (
        ops.convert_to_numpy(s).astype("float64")
        for s in binned_sums(*calibration_pairs(y_true, probabilities, kind), bins))
    with np.errstate(invalid="ignore", divide="ignore"):
        return CalibrationCurve(confidence=confidence_sum / count, accuracy=hit_sum / count,
                                count=count.astype("int64"), edges=np.linspace(0.0, 1.0, bins + 1))


def expected_calibration_error(y_true, probabilities, bins=10):
    """Top-label expected calibration error over `bins` equal-width confidence bins."""
    y_true, probabilities = validate_predictions(y_true, probabilities)
    validate_int("bins", bins, low=1)
    sums = binned_sums(*calibration_pairs(y_true, probabilities, "top_label"), bins)
    return float(ece_from_sums(*sums))


def calibration_mse(y_true, probabilities, bins=10, weighted=False):
    """McClure's calibration MSE (thesis Fig. 3.5B): distance of the calibration plot from x = y.

    Every example and every class gives a pair (predicted probability of the class, whether the
    class is the true label); pairs are binned by probability and the result is the mean over
    non-empty bins of `(frequency_b - mean probability_b)^2` (`weighted=True`: weighted by the
    number of pairs per bin).
    """
    y_true, probabilities = validate_predictions(y_true, probabilities)
    validate_int("bins", bins, low=1)
    validate_bool("weighted", weighted)
    sums = binned_sums(*calibration_pairs(y_true, probabilities, "all_classes"), bins)
    return float(squared_calibration_error_from_sums(*sums, weighted=weighted))


def negative_log_likelihood(y_true, probabilities):
    """Mean `-log p(y_true)` of (MC-averaged) probabilities (McClure Eq. 3.3), in nats.

    As scikit-learn's `log_loss`, probabilities are clipped to `[eps, 1 - eps]` with `eps` the
    resolution of their dtype (float32: 1.2e-7, so one example costs at most 15.9 nats;
    float64: 2.2e-16, at most 36.0 nats).
    """
    y_true, probabilities = validate_predictions(y_true, probabilities)
    eps = np.finfo(probabilities.dtype).eps
    true_probability = np.clip(probabilities[np.arange(len(y_true)), y_true], eps, 1 - eps)
    return float(-np.mean(np.log(true_probability.astype("float64"))))


def brier_score(y_true, probabilities):
    """Multi-class Brier score, `mean_n sum_c (p_nc - [y_n = c])^2` (Brier 1950), in [0, 2]."""
    y_true, probabilities = validate_predictions(y_true, probabilities)
    onehot = np.eye(probabilities.shape[-1])[y_true]
    return float(np.mean(np.sum(np.square(probabilities - onehot), axis=-1)))


def predictive_entropy(probabilities, axis=-1):
    """Entropy `H[p] = -sum_c p_c log p_c` in nats (`0 log 0 = 0`) over `axis`; of the MC mean,
    `H[mean_t p_t]`, the total predictive uncertainty (McClure 2018, ch. 4).

    NumPy in, NumPy out: arrays are checked to hold distributions (values in [0, 1] summing to
    1 over `axis`). Tensors (also symbolic, e.g. inside an exported graph) give a tensor and are
    not checked.
    """
    if not _is_tensor(probabilities):
        probabilities = validate_distributions("probabilities", probabilities, axis)
        return ops.convert_to_numpy(_entropy(ops.convert_to_tensor(probabilities), axis))
    return _entropy(probabilities, axis)


def mutual_information(draws, axis=1):
    """Epistemic uncertainty `H[mean_t p_t] - mean_t H[p_t]` from MC draws (BALD; Houlsby et
    al. 2011, Gal 2016): the part of the predictive entropy due to the sampled weights.

    Args:
        draws: Probabilities over the last axis with the MC draws along `axis`, e.g. `(N, T, C)`.
            NumPy in, NumPy out (checked as in `predictive_entropy`); tensors give a tensor.
        axis: The draws' axis.
    """
    if not _is_tensor(draws):
        draws = validate_distributions("draws", draws, -1)
        return ops.convert_to_numpy(_mutual_information(ops.convert_to_tensor(draws), axis))
    return _mutual_information(draws, axis)


def _entropy(probabilities, axis):
    safe = ops.where(probabilities > 0, probabilities, ops.ones_like(probabilities))
    return -ops.sum(probabilities * ops.log(safe), axis=axis)


def _mutual_information(draws, axis):
    return _entropy(ops.mean(draws, axis=axis), -1) - ops.mean(_entropy(draws, -1), axis=axis)


def _is_tensor(value):
    return not isinstance(value, (np.ndarray, np.generic, list, tuple, float, int))


def distribution_problem(probabilities, axis=-1):
    """Why `probabilities` (NumPy) are not distributions over `axis`, or `None` if they are."""
    if probabilities.shape[axis] < 2:
        return (f"one value per distribution (axis of size {probabilities.shape[axis]}); a "
                f"distribution needs at least 2 classes")
    if not np.all(np.isfinite(probabilities)):
        return "NaN or inf values"
    if probabilities.min() < 0 or probabilities.max() > 1:
        return (f"values outside [0, 1] (from {probabilities.min():.4g} to "
                f"{probabilities.max():.4g}); for logits apply `keras.ops.softmax` first")
    error = np.max(np.abs(np.sum(probabilities, axis=axis, dtype="float64") - 1.0))
    if error > SUM_TOLERANCE:
        return (f"sums over the classes that differ from 1 by up to {error:.3g}; for logits "
                f"apply `keras.ops.softmax` first")
    return None


def validate_distributions(name, probabilities, axis=-1):
    """Probabilities over `axis` (values in [0, 1], sums within `SUM_TOLERANCE` of 1), returned
    as a float NumPy array (float32 and float64 kept, other dtypes as float64)."""
    probabilities = validate_array(name, probabilities, min_ndim=1, allow_nonfinite=True)
    if probabilities.dtype not in (np.float32, np.float64):
        probabilities = probabilities.astype("float64")
    problem = distribution_problem(probabilities, axis)
    if problem is not None:
        raise ValueError(f"Invalid value received for argument `{name}`. Expected "
                         f"probabilities over axis {axis}. Received: {problem}")
    return probabilities


def validate_predictions(y_true, probabilities):
    """`(labels (N,) int64, probabilities (N, C))` checked against each other.

    `probabilities`: `(N, C)` distributions, or `(N, 1)` probabilities of the positive class
    of a binary model (turned into `(N, 2)`). `y_true`: integer class indices `(N,)` or
    `(N, 1)`, or one-hot rows `(N, C)`.
    """
    probabilities = validate_array("probabilities", probabilities, ndim=2, allow_nonfinite=True)
    if probabilities.shape[1] == 1:
        positive = probabilities.astype(probabilities.dtype if probabilities.dtype.kind == "f"
                                        else "float64")
        probabilities = np.concatenate([1 - positive, positive], axis=1)
    probabilities = validate_distributions("probabilities", probabilities)
    labels = validate_array("y_true", y_true, ndim=(1, 2))
    examples, classes = probabilities.shape
    if labels.ndim == 2 and labels.shape[1] > 1:
        labels = _onehot_labels(labels, classes)
    labels = labels.reshape(-1)
    if len(labels) != examples:
        raise ValueError(f"`y_true` and `probabilities` must hold the same examples. Received "
                         f"{len(labels)} labels and {examples} rows of probabilities.")
    if np.any(labels != np.round(labels)) or labels.min() < 0 or labels.max() >= classes:
        raise ValueError(f"Invalid value received for argument `y_true`. Expected integer "
                         f"class indices from 0 to {classes - 1} (or one-hot rows). Received "
                         f"values from {labels.min()} to {labels.max()}.")
    return labels.astype("int64"), probabilities


def _onehot_labels(onehot, classes):
    if onehot.shape[1] != classes or not np.all((onehot == 0) | (onehot == 1)) or not np.all(
            onehot.sum(axis=1) == 1):
        raise ValueError(f"Invalid value received for argument `y_true`. Expected integer class "
                         f"indices (N,) or one-hot rows (N, {classes}). Received an array of "
                         f"shape {onehot.shape} that is not one-hot.")
    return onehot.argmax(axis=1)


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
        self.bins = validate_int("bins", bins, low=1)
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
