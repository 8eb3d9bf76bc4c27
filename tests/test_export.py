"""SavedModel export: the deterministic endpoint matches the model, the MC endpoint samples."""

import numpy as np
import pytest
import scipy.stats

import keras
import tensorflow as tf

import kerasbio
from kerasbio.export import mc_statistics


def noisy_classifier():
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
        kerasbio.layers.BernoulliDropout(0.5), keras.layers.Dense(3, activation="softmax")])


def test_export_serves_expectation_and_mc_statistics(tmp_path):
    model = noisy_classifier()
    x = np.random.default_rng(1).normal(size=(5, 6)).astype("float32")
    kerasbio.export_saved_model(model, tmp_path / "served", samples=400, verbose=False)
    served = tf.saved_model.load(str(tmp_path / "served"))
    np.testing.assert_allclose(served.serve(x).numpy(), model.predict(x, verbose=0), rtol=1e-5,
                               atol=1e-6)
    exported = {key: value.numpy() for key, value in served.mc_predict(x).items()}
    reference = kerasbio.mc_predict(model, x, samples=400, verbose=0)
    standard_error = np.sqrt(exported["stddev"] ** 2 / 400 + reference.stddev ** 2 / 400)
    assert np.all(np.abs(exported["mean"] - reference.mean) < 5 * standard_error + 1e-6)
    assert np.all(exported["mutual_information"] > 0)
    assert not np.allclose(exported["mean"], served.serve(x).numpy(), atol=1e-3)
    assert "serving_default" in served.signatures
    assert model.layers[1].mc is False


def test_mc_statistics_match_independent_definitions():
    """Against scipy's entropy (nats), not against kerasbio's own functions."""
    draws = np.random.default_rng(2).dirichlet(np.ones(4), size=(3, 7)).astype("float32")
    tensor = keras.ops.convert_to_tensor(draws)
    stats = {key: keras.ops.convert_to_numpy(value) for key, value in mc_statistics(tensor).items()}
    entropy_of_mean = scipy.stats.entropy(draws.mean(1).astype("float64"), axis=-1)
    mean_entropy = scipy.stats.entropy(draws.astype("float64"), axis=-1).mean(1)
    np.testing.assert_allclose(stats["mean"], draws.mean(1), rtol=1e-6)
    np.testing.assert_allclose(stats["stddev"], draws.std(1), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(stats["predictive_entropy"], entropy_of_mean, rtol=1e-5)
    np.testing.assert_allclose(stats["mutual_information"], entropy_of_mean - mean_entropy,
                               rtol=1e-3, atol=1e-6)


def test_export_rejects_models_with_several_outputs(tmp_path):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, [keras.layers.Dense(2)(inputs), keras.layers.Dense(2)(inputs)])
    with pytest.raises(ValueError, match="one input and one output"):
        kerasbio.export_saved_model(model, tmp_path / "served")


class SubclassedClassifier(keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(8, activation="relu")
        self.dropout = kerasbio.layers.BernoulliDropout(0.5)
        self.head = keras.layers.Dense(3, activation="softmax")

    def call(self, inputs, training=False):
        return self.head(self.dropout(self.hidden(inputs), training=training))


def test_subclassed_models_are_exported(tmp_path):
    """Issue 10: export failed on models without `.inputs`/`.outputs`."""
    keras.utils.set_random_seed(3)
    model = SubclassedClassifier()
    x = np.random.default_rng(4).normal(size=(4, 6)).astype("float32")
    with pytest.raises(ValueError, match="call it once"):
        kerasbio.export_saved_model(model, tmp_path / "unbuilt", verbose=False)
    model(x)
    kerasbio.export_saved_model(model, tmp_path / "served", samples=50, verbose=False)
    served = tf.saved_model.load(str(tmp_path / "served"))
    np.testing.assert_allclose(served.serve(x).numpy(), model.predict(x, verbose=0), rtol=1e-5,
                               atol=1e-6)
    statistics = served.mc_predict(x)
    np.testing.assert_allclose(statistics["mean"].numpy().sum(-1), 1.0, rtol=1e-5)
    assert np.all(statistics["stddev"].numpy() > 0)
