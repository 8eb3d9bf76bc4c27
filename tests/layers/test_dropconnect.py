"""Dropconnect and spike-and-slab layers: pre-activation moments against the closed forms,
per-example masks vs local reparameterization, per-example independence, expectation = mean weights (McClure 3.2.2)."""

import numpy as np
import pytest
import tensorflow as tf

import keras

from kerasbio.layers import (
    DropConnectConv2D,
    DropConnectDense,
    SpikeAndSlabConv2D,
    SpikeAndSlabDense,
)
from moments import Z, assert_mean_and_variance, assert_uncorrelated

N = 20_000
LR = "local_reparameterization"
P_DO, P_DC = 0.4, 0.25
RNG = np.random.default_rng(0)
X = RNG.uniform(0.5, 1.5, size=(3, 3, 2)).astype("float32")  # one example: a 3x3x2 patch
KERNEL = RNG.normal(size=(3, 3, 2, 3)).astype("float32")


def alpha(rate):
    return rate / (1.0 - rate)


def dense(cls, **kwargs):
    return cls(units=3, use_bias=False, seed=7, **kwargs)


def conv(cls, **kwargs):
    return cls(filters=3, kernel_size=3, use_bias=False, seed=7, **kwargs)


GAUSSIAN = {"distribution": "gaussian"}
CASES = {  # id: (make layer, variance factor multiplying sum_i x_i^2 V_ij^2)
    "dc-dense-bernoulli-mask": (lambda: dense(DropConnectDense, rate=0.3), alpha(0.3)),
    "dc-dense-bernoulli-lr": (lambda: dense(DropConnectDense, rate=0.3, sampler=LR),
                              alpha(0.3)),
    "dc-dense-gaussian-mask": (lambda: dense(DropConnectDense, rate=0.3, **GAUSSIAN),
                               alpha(0.3)),
    "dc-conv-bernoulli-mask": (lambda: conv(DropConnectConv2D, rate=0.3), alpha(0.3)),
    "dc-conv-gaussian-mask": (lambda: conv(DropConnectConv2D, rate=0.3, **GAUSSIAN),
                              alpha(0.3)),
    "dc-conv-bernoulli-lr": (lambda: conv(DropConnectConv2D, rate=0.3, sampler=LR),
                             alpha(0.3)),
    "ss-dense": (lambda: dense(SpikeAndSlabDense, dropout_rate=P_DO, dropconnect_rate=P_DC),
                 (1 + alpha(P_DC)) / (1 - P_DO) - 1),
    "ss-conv-mask": (lambda: conv(SpikeAndSlabConv2D, dropout_rate=P_DO, dropconnect_rate=P_DC),
                     (1 + alpha(P_DC)) / (1 - P_DO) - 1),
    "ss-conv-lr": (lambda: conv(SpikeAndSlabConv2D, dropout_rate=P_DO, dropconnect_rate=P_DC,
                                sampler=LR),
                   (1 + alpha(P_DC)) / (1 - P_DO) - 1),
}


def preactivations(layer, n=N, training=True):
    """`n` draws of the layer's output for the fixed example `X` (flattened for Dense)."""
    is_conv = isinstance(layer, keras.layers.Conv2D)
    example = X if is_conv else X.reshape(-1)
    layer.build((None, *example.shape))
    layer.kernel.assign(KERNEL if is_conv else KERNEL.reshape(-1, 3))
    out = layer(np.broadcast_to(example, (n, *example.shape)), training=training)
    return keras.ops.convert_to_numpy(out).reshape(n, 3)


