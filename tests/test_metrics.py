"""Calibration and uncertainty metrics: hand-computed values, calibrated vs miscalibrated
synthetic predictors, streaming Keras metrics equal the functions."""

import math

import numpy as np
import pytest

import keras

from kerasbio import metrics

# Hand example: top-label confidences 0.9, 0.7, 0.6, 0.8; the first two are correct.
Y = np.array([0, 1, 1, 0])
P = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.2, 0.8]])


def test_expected_calibration_error_by_hand():
    # one example per bin: (|1 - .9| + |1 - .7| + |0 - .6| + |0 - .8|) / 4
    assert metrics.expected_calibration_error(Y, P) == pytest.approx(0.45, rel=1e-6)


def test_calibration_mse_by_hand():
    # 2 bins: [.1 .3 .4 .2] hit freq .5 vs mean .25; [.9 .7 .6 .8] freq .5 vs .75 -> .0625
    assert metrics.calibration_mse(Y, P, bins=2) == pytest.approx(0.0625, rel=1e-5)
    # 10 bins, one pair each: (.01 + .01 + .09 + .09 + .36 + .36 + .64 + .64) / 8
    assert metrics.calibration_mse(Y, P, bins=10) == pytest.approx(0.275, rel=1e-5)


def test_calibration_curve_by_hand():
    curve = metrics.calibration_curve(Y, P, bins=2)
    np.testing.assert_array_equal(curve.count, [0, 4])
    assert np.isnan(curve.confidence[0]) and np.isnan(curve.accuracy[0])
    np.testing.assert_allclose([curve.confidence[1], curve.accuracy[1]], [0.75, 0.5], rtol=1e-6)
    classwise = metrics.calibration_curve(Y, P, bins=2, kind="all_classes")
    np.testing.assert_array_equal(classwise.count, [4, 4])
    np.testing.assert_allclose(classwise.accuracy, [0.5, 0.5])


def test_nll_and_brier_by_hand():
    expected_nll = -np.mean(np.log([0.9, 0.7, 0.4, 0.2]))
    assert metrics.negative_log_likelihood(Y, P) == pytest.approx(expected_nll)
    assert metrics.brier_score(Y, P) == pytest.approx((0.02 + 0.18 + 0.72 + 1.28) / 4)


def test_entropy_and_mutual_information_by_hand():
    assert metrics.predictive_entropy([0.5, 0.5]) == pytest.approx(math.log(2))
    assert metrics.predictive_entropy([1.0, 0.0]) == 0.0
    disagreeing = np.array([[[1.0, 0.0], [0.0, 1.0]]])  # (N=1, T=2, C=2)
    agreeing = np.array([[[0.5, 0.5], [0.5, 0.5]]])
    assert metrics.mutual_information(disagreeing)[0] == pytest.approx(math.log(2))
    assert metrics.mutual_information(agreeing)[0] == pytest.approx(0.0)


def synthetic_predictions(n=20_000, classes=4, seed=0):
    """Labels drawn from the predicted distribution (calibrated) and a sharpened copy."""
    rng = np.random.default_rng(seed)
    calibrated = rng.dirichlet(np.ones(classes), size=n)
    labels = (rng.uniform(size=(n, 1)) > calibrated.cumsum(1)).sum(1)
    sharpened = calibrated ** 3 / (calibrated ** 3).sum(1, keepdims=True)
    return labels, calibrated, sharpened


def test_calibrated_predictor_scores_near_zero_and_overconfident_one_clearly_above():
    labels, calibrated, sharpened = synthetic_predictions()
    assert metrics.expected_calibration_error(labels, calibrated) < 0.02
    assert metrics.expected_calibration_error(labels, sharpened) > 0.1
    assert metrics.calibration_mse(labels, calibrated) < 0.003
    assert metrics.calibration_mse(labels, sharpened) > 0.02


@pytest.mark.parametrize("metric_class,function", [
    (metrics.ExpectedCalibrationError, metrics.expected_calibration_error),
    (metrics.CalibrationMSE, metrics.calibration_mse)])
