"""The read-out study (McClure 2018, 4.2.3-4.3.3): Eq. 4.8 on a toy case, the one-sample
training of Eq. 4.7, the confidence CSV's checks, the statistics, and a tiny end-to-end run."""

import os

import keras
import numpy as np
import pytest
import pandas as pd
import scipy.stats
from matplotlib.image import imread

import kerasbio
from kerasbio.cli import main
from kerasbio.studies import get_study, readout_report, run_study
from kerasbio.studies.readout import (LinearReadout, Representations, column, evaluate,
                                      pearson, readout_probabilities, standard_error, tidy)
from kerasbio.studies.readout_data import (confidence_images, load_confidence,
                                           synthetic_confidence)
from kerasbio.studies.readout_report import paired_test, per_set
from kerasbio.studies.report import write_report
from kerasbio.studies.results import read_tables

STUDY = get_study("readout")
RATE = 0.5  # Gaussian dropout: factor ~ N(1, rate / (1 - rate)) = N(1, 1)


def toy_network():
    """x -> z = x * N(1, 1) (one Gaussian-dropout unit named like a zoo layer)."""
    inputs = keras.Input((1,))
    noisy = kerasbio.layers.GaussianDropout(RATE, name="act_unit")(inputs)
    return keras.Model(inputs, noisy)


def fixed_readout(weight, bias):
    """A two-class linear read-out with logits (0, weight * z + bias)."""
    readout = LinearReadout(mean=[0.0], scale=[1.0], classes=2)
    readout.weights[0, 1], readout.bias[1] = weight, bias
    return readout


def test_mc_readout_probability_matches_eq_4_8_by_quadrature():
    """Eq. 4.8 averages the read-out over samples z ~ p(z | x): with many samples it must
    equal the integral of Eq. 4.6, computed here by Gauss-Hermite quadrature."""
    x = np.array([[1.0], [1.5], [2.0]], "float32")
    weight, bias, samples = 3.0, -2.0, 4000
    with Representations(toy_network(), ["act_unit"], x, sample=True) as representations:
        estimate = readout_probabilities([fixed_readout(weight, bias)], representations,
                                         np.arange(3), samples)[0][:, 1]
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)  # for N(0, 1)
    std = np.sqrt(RATE / (1 - RATE))
    factor = 1.0 + std * nodes
    exact = np.array([np.sum(weights * scipy.special.expit(weight * value * factor + bias))
                      / np.sqrt(2 * np.pi) for value in x[:, 0]])
    plug_in = scipy.special.expit(weight * x[:, 0] + bias)
    # Per-sample sd of a probability is at most 0.5: 5 standard errors.
    assert np.all(np.abs(estimate - exact) < 5 * 0.5 / np.sqrt(samples))
    # The integral differs from the read-out of the expectation (so the test can fail).
    assert np.all(np.abs(exact - plug_in) > 10 * 0.5 / np.sqrt(samples))


def test_training_draws_a_fresh_sample_each_step_and_expectation_is_fixed():
    x = np.linspace(0.5, 2.0, 16, dtype="float32")[:, None]
    model = toy_network()
    with Representations(model, ["act_unit"], x, sample=True) as stochastic:
        first, second = stochastic.draw(np.arange(16))[0], stochastic.draw(np.arange(16))[0]
        # The samples are x * N(1, 1): mean x and sd x, per unit.
        draws = np.stack([stochastic.draw(np.arange(16))[0][:, 0] / x[:, 0]
                          for _ in range(50)])
    assert not np.allclose(first, second)
    assert not model.get_layer("act_unit").mc  # the switch is restored
    assert abs(draws.mean() - 1.0) < 5 / np.sqrt(draws.size)
    assert abs(draws.std() - 1.0) < 5 * np.sqrt(2 / draws.size)
    fixed = Representations(model, ["act_unit"], x, sample=False)
    assert np.array_equal(fixed.draw(np.arange(16))[0], x)
    assert np.array_equal(fixed.draw(np.arange(16))[0], fixed.draw(np.arange(16))[0])


