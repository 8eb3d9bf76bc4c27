"""`kerasbio export MODEL.keras DIR --samples N`: its errors. What it writes is tested in
test_export.py, whose shared SavedModel this command exports."""

import zipfile

import pytest

from kerasbio import cli


@pytest.mark.parametrize("make, message", [
    pytest.param(lambda path: None, "no such file", id="missing"),
    pytest.param(lambda path: path.write_text("not a model"), "is not a Keras model file",
                 id="text"),
    pytest.param(lambda path: zipfile.ZipFile(path, "w").close(),
                 "cannot load", id="empty-archive"),
])
def test_export_command_explains_a_bad_model_file(tmp_path, capsys, make, message):
    path = tmp_path / "model.keras"
    make(path)
    assert cli.main(["export", str(path), str(tmp_path / "served")]) == 2
    assert message in capsys.readouterr().out
    assert not (tmp_path / "served").exists()


def test_export_command_refuses_a_directory(tmp_path, capsys):
    assert cli.main(["export", str(tmp_path), str(tmp_path / "served")]) == 2
    assert "is a directory" in capsys.readouterr().out


@pytest.mark.parametrize("samples", ["0", "-2", "many", "1.5"])
def test_export_command_refuses_a_bad_sample_count(tmp_path, capsys, samples):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["export", str(tmp_path / "model.keras"), str(tmp_path / "served"),
                  "--samples", samples])
    assert exit_info.value.code == 2
    assert f"expected a positive integer, received {samples!r}" in capsys.readouterr().err