def test_streaming_metrics_equal_the_functions(metric_class, function):
    labels, _, sharpened = synthetic_predictions(n=2_000)
    metric = metric_class(bins=10)
    metric.update_state(labels[:700], sharpened[:700])
    metric.update_state(labels[700:], sharpened[700:])
    assert float(metric.result()) == pytest.approx(function(labels, sharpened), rel=1e-4)
    metric.reset_state()
    weights = (np.arange(len(labels)) % 2).astype("float32")
    metric.update_state(labels, sharpened, sample_weight=weights)
    odd = weights == 1
    assert float(metric.result()) == pytest.approx(function(labels[odd], sharpened[odd]), rel=1e-4)
    assert metric_class.from_config(metric.get_config()).bins == 10


def test_metric_in_model_evaluate():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy",
                  metrics=[metrics.ExpectedCalibrationError()])
    x = np.random.default_rng(1).normal(size=(64, 3)).astype("float32")
    y = np.arange(64) % 4
    result = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    expected = metrics.expected_calibration_error(y, model.predict(x, verbose=0))
    assert result["expected_calibration_error"] == pytest.approx(expected, rel=1e-4)


def test_invalid_arguments_are_rejected():
    with pytest.raises(ValueError, match="`bins`"):
        metrics.ExpectedCalibrationError(bins=0)
    with pytest.raises(ValueError, match="`bins`"):
        metrics.expected_calibration_error(Y, P, bins=0)
    with pytest.raises(ValueError, match="`kind`"):
        metrics.calibration_curve(Y, P, kind="per_class")


def test_plot_calibration_draws_ideal_line_and_each_curve(tmp_path):
    labels, calibrated, sharpened = synthetic_predictions(n=2_000)
    curves = {"calibrated": metrics.calibration_curve(labels, calibrated),
              "sharpened": metrics.calibration_curve(labels, sharpened)}
    figure = metrics.plot_calibration(curves, path=tmp_path / "calibration.png")
    axes = figure.axes[0]
    assert [line.get_label() for line in axes.get_lines()] == ["ideal", "calibrated", "sharpened"]
    assert axes.get_xlabel() and axes.get_ylabel()
    assert (tmp_path / "calibration.png").read_bytes()[:4] == b"\x89PNG"


def test_logits_are_refused_with_a_hint_to_apply_softmax():
    """Issue 10: logits gave an ECE of 1.394 without a word."""
    logits = np.log(P) + 2.0
    with pytest.raises(ValueError, match="softmax"):
        metrics.expected_calibration_error(Y, logits)
    with pytest.raises(ValueError, match="softmax"):
        metrics.negative_log_likelihood(Y, P * 1.5)


def test_one_hot_labels_equal_integer_labels_and_lengths_must_match():
    onehot = np.eye(2)[Y]
    for function in (metrics.expected_calibration_error, metrics.calibration_mse,
                     metrics.negative_log_likelihood, metrics.brier_score):
        assert function(onehot, P) == pytest.approx(function(Y, P))
    with pytest.raises(ValueError, match="same examples"):
        metrics.expected_calibration_error(Y[:3], P)
    with pytest.raises(ValueError, match="class indices from 0 to 1"):
        metrics.brier_score(Y + 1, P)


def test_binary_probabilities_of_the_positive_class_are_two_class_distributions():
    positive = P[:, 1:]
    assert metrics.expected_calibration_error(Y, positive) == pytest.approx(
        metrics.expected_calibration_error(Y, P))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_negative_log_likelihood_clips_as_scikit_learn(dtype):
    """Issue 10: clipping at 1e-12 capped one example at 27.6 nats (4.05 vs sklearn's 4.17)."""
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 40)
    wrong = (labels + 1) % 3
    probabilities = np.full((40, 3), 1e-30)
    probabilities[np.arange(40), wrong] = 1.0
    probabilities[:30] = np.eye(3)[labels[:30]] * 0.98 + 0.01  # most are right
    probabilities = (probabilities / probabilities.sum(1, keepdims=True)).astype(dtype)
    expected = sklearn_metrics.log_loss(labels, probabilities, labels=[0, 1, 2])
    assert metrics.negative_log_likelihood(labels, probabilities) == pytest.approx(expected,
                                                                                   rel=1e-6)
