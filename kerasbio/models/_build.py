"""What every zoo network shares: argument checks, the noise hook and the layer blocks.

Layer names follow one pattern so that studies can pick layers by name: a weight layer is
`conv1`, `fc1`, `inception3_1x1`, ...; its batch normalization `bn_<name>`, its non-linearity
`act_<name>`, the inserted noise layer `noise_<name>`; pooling layers are `pool1`, ...; the
read-out is `logits` followed by `softmax` (or the class maps' pooling and `softmax`).
A hidden layer's representation after its non-linearity is the output of `act_<name>` (of
`noise_<name>` with the noise in it).
"""

import copy
import math
import numbers

import keras

import kerasbio.layers  # noqa: F401  (registers the kerasbio layers for `noise` configs)


def model_input(input_shape):
    """`keras.Input` for an `(height, width, channels)` image shape."""
    valid = (isinstance(input_shape, (tuple, list)) and len(input_shape) == 3
             and all(isinstance(n, numbers.Integral) and not isinstance(n, bool) and n > 0
                     for n in input_shape))
    if not valid:
        raise ValueError(
            "Invalid value received for argument `input_shape`. Expected a tuple of three "
            f"positive integers (height, width, channels). Received: input_shape={input_shape!r}")
    return keras.Input(tuple(int(n) for n in input_shape), name="input")


def validate_classes(num_classes):
    if (not isinstance(num_classes, numbers.Integral) or isinstance(num_classes, bool)
            or num_classes < 2):
        raise ValueError(
            "Invalid value received for argument `num_classes`. Expected an integer >= 2. "
            f"Received: num_classes={num_classes!r}")
    return int(num_classes)


def validate_activation(activation):
    try:
        valid = activation is not None and keras.activations.get(activation) is not None
    except (ValueError, TypeError):
        valid = False
    if not valid:
        raise ValueError(
            "Invalid value received for argument `activation`. Expected a Keras activation "
            f"such as 'relu' or 'sigmoid'. Received: activation={activation!r}")
    return activation


def validate_width(width):
    if (not isinstance(width, numbers.Real) or isinstance(width, bool)
            or not math.isfinite(width) or width <= 0):
        raise ValueError(
            "Invalid value received for argument `width`. Expected a positive finite float. "
            f"Received: width={width!r}")
    return float(width)


def validate_momentum(momentum):
    if (not isinstance(momentum, numbers.Real) or isinstance(momentum, bool)
            or not 0 <= momentum < 1):
        raise ValueError(
            "Invalid value received for argument `batch_norm_momentum`. Expected a float "
            f"between 0 and 1 (1 excluded). Received: batch_norm_momentum={momentum!r}")
    return float(momentum)


def noise_hook(noise):
    """A function `name -> fresh layer` from the `noise` argument, or None (no noise).

    `noise` is None, a zero-argument callable returning a new Keras layer on every call, or a
    layer config as `keras.layers.serialize(layer)` returns it (a fresh copy is deserialized
    for every insertion).
    """
    if noise is None:
        return None
    if isinstance(noise, keras.layers.Layer):
        raise TypeError(
            "Invalid value received for argument `noise`. One layer instance cannot be inserted "
            "after every hidden layer; pass a callable returning a new layer (e.g. "
            "`lambda: kerasbio.layers.GaussianNoise(0.3)`) or `keras.layers.serialize(layer)`. "
            f"Received: noise={noise!r}")
    if isinstance(noise, dict):
        deserialize_noise(noise, name=None)  # fail now, not halfway through the network
        return lambda name: deserialize_noise(noise, name)
    if callable(noise):
        return fresh_layers(noise)
    raise TypeError(
        "Invalid value received for argument `noise`. Expected None, a zero-argument callable "
        f"returning a Keras layer, or a Keras layer config dict. Received: noise={noise!r}")


def deserialize_noise(config, name):
    config = copy.deepcopy(config)
    if name is not None and isinstance(config.get("config"), dict):
        config["config"]["name"] = name
    try:
        layer = keras.layers.deserialize(config)
    except (TypeError, ValueError, KeyError) as error:
        raise ValueError(
            "Invalid value received for argument `noise`. The config does not deserialize to a "
            f"Keras layer ({error}). Received: noise={config!r}") from error
    return checked_layer(layer, config)


