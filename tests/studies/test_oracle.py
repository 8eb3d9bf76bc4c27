"""GridOracle without training: order, resumption from its files, failures, grid checks."""

import json
import os

import keras_tuner
import pytest

from kerasbio.studies.oracle import GridOracle, write_json_atomically

CELLS = [{"noise": noise, "seed": seed} for noise in (0.0, 0.5) for seed in (0, 1)]


def make_oracle(directory, cells=CELLS):
    oracle = GridOracle(cells, keras_tuner.Objective("score", "max"))
    oracle._set_project_dir(str(directory), "search")
    return oracle


def finish(oracle, trial, status="COMPLETED"):
    if status == "COMPLETED":
        oracle.update_trial(trial.trial_id, {"score": 1.0})
    trial.status = status
    oracle.end_trial(trial)


def test_cells_come_once_in_order_then_stop(tmp_path):
    oracle = make_oracle(tmp_path)
    seen = []
    for _ in CELLS:
        trial = oracle.create_trial("tuner0")
        seen.append(trial.hyperparameters.values)
        finish(oracle, trial)
    assert seen == CELLS
    assert oracle.create_trial("tuner0").status == "STOPPED"
    assert oracle.is_finished()


def test_reload_requeues_only_unfinished_trials(tmp_path):
    oracle = make_oracle(tmp_path)
    first = oracle.create_trial("tuner0")
    finish(oracle, first)
    second = oracle.create_trial("tuner0")
    oracle.update_trial(second.trial_id, {"history/loss": 2.0}, step=0)
    # The process dies here: trial 1 is RUNNING on disk with a partial history.
    restarted = make_oracle(tmp_path)
    restarted.reload()
    again = restarted.create_trial("tuner0")
    assert again.trial_id == second.trial_id
    assert again.hyperparameters.values == CELLS[1]
    assert not again.metrics.exists("history/loss")
    finish(restarted, again)
    rest = []
    for _ in CELLS[2:]:
        rest.append(restarted.create_trial("tuner0"))
        finish(restarted, rest[-1])
    assert [t.hyperparameters.values for t in rest] == CELLS[2:]
    assert restarted.create_trial("tuner0").status == "STOPPED"


def test_kill_between_trial_and_oracle_files_loses_nothing(tmp_path):
    oracle = make_oracle(tmp_path)
    finish(oracle, oracle.create_trial("tuner0"))
    stale_state = oracle.get_state()
    trial = oracle.create_trial("tuner0")
    # Trial 1's file says RUNNING but the oracle file predates it (killed in between).
    write_json_atomically(oracle._get_oracle_fname(), stale_state)
    restarted = make_oracle(tmp_path)
    restarted.reload()
    assert restarted.create_trial("tuner0").trial_id == trial.trial_id


def test_finished_trial_with_stale_oracle_file_is_not_repeated(tmp_path):
    oracle = make_oracle(tmp_path)
    trial = oracle.create_trial("tuner0")
    stale_state = oracle.get_state()  # lists trial 0 as ongoing
    finish(oracle, trial)
    write_json_atomically(oracle._get_oracle_fname(), stale_state)
    restarted = make_oracle(tmp_path)
    restarted.reload()
    assert restarted.create_trial("tuner0").hyperparameters.values == CELLS[1]


def test_failures_never_stop_the_search(tmp_path):
    oracle = make_oracle(tmp_path)
    for _ in CELLS:
        trial = oracle.create_trial("tuner0")
        trial.message = "RuntimeError: boom"
        finish(oracle, trial, status="INVALID")
    statuses = {t.status for t in oracle.trials.values()}
    assert statuses == {"FAILED"}
    assert oracle.create_trial("tuner0").status == "STOPPED"


def test_reload_rejects_a_different_grid(tmp_path):
    oracle = make_oracle(tmp_path)
    finish(oracle, oracle.create_trial("tuner0"))
    other = make_oracle(tmp_path, cells=[{"noise": 9.0, "seed": 0}] + CELLS[1:])
    with pytest.raises(ValueError, match="different grid"):
        other.reload()


@pytest.mark.parametrize("cells, message", [
    ([], "empty"),
    ([{"a": 1}, {"b": 1}], "same axes"),
    ([{"a": 1}, {"a": 1}], "repeats"),
    ([{"a": [1]}], "bool, int, float or str"),
])
def test_bad_grids(cells, message):
    with pytest.raises(ValueError, match=message):
        GridOracle(cells, "score")


def test_atomic_write_leaves_no_partial_file(tmp_path):
    path = os.path.join(tmp_path, "state.json")
    write_json_atomically(path, {"a": 1})
    write_json_atomically(path, {"a": 2})
    with open(path) as file:
        assert json.load(file) == {"a": 2}
    assert os.listdir(tmp_path) == ["state.json"]