def test_readout_gradient_is_that_of_the_one_sample_objective():
    """Each step descends -mean log p(y | z~) + l2 |W|^2 for the drawn z~ (Eq. 4.7, n = 1):
    the analytic gradient against central differences of the loss."""
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=(12, 4)), rng.integers(0, 3, size=12)
    readout = LinearReadout.standardizing(rng.normal(size=(30, 4)), 3, l2=0.1)
    readout.weights[...] = rng.normal(size=(4, 3))
    readout.bias[...] = rng.normal(size=3)
    _, (gradient_w, gradient_b) = readout.loss_and_gradients(z, y)
    for parameter, gradient in ((readout.weights, gradient_w), (readout.bias, gradient_b)):
        numeric = np.zeros_like(parameter)
        for index in np.ndindex(parameter.shape):
            saved = parameter[index]
            parameter[index] = saved + 1e-6
            up = readout.loss_and_gradients(z, y)[0]
            parameter[index] = saved - 1e-6
            down = readout.loss_and_gradients(z, y)[0]
            parameter[index] = saved
            numeric[index] = (up - down) / 2e-6
        np.testing.assert_allclose(gradient, numeric, atol=1e-6)
    p = readout.probabilities(z)
    expected = -np.mean(np.log(p[np.arange(12), y])) + 0.1 * np.sum(readout.weights ** 2)
    assert readout.step(z, y) == pytest.approx(expected)
    assert readout.loss_and_gradients(z, y)[0] < expected  # the step lowered the loss


def test_pearson_and_standard_error_match_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=40), rng.normal(size=40)
    b += 0.5 * a
    assert pearson(a, b) == pytest.approx(scipy.stats.pearsonr(a, b).statistic, abs=1e-12)
    values = rng.normal(size=5)
    assert standard_error(values) == pytest.approx(scipy.stats.sem(values), abs=1e-12)
    assert np.isnan(pearson(np.ones(5), a[:5]))
    assert standard_error([0.3, np.nan, 0.5]) == pytest.approx(scipy.stats.sem([0.3, 0.5]))


def test_paired_test_matches_scipy():
    rng = np.random.default_rng(1)
    rows = []
    for depth in (1, 2):
        for held_out in range(5):
            for network in ("mc_training_testing", "map"):
                rows.append({"network": network, "depth": depth, "set": held_out,
                             "correlation": rng.uniform(), "accuracy": 0.5})
    table = pd.DataFrame(rows)
    difference, t, p, pairs = paired_test(table, "mc_training_testing", "map")
    mine = table[table["network"] == "mc_training_testing"]["correlation"].to_numpy()
    other = table[table["network"] == "map"]["correlation"].to_numpy()
    expected = scipy.stats.ttest_rel(mine, other)
    assert (pairs, t, p) == (10, pytest.approx(expected.statistic), pytest.approx(expected.pvalue))
    assert difference == pytest.approx(np.mean(mine - other))


