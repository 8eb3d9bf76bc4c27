"""STAND-IN for the model zoo (branch `zoo`), only so the studies branch can be tested.

Drop this file at merge: the zoo's `kerasbio/models/` replaces it. Same signature as the zoo's
`small_alexnet`; a rough conv-pool-conv-pool-fc-fc-out network with `same` padding.
"""

import keras


def _noise_layer(noise):
    if noise is None:
        return None
    if callable(noise):
        return noise()
    return keras.layers.deserialize(noise)


def _hidden(x, layer, activation, noise, momentum):
    x = layer(x)
    x = keras.layers.BatchNormalization(momentum=momentum)(x)
    x = keras.layers.Activation(activation)(x)
    made = _noise_layer(noise)
    return made(x) if made is not None else x


def _pool(x):
    padding = "valid" if min(x.shape[1:3]) >= 3 else "same"
    return keras.layers.MaxPooling2D(3, padding=padding)(x)


def small_alexnet(input_shape, num_classes, activation="relu", noise=None, width=1.0,
                  bottleneck=False, batch_norm_momentum=0.99):
    """Stand-in small AlexNet (Zhang et al. 2017 as Tsvetkov et al. 2020 use it)."""
    inputs = keras.Input(input_shape)
    m = batch_norm_momentum
    first = max(1, round((8 if bottleneck else 200) * width))
    x = _hidden(inputs, keras.layers.Conv2D(first, 5, padding="same"), activation, noise, m)
    x = _pool(x)
    x = _hidden(x, keras.layers.Conv2D(max(1, round(200 * width)), 5, padding="same"),
                activation, noise, m)
    x = _pool(x)
    x = keras.layers.Flatten()(x)
    x = _hidden(x, keras.layers.Dense(max(1, round(384 * width))), activation, noise, m)
    x = _hidden(x, keras.layers.Dense(max(1, round(192 * width))), activation, noise, m)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="small_alexnet")


def small_inception(input_shape, num_classes, activation="relu", noise=None, width=1.0,
                    bottleneck=False, batch_norm_momentum=0.99):
    """Stand-in: the zoo provides the real small Inception."""
    raise NotImplementedError("small_inception comes with the model zoo (branch `zoo`).")
