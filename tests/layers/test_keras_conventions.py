"""Keras' own tests of GaussianNoise, GaussianDropout, Dropout and SpatialDropout2D, ported to
kerasbio's drop-in replacements (keras/src/layers/regularization/*_test.py).

`run_layer_test` is Keras' own harness: serialisation round trip, no weights, one seed
generator, masking support, built at construction, symbolic and eager calls, a compiled
training step. Each layer is also run with `mc=True` at inference, where it must behave as
Keras' layer does in training.
"""

import numpy as np
import pytest

import keras
from keras.src import testing

from kerasbio.layers import BernoulliDropout, GaussianDropout, GaussianNoise, SpatialDropout2D

RATE_MESSAGE = "Invalid value received for argument `rate`. Expected a float value between 0 and 1."
NOISE_SHAPE_MESSAGE = "Invalid value received for argument `noise_shape`. Expected "


@pytest.fixture(scope="module")
def keras_case():
    """Keras' `TestCase`, used for its assertions and `run_layer_test`."""
    return testing.TestCase()


def check_weightless_layer(keras_case, cls, init_kwargs, input_shape, call_kwargs):
    keras_case.run_layer_test(
        cls, init_kwargs=init_kwargs, input_shape=input_shape, call_kwargs=call_kwargs,
        expected_output_shape=input_shape, expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=0, expected_num_seed_generators=1,
        expected_num_losses=0, supports_masking=True, assert_built_after_instantiation=True)


@pytest.mark.parametrize("cls, init_kwargs", [
    (GaussianNoise, {"stddev": 0.2}), (GaussianDropout, {"rate": 0.2}),
    (BernoulliDropout, {"rate": 0.2})], ids=["GaussianNoise", "GaussianDropout", "Dropout"])
@pytest.mark.parametrize("mc", [False, True], ids=["training", "mc"])
def test_basics(keras_case, cls, init_kwargs, mc):
    check_weightless_layer(keras_case, cls, {**init_kwargs, "mc": mc}, (2, 3),
                          {"training": not mc})


@pytest.mark.parametrize("data_format, training", [
    (None, True), (None, False), ("channels_first", True)])
def test_spatial_dropout_2d(keras_case, data_format, training):
    keras_case.run_layer_test(
        SpatialDropout2D, init_kwargs={"rate": 0.5, "data_format": data_format},
        call_kwargs={"training": training}, input_shape=(2, 3, 4, 5),
        assert_built_after_instantiation=True)


def test_gaussian_noise_correctness(keras_case):
    outputs = GaussianNoise(0.3, seed=1337)(np.ones((20, 500)), training=True)
    keras_case.assertAllClose(np.std(keras.ops.convert_to_numpy(outputs)), 0.3, atol=0.02)


def test_gaussian_dropout_correctness(keras_case):
    outputs = GaussianDropout(0.3, seed=1337)(np.ones((20, 500)), training=True)
    keras_case.assertAllClose(np.std(keras.ops.convert_to_numpy(outputs)),
                              np.sqrt(0.3 / (1 - 0.3)), atol=0.02)


@pytest.mark.parametrize("call_kwargs", [{"training": True}, {"training": False}],
                         ids=["training", "mc"])
def test_dropout_rescaling(keras_case, call_kwargs):
    layer = BernoulliDropout(0.5, seed=1337, mc=not call_kwargs["training"])
    outputs = keras.ops.convert_to_numpy(layer(np.ones((20, 500)), **call_kwargs))
    keras_case.assertAllClose(np.mean(outputs), 1.0, atol=0.02)
    keras_case.assertAllClose(np.max(outputs), 2.0)


@pytest.mark.parametrize("noise_shape", [(None, 1, None), (20, 1, 10)],
                         ids=["dynamic", "static"])
def test_dropout_partial_noise_shape(keras_case, noise_shape):
    outputs = BernoulliDropout(0.5, noise_shape=noise_shape)(np.ones((20, 5, 10)),
                                                              training=True)
    keras_case.assertAllClose(outputs[:, 0, :], outputs[:, 1, :])


@pytest.mark.parametrize("rate", [-0.5, 1.5])
@pytest.mark.parametrize("cls", [BernoulliDropout, GaussianDropout, SpatialDropout2D])
def test_rate_out_of_range(cls, rate):
    with pytest.raises(ValueError, match=RATE_MESSAGE):
        cls(rate=rate)


@pytest.mark.parametrize("noise_shape, expected", [
    (None, None), ((20, 1, 10), (20, 1, 10)), ((None, 1, None), (None, 1, None)),
    ([20, 1, 10], (20, 1, 10))])
def test_noise_shape_is_kept_as_a_tuple(noise_shape, expected):
    layer = BernoulliDropout(0.5, noise_shape=noise_shape)
    assert layer.noise_shape == expected
    assert expected is None or isinstance(layer.noise_shape, tuple)


@pytest.mark.parametrize("noise_shape, expected", [
    ("Invalid", "a tuple or list of integers."),
    ((20, 1.5, 10), "all elements to be integers or None."),
    ((20, -1, 10), "all dimensions to be positive integers or None."),
    ((20, 0, 10), "all dimensions to be positive integers or None.")])
def test_invalid_noise_shape(noise_shape, expected):
    with pytest.raises(ValueError, match=NOISE_SHAPE_MESSAGE + expected):
        BernoulliDropout(0.5, noise_shape=noise_shape)


def test_spatial_dropout_2d_on_symbolic_inputs():
    inputs = keras.layers.Input((3, 2, 4))
    assert SpatialDropout2D(0.5)(inputs, training=True).shape == inputs.shape


def test_spatial_dropout_2d_correctness(keras_case):
    outputs = SpatialDropout2D(0.5)(np.ones((10, 3, 3, 10)), training=True)
    keras_case.assertAllClose(outputs[:, 0, 0, :], outputs[:, 1, 1, :])


@pytest.mark.parametrize("ours, theirs", [
    (lambda: GaussianNoise(0.3, seed=5), lambda: keras.layers.GaussianNoise(0.3, seed=5)),
    (lambda: GaussianDropout(0.3, seed=5), lambda: keras.layers.GaussianDropout(0.3, seed=5)),
    (lambda: BernoulliDropout(0.3, seed=5), lambda: keras.layers.Dropout(0.3, seed=5)),
    (lambda: SpatialDropout2D(0.3, seed=5), lambda: keras.layers.SpatialDropout2D(0.3, seed=5))],
    ids=["GaussianNoise", "GaussianDropout", "Dropout", "SpatialDropout2D"])
def test_same_seed_same_draw_as_keras(ours, theirs):
    """Drop-in: with the same seed, the same noise as Keras' layer (and its expectation)."""
    x = np.random.default_rng(0).uniform(0.5, 2.0, (6, 4, 4, 3)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(ours()(x, training=True)),
                                  keras.ops.convert_to_numpy(theirs()(x, training=True)))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(ours()(x)), x)
