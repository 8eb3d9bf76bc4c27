"""Bernoulli and Gaussian dropout against theory: mask statistics, expectation, MC behaviour."""

import numpy as np
import pytest

import keras
import tensorflow as tf

from kerasbio.layers import BernoulliDropout, GaussianDropout
from moments import Z, assert_mean_and_variance, assert_uncorrelated

N = 100_000


def masks(layer, n=N, width=4, training=True):
    """The multiplicative factors the layer applies to an all-ones `(n, width)` input."""
    return keras.ops.convert_to_numpy(layer(np.ones((n, width), "float32"), training=training))


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_bernoulli_drop_fraction_scaling_and_moments(rate):
    mask = masks(BernoulliDropout(rate, seed=1))
    dropped = np.mean(mask == 0)
    assert abs(dropped - rate) < Z * np.sqrt(rate * (1 - rate) / mask.size)
    np.testing.assert_allclose(mask[mask != 0], 1.0 / (1.0 - rate), rtol=1e-6)
    assert_mean_and_variance(mask, 1.0, rate / (1.0 - rate))


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_gaussian_dropout_mean_one_variance_matches_bernoulli(rate):
    mask = masks(GaussianDropout(rate, seed=2))
    assert_mean_and_variance(mask, 1.0, rate / (1.0 - rate))


@pytest.mark.parametrize("cls", [BernoulliDropout, GaussianDropout])
def test_inference_without_mc_is_the_identity(cls):
    x = np.random.default_rng(0).normal(size=(16, 5)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(cls(0.5)(x, training=False)), x)


@pytest.mark.parametrize("cls", [BernoulliDropout, GaussianDropout])
def test_mc_inference_samples_independently_for_tiled_copies(cls):
    mask = masks(cls(0.4, mc=True, seed=3), n=2 * 20_000, width=1, training=False)
    first, second = mask[:20_000], mask[20_000:]
    assert_mean_and_variance(mask, 1.0, 0.4 / 0.6)
    assert_uncorrelated(first, second)


def test_noise_shape_shares_the_mask_along_broadcast_axes():
    mask = keras.ops.convert_to_numpy(
        BernoulliDropout(0.5, noise_shape=(None, 1, 3), seed=4)(np.ones((200, 6, 3), "float32"),
                                                                 training=True))
    np.testing.assert_array_equal(mask, np.broadcast_to(mask[:, :1], mask.shape))
    assert 0 < np.mean(mask == 0) < 1


def test_gradient_is_the_mask():
    """d(x * m)/dx = m: the sampled factor itself (reparameterization, McClure A.2)."""
    layer = GaussianDropout(0.3, seed=5)
    x = tf.Variable(np.full((4, 3), 2.0, "float32"))
    with tf.GradientTape() as tape:
        y = layer(x, training=True)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), y.numpy() / 2.0, rtol=1e-6)
