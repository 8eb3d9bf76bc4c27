"""`--export`: each condition's best model as a SavedModel, chosen by the study's objective."""

import os
import sys

import keras
import keras_tuner
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from kerasbio import cli
from kerasbio.studies.exports import INDEX, MODELS, best_trials, condition_name
from kerasbio.studies.runner import run_study

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from toy import ToyStudy  # noqa: E402


def test_best_trials_pick_each_conditions_best_seed_by_the_objective():
    results = pd.DataFrame({
        "trial_id": ["0", "1", "2", "3", "4", "5"],
        "experiment": [1, 1, 1, 2, 2, 2],
        "rate": [0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
        "seed": [0, 1, 2, 0, 1, 2],
        "error": [0.3, 0.1, 0.05, 0.2, np.nan, 0.4],
        "status": ["COMPLETED", "COMPLETED", "FAILED", "COMPLETED", "COMPLETED", "COMPLETED"]})
    axes = ["experiment", "rate", "seed"]
    lowest = best_trials(results, axes, keras_tuner.Objective("error", "min"))
    assert [(condition, row["trial_id"]) for condition, row in lowest] == [
        ({"experiment": 1, "rate": 0.5}, "1"), ({"experiment": 2, "rate": 0.5}, "3")]
    highest = best_trials(results, axes, keras_tuner.Objective("error", "max"))
    assert [row["trial_id"] for _, row in highest] == ["0", "5"]
    assert best_trials(results, axes, keras_tuner.Objective("accuracy", "max")) == []


def test_condition_names_are_safe_directory_names():
    name = condition_name({"experiment": "1+3", "data": "random labels/x", "rate": 0.25})
    assert name == "experiment-1+3_data-random-labels-x_rate-0.25"


def test_study_export_writes_each_conditions_best_model(tmp_path):
    study = ToyStudy(("ok", "raise"))
    lines = []
    results = run_study(study, study.settings(seeds=2), str(tmp_path), echo=lines.append,
                        command="test", export_samples=3)
    completed = results[results["status"] == "COMPLETED"]
    best = completed.loc[completed["train_accuracy"].idxmax()]
    index = pd.read_csv(tmp_path / MODELS / INDEX, dtype={"trial_id": str})
    assert list(index["trial_id"]) == [best["trial_id"]]  # the failed condition has none
    assert index.loc[0, "path"] == os.path.join(MODELS, "experiment-1_index-0_mode-ok")
    assert any("Exported 1 of 1 conditions" in line for line in lines)
    kept = [trial for trial in os.listdir(tmp_path / "search")
            if os.path.exists(tmp_path / "search" / trial / "model.keras")]
    assert kept == [f"trial_{best['trial_id']}"]
    trained = keras.saving.load_model(tmp_path / "search" / kept[0] / "model.keras")
    served = tf.saved_model.load(str(tmp_path / index.loc[0, "path"]))
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    np.testing.assert_allclose(served.serve(x).numpy(), trained.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    assert float(best["train_accuracy"]) == float(index.loc[0, "train_accuracy"])


@pytest.mark.parametrize("argv, samples", [
    ([], None), (["--export"], 10), (["--export", "--quick"], 10), (["--export", "25"], 25)])
def test_export_flag_takes_an_optional_sample_count(argv, samples):
    args = cli.build_parser().parse_args(["study", "capacity", *argv])
    assert args.export == samples


def test_export_flag_refuses_a_bad_sample_count(capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["study", "capacity", "--export", "0"])
    assert "expected a positive integer, received '0'" in capsys.readouterr().err
