"""The networks of McClure & Kriegeskorte (2016), "Representational distance learning for deep
neural networks" (also McClure 2018, thesis Tables 2.1 and 2.4)."""

import keras

from kerasbio.models._build import (
    Builder,
    class_map_readout,
    classifier,
    pool,
    )


def rdl_mnist_cnn(input_shape=(28, 28, 1), num_classes=10, activation="relu", noise=None,
                  width=1.0, dropout=0.5):
    """The MNIST CNN of McClure & Kriegeskorte (2016), Table 1.

    conv1 5x5x32 -> pool1 3x3 / 3 -> conv2 5x5x64 -> pool2 2x2 / 2 -> fc1 200 -> dropout
    (p = 0.5) -> logits ("Linear") -> softmax. RDL's auxiliary losses read pool1, pool2 and
    fc1. Convolutions use "valid" padding (Torch's default; a 28x28 input reaches fc1 as
    2x2x64; the table's "1500" matches no padding of a 28x28 image). On smaller inputs a
    window larger than the map gets "same" padding (8x8 digits: fc1 sees 1x1x64).

    Args:
        input_shape, num_classes, activation, noise, width: the zoo's common arguments (see
            `kerasbio.models`); noise layers: `noise_conv1`, `noise_conv2`, `noise_fc1`.
        dropout: Rate of the `keras.layers.Dropout` after fc1 (`dropout_fc1`); 0 leaves it out.

    Returns:
        A functional `keras.Model` named "rdl_mnist_cnn" outputting class probabilities.
    """
    build = Builder(input_shape, num_classes, activation, noise, width)
    inputs, num_classes = build.inputs, build.num_classes
    x = build.conv(inputs, 32, 5, "conv1", padding="valid")
    x = pool(x, 3, "pool1")
    x = build.conv(x, 64, 5, "conv2", padding="valid")
    x = pool(x, 2, "pool2")
    x = build.dense(keras.layers.Flatten(name="flatten")(x), 200, "fc1")
    x = dropout_layer(x, dropout, "dropout_fc1")
    return keras.Model(inputs, classifier(x, num_classes), name="rdl_mnist_cnn")


def dropout_layer(x, rate, name):
    """`keras.layers.Dropout(rate)` on `x`, or `x` itself when the rate is 0."""
    return keras.layers.Dropout(rate, name=name)(x) if rate else x


def nin(input_shape=(32, 32, 3), num_classes=100, activation="relu", noise=None, width=1.0,
        dropout=0.5, batch_norm_momentum=0.99):
    """The "Network in Network" with batch normalization of McClure & Kriegeskorte (2016),
    Table 4 (Lin et al. 2013), used for CIFAR-100.

    conv1 5x5x192 -> mlpconv1_1 1x1x160 -> mlpconv1_2 1x1x96 -> pool1 max 3x3 / 2 ->
    dropout1 -> conv2 5x5x192 -> mlpconv2_1 1x1x192 -> mlpconv2_2 1x1x192 -> pool2 average
    3x3 / 2 -> dropout2 -> conv3 5x5x192 -> mlpconv3_1 1x1x192 -> mlpconv3_2 1x1x`num_classes`
    -> global average pool (the table's 8x8 pool over the 8x8 map of a 32x32 input) -> softmax.
    Every conv is followed by batch normalization and the activation; all use "same" padding,
    pools too (32 -> 16 -> 8). The table's dropout on Conv-2 and Conv-3 is applied to their
    inputs, as in Lin et al. The last mlpconv layer gives the class maps (the output layer:
    no noise after it, its size not scaled by `width`).

    Args:
        input_shape, num_classes, activation, noise, width: the zoo's common arguments (see
            `kerasbio.models`).
        dropout: Rate of the two `keras.layers.Dropout` layers; 0 leaves them out.
        batch_norm_momentum: as in `kerasbio.models.small_alexnet`.

    Returns:
        A functional `keras.Model` named "nin" outputting class probabilities.
    """
    build = Builder(input_shape, num_classes, activation, noise, width, batch_norm_momentum)
    inputs, num_classes = build.inputs, build.num_classes
    x = mlpconv(build, inputs, 1, (192, 160, 96))
    x = dropout_layer(pool(x, 3, "pool1", strides=2, padding="same"), dropout, "dropout1")
    x = mlpconv(build, x, 2, (192, 192, 192))
    x = pool(x, 3, "pool2", strides=2, kind="average", padding="same")
    x = mlpconv(build, dropout_layer(x, dropout, "dropout2"), 3, (192, 192))
    x = keras.layers.Conv2D(num_classes, 1, name="mlpconv3_2")(x)
    x = keras.layers.BatchNormalization(momentum=build.momentum, name="bn_mlpconv3_2")(x)
    x = keras.layers.Activation(build.activation, name="act_mlpconv3_2")(x)
    return keras.Model(inputs, class_map_readout(x), name="nin")


def mlpconv(build, x, block, filters):
    """A 5x5 conv and its 1x1 "MLP" convolutions: conv<block>, mlpconv<block>_1, ..."""
    x = build.conv(x, filters[0], 5, f"conv{block}", batch_norm=True)
    for number, count in enumerate(filters[1:], 1):
        x = build.conv(x, count, 1, f"mlpconv{block}_{number}", batch_norm=True)
    return x
