"""small-alexnet and small-inception of Zhang et al. (2017), as Tsvetkov et al. (2020) use them.

Zhang, Bengio, Hardt, Recht & Vinyals (2017), "Understanding deep learning requires rethinking
generalization", Appendix A (CIFAR-10 architectures); Tsvetkov, Malhotra, Evans & Bowers
(2020), "Adding biological constraints to deep neural networks reduces their capacity to learn
unstructured data" (Methods: batch normalization before every hidden non-linearity, internal
noise after it, first-layer bottleneck 200 -> 8 filters in small-alexnet, 96 -> 2 in
small-inception).
"""

import keras

from kerasbio.models._build import Builder, classifier, pool


def small_alexnet(input_shape=(32, 32, 3), num_classes=10, activation="relu", noise=None,
                  width=1.0, bottleneck=False, crop_to=28, batch_norm_momentum=0.99):
    """small-alexnet (Zhang et al. 2017, Appendix A; Tsvetkov et al. 2020, Methods).

    crop to 28x28 -> conv1 5x5x200 -> pool1 3x3 / 3 -> conv2 5x5x200 -> pool2 3x3 / 3 ->
    fc1 384 -> fc2 192 -> logits -> softmax. Every conv and fc layer is followed by batch
    normalization and the activation (as in Tsvetkov et al.'s Keras code; Zhang et al. use
    local response normalization after the pools instead). Convolutions use "same" padding,
    pools "valid", so a 32x32 input gives a 3x3x200 map before fc1. On inputs too small for
    the 3x3 pools (8x8 digits: the map is 2x2 at pool2) the pool takes the whole map ("same"
    padding). This is Tsvetkov et al.'s version; Zhang et al.'s own (Table 1: 1,387,786
    parameters) has 64 filters per conv and 3x3 / 2 pools (28 -> 14 -> 7).

    Args:
        input_shape, num_classes, activation, noise, width: the zoo's common arguments (see
            `kerasbio.models`); noise layers: `noise_conv1`, ..., `noise_fc2`.
        bottleneck: If True, conv1 has 8 filters instead of 200 (Tsvetkov et al.).
        crop_to: Inputs larger than `crop_to` x `crop_to` are centre-cropped to it (Zhang et
            al.'s 28x28 crop of CIFAR-10); smaller inputs are left whole. None: no crop.
        batch_norm_momentum: Momentum of the batch normalization moving statistics (Keras'
            default 0.99, as in Tsvetkov et al.'s tf.keras code). Short runs need less: on the
            digits (9 steps of 128 an epoch, width 0.25) 0.99 leaves inference-mode training
            accuracy at 0.18 after 30 epochs (0.998 after 60), while 0.9 gives 0.99 after 20.

    Returns:
        A functional `keras.Model` named "small_alexnet" outputting class probabilities.
    """
    build = Builder(input_shape, num_classes, activation, noise, width, batch_norm_momentum)
    inputs, num_classes = build.inputs, build.num_classes
    x = centre_crop(inputs, crop_to)
    x = build.conv(x, 8 if bottleneck else 200, 5, "conv1", batch_norm=True)
    x = pool(x, 3, "pool1")
    x = build.conv(x, 200, 5, "conv2", batch_norm=True)
    x = pool(x, 3, "pool2")
    x = keras.layers.Flatten(name="flatten")(x)
    x = build.dense(x, 384, "fc1", batch_norm=True)
    x = build.dense(x, 192, "fc2", batch_norm=True)
    return keras.Model(inputs, classifier(x, num_classes), name="small_alexnet")


