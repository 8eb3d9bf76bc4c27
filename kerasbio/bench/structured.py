"""`kerasbio bench structured`: training steps with structured dropout after each convolution.

A CIFAR-sized CNN (batch 64, 32x32x3) with rate 0.1 and blocks of 5; every row times a training
step against the same network with `SpatialDropout2D`.
"""

import keras

import kerasbio
from kerasbio.bench._timing import Row, compare_alternately, random_batch, train_step

BATCH, SHAPE, CLASSES, BLOCK = 64, (32, 32, 3), 10, 5


def after(make_dropout):
    """Conv2D followed by the dropout layer `make_dropout()`."""
    return lambda conv: [conv, make_dropout()]


def wrapping(make_wrapper):
    """Conv2D wrapped by `make_wrapper(conv)`."""
    return lambda conv: [make_wrapper(conv)]


def cifar_cnn(with_dropout):
    """Conv(32, 3) -> dropout -> pool -> Conv(64, 3) -> dropout -> pool -> Dense(10)."""
    layers = [keras.Input(SHAPE)]
    for filters in (32, 64):
        layers += with_dropout(keras.layers.Conv2D(filters, 3, padding="same", activation="relu"))
        layers.append(keras.layers.MaxPooling2D())
    layers += [keras.layers.Flatten(), keras.layers.Dense(CLASSES, activation="softmax")]
    return keras.Sequential(layers)


def run(quick=False):
    x, y = random_batch(BATCH, SHAPE, CLASSES)
    rounds = 2 if quick else 5
    layers = kerasbio.layers
    spatial = train_step(cifar_cnn(after(lambda: layers.SpatialDropout2D(0.1))), x, y)
    reference = train_step(cifar_cnn(after(lambda: keras.layers.SpatialDropout2D(0.1))), x, y)
    yield Row("structured: SpatialDropout2D vs keras SpatialDropout2D",
              *compare_alternately(spatial, reference, rounds=rounds))
    for label, with_dropout in [
            ("DropBlock2D", after(lambda: layers.DropBlock2D(0.1, BLOCK))),
            ("DropBlock2D shared mask",
             after(lambda: layers.DropBlock2D(0.1, BLOCK, per_channel=False))),
            ("SimilarMapDropout", wrapping(lambda conv: layers.SimilarMapDropout(conv, 0.1))),
            ("CorrDrop similar",
             wrapping(lambda conv: layers.CorrDrop(conv, 0.1, BLOCK))),
            ("CorrDrop random",
             wrapping(lambda conv: layers.CorrDrop(conv, 0.1, BLOCK, selection="random")))]:
        yield Row(f"structured: {label} vs SpatialDropout2D",
                  *compare_alternately(train_step(cifar_cnn(with_dropout), x, y), spatial,
                                       rounds=rounds))
