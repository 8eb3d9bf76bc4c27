"""SavedModel export: the deterministic endpoint matches the model, the MC endpoint samples."""

import re

import numpy as np
import pytest
import scipy.stats

import keras
import tensorflow as tf

import kerasbio
from kerasbio import cli
from kerasbio.export import mc_statistics


def noisy_classifier():
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
        kerasbio.layers.BernoulliDropout(0.5), keras.layers.Dense(3, activation="softmax")])


SAMPLES = 400


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """One classifier saved as `.keras` and exported once for the module with `kerasbio export`
    (a SavedModel export takes seconds): the model, the SavedModel's path, the loaded object."""
    model = noisy_classifier()
    directory = tmp_path_factory.mktemp("export")
    model.save(directory / "model.keras")
    path = str(directory / "served")
    assert cli.main(["export", str(directory / "model.keras"), path, "--samples",
                     str(SAMPLES)]) == 0
    return model, path, tf.saved_model.load(path)


def examples(count=5, features=6, seed=1):
    return np.random.default_rng(seed).normal(size=(count, features)).astype("float32")


def test_export_serves_expectation_and_mc_statistics(exported):
    model, _, served = exported
    x = examples()
    np.testing.assert_allclose(served.serve(x).numpy(), model.predict(x, verbose=0), rtol=1e-5,
                               atol=1e-6)
    exported_statistics = {key: value.numpy() for key, value in served.mc_predict(x).items()}
    reference = kerasbio.mc_predict(model, x, samples=SAMPLES, verbose=0)
    assert_same_mc_mean(exported_statistics, reference.mean, reference.stddev, SAMPLES)
    assert np.all(exported_statistics["mutual_information"] > 0)
    assert not np.allclose(exported_statistics["mean"], served.serve(x).numpy(), atol=1e-3)
    assert "serving_default" in served.signatures
    assert model.layers[1].mc is False


def assert_same_mc_mean(statistics, mean, stddev, samples):
    """Two MC means of `samples` draws each agree within 5 standard errors of their difference."""
    standard_error = np.sqrt(statistics["stddev"] ** 2 / samples + stddev ** 2 / samples)
    assert np.all(np.abs(statistics["mean"] - mean) < 5 * standard_error + 1e-6)


def test_mc_endpoint_draws_fresh_samples_on_every_call(exported):
    served = exported[2]
    x = examples(3)
    first, second = served.mc_predict(x), served.mc_predict(x)
    assert not np.allclose(first["mean"].numpy(), second["mean"].numpy(), atol=1e-4)
    assert not np.allclose(first["stddev"].numpy(), second["stddev"].numpy(), atol=1e-4)
    assert_same_mc_mean({key: value.numpy() for key, value in first.items()},
                        second["mean"].numpy(), second["stddev"].numpy(), SAMPLES)
    repeated = served.mc_predict(np.repeat(x[:1], 2, axis=0))["mean"].numpy()
    assert not np.allclose(repeated[0], repeated[1], atol=1e-4)


@pytest.mark.parametrize("batch", [
    pytest.param(np.zeros((5, 7), "float32"), id="features"),
    pytest.param(np.zeros((6,), "float32"), id="rank"),
    pytest.param(tf.zeros((5, 6), tf.float64), id="dtype"),
])
@pytest.mark.parametrize("endpoint", ["serve", "mc_predict"])
def test_endpoints_name_the_expected_signature(exported, endpoint, batch):
    served = exported[2]
    with pytest.raises(TypeError, match=re.escape(
            "TensorSpec(shape=(None, 6), dtype=tf.float32, name='x')")):
        getattr(served, endpoint)(batch)


@pytest.mark.parametrize("shape", [(5, 7), (6,), (5, 6, 1)])
def test_signatures_assert_the_shape_before_the_model_runs(exported, shape):
    """TF Serving's route: signatures take any shape, so the graph checks it first."""
    served = exported[2]
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(
            "The `mc_predict` endpoint expects x: a float32 batch of shape (None, 6). "
            "Received a batch of shape] [" + " ".join(map(str, shape)) + "]")):
        served.signatures["mc_predict"](x=tf.zeros(shape))


def test_endpoints_refuse_non_finite_inputs(exported):
    served = exported[2]
    x = examples(2)
    x[1, 3] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or infinite values in x"):
        served.serve(x)


def test_tfsm_layer_reuses_the_mc_endpoint_in_a_new_keras_model(exported):
    model, path, _ = exported
    inputs = keras.Input((6,))
    statistics = keras.layers.TFSMLayer(path, call_endpoint="mc_predict")(inputs)
    uncertain = keras.layers.Lambda(lambda mi: keras.ops.greater(mi, 0.01))(
        statistics["mutual_information"])
    reused = keras.Model(inputs, {"mean": statistics["mean"], "stddev": statistics["stddev"],
                                  "uncertain": uncertain})
    x = examples()
    outputs = reused.predict(x, verbose=0)
    reference = kerasbio.mc_predict(model, x, samples=SAMPLES, verbose=0)
    assert_same_mc_mean(outputs, reference.mean, reference.stddev, SAMPLES)
    np.testing.assert_array_equal(outputs["uncertain"], reference.mutual_information > 0.01)
    deterministic = keras.Sequential([keras.Input((6,)), keras.layers.TFSMLayer(path)])
    np.testing.assert_allclose(deterministic.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_tensorflow_hub_loads_the_export(exported):
    """`hub.load` and `hub.KerasLayer` as a TF-Hub user writes them. `hub.KerasLayer` is a
    tf_keras (Keras 2) layer: it runs on tensors (and in tf_keras models, tested with the
    slow tests); a Keras 3 model refuses it (use `keras.layers.TFSMLayer` there)."""
    hub = pytest.importorskip("tensorflow_hub")
    model, path, _ = exported
    x = examples()
    module = hub.load(path)
    np.testing.assert_allclose(module(x).numpy(), model.predict(x, verbose=0), rtol=1e-5,
                               atol=1e-6)
    reference = kerasbio.mc_predict(model, x, samples=SAMPLES, verbose=0)
    assert_same_mc_mean({key: value.numpy() for key, value in module.mc_predict(x).items()},
                        reference.mean, reference.stddev, SAMPLES)
    statistics = hub.KerasLayer(path, signature="mc_predict", signature_outputs_as_dict=True)(x)
    assert_same_mc_mean({key: value.numpy() for key, value in statistics.items()},
                        reference.mean, reference.stddev, SAMPLES)
    with pytest.raises(ValueError, match="Only instances of `keras.Layer`"):
        keras.Sequential([keras.Input((6,)), hub.KerasLayer(path)])


@pytest.mark.slow
def test_hub_keras_layer_runs_in_a_tf_keras_model(exported):
    hub = pytest.importorskip("tensorflow_hub")
    import tf_keras

    model, path, _ = exported
    x = examples()
    legacy = tf_keras.Sequential([tf_keras.Input((6,)), hub.KerasLayer(path)])
    np.testing.assert_allclose(legacy(x).numpy(), model.predict(x, verbose=0), rtol=1e-5,
                               atol=1e-6)


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
