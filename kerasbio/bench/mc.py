"""`kerasbio bench mc`: MC prediction and variational layers against the usual alternatives.

(a) `mc_predict` (T = 20) against a loop of T `model(x)` calls, for McClure's MNIST CNN
    (Table 3.2) with dropout in the dense head only and after every layer;
(b) training steps with `BernoulliDropout` / `GaussianDropout` against Keras' own layers;
(c) training steps of the dropconnect and spike-and-slab layers, per-example masks and local
    reparameterization, against plain `Dense` / `Conv2D`.
"""

import keras
import numpy as np

import kerasbio
from kerasbio.bench._timing import Row, compare_alternately, train_step
from kerasbio.bench.noise import small_cnn
from kerasbio.layers import (
    BernoulliDropout,
    DropConnectConv2D,
    DropConnectDense,
    GaussianDropout,
    SpikeAndSlabConv2D,
    SpikeAndSlabDense,
)

SAMPLES, BATCH, CLASSES = 20, 64, 10


def mnist_cnn(dropout_everywhere):
    """McClure Table 3.2: Conv(32, 5) - pool - Conv(64, 5) - pool - FC 500 - FC 10, with MC
    Bernoulli dropout (mc=True) after the FC layer only, or after every hidden layer."""
    def dropout(after_conv):
        wanted = dropout_everywhere or not after_conv
        return [BernoulliDropout(0.5, mc=True)] if wanted else []

    return keras.Sequential([
        keras.Input((28, 28, 1)), keras.layers.Conv2D(32, 5, activation="relu"),
        *dropout(after_conv=True), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 5, activation="relu"), *dropout(after_conv=True),
        keras.layers.MaxPooling2D(), keras.layers.Flatten(),
        keras.layers.Dense(500, activation="relu"), *dropout(after_conv=False),
        keras.layers.Dense(CLASSES, activation="softmax")])


def mc_prediction_rows(examples, rounds, repeats):
    x = np.random.default_rng(0).uniform(size=(examples, 28, 28, 1)).astype("float32")
    for label, everywhere in [("dropout in head", False), ("dropout after every layer", True)]:
        model = mnist_cnn(everywhere)
        ours = lambda: kerasbio.mc_predict(model, x, samples=SAMPLES, verbose=0)  # noqa: E731
        loop = lambda: [model(x, training=False) for _ in range(SAMPLES)]  # noqa: E731
        yield Row(f"mc: mc_predict T={SAMPLES} vs loop of model(x), {label}",
                  *compare_alternately(ours, loop, rounds=rounds, repeats=repeats))


def unit_dropout_rows(rounds):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(BATCH, 28, 28, 1)).astype("float32")
    y = rng.integers(0, CLASSES, BATCH)
    for ours, reference, label in [
            (lambda: BernoulliDropout(0.5), lambda: keras.layers.Dropout(0.5),
             "BernoulliDropout step vs keras.layers.Dropout"),
            (lambda: GaussianDropout(0.5), lambda: keras.layers.GaussianDropout(0.5),
             "GaussianDropout step vs keras.layers.GaussianDropout")]:
        yield Row(f"mc: {label}", *compare_alternately(
            train_step(small_cnn(ours), x, y), train_step(small_cnn(reference), x, y),
            rounds=rounds))


def layer_step(layer, input_shape, x, y):
    """A zero-argument callable: one training step of Input -> layer -> Flatten -> Dense(10)."""
    return train_step(keras.Sequential([keras.Input(input_shape), layer, keras.layers.Flatten(),
                                        keras.layers.Dense(CLASSES, activation="softmax")]), x, y)


def weight_noise_rows(rounds):
    """The thesis CNN's FC layer (1024 -> 500) and second convolution (12x12x32 -> 64, 5x5)."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, CLASSES, BATCH)
    dense_x = rng.uniform(size=(BATCH, 1024)).astype("float32")
    conv_x = rng.uniform(size=(BATCH, 12, 12, 32)).astype("float32")
    cases = [
        ("DropConnectDense bernoulli mask", lambda: DropConnectDense(500, 0.5), "dense"),
        ("DropConnectDense bernoulli mask rate 0.3 (a counter-stream word per mask)",
         lambda: DropConnectDense(500, 0.3), "dense"),
        ("DropConnectDense bernoulli local reparam.",
         lambda: DropConnectDense(500, 0.5, sampler="local_reparameterization"), "dense"),
        ("DropConnectDense gaussian (mask = local reparam.)",
         lambda: DropConnectDense(500, 0.5, distribution="gaussian"), "dense"),
        ("SpikeAndSlabDense (mask)", lambda: SpikeAndSlabDense(500, 0.5, 0.2), "dense"),
        ("DropConnectConv2D bernoulli mask", lambda: DropConnectConv2D(64, 5, 0.5), "conv"),
        ("DropConnectConv2D bernoulli local reparam.",
         lambda: DropConnectConv2D(64, 5, 0.5, sampler="local_reparameterization"), "conv"),
        ("SpikeAndSlabConv2D mask", lambda: SpikeAndSlabConv2D(64, 5, 0.5, 0.2), "conv"),
        ("SpikeAndSlabConv2D local reparam.",
         lambda: SpikeAndSlabConv2D(64, 5, 0.5, 0.2, sampler="local_reparameterization"), "conv"),
    ]
    references = {"dense": (lambda: keras.layers.Dense(500), dense_x, "Dense"),
                  "conv": (lambda: keras.layers.Conv2D(64, 5), conv_x, "Conv2D")}
    for label, make, kind in cases:
        make_reference, x, reference_name = references[kind]
        ours = layer_step(make(), x.shape[1:], x, y)
        reference = layer_step(make_reference(), x.shape[1:], x, y)
        yield Row(f"mc: {label} step vs {reference_name}",
                  *compare_alternately(ours, reference, rounds=rounds, repeats=3))


def run(quick=False):
    rounds = 1 if quick else 3
    yield from mc_prediction_rows(examples=64 if quick else 256, rounds=rounds,
                                  repeats=2 if quick else 3)
    yield from unit_dropout_rows(rounds=2 if quick else 5)
    yield from weight_noise_rows(rounds=rounds)