@pytest.mark.parametrize("case", CASES)
def test_preactivation_mean_and_variance_match_closed_form(case):
    """mean = x V, variance = factor * sum_i x_i^2 V_ij^2 (e.g. alpha x^2 V^2, McClure A.2)."""
    make, factor = CASES[case]
    samples = preactivations(make())
    flat_x, flat_v = X.reshape(-1), KERNEL.reshape(-1, 3)
    assert_mean_and_variance(samples, flat_x @ flat_v, factor * (flat_x ** 2) @ (flat_v ** 2))
    assert_uncorrelated(samples[: N // 2, 0], samples[N // 2:, 0])  # tiled copies independent


def test_spike_and_slab_units_share_the_input_dropout():
    """Cov(z_j, z_k) = p_do / (1 - p_do) sum_i x_i^2 V_ij V_ik: one Bernoulli per input row."""
    samples = preactivations(CASES["ss-dense"][0]())
    flat_x, flat_v = X.reshape(-1), KERNEL.reshape(-1, 3)
    expected = alpha(P_DO) * np.einsum("i,ij,ik->jk", flat_x ** 2, flat_v, flat_v)
    centred = samples - samples.mean(0)
    for j, k in [(0, 1), (0, 2), (1, 2)]:
        products = centred[:, j] * centred[:, k]
        assert abs(products.mean() - expected[j, k]) < Z * products.std() / np.sqrt(N)


def test_dropconnect_units_are_independent():
    samples = preactivations(CASES["dc-dense-bernoulli-mask"][0]())
    assert_uncorrelated(samples[:, 0], samples[:, 1])


def test_bernoulli_masks_are_discrete_and_local_reparameterization_gaussian():
    """One input, one weight: a mask gives 0 or V / (1 - p); the Gaussian form is continuous."""
    x = np.ones((N, 1), "float32")
    values = {}
    for sampler in ("mask", LR):
        layer = DropConnectDense(1, rate=0.5, sampler=sampler, use_bias=False, seed=1)
        layer.build((None, 1))
        layer.kernel.assign([[1.5]])
        values[sampler] = keras.ops.convert_to_numpy(layer(x, training=True))
    assert set(np.unique(values["mask"]).tolist()) == {0.0, 3.0}
    assert np.unique(values[LR]).size > N // 2


@pytest.mark.parametrize("cls,kwargs", [
    (DropConnectConv2D, {"rate": 0.3}), (DropConnectConv2D, {"rate": 0.3, "distribution": "gaussian"}),
    (SpikeAndSlabConv2D, {"dropout_rate": 0.0, "dropconnect_rate": 0.3})])
def test_masked_conv_uses_one_weight_sample_per_example(cls, kwargs):
    """On a constant image every output position sees the same patch: identical outputs
    with one kernel sample per example (masks), different ones with local reparameterization."""
    image = np.ones((4, 6, 6, 2), "float32")
    masked = keras.ops.convert_to_numpy(conv(cls, **kwargs)(image, training=True))
    approximate = keras.ops.convert_to_numpy(conv(cls, sampler=LR, **kwargs)(image, training=True))
    np.testing.assert_allclose(masked, np.broadcast_to(masked[:, :1, :1], masked.shape), rtol=1e-5)
    assert not np.allclose(approximate, np.broadcast_to(approximate[:, :1, :1], approximate.shape))
    assert not np.allclose(masked[0], masked[1])


@pytest.mark.parametrize("distribution", ["bernoulli", "gaussian"])
def test_masked_dense_on_sequences_shares_the_weight_sample_across_positions(distribution):
    x = np.broadcast_to(RNG.normal(size=(1, 1, 5)), (3, 4, 5)).astype("float32")
    layer = DropConnectDense(6, 0.5, distribution=distribution, seed=2)
    out = keras.ops.convert_to_numpy(layer(x, training=True))
    np.testing.assert_allclose(out, np.broadcast_to(out[:, :1], out.shape), rtol=1e-5)
    assert not np.allclose(out[0], out[1])


@pytest.mark.parametrize("make,reference", [
    (lambda: DropConnectDense(4, 0.5, activation="relu"), lambda: keras.layers.Dense(4, "relu")),
    (lambda: SpikeAndSlabDense(4, 0.5, 0.2), lambda: keras.layers.Dense(4)),
    (lambda: DropConnectConv2D(4, 3, 0.5, padding="same"),
     lambda: keras.layers.Conv2D(4, 3, padding="same")),
    (lambda: SpikeAndSlabConv2D(4, 3, 0.5, 0.2, strides=2),
     lambda: keras.layers.Conv2D(4, 3, strides=2)),
])
def test_inference_without_mc_equals_the_mean_weight_layer(make, reference):
    x = RNG.normal(size=(2, 7, 7, 3)).astype("float32")
    layer, plain = make(), reference()
    layer.build(x.shape)
    plain.build(x.shape)
    plain.set_weights(layer.get_weights())
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=False)),
                                  keras.ops.convert_to_numpy(plain(x)))


def test_masks_reject_grouped_convolutions():
    with pytest.raises(ValueError, match="`groups`.*sampler='local_reparameterization'"):
        DropConnectConv2D(4, 3, 0.5, groups=2)
    assert DropConnectConv2D(4, 3, 0.5, groups=2, sampler=LR).groups == 2


@pytest.mark.parametrize("kwargs", [
    {"padding": "same"}, {"strides": 2}, {"dilation_rate": 2}])
def test_unrolled_looped_and_patches_per_example_convolutions_agree_with_their_gradients(kwargs):
    """The three exact forms of `conv(x_b, K_b)` (small, middle and large batches) give the same
    values and the same gradients with respect to the inputs and the per-example kernels."""
    layer = DropConnectConv2D(4, 3, 0.5, **kwargs)
    x = tf.constant(RNG.normal(size=(3, 7, 7, 7)).astype("float32"))
    layer.build(x.shape)
    kernels = tf.constant(RNG.normal(size=(3, *layer.kernel.shape)).astype("float32"))
    results = []
    for form in (layer.unrolled_linear, layer.looped_linear, layer.patches_linear):
        with tf.GradientTape() as tape:
            tape.watch([x, kernels])
            out = form(x, kernels)
            loss = tf.reduce_sum(out * out)
        results.append([out, *tape.gradient(loss, [x, kernels])])
    for unrolled, looped, patches in zip(*results):
        np.testing.assert_array_equal(unrolled.numpy(), looped.numpy())
        np.testing.assert_allclose(looped.numpy(), patches.numpy(), rtol=1e-4, atol=1e-4)


def test_per_example_convolutions_of_an_unknown_batch_as_fit_traces_them():
    """`fit` traces its step with an unknown batch: the form chosen then gives the values and
    kernel gradients of the patches product, for 3 examples and for an empty batch."""
    layer = DropConnectConv2D(4, 3, 0.5)
    layer.build((None, 7, 7, 7))
    signature = [tf.TensorSpec((None, 7, 7, 7)), tf.TensorSpec((None, *layer.kernel.shape))]

    def traced(form):
        @tf.function(input_signature=signature)
        def values_and_gradients(x, kernels):
            with tf.GradientTape() as tape:
                tape.watch(kernels)
                out = form(x, kernels)
                loss = tf.reduce_sum(out * out)
            return out, tape.gradient(loss, kernels)
        return values_and_gradients

    chosen, patches = traced(layer.per_example_linear), traced(layer.patches_linear)
    for batch in (3, 0):
        x = RNG.normal(size=(batch, 7, 7, 7)).astype("float32")
        kernels = RNG.normal(size=(batch, *layer.kernel.shape)).astype("float32")
        for ours, reference in zip(chosen(x, kernels), patches(x, kernels)):
            assert ours.shape == reference.shape
            np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=1e-4, atol=1e-4)