def fresh_layers(make):
    """Wrap a layer-making callable: every call must return a new Keras layer, renamed `name`."""
    made = []

    def make_named(name):
        layer = checked_layer(make(), make)
        if any(layer is old for old in made):
            raise ValueError(
                "Invalid value received for argument `noise`. The callable must return a new "
                f"layer on every call; it returned the same layer twice. Received: noise={make!r}")
        made.append(layer)
        layer.name = name
        return layer

    return make_named


def checked_layer(layer, noise):
    if not isinstance(layer, keras.layers.Layer):
        raise TypeError(
            "Invalid value received for argument `noise`. It must make a Keras layer; it made "
            f"{type(layer).__name__}. Received: noise={noise!r}")
    return layer


def fit_padding(x, window, padding):
    """`padding`, except that a "valid" window larger than the map gets "same" padding.

    This keeps the published networks buildable on small inputs (the 8x8 digits): a map
    smaller than the window is convolved or pooled once per stride with zero padding instead
    of shrinking to nothing. Maps at least as large as the window are untouched.
    """
    if padding == "valid" and min(x.shape[1], x.shape[2]) < window:
        return "same"
    return padding


class Builder:
    """Builds one network: its validated input and class count, and its hidden layers with the
    activation, noise hook and width."""

    def __init__(self, input_shape, num_classes, activation, noise, width,
                 batch_norm_momentum=0.99):
        self.num_classes = validate_classes(num_classes)
        self.inputs = model_input(input_shape)
        self.activation = validate_activation(activation)
        self.make_noise = noise_hook(noise)
        self.width = validate_width(width)
        self.momentum = validate_momentum(batch_norm_momentum)

    def units(self, count):
        """A hidden layer's channel or unit count scaled by `width` (rounded, at least 1)."""
        return max(1, round(count * self.width))

    def hidden(self, x, name, batch_norm=False, pre_activation=None):
        """The rest of hidden layer `name` after its weights: [BN], [noise], activation, noise.

        `pre_activation` is a layer applied before the non-linearity (McClure's dropout).
        The `noise` hook's layer follows the activation (Tsvetkov et al. 2020, Methods).
        """
        if batch_norm:
            x = keras.layers.BatchNormalization(momentum=self.momentum, name=f"bn_{name}")(x)
        if pre_activation is not None:
            x = pre_activation(x)
        x = keras.layers.Activation(self.activation, name=f"act_{name}")(x)
        if self.make_noise is not None:
            x = self.make_noise(f"noise_{name}")(x)
        return x

    def conv(self, x, filters, kernel, name, strides=1, padding="same", batch_norm=False):
        """A hidden `Conv2D` with `filters * width` filters and its activation."""
        layer = keras.layers.Conv2D(self.units(filters), kernel, strides=strides,
                                    padding=fit_padding(x, kernel, padding), name=name)
        return self.hidden(layer(x), name, batch_norm=batch_norm)

    def dense(self, x, units, name, batch_norm=False):
        """A hidden `Dense` layer with `units * width` units and its activation."""
        x = keras.layers.Dense(self.units(units), name=name)(x)
        return self.hidden(x, name, batch_norm=batch_norm)


def pool(x, size, name, strides=None, kind="max", padding="valid"):
    """Max or average pooling; a window larger than the map pools with "same" padding."""
    layer = {"max": keras.layers.MaxPooling2D, "average": keras.layers.AveragePooling2D}[kind]
    return layer(size, strides=strides, padding=fit_padding(x, size, padding), name=name)(x)


def classifier(x, num_classes, layer=None):
    """The read-out: flatten, a linear `logits` layer (or `layer`) and `softmax`."""
    if len(x.shape) > 2:
        x = keras.layers.Flatten(name="flatten")(x)
    layer = layer or keras.layers.Dense(num_classes, name="logits")
    return keras.layers.Activation("softmax", name="softmax")(layer(x))


def class_map_readout(x):
    """Global average of class maps (All-CNN, NiN) followed by `softmax`."""
    x = keras.layers.GlobalAveragePooling2D(name="avgpool")(x)
    return keras.layers.Activation("softmax", name="softmax")(x)
