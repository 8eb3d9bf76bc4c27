"""The CNNs of McClure (2018), PhD thesis, chapters 3 and 4, with its variational layers.

Chapter 3.3.2: "For the dropout networks, dropout was used after each convolutional and
fully-connected layer, but before the non-linearity. For the dropconnect networks, all weights
were sampled." Chapter 4.2.3: Gaussian unit noise before each ReLU (Gaussian dropout, p = 0.2).
"""

import keras

from kerasbio.layers import (
    BernoulliDropout,
    DropConnectConv2D,
    DropConnectDense,
    GaussianDropout,
    SpikeAndSlabConv2D,
    SpikeAndSlabDense,
)
from kerasbio.models._build import (
    Builder,
    classifier,
    fit_padding,
    pool,
    )

VARIATIONAL = (None, "bernoulli_dropout", "gaussian_dropout", "bernoulli_dropconnect",
               "gaussian_dropconnect", "spike_and_slab")
UNIT_NOISE = {"bernoulli_dropout": BernoulliDropout, "gaussian_dropout": GaussianDropout}
DROPCONNECT = {"bernoulli_dropconnect": "bernoulli", "gaussian_dropconnect": "gaussian"}

VARIATIONAL_ARGS = """variational: None (MAP), "bernoulli_dropout", "gaussian_dropout" (a
            `BernoulliDropout` / `GaussianDropout` layer `dropout_<name>` between every hidden
            layer and its non-linearity), "bernoulli_dropconnect", "gaussian_dropconnect"
            (every conv and dense layer, the output included, a `DropConnectConv2D` /
            `DropConnectDense`), or "spike_and_slab" (every weight layer a `SpikeAndSlabConv2D`
            / `SpikeAndSlabDense`; the first layer's inputs, the image, are not dropped).
        rate: Drop probability p of the variational layers (thesis 3.2.2); for
            "spike_and_slab" the Bernoulli dropout probability.
        dropconnect_rate: Gaussian dropconnect probability of "spike_and_slab" only.
        mc: Sample the variational layers at inference too (MC dropout/dropconnect)."""


class Variational:
    """Makes the weight layers and pre-activation noise of one variational distribution."""

    def __init__(self, kind, rate, dropconnect_rate, mc):
        if kind not in VARIATIONAL:
            raise ValueError(
                f"Invalid value received for argument `variational`. Expected one of "
                f"{VARIATIONAL}. Received: variational={kind!r}")
        for arg, value in [("rate", rate), ("dropconnect_rate", dropconnect_rate)]:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise ValueError(
                    f"Invalid value received for argument `{arg}`. Expected a float between 0 "
                    f"and 1 (1 excluded). Received: {arg}={value!r}")
        self.kind, self.rate, self.dropconnect_rate, self.mc = kind, rate, dropconnect_rate, mc

    def noise_args(self, first):
        if self.kind in DROPCONNECT:
            return {"rate": self.rate, "distribution": DROPCONNECT[self.kind], "mc": self.mc}
        return {"dropout_rate": 0.0 if first else self.rate,
                "dropconnect_rate": self.dropconnect_rate, "mc": self.mc}

    def conv(self, filters, kernel, name, padding, first=False):
        if self.kind in DROPCONNECT:
            return DropConnectConv2D(filters, kernel, padding=padding, name=name,
                                     **self.noise_args(first))
        if self.kind == "spike_and_slab":
            return SpikeAndSlabConv2D(filters, kernel, padding=padding, name=name,
                                      **self.noise_args(first))
        return keras.layers.Conv2D(filters, kernel, padding=padding, name=name)

    def dense(self, units, name):
        if self.kind in DROPCONNECT:
            return DropConnectDense(units, name=name, **self.noise_args(first=False))
        if self.kind == "spike_and_slab":
            return SpikeAndSlabDense(units, name=name, **self.noise_args(first=False))
        return keras.layers.Dense(units, name=name)

    def unit_noise(self, name):
        """The dropout layer between hidden layer `name` and its non-linearity, or None."""
        if self.kind not in UNIT_NOISE:
            return None
        return UNIT_NOISE[self.kind](self.rate, mc=self.mc, name=f"dropout_{name}")


class McClureNet:
    """A Builder paired with a Variational: hidden conv and dense layers of the thesis CNNs."""

    def __init__(self, input_shape, num_classes, activation, noise, width, variational, rate,
                 dropconnect_rate, mc):
        self.build = Builder(input_shape, num_classes, activation, noise, width)
        self.variational = Variational(variational, rate, dropconnect_rate, mc)

    def conv(self, x, filters, kernel, name, padding, first=False):
        layer = self.variational.conv(self.build.units(filters), kernel, name,
                                      fit_padding(x, kernel, padding), first=first)
        return self.build.hidden(layer(x), name, pre_activation=self.variational.unit_noise(name))

    def dense(self, x, units, name):
        layer = self.variational.dense(self.build.units(units), name)
        return self.build.hidden(layer(x), name, pre_activation=self.variational.unit_noise(name))

    def output(self, x, num_classes):
        return classifier(x, num_classes, self.variational.dense(num_classes, "logits"))


