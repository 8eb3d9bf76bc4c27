"""GridOracle without training: order, resumption from its files, failures, grid checks."""

import json
import os

import keras_tuner
import pytest

from keras_tuner.engine.trial import Trial

from kerasbio.studies.oracle import GridOracle, write_json_atomically, write_trial_error

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
    restarted = make_oracle(tmp_path)  # attaching to the project resumes it
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
    restarted = make_oracle(tmp_path)  # attaching to the project resumes it
    assert restarted.create_trial("tuner0").trial_id == trial.trial_id


def test_finished_trial_with_stale_oracle_file_is_not_repeated(tmp_path):
    oracle = make_oracle(tmp_path)
    trial = oracle.create_trial("tuner0")
    stale_state = oracle.get_state()  # lists trial 0 as ongoing
    finish(oracle, trial)
    write_json_atomically(oracle._get_oracle_fname(), stale_state)
    restarted = make_oracle(tmp_path)  # attaching to the project resumes it
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
    with pytest.raises(ValueError, match="different grid"):
        make_oracle(tmp_path, cells=[{"noise": 9.0, "seed": 0}] + CELLS[1:])


def over_grpc(trial, status):
    """The trial as a worker sends it back: a copy through keras-tuner's proto (no message)."""
    copy = Trial.from_proto(trial.to_proto())
    copy.status = status
    return copy


def test_restarted_chief_keeps_running_trials_with_their_workers(tmp_path):
    oracle = make_oracle(tmp_path)
    running = oracle.create_trial("worker-a")
    oracle.update_trial(running.trial_id, {"history/loss": 2.0}, step=0)
    finish(oracle, oracle.create_trial("worker-b"))
    restarted = make_oracle(tmp_path)  # the chief was killed and started again
    assert restarted.tuner_ids == {"worker-a"}
    assert restarted.create_trial("worker-b").trial_id == "2"  # not worker-a's trial
    # worker-a, still alive, goes on reporting its trial to the new chief.
    restarted.update_trial(running.trial_id, {"history/loss": 1.5}, step=1)
    restarted.update_trial(running.trial_id, {"score": 1.0})
    restarted.end_trial(over_grpc(running, "COMPLETED"))
    trial = restarted.get_trial(running.trial_id)
    assert trial.status == "COMPLETED"
    assert [obs.step for obs in trial.metrics.get_history("history/loss")] == [0, 1]
    assert running.trial_id not in restarted._retry_queue and "worker-a" not in \
        restarted.ongoing_trials


def test_restarted_worker_reruns_its_trial_from_scratch(tmp_path):
    oracle = make_oracle(tmp_path)
    trial = oracle.create_trial("worker-a")
    oracle.update_trial(trial.trial_id, {"history/loss": 2.0}, step=0)
    again = oracle.create_trial("worker-a")  # the worker was killed and started again
    assert again.trial_id == trial.trial_id and not again.metrics.exists("history/loss")
    assert oracle.create_trial("worker-b").trial_id == "1"


def test_worker_errors_are_recorded_and_late_duplicates_ignored(tmp_path):
    oracle = make_oracle(tmp_path)
    trial = oracle.create_trial("worker-a")
    write_trial_error(oracle._get_trial_dir(trial.trial_id), "Traceback\nRuntimeError: boom")
    oracle.end_trial(over_grpc(trial, "INVALID"))
    assert oracle.get_trial(trial.trial_id).status == "FAILED"
    assert oracle.get_trial(trial.trial_id).message.endswith("RuntimeError: boom")
    oracle.update_trial(trial.trial_id, {"score": 1.0})
    oracle.end_trial(over_grpc(trial, "COMPLETED"))
    assert oracle.get_trial(trial.trial_id).status == "FAILED"
    assert not oracle.get_trial(trial.trial_id).metrics.exists("score")
    with pytest.raises(KeyError, match="same study and settings"):
        oracle.update_trial("7", {"score": 1.0})


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
