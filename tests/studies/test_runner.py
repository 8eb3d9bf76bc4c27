"""The runner end to end: tables, figures, report, failures, reruns, and SIGKILL + resume."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from kerasbio.studies.report import write_report
from kerasbio.studies.results import read_tables
from kerasbio.studies.runner import load_runs, run_study

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from toy import ToyStudy  # noqa: E402


def run_toy(out, modes, echo=None, strategy="default", **extra):
    study = ToyStudy(modes)
    lines = []
    results = run_study(study, study.settings(**extra), str(out), echo=echo or lines.append,
                        command="test", strategy=strategy)
    return results, lines


def test_failed_and_nan_trials_are_recorded_and_the_search_goes_on(tmp_path):
    results, lines = run_toy(tmp_path, ("ok", "raise", "nan", "ok"))
    assert list(results["status"]) == ["COMPLETED", "FAILED", "FAILED", "COMPLETED"]
    assert "toy failure for testing" in results.loc[1, "error"]
    assert "NaN" in results.loc[2, "error"] and "TerminateOnNaN" in results.loc[2, "error"]
    assert results.loc[[1, 2], "train_accuracy"].isna().all()
    assert (results["seconds"] > 0).all()
    progress = [line for line in lines if line.startswith("[")]
    assert len(progress) == 4 and "FAILED" in progress[1] and "ETA" in progress[-1]
    report = open(os.path.join(tmp_path, "report.md")).read()
    assert "## Failed or unfinished trials" in report and "toy failure" in report


def test_rerun_of_a_finished_study_only_rebuilds_the_report(tmp_path):
    run_toy(tmp_path, ("ok", "ok"))
    trial_file = os.path.join(tmp_path, "search", "trial_0", "trial.json")
    stamp = os.stat(trial_file).st_mtime_ns
    os.remove(os.path.join(tmp_path, "report.md"))
    results, lines = run_toy(tmp_path, ("ok", "ok"))
    assert any("already finished" in line for line in lines)
    assert os.stat(trial_file).st_mtime_ns == stamp
    assert os.path.exists(os.path.join(tmp_path, "report.md"))
    assert len(results) == 2 and len(load_runs(tmp_path)) == 2


def test_report_rebuilds_from_the_csvs(tmp_path):
    run_toy(tmp_path, ("ok", "ok"))
    results, histories = read_tables(tmp_path)
    study = ToyStudy()
    path = write_report(study, study.settings(), str(tmp_path), results, histories,
                        load_runs(tmp_path))
    report = open(path).read()
    assert "| Toy cells train. |" in report and "![Toy" in report
    assert list(histories.columns[:2]) == ["trial_id", "epoch"]


def test_strategies_build_and_train_in_scope(tmp_path, mirrored_strategy):
    mirrored, _ = run_toy(tmp_path / "mirrored", ("ok",), strategy=mirrored_strategy, epochs=3)
    assert list(mirrored["replicas"]) == [2.0] and list(mirrored["status"]) == ["COMPLETED"]
    single, _ = run_toy(tmp_path / "one", ("ok",), strategy="one_device")
    assert list(single["replicas"]) == [1.0] and list(single["status"]) == ["COMPLETED"]
    # The global batch is split over the replicas: training is the default strategy's.
    default, _ = run_toy(tmp_path / "default", ("ok",), epochs=3)
    assert mirrored.loc[0, "loss"] == pytest.approx(default.loc[0, "loss"], rel=1e-4)
    assert mirrored.loc[0, "train_accuracy"] == default.loc[0, "train_accuracy"]
    histories = [read_tables(tmp_path / name)[1]["loss"] for name in ("mirrored", "default")]
    np.testing.assert_allclose(*histories, rtol=1e-4)


def _wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _lines(path):
    return open(path).read().split() if os.path.exists(path) else []


SCRIPT = """
import sys
sys.path.insert(0, {here!r})
from toy import ToyStudy
from kerasbio.studies.runner import run_study
study = ToyStudy(("ok",) * 3)
run_study(study, study.settings(seeds=2, sleep=0.4, log={log!r}), {out!r}, command="kill test")
"""


@pytest.mark.slow  # ~50 s; test_oracle covers the same reload in-process in the default run
def test_sigkill_mid_search_then_restart_repeats_and_loses_nothing(tmp_path):
    out, log = str(tmp_path / "killed"), str(tmp_path / "runs.log")
    script = SCRIPT.format(here=HERE, log=log, out=out)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen([sys.executable, "-c", script], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Kill while a trial is running, after two trials finished.
        started = _wait_for(lambda: _lines(log).count("end") >= 2 and
                            _lines(log).count("start") == 3, timeout=120)
        assert started, f"the search did not get going: {_lines(log)}"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finished_before = open(log).read().count("end")
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=180,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    events = open(log).read().splitlines()
    ends = [line for line in events if line.startswith("end")]
    starts = [line for line in events if line.startswith("start")]
    assert len(ends) == 6, events  # every trial finished exactly once
    assert len(starts) == 6 + 1  # only the interrupted trial ran twice
    assert finished_before == 2
    results, _ = read_tables(out)
    assert list(results["status"]) == ["COMPLETED"] * 6
    reference, _ = run_toy(tmp_path / "uninterrupted", ("ok",) * 3, seeds=2)
    pd.testing.assert_frame_equal(
        results.drop(columns=["seconds", "error"]).reset_index(drop=True),
        reference.drop(columns=["seconds", "error"]).reset_index(drop=True),
        check_dtype=False, atol=1e-6)
