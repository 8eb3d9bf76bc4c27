"""`kerasbio export MODEL.keras DIR --samples N`."""

import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasbio
from kerasbio import cli


def test_export_command_writes_a_saved_model_with_both_endpoints(tmp_path, capsys):
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              kerasbio.layers.GaussianNoise(0.5),
                              keras.layers.Dense(3, activation="softmax")])
    model.save(tmp_path / "model.keras")
    assert cli.main(["export", str(tmp_path / "model.keras"), str(tmp_path / "served"),
                     "--samples", "7"]) == 0
    assert "mc_predict" in capsys.readouterr().out
    served = tf.saved_model.load(str(tmp_path / "served"))
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    np.testing.assert_allclose(served.serve(x).numpy(), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    statistics = served.mc_predict(x)
    np.testing.assert_allclose(statistics["mean"].numpy().sum(-1), 1.0, rtol=1e-5)
    assert np.all(statistics["stddev"].numpy() > 0)


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