def mcclure_mnist_cnn(input_shape=(28, 28, 1), num_classes=10, activation="relu", noise=None,
                      width=1.0, variational=None, rate=0.5, dropconnect_rate=0.2, mc=False):
    """The MNIST CNN of McClure (2018), Table 3.2.

    conv1 5x5x32 -> pool1 2x2 / 2 -> conv2 5x5x64 -> pool2 2x2 / 2 -> fc1 500 -> logits ->
    softmax. Convolutions use "valid" padding (the Keras and Torch default; 28x28 inputs give
    a 4x4x64 map, 1024 inputs to fc1: the table's "1500" matches no padding of a 28x28 image).
    On smaller inputs a window larger than the map gets "same" padding (8x8 digits: conv2
    sees a 2x2 map, fc1 a 1x1x64 one).

    Args:
        input_shape, num_classes, activation, noise, width: the zoo's common arguments (see
            `kerasbio.models`); noise layers: `noise_conv1`, `noise_conv2`, `noise_fc1`.
        {variational}

    Returns:
        A functional `keras.Model` named "mcclure_mnist_cnn" outputting class probabilities.
    """
    net = McClureNet(input_shape, num_classes, activation, noise, width, variational, rate,
                     dropconnect_rate, mc)
    inputs, num_classes = net.build.inputs, net.build.num_classes
    x = net.conv(inputs, 32, 5, "conv1", "valid", first=True)
    x = pool(x, 2, "pool1")
    x = net.conv(x, 64, 5, "conv2", "valid")
    x = pool(x, 2, "pool2")
    x = net.dense(keras.layers.Flatten(name="flatten")(x), 500, "fc1")
    return keras.Model(inputs, net.output(x, num_classes), name="mcclure_mnist_cnn")


CIFAR_BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


def mcclure_cifar_cnn(input_shape=(32, 32, 3), num_classes=10, activation="relu", noise=None,
                      width=1.0, variational=None, rate=0.5, dropconnect_rate=0.2, mc=False):
    """The CIFAR-10 CNN of McClure (2018), Table 3.3 (VGG-16-like, 13 conv layers).

    Five blocks of 3x3 convolutions ("same" padding) with 64, 64 | 128, 128 | 256 x 3 |
    512 x 3 | 512 x 3 filters (conv1 ... conv13), each block ending in a 2x2 / 2 max pool
    (pool1 ... pool5) -> fc1 512 -> logits -> softmax. 32x32 inputs reach fc1 as 1x1x512;
    on smaller inputs a pool over a 1x1 map keeps it (8x8 digits: pool4 and pool5).

    Args:
        input_shape, num_classes, activation, noise, width: the zoo's common arguments (see
            `kerasbio.models`).
        {variational}

    Returns:
        A functional `keras.Model` named "mcclure_cifar_cnn" outputting class probabilities.
    """
    net = McClureNet(input_shape, num_classes, activation, noise, width, variational, rate,
                     dropconnect_rate, mc)
    inputs, num_classes = net.build.inputs, net.build.num_classes
    x, number = inputs, 0
    for block, filters in enumerate(CIFAR_BLOCKS, 1):
        for count in filters:
            number += 1
            x = net.conv(x, count, 3, f"conv{number}", "same", first=number == 1)
        x = pool(x, 2, f"pool{block}")
    x = net.dense(keras.layers.Flatten(name="flatten")(x), 512, "fc1")
    return keras.Model(inputs, net.output(x, num_classes), name="mcclure_cifar_cnn")


def mcclure_imagenet_cnn(input_shape=(224, 224, 3), num_classes=1000, activation="relu",
                         noise=None, width=1.0, variational=None, rate=0.2,
                         dropconnect_rate=0.2, mc=False):
    """The ImageNet/Ecoset CNN of McClure (2018), Table 4.1 (the read-out study's network).

    conv1 ... conv7, 3x3 ("same" padding) with 64, 128, 256, 512, 512, 1024, 1024 filters,
    conv1 ... conv6 each followed by a 2x2 / 2 max pool (pool1 ... pool6) -> global average
    pool (the table's 3x3 pool over a 224x224 input's 3x3 map) -> logits -> softmax.
    Chapter 4 trains it with Gaussian unit noise before each ReLU: `variational=
    "gaussian_dropout", rate=0.2` (`mc=True` to sample at inference too). The thesis' weight
    normalisation is not part of this network.

    Args:
        input_shape, num_classes, activation, noise, width: the zoo's common arguments (see
            `kerasbio.models`).
        {variational}

    Returns:
        A functional `keras.Model` named "mcclure_imagenet_cnn" outputting class probabilities.
    """
    net = McClureNet(input_shape, num_classes, activation, noise, width, variational, rate,
                     dropconnect_rate, mc)
    inputs, num_classes = net.build.inputs, net.build.num_classes
    x = inputs
    for number, filters in enumerate((64, 128, 256, 512, 512, 1024, 1024), 1):
        x = net.conv(x, filters, 3, f"conv{number}", "same", first=number == 1)
        if number < 7:
            x = pool(x, 2, f"pool{number}")
    x = keras.layers.GlobalAveragePooling2D(name="avgpool")(x)
    return keras.Model(inputs, net.output(x, num_classes), name="mcclure_imagenet_cnn")


for _model in (mcclure_mnist_cnn, mcclure_cifar_cnn, mcclure_imagenet_cnn):
    _model.__doc__ = _model.__doc__.replace("{variational}", VARIATIONAL_ARGS)