def centre_crop(x, crop_to):
    """Crop the centre `crop_to` x `crop_to` of larger maps; leave smaller ones alone."""
    if crop_to is None:
        return x
    if isinstance(crop_to, bool) or not isinstance(crop_to, int) or crop_to < 1:
        raise ValueError(
            "Invalid value received for argument `crop_to`. Expected None or a positive "
            f"integer. Received: crop_to={crop_to!r}")
    rows, cols = (max(0, size - crop_to) for size in x.shape[1:3])
    if rows == cols == 0:
        return x
    cropping = ((rows // 2, rows - rows // 2), (cols // 2, cols - cols // 2))
    return keras.layers.Cropping2D(cropping, name="crop")(x)


def small_inception(input_shape=(32, 32, 3), num_classes=10, activation="relu", noise=None,
                    width=1.0, bottleneck=False, batch_norm_momentum=0.99):
    """small-inception (Zhang et al. 2017, Appendix A, Fig. 3; Tsvetkov et al. 2020).

    conv1 3x3x96 -> inception(32, 32) -> inception(32, 48) -> downsample(80) ->
    inception(112, 48) -> inception(96, 64) -> inception(80, 80) -> inception(48, 96) ->
    downsample(96) -> inception(176, 160) -> inception(176, 160) -> global average pool ->
    logits -> softmax. A conv module is conv ("same" padding) -> batch normalization ->
    activation -> noise; inception(a, b) concatenates a 1x1 module with `a` filters and a 3x3
    module with `b` filters; downsample(c) concatenates a 3x3 / 2 module with `c` filters and
    a 3x3 / 2 max pool. The final pooling is global: Zhang et al.'s 7x7 average pool over
    the 7x7 map of a 28x28 crop (Tsvetkov et al.'s uncropped 32x32 code pools 7x7 with stride
    1 and flattens a 2x2 map instead). Any input size of at least 1x1 builds. Zhang et al.'s
    Table 1 count, 1,649,402, is this network's trainable count less a conv bias and a batch
    norm scale per filter (their TensorFlow modules have neither).

    Args:
        input_shape, num_classes, activation, noise, width: the zoo's common arguments (see
            `kerasbio.models`); noise layers: `noise_conv1`, `noise_inception1_1x1`,
            `noise_downsample1_3x3`, ...
        bottleneck: If True, conv1 has 2 filters instead of 96 (Tsvetkov et al.).
        batch_norm_momentum: as in `small_alexnet`.

    Returns:
        A functional `keras.Model` named "small_inception" outputting class probabilities.
    """
    build = Builder(input_shape, num_classes, activation, noise, width, batch_norm_momentum)
    inputs, num_classes = build.inputs, build.num_classes
    x = build.conv(inputs, 2 if bottleneck else 96, 3, "conv1", batch_norm=True)
    x = inception(build, x, 32, 32, "inception1")
    x = inception(build, x, 32, 48, "inception2")
    x = downsample(build, x, 80, "downsample1")
    for number, (ones, threes) in enumerate([(112, 48), (96, 64), (80, 80), (48, 96)], 3):
        x = inception(build, x, ones, threes, f"inception{number}")
    x = downsample(build, x, 96, "downsample2")
    x = inception(build, x, 176, 160, "inception7")
    x = inception(build, x, 176, 160, "inception8")
    x = keras.layers.GlobalAveragePooling2D(name="avgpool")(x)
    return keras.Model(inputs, classifier(x, num_classes), name="small_inception")


def inception(build, x, ones, threes, name):
    """Zhang et al.'s inception module: a 1x1 and a 3x3 conv module, concatenated."""
    branches = [build.conv(x, ones, 1, f"{name}_1x1", batch_norm=True),
                build.conv(x, threes, 3, f"{name}_3x3", batch_norm=True)]
    return keras.layers.Concatenate(name=name)(branches)


def downsample(build, x, filters, name):
    """Zhang et al.'s downsample module: a 3x3 / 2 conv module and a 3x3 / 2 max pool."""
    branches = [build.conv(x, filters, 3, f"{name}_3x3", strides=2, batch_norm=True),
                pool(x, 3, f"{name}_pool", strides=2, padding="same")]
    return keras.layers.Concatenate(name=name)(branches)
