"""Packed-bit Bernoulli dropconnect masks: exact keep frequencies per weight and per example,
independence between masks of one word and between examples, and the chunked matmul's
values and gradients against the masked-kernel product."""

import numpy as np
import pytest

import keras
import tensorflow as tf

from kerasbio.layers import DropConnectConv2D, DropConnectDense, _bernoulli, _sampling
from moments import Z, assert_uncorrelated

RATES = [0.5, 0.25, 0.375, 3 / 256, 0.3, 0.9]


@pytest.mark.parametrize("rate,width", [(0.5, 1), (0.25, 2), (0.75, 2), (0.375, 4), (0.8125, 4),
                                        (3 / 256, 8), (0.3, None), (1 / 512, None)])
def test_rates_that_are_multiples_of_a_power_of_two_share_a_word(rate, width):
    """`rate = k / 2^m`, `m <= 8`: fields of 1, 2, 4 or 8 bits; otherwise a word per mask."""
    assert _bernoulli.field_width(rate) == width
    assert _bernoulli.masks_per_word(rate) == (1 if width is None else 32 // width)


def keep_indicators(shape, rate, seed=(3, 4)):
    """The masks of `shape[0]` examples of a kernel of ones, `shape[1]` weights."""
    examples, weights = shape
    masks = _bernoulli.masked_kernels(tf.ones([weights]), examples, rate,
                                      tf.constant(seed)).numpy()
    scale = np.float32(1.0 / (1.0 - rate))
    assert set(np.unique(masks).tolist()) <= {0.0, float(scale)}
    return masks == scale


@pytest.mark.parametrize("rate", RATES)
def test_keep_frequency_per_weight_and_per_example(rate):
    """Each of 64 weights (two words' worth of fields at rate 0.5) is kept with probability
    `1 - rate` across 4000 examples, and each example keeps Binomial(64, 1 - rate) weights:
    mean and variance of the per-example counts (correlated fields would change the variance)."""
    examples, weights = 4000, 64
    keep = keep_indicators((examples, weights), rate)
    q = 1.0 - rate
    per_weight = keep.mean(0)
    assert np.all(np.abs(per_weight - q) < Z * np.sqrt(q * rate / examples)), per_weight
    counts = keep.sum(1)
    assert abs(counts.mean() - weights * q) < Z * np.sqrt(weights * q * rate / examples)
    variance, expected = counts.var(ddof=1), weights * q * rate
    fourth = expected * (1 + 3 * (weights - 2) * q * rate)  # central 4th moment of a binomial
    assert abs(variance - expected) < Z * np.sqrt((fourth - expected ** 2) / examples)


@pytest.mark.parametrize("rate", [0.5, 0.375, 0.3])
def test_masks_are_independent_within_words_and_across_examples(rate):
    keep = keep_indicators((4000, 64), rate).astype("float64")
    assert_uncorrelated(keep[:, :-1], keep[:, 1:])  # neighbouring fields of one word
    assert_uncorrelated(keep[:-1], keep[1:])  # consecutive examples, same weight
    assert_uncorrelated(keep[:, 0], keep[:, 32])  # first field of consecutive words


def reference_masks(batch, size, rate, seed):
    """`(batch, size)` masks drawn at once: packed words decoded by the byte table, or, off the
    1/256 grid, the first `batch x size` masks of the counter stream."""
    if _bernoulli.field_width(rate) is None:
        masks = _bernoulli.counter_masks(_sampling.counter_key(seed), tf.constant(0, tf.int64),
                                         batch * size, rate, tf.float32)
    else:
        words = _bernoulli.draw_words(tf.constant([batch, size]), rate, seed)
        masks = _bernoulli.decode(words, rate, size, tf.float32)
    return tf.reshape(masks, (batch, size))


@pytest.mark.parametrize("rate", RATES)
def test_masked_kernels_and_their_gradient_decode_the_words_as_the_byte_table(rate):
    """The fused shift-and-compare decoding gives exactly the byte-table masks of the same
    words (off the grid: the same counter-stream masks): `V o M_b`, and the gradient
    `sum_b M_b o dK_b`."""
    rng = np.random.default_rng(1)
    kernel = tf.constant(rng.normal(size=(3, 5, 7)).astype("float32"))
    upstream = tf.constant(rng.normal(size=(9, 3, 5, 7)).astype("float32"))
    seed = tf.constant([5, 6])
    with tf.GradientTape() as tape:
        tape.watch(kernel)
        kernels = _bernoulli.masked_kernels(kernel, 9, rate, seed)
        loss = tf.reduce_sum(kernels * upstream)
    masks = tf.reshape(reference_masks(9, 105, rate, seed), (9, 3, 5, 7))
    np.testing.assert_array_equal(kernels.numpy(), (masks * kernel).numpy())
    np.testing.assert_allclose(tape.gradient(loss, kernel).numpy(),
                               tf.reduce_sum(masks * upstream, 0).numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("rate", [0.25, 0.3])
def test_chunked_matmul_matches_the_masked_kernel_product_and_its_gradients(monkeypatch, rate):
    """Chunks of 3 examples over a batch of 7 (padded), against `einsum(x, M o V)` with the
    same masks drawn at once (packed words at 0.25, the counter stream at 0.3)."""
    monkeypatch.setattr(_bernoulli, "CHUNK_ELEMENTS", 3 * 5 * 6)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(7, 5)).astype("float32"))
    kernel = tf.constant(rng.normal(size=(5, 6)).astype("float32"))
    upstream = tf.constant(rng.normal(size=(7, 6)).astype("float32"))
    seed = tf.constant([5, 6])
    masks = tf.reshape(reference_masks(7, 30, rate, seed), (7, 5, 6))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, kernel])
        ours = _bernoulli.dropconnect_matmul(x, kernel, rate, seed)
        reference = tf.einsum("bi,bio->bo", x, masks * kernel)
        ours_loss, reference_loss = [tf.reduce_sum(z * upstream) for z in (ours, reference)]
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-6)
    for ours_gradient, reference_gradient in zip(tape.gradient(ours_loss, [x, kernel]),
                                                 tape.gradient(reference_loss, [x, kernel])):
        np.testing.assert_allclose(ours_gradient, reference_gradient, rtol=1e-5, atol=1e-6)


