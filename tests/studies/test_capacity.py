"""The capacity study (Tsvetkov et al. 2020): grids, data conditions, a tiny end-to-end run,
and its HyperModel under keras-tuner's own RandomSearch."""

import os

import keras_tuner
import numpy as np
import pytest
from matplotlib.image import imread

from kerasbio.studies import get_study, run_study
from kerasbio.studies.base import experiment_numbers
from kerasbio.studies.results import read_tables

STUDY = get_study("capacity")


def cell(**values):
    base = {"experiment": "1", "architecture": "small_alexnet", "activation": "relu",
            "bottleneck": False, "data": "structured", "noise_std": 0.0, "classes": 10,
            "examples_per_class": 0, "seed": 0}
    return {**base, **values}


def test_full_grid_follows_the_paper():
    settings = STUDY.settings(quick=False)
    cells = STUDY.cells(settings)
    assert (settings.dataset, settings.epochs, settings.seeds, settings.batch_size) == \
        ("cifar10", 100, 4, 128)
    exp1 = [c for c in cells if 1 in experiment_numbers(c["experiment"])]
    relu = {c["noise_std"] for c in exp1 if c["activation"] == "relu"}
    sigmoid = {c["noise_std"] for c in exp1 if c["activation"] == "sigmoid"}
    assert np.allclose(sorted(relu), np.arange(25) * 0.05)
    assert np.allclose(sorted(sigmoid), np.arange(11) * 0.02)
    exp3 = {(c["activation"], c["noise_std"]) for c in cells
            if 3 in experiment_numbers(c["experiment"])}
    assert exp3 == {("relu", 0.0), ("relu", 0.2), ("relu", 0.4), ("sigmoid", 0.0),
                    ("sigmoid", 0.04), ("sigmoid", 0.1)}
    assert {c["seed"] for c in cells} == {0, 1, 2, 3}
    assert len({tuple(sorted(c.items())) for c in cells}) == len(cells)
    # Experiment 3's cells are experiment 1's structured cells, run once for both.
    assert {c["experiment"] for c in cells} == {"1", "1+3", "2"}
    alone = STUDY.cells(STUDY.settings(quick=False, experiments=(3,)))
    assert len(alone) == 2 * 2 * 2 * 3 * 4 and {c["experiment"] for c in alone} == {"3"}


def test_quick_grid_each_seed_its_own_trial_and_experiment_choice():
    settings = STUDY.settings(quick=True, experiments=(2,), seeds=3)
    cells = STUDY.cells(settings)
    assert {c["experiment"] for c in cells} == {"2"}
    assert len(cells) == 3 * len({tuple(sorted((k, v) for k, v in c.items() if k != "seed"))
                                  for c in cells})
    assert {c["examples_per_class"] for c in cells} == {60, 10}


def test_trial_data_conditions():
    hypermodel = STUDY.hypermodel(STUDY.settings(quick=True))
    (x, y), (x_test, y_test) = hypermodel.trial_data(cell())
    (gx, gy), (gx_test, _) = hypermodel.trial_data(cell(data="gaussian_pixels"))
    assert np.array_equal(gy, y) and gx.shape == x.shape and gx_test.shape == x_test.shape
    n = gx.size
    assert abs(gx.mean() - x.mean()) < 5 * x.std() / np.sqrt(n)
    assert abs(gx.std() - x.std()) < 5 * x.std() / np.sqrt(2 * n)
    (lx, ly), _ = hypermodel.trial_data(cell(data="random_labels"))
    assert np.array_equal(lx, x) and np.array_equal(np.sort(ly), np.sort(y))
    assert np.mean(ly == y) < 0.3
    (sx, sy), (_, sy_test) = hypermodel.trial_data(cell(classes=2, examples_per_class=10))
    assert np.bincount(sy).tolist() == [10, 10] and set(sy_test) == {0, 1}


def test_tiny_end_to_end_run(tmp_path):
    settings = STUDY.settings(quick=True, epochs=1, seeds=1)
    cells = [cell(), cell(data="gaussian_pixels", noise_std=0.1)]
    out = str(tmp_path)
    run_study(STUDY, settings, out, cells=cells, echo=lambda line: None, command="test")
    results, histories = read_tables(out)
    assert list(results.columns[:10]) == ["trial_id", *STUDY.axes]
    assert list(results["status"]) == ["COMPLETED"] * 2
    for name in ("train_accuracy_fit", "train_accuracy", "test_accuracy",
                 "test_accuracy_expectation"):
        assert results[name].between(0, 1).all()
    assert len(histories) == 2 and {"loss", "accuracy"} <= set(histories.columns)
    image = imread(os.path.join(out, "capacity_noise.png"))
    assert image.shape[0] > 200 and image.std() > 0.01
    report = open(os.path.join(out, "report.md")).read()
    for text in ("## Paper vs here", f"keras-tuner {keras_tuner.__version__}",
                 "capacity_noise.png", "± ", "Experiment 1"):
        assert text in report


def test_hypermodel_under_random_search(tmp_path):
    hypermodel = STUDY.hypermodel(STUDY.settings(quick=True, epochs=1))
    tuner = keras_tuner.RandomSearch(
        hypermodel, objective=keras_tuner.Objective("train_accuracy", "max"), max_trials=2,
        directory=str(tmp_path), project_name="random", seed=1)
    tuner.search(verbose=0)
    trials = list(tuner.oracle.trials.values())
    assert len(trials) == 2 and all(t.status == "COMPLETED" for t in trials)
    for trial in trials:
        assert 0 <= trial.metrics.get_last_value("test_accuracy") <= 1
        assert set(STUDY.axes) <= set(trial.hyperparameters.values)


def test_missing_cifar_fails_fast_and_clearly(tmp_path):
    settings = STUDY.settings(quick=False, data_dir=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="cifar10"):
        run_study(STUDY, settings, str(tmp_path / "out"), cells=STUDY.cells(settings)[:1],
                  echo=lambda line: None)
