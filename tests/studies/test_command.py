"""`kerasbio study ...` and `kerasbio report DIR` through the CLI registry."""

import os
import shutil
import subprocess
import sys

import pytest

import kerasbio.studies
from kerasbio.cli import main

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from toy import STUDY as TOY  # noqa: E402


def test_study_list(capsys):
    assert main(["study", "list"]) == 0
    out = capsys.readouterr().out
    assert "capacity" in out and "experiment 2" in out


def test_unknown_experiment_is_an_error(tmp_path, capsys):
    assert main(["study", "capacity", "--quick", "--experiment", "9",
                 "--out", str(tmp_path)]) == 2
    assert "no experiment 9" in capsys.readouterr().out
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("argv", [["study", "capacity", "--epochs", "0"],
                                  ["study", "capacity", "--strategy", "tpu"],
                                  ["study", "capacity", "--experiment", "x"],
                                  ["study", "capacity", "--distributed", "boss"],
                                  ["study", "capacity", "--connect-timeout", "0"]])
def test_bad_arguments_are_usage_errors(argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2


@pytest.mark.parametrize("argv, message", [
    (["--oracle", "127.0.0.1:1"], "need --distributed"),
    (["--distributed", "worker", "--oracle", "127.0.0.1:1"], "needs a name: pass --tuner-id"),
    (["--distributed", "worker", "--tuner-id", "w"], "needs the chief's address"),
])
def test_incomplete_distributed_options(tmp_path, monkeypatch, capsys, argv, message):
    for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert main(["study", "capacity", "--quick", "--out", str(tmp_path), *argv]) == 2
    assert message in capsys.readouterr().out
    assert not os.listdir(tmp_path)


def test_report_of_a_non_run_directory(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "not a study run directory" in capsys.readouterr().out


def test_report_rebuilds_from_trial_files_and_from_csvs(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(kerasbio.studies.STUDIES, "toy", "toy")
    out = str(tmp_path)
    kerasbio.studies.run_study(TOY, TOY.settings(), out, echo=lambda line: None)
    for name in ("report.md", "results.csv", "toy.png"):
        os.remove(os.path.join(out, name))
    assert main(["report", out]) == 0
    assert os.path.exists(os.path.join(out, "results.csv"))
    shutil.rmtree(os.path.join(out, "search"))
    os.remove(os.path.join(out, "report.md"))
    assert main(["report", out]) == 0
    report = open(os.path.join(out, "report.md")).read()
    assert "| Toy cells train. |" in report and "toy.png" in report
    assert os.path.exists(os.path.join(out, "toy.png"))


def test_study_command_module_imports_nothing_heavy():
    code = ("import sys, kerasbio.studies.command; "
            "print(sorted(m for m in ('keras_tuner', 'kerasbio.studies.base', "
            "'kerasbio.studies.runner') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
                            timeout=120, check=True)
    assert result.stdout.strip() == "[]"