def revealed_keep(layer, inputs):
    """One-hot inputs with a unit kernel: each output is one example's scaled mask element."""
    layer.build(inputs.shape)
    layer.kernel.assign(np.ones(layer.kernel.shape, "float32"))
    return keras.ops.convert_to_numpy(layer(inputs, training=True)) > 0


@pytest.mark.parametrize("make", [
    lambda: DropConnectDense(8, 0.25, use_bias=False, seed=3),
    lambda: DropConnectConv2D(8, 1, 0.25, use_bias=False, seed=3)])
def test_layers_keep_each_weight_of_each_example_with_probability_one_minus_rate(make):
    """Example `b` sees input `b mod 4` only, so its outputs are row `b mod 4` of its mask."""
    repeats, units_in, units_out, rate = 1000, 4, 8, 0.25
    inputs = np.tile(np.eye(units_in, dtype="float32"), (repeats, 1))
    layer = make()
    if isinstance(layer, keras.layers.Conv2D):
        inputs = inputs[:, None, None, :]
    keep = revealed_keep(layer, inputs).reshape(repeats, units_in, units_out)
    frequency = keep.mean(0)
    q = 1 - rate
    assert np.all(np.abs(frequency - q) < Z * np.sqrt(q * rate / repeats)), frequency
    flat = keep.reshape(repeats, -1).astype("float64")
    assert_uncorrelated(flat[:-1], flat[1:])  # example b and example b + 4, same weight
