"""Noise layers against theory: moments, gradients, expectation and MC behaviour (Dutta 2.2)."""

import math
import warnings

import numpy as np
import pytest
import scipy.stats

import keras
import tensorflow as tf

from kerasbio.layers import FanoGaussianNoise, GaussianNoise, MultiplicativeGaussianNoise, PoissonNoise
from moments import Z, assert_mean_and_variance

N = 200_000  # samples per moment test


def draw(layer, value, n=N):
    return keras.ops.convert_to_numpy(layer(np.full((n, 1), value, "float32"), training=True))[:, 0]


def test_additive_gaussian_moments():
    samples = draw(GaussianNoise(0.7, seed=1), 1.5)
    assert_mean_and_variance(samples, 1.5, 0.49)


def test_multiplicative_gaussian_moments():
    samples = draw(MultiplicativeGaussianNoise(0.3, seed=2), 2.0)
    assert_mean_and_variance(samples, 2.0, 4 * 0.09)


@pytest.mark.parametrize("activation", [0.0, 0.5, 4.0, -1.0])
def test_fano_gaussian_variance_is_fano_times_activity(activation):
    fano, eps = 2.0, 1e-6
    samples = draw(FanoGaussianNoise(fano=fano, epsilon=eps, seed=3), activation)
    variance = fano * max(activation, 0.0) + eps
    assert_mean_and_variance(samples, activation, variance)


@pytest.mark.parametrize("gain", [1.0, 2.5])
@pytest.mark.parametrize("rate", [0.3, 4.0])
def test_poisson_mean_and_variance(rate, gain):
    """h = Poisson(gain x) / gain: mean x, variance x / gain (Poisson mean = variance = rate)."""
    samples = draw(PoissonNoise(gain=gain, seed=4), rate)
    assert_mean_and_variance(samples, rate, rate / gain)
    np.testing.assert_allclose(samples * gain, np.round(samples * gain), atol=1e-4)


def test_gumbel_softmax_histogram_approaches_poisson_as_max_count_grows():
    """Dutta Fig. 2.1: lambda = 2; the total variation to Poisson(2) falls to the tail mass."""
    rate, n = 2.0, 50_000
    distances = []
    for max_count in (2, 4, 15):
        layer = PoissonNoise(gradient="gumbel_softmax", max_count=max_count, seed=5)
        samples = draw(layer, rate, n).astype(int)
        support = np.arange(max_count + 1)
        histogram = np.bincount(samples, minlength=max_count + 1) / n
        tail = scipy.stats.poisson.sf(max_count, rate)
        distances.append(0.5 * (np.abs(histogram - scipy.stats.poisson.pmf(support, rate)).sum() + tail))
        truncated = scipy.stats.poisson.pmf(support, rate) / (1 - tail)
        sampling_tv = Z * math.sqrt(max_count + 1) / math.sqrt(n)
        assert 0.5 * np.abs(histogram - truncated).sum() < sampling_tv
    assert distances[0] > distances[1] > distances[2]
    assert distances[2] < 0.02


def test_gaussian_gradients_follow_reparameterization():
    """d/dx [x + sqrt(f relu(x) + eps) z] = 1 + f z / (2 sqrt(f x + eps)) for x > 0, 1 for x <= 0."""
    fano, eps = 1.5, 1e-6
    x = tf.constant(np.linspace(-1.0, 3.0, 41).astype("float32")[None, :])
    layer = FanoGaussianNoise(fano=fano, epsilon=eps, seed=6)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = layer(x, training=True)
    grad = tape.gradient(out, x).numpy()
    x, out = x.numpy(), out.numpy()
    scale = np.sqrt(fano * np.maximum(x, 0) + eps)
    z = (out - x) / scale
    expected = np.where(x > 0, 1 + fano * z / (2 * scale), 1.0)
    np.testing.assert_allclose(grad, expected, rtol=1e-3, atol=1e-3)
    assert np.all(np.isfinite(grad))


def test_poisson_straight_through_gradient_is_one_where_active():
    x = tf.constant([[-1.0, 0.0, 0.2, 3.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = PoissonNoise(gain=3.0, seed=7)(x, training=True)
    np.testing.assert_array_equal(tape.gradient(out, x).numpy(), [[0.0, 0.0, 1.0, 1.0]])


@pytest.mark.parametrize("layer, expectation", [
    (GaussianNoise(1.0), lambda x: x),
    (MultiplicativeGaussianNoise(1.0), lambda x: x),
    (FanoGaussianNoise(), lambda x: x),
    (PoissonNoise(gain=2.0), lambda x: np.maximum(x, 0)),
])
def test_inference_without_mc_is_the_expectation_and_with_mc_samples(layer, expectation):
    x = np.random.default_rng(9).normal(size=(8, 5)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), expectation(x))
    layer.mc = True
    assert not np.allclose(keras.ops.convert_to_numpy(layer(x)), expectation(x))


def test_rates_beyond_max_count_are_clipped_with_one_warning():
    layer = PoissonNoise(max_count=3, seed=10)
    x = np.array([[1.0, 5.0, 8.0]], "float32")
    with pytest.warns(UserWarning, match="max_count=3"):
        out = keras.ops.convert_to_numpy(layer(x, training=True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer(x, training=True)
    assert out.max() <= 3
    assert float(layer.clipped_count) == 4.0
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), [[1.0, 3.0, 3.0]])


def test_gumbel_softmax_defaults_to_a_count_limit():
    assert PoissonNoise(gradient="gumbel_softmax").count_limit == 30
    assert PoissonNoise().count_limit is None


@pytest.mark.parametrize("cls, kwargs, argument", [
    (GaussianNoise, {"stddev": -1.0}, "stddev"),
    (MultiplicativeGaussianNoise, {"stddev": -0.5}, "stddev"),
    (FanoGaussianNoise, {"fano": -0.1}, "fano"),
    (PoissonNoise, {"gain": -2.0}, "gain"),
    (PoissonNoise, {"gradient": "score_function"}, "gradient"),
    (PoissonNoise, {"gradient": "gumbel_softmax", "temperature": -1.0}, "temperature"),
])
def test_bad_arguments_raise_naming_argument_and_range(cls, kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`. Expected .*Received: {argument}="):
        cls(**kwargs)
