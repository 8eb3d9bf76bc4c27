"""The CIFAR-10 networks of Dutta (2019), MSc thesis "Correlated noise in deep neural networks"."""

import keras

from kerasbio.models._build import (
    Builder,
    class_map_readout,
    classifier,
    pool,
    )


def all_cnn_c(input_shape=(32, 32, 3), num_classes=10, activation="relu", noise=None, width=1.0):
    """All-CNN-C (Springenberg et al. 2015) with 10 maps in layer 1: Dutta (2019), Table 2.2.

    conv1 3x3x10 -> conv2 3x3x96 -> conv3 3x3x96 / 2 -> conv4 3x3x192 -> conv5 3x3x192 ->
    conv6 3x3x192 / 2 -> conv7 3x3x192 ("valid") -> conv8 1x1x192 -> conv9 1x1x`num_classes`
    -> global average pool (6x6 for a 32x32 input) -> softmax. conv1-conv6 use "same" padding.
    The table lists "Layer 7" twice; All-CNN-C, and the 6x6 map the table averages, have one
    3x3 / 192 layer there. conv9 gives the class maps with the activation the table gives it
    (the output layer: no noise after it, its size not scaled by `width`). On inputs too
    small for conv7's valid window (8x8 digits: a 2x2 map) conv7 pads "same".

    Args:
        input_shape, num_classes, activation, noise, width: the zoo's common arguments (see
            `kerasbio.models`); noise layers: `noise_conv1` ... `noise_conv8`.

    Returns:
        A functional `keras.Model` named "all_cnn_c" outputting class probabilities.
    """
    build = Builder(input_shape, num_classes, activation, noise, width)
    inputs, num_classes = build.inputs, build.num_classes
    x = inputs
    layers = [(10, 3, 1, "same"), (96, 3, 1, "same"), (96, 3, 2, "same"), (192, 3, 1, "same"),
              (192, 3, 1, "same"), (192, 3, 2, "same"), (192, 3, 1, "valid"),
              (192, 1, 1, "valid")]
    for number, (filters, kernel, strides, padding) in enumerate(layers, 1):
        x = build.conv(x, filters, kernel, f"conv{number}", strides=strides, padding=padding)
    x = keras.layers.Conv2D(num_classes, 1, name="conv9")(x)
    x = keras.layers.Activation(build.activation, name="act_conv9")(x)
    return keras.Model(inputs, class_map_readout(x), name="all_cnn_c")


def vgg11(input_shape=(32, 32, 3), num_classes=10, activation="relu", noise=None, width=1.0,
          batch_norm_momentum=0.99):
    """VGG-11 for CIFAR-10: Dutta (2019), Table 3.1 (Simonyan & Zisserman 2015, config A).

    conv1 64 -> pool1 -> conv2 128 -> pool2 -> conv3 256 -> conv4 256 -> pool3 -> conv5 512 ->
    conv6 512 -> pool4 -> conv7 512 -> conv8 512 -> pool5 -> logits (512 x 10) -> softmax.
    Convolutions are 3x3 with "same" padding, each followed by batch normalization and the
    activation; pools are 2x2 / 2. A 32x32 input reaches the logits as 1x1x512; on smaller
    inputs a pool over a 1x1 map keeps it (8x8 digits: pool4 and pool5). Dutta's "layer n"
    counts pools too: his layers 3, 5, 6, 8, 9 are conv2, conv3, conv4, conv5, conv6 here.

    Args:
        input_shape, num_classes, activation, noise, width: the zoo's common arguments (see
            `kerasbio.models`).
        batch_norm_momentum: as in `kerasbio.models.small_alexnet`.

    Returns:
        A functional `keras.Model` named "vgg11" outputting class probabilities.
    """
    build = Builder(input_shape, num_classes, activation, noise, width, batch_norm_momentum)
    inputs, num_classes = build.inputs, build.num_classes
    x, number = inputs, 0
    for block, filters in enumerate(((64,), (128,), (256, 256), (512, 512), (512, 512)), 1):
        for count in filters:
            number += 1
            x = build.conv(x, count, 3, f"conv{number}", batch_norm=True)
        x = pool(x, 2, f"pool{block}")
    return keras.Model(inputs, classifier(x, num_classes), name="vgg11")