def write_csv(path, rows, header="image,set,label,confidence"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return str(path)


def good_rows(sets=5, per_set=4, labels=(0, 1)):
    return [f"{s * per_set + i},{s + 1},{labels[i % 2]},{0.5 + 0.1 * i}"
            for s in range(sets) for i in range(per_set)]


def test_confidence_csv_loads_and_codes_labels(tmp_path):
    table = load_confidence(write_csv(tmp_path / "ok.csv", good_rows(labels=("dog", "cat"))))
    assert list(table.columns) == ["image", "set", "label", "confidence"] and len(table) == 20
    assert table.attrs["classes"] == ["cat", "dog"] and set(table["label"]) == {0, 1}
    assert table["confidence"].between(0, 1).all()


@pytest.mark.parametrize("rows, header, message", [
    (good_rows(), "image,set,confidence", r"lacks the column\(s\) \['label'\]"),
    (good_rows()[:-1] + ["19,5,1,"], None, "NaN values on line"),
    (good_rows()[:-1] + ["19,5,1,nan"], None, "NaN values on line"),
    (good_rows()[:-1] + ["19,5,1,1.5"], None, r"in \[0, 1\]"),
    (good_rows()[:-1] + ["19,5,1,high"], None, r"in \[0, 1\]"),
    (good_rows(sets=4), None, "has 4 image set"),
    (good_rows()[:-1] + ["0,5,1,0.3"], None, "more than once"),
    (good_rows(labels=(0, 0)), None, "single label"),
    ([row.rsplit(",", 1)[0] + ",0.5" for row in good_rows()], None, "confidence varies"),
    ([], None, "no rows"),
])
def test_confidence_csv_errors_name_the_problem(tmp_path, rows, header, message):
    path = write_csv(tmp_path / "bad.csv", rows, header or "image,set,label,confidence")
    with pytest.raises(ValueError, match=message):
        load_confidence(path)


def test_confidence_csv_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_confidence(str(tmp_path / "none.csv"))


def test_confidence_images_by_number_or_file(tmp_path):
    test_images = np.random.default_rng(0).uniform(size=(10, 4, 4, 1)).astype("float32")
    table = pd.DataFrame({"image": [3, 7]})
    assert np.array_equal(confidence_images(table, (4, 4, 1), test_images), test_images[[3, 7]])
    with pytest.raises(ValueError, match=r"index the test split \(0 to 9\)"):
        confidence_images(pd.DataFrame({"image": [3, 10]}), (4, 4, 1), test_images)
    keras.utils.save_img(str(tmp_path / "a.png"), np.full((6, 6, 3), 255, "uint8"), scale=False)
    files = pd.DataFrame({"image": ["a.png"]})
    files.attrs["directory"] = str(tmp_path)
    image = confidence_images(files, (4, 4, 3))
    assert image.shape == (1, 4, 4, 3) and np.allclose(image, 1.0)
    with pytest.raises(FileNotFoundError, match="b.png"):
        confidence_images(pd.DataFrame({"image": ["b.png"]}), (4, 4, 3))


def test_evaluate_rejects_bad_input():
    x = np.ones((6, 1), "float32")
    labels, sets, confidence = np.arange(6) % 2, np.arange(6) % 2, np.linspace(0, 1, 6)
    model = toy_network()
    with pytest.raises(ValueError, match="NaN"):
        evaluate(model, x, labels, sets, np.full(6, np.nan))
    with pytest.raises(ValueError, match="labels.shape=\\(5,\\)"):
        evaluate(model, x, labels[:5], sets, confidence)
    with pytest.raises(ValueError, match="two image sets"):
        evaluate(model, x, labels, np.zeros(6), confidence)
    with pytest.raises(ValueError, match="integer labels"):
        evaluate(model, x, labels + 0.5, sets, confidence)


def test_synthetic_confidence_is_deterministic_and_tracks_difficulty():
    rng = np.random.default_rng(0)
    templates = rng.uniform(size=(3, 16))
    y = np.repeat(np.arange(3), 20)
    clean = templates[y].reshape(-1, 4, 4, 1)
    # Half of the images are blended halfway towards another class: harder for any observer.
    blend = np.arange(60) % 2 == 1
    x = clean.copy()
    x[blend] = 0.5 * clean[blend] + 0.5 * templates[(y[blend] + 1) % 3].reshape(-1, 4, 4, 1)
    first = synthetic_confidence(clean, y, x, y, noise=0.6)
    assert first.equals(synthetic_confidence(clean, y, x, y, noise=0.6))
    assert first["confidence"][blend].mean() < first["confidence"][~blend].mean() - 0.1
    assert sorted(first.groupby("set").size()) == [12] * 5
    assert all(part["label"].nunique() == 3 for _, part in first.groupby("set"))


def test_full_settings_need_confidence_and_quick_settings_follow_the_thesis():
    with pytest.raises(ValueError, match="--confidence"):
        STUDY.settings(quick=False)
    settings = STUDY.settings(quick=True)
    assert (settings.extra["rate"], settings.extra["samples"], settings.extra["sets"]) == \
        (0.2, 10, 5)
    assert {cell["training"] for cell in STUDY.cells(settings)} == {"map", "sampling"}


def constructed_results(rng):
    """A results table as the runner writes it: correlations rise with depth (conv1-conv7)
    and fall at the softmax, and MC training and testing is 0.02 x depth above the others."""
    rows = []
    for trial, training in enumerate(("map", "sampling")):
        row = {"trial_id": str(trial), "experiment": "1", "training": training, "seed": 0,
               "test_accuracy_expectation": 0.9, "observer_accuracy": 0.8,
               "status": "COMPLETED"}
        if training == "sampling":
            row["test_accuracy_mc"] = 0.92
        for network in {"map": ("map",), "sampling": ("mc_training", "mc_training_testing")}[
                training]:
            for depth in range(1, 9):
                for held_out in range(1, 6):
                    level = (0.05 * depth if depth < 8 else 0.1) + rng.normal(0, 0.01)
                    level += 0.02 * depth if network == "mc_training_testing" else 0.0
                    row[column("accuracy", network, depth, held_out)] = 0.5 + level
                    row[column("correlation", network, depth, held_out)] = level
        rows.append(row)
    return pd.DataFrame(rows)


def test_report_tables_figure_and_findings_of_constructed_results(tmp_path):
    results = constructed_results(np.random.default_rng(0))
    settings = STUDY.settings(quick=True)
    write_report(STUDY, settings, str(tmp_path), results, pd.DataFrame(), runs=[])
    image = imread(os.path.join(tmp_path, "readout_layers.png"))
    assert image.shape[0] > 200 and image.std() > 0.01
    report = open(os.path.join(tmp_path, "report.md")).read()
    for text in ("Synthetic stand-in, not human data", "| MAP | conv1 | 0.55",
                 "| MC training and testing | softmax | 0.76",
                 "| MC training and testing | 57.04 | 55.06 | 92.00 |",
                 "| MC training and testing vs MAP | +0.09"):
        assert text in report, text
    verdicts = {finding.claim: finding.reproduced for finding in
                readout_report.findings(settings, results)}
    assert verdicts == {
        "Read-outs of the MC training and testing network correlate better with confidence "
        "than those of the MAP network.": True,
        "Read-outs of the MC training and testing network correlate better with confidence "
        "than those of the MC training network.": True,
        "Read-out accuracy generally increases with the depth of the hidden layer.": True,
        "Read-out correlation generally increases with the depth of the hidden layer.": True,
        "Accuracy and correlation drop at the softmax layer.": True,
        "Sampling at test time helps most at deep hidden layers (the gap to MC training "
        "widens with depth).": True,
        # MAP and MC training are equally accurate here (0.9).
        "Network accuracy: MAP < MC training < MC training and testing.": False,
    }


def test_cli_confidence_option_is_the_read_out_study_s_own(tmp_path, capsys):
    assert main(["study", "readout", "--out", str(tmp_path / "full")]) == 2
    assert "needs human confidence data: --confidence" in capsys.readouterr().out
    bad = write_csv(tmp_path / "bad.csv", good_rows(sets=3))
    assert main(["study", "readout", "--quick", "--confidence", bad,
                 "--out", str(tmp_path / "quick")]) == 2
    assert "has 3 image set(s)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["study", "capacity", "--confidence", bad])


@pytest.mark.slow
def test_tiny_end_to_end_run(tmp_path):
    settings = STUDY.settings(quick=True, epochs=1, seeds=1)
    settings.extra["readout"]["steps"] = 5
    out = str(tmp_path)
    run_study(STUDY, settings, out, echo=lambda line: None, command="test")
    results, _ = read_tables(out)
    assert list(results["status"]) == ["COMPLETED"] * 2
    long = tidy(results)
    # Three networks x 8 layers (conv1-conv7, softmax) x 5 held-out sets.
    assert len(long) == 3 * 8 * 5 and set(long["network"]) == {
        "map", "mc_training", "mc_training_testing"}
    assert long["accuracy"].between(0, 1).all() and long["correlation"].between(-1, 1).all()
    assert len(per_set(results)) == 3 * 8 * 5
    image = imread(os.path.join(out, "readout_layers.png"))
    assert image.shape[0] > 200 and image.std() > 0.01
    report = open(os.path.join(out, "report.md")).read()
    for text in ("## Paper vs here", "Synthetic stand-in, not human data", "Table 4.2",
                 "| MC training and testing | softmax |", "| MAP | conv1 |",
                 "MC training and testing vs MAP", "readout_layers.png",
                 "correlate better with confidence than those of the MAP"):
        assert text in report, text
