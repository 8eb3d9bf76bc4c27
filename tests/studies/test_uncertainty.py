"""The uncertainty study (McClure 2018, ch. 3): grids, `evaluate` against the metrics'
definitions, a tiny end-to-end run, and the quick study's main effect (slow)."""

import os

import keras
import keras_tuner
import numpy as np
import pytest
from matplotlib.image import imread

import kerasbio
from kerasbio.studies import get_study, run_study
from kerasbio.studies.results import read_tables
from kerasbio.studies.uncertainty import METHODS, evaluate, tidy
from kerasbio.studies.uncertainty_report import findings, noise_summary

STUDY = get_study("uncertainty")


def test_full_grids_follow_the_thesis():
    mnist = STUDY.settings(quick=False)
    cifar = STUDY.settings(quick=False, dataset="cifar10")
    assert (mnist.dataset, mnist.seeds, mnist.extra["noise_stds"], mnist.extra["flips"]) == \
        ("mnist", 5, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], False)
    assert (cifar.extra["noise_stds"], cifar.extra["flips"]) == ([0.0, 0.25, 0.5, 0.75, 1.0], True)
    cells = STUDY.cells(mnist)
    first = [c for c in cells if "1" in c["experiment"].split("+")]
    assert {c["method"] for c in first} == set(METHODS) and len(first) == 6 * 5
    assert {(c["method"], c["rate"]) for c in first if c["method"] == "map"} == {("map", 0.0)}
    sweep = {(c["method"], c["rate"]) for c in cells if "2" in c["experiment"].split("+")}
    assert len(sweep) == 5 * 7 and ("map", 0.5) not in sweep
    # The p = 0.5 cells serve both experiments and run once.
    assert len({tuple(sorted(c.items())) for c in cells}) == len(cells)
    assert {c["experiment"] for c in cells if c["rate"] == 0.5 and c["method"] != "map"} == {"1+2"}


def constant_model(probabilities):
    """A model whose output is the given row of probabilities whatever the input."""
    inputs = keras.Input((2, 2, 1))
    zeros = keras.layers.Dense(3, kernel_initializer="zeros", use_bias=False)(
        keras.layers.Flatten()(inputs))
    logits = keras.layers.Lambda(lambda z: z + np.log(np.asarray(probabilities, "float32")))(zeros)
    return keras.Model(inputs, keras.layers.Softmax()(logits))


def test_evaluate_matches_the_definitions_on_a_constructed_case():
    p = np.array([0.7, 0.2, 0.1])
    x = np.zeros((10, 2, 2, 1), "float32")  # images: kerasbio.data adds the image noise
    y = np.array([0] * 6 + [1] * 3 + [2])  # the model says class 0 with 0.7; right 6 times in 10
    with pytest.warns(UserWarning, match="no kerasbio stochastic layer"):
        table = evaluate(constant_model(p), x, y, noise_stds=(0.0, 1.0), samples=3)
    assert list(table["inference"]) == ["expectation", "mc"] * 2
    assert np.allclose(table["noise_std"], [0, 0, 1, 1])
    onehot = np.eye(3)[y]
    expected = {
        "error": 0.4,
        "nll": -np.mean(np.log(p[y])),
        "brier": np.mean(np.sum((p - onehot) ** 2, axis=1)),
        "ece": abs(0.6 - 0.7),  # one confidence bin
        # Pairs (probability, is the class the label): bins hold 0.7 (freq 0.6), 0.2 (0.3),
        # 0.1 (0.1); unweighted mean of squared gaps.
        "calibration_mse": ((0.6 - 0.7) ** 2 + (0.3 - 0.2) ** 2 + 0.0) / 3,
        "entropy": -np.sum(p * np.log(p)),
        "mutual_information": 0.0,
    }
    for name, value in expected.items():
        assert np.allclose(table[name], value, atol=1e-5), name


def test_evaluate_mc_differs_from_expectation_and_rejects_bad_input():
    inputs = keras.Input((4,))
    hidden = kerasbio.layers.BernoulliDropout(0.5)(keras.layers.Dense(16, "relu")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3, "softmax")(hidden))
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = np.arange(64) % 3
    table = evaluate(model, x, y, noise_stds=(0.0,), samples=20).set_index("inference")
    assert table.loc["expectation", "mutual_information"] == 0.0
    assert table.loc["mc", "mutual_information"] > 1e-4
    assert table.loc["mc", "entropy"] > table.loc["expectation", "entropy"] - 1e-6 or \
        table.loc["mc", "nll"] != table.loc["expectation", "nll"]
    with pytest.raises(ValueError, match="noise_stds"):
        evaluate(model, x, y, noise_stds=(-1.0,))
    with pytest.raises(ValueError, match="y.shape"):
        evaluate(model, x, y[:10])
    with pytest.raises(ValueError, match="NaN"):
        evaluate(model, np.full_like(x, np.nan), y)
    with pytest.raises(ValueError, match="samples"):
        evaluate(model, x, y, samples=0)


def test_tiny_end_to_end_run(tmp_path):
    settings = STUDY.settings(quick=True, epochs=1, seeds=1)
    cells = [{"experiment": "1+2", "method": "bernoulli_dropout", "rate": 0.5, "seed": 0},
             {"experiment": "1", "method": "map", "rate": 0.0, "seed": 0}]
    out = str(tmp_path)
    run_study(STUDY, settings, out, cells=cells, echo=lambda line: None, command="test")
    results, histories = read_tables(out)
    assert list(results["status"]) == ["COMPLETED"] * 2
    long = tidy(results)
    # Bernoulli dropout at the expectation and with MC; MAP at the expectation only.
    assert len(long) == 3 * len(settings.extra["noise_stds"])
    assert set(long[long["method"] == "map"]["inference"]) == {"expectation"}
    assert long["error"].between(0, 1).all() and long["ece"].between(0, 1).all()
    assert (long["nll"] > 0).all() and long["brier"].between(0, 2).all()
    assert len(histories) == 2 and "loss" in histories.columns
    for name in ("uncertainty_noise.png", "uncertainty_calibration.png",
                 "uncertainty_p_sweep.png"):
        image = imread(os.path.join(out, name))
        assert image.shape[0] > 200 and image.std() > 0.01, name
    report = open(os.path.join(out, "report.md")).read()
    for text in ("## Paper vs here", "Table 3.1", "BDO: MC sampling improves calibration",
                 "uncertainty_noise.png", "± ", f"keras-tuner {keras_tuner.__version__}"):
        assert text in report, text


@pytest.mark.slow
def test_quick_study_mc_improves_calibration_under_noise(tmp_path):
    """The thesis' main finding on the quick settings (dropout methods, experiment 1)."""
    settings = STUDY.settings(quick=True, experiments=(1,))
    cells = [cell for cell in STUDY.cells(settings)
             if cell["method"] in ("bernoulli_dropout", "gaussian_dropout")]
    run_study(STUDY, settings, str(tmp_path), cells=cells, echo=lambda line: None,
              command="test")
    results, _ = read_tables(str(tmp_path))
    summary = noise_summary(results).set_index(["method", "inference", "noise_std"])
    for method in ("bernoulli_dropout", "gaussian_dropout"):
        # At the strongest image noise MC sampling lowers ECE and calibration MSE.
        for metric in ("ece", "calibration_mse"):
            assert summary.loc[(method, "mc", 1.0), metric] < \
                summary.loc[(method, "expectation", 1.0), metric], (method, metric)
    # Per method: MC lowers both at most noise levels (the report's verdict).
    assert all(finding.reproduced for finding in findings(settings, results)
               if "MC sampling improves calibration" in finding.claim)
