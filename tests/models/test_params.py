"""Parameter counts of the zoo against the papers' tables, computed here from the tables'
layer sizes (kernel, features, spatial size after the documented padding), not from the code."""

import pytest

from kerasbio import models


def conv(kernel, inputs, filters):
    return kernel * kernel * inputs * filters + filters


def dense(inputs, units):
    return inputs * units + units


def bn(channels):
    """Keras BatchNormalization: gamma, beta, moving mean, moving variance."""
    return 4 * channels


def chain(sizes, kernels, batch_norm):
    """Parameters of convolutions with `sizes[i] -> sizes[i+1]` channels."""
    return sum(conv(k, a, b) + (bn(b) if batch_norm else 0)
               for k, a, b in zip(kernels, sizes, sizes[1:]))


def test_mcclure_mnist_cnn_table_3_2():
    # McClure 2018, Table 3.2: 5x5x32, pool 2/2, 5x5x64, pool 2/2, FC 500, FC 10; "valid"
    # convolutions: 28 -> 24 -> 12 -> 8 -> 4, so FC 500 sees 4 * 4 * 64 inputs.
    expected = conv(5, 1, 32) + conv(5, 32, 64) + dense(4 * 4 * 64, 500) + dense(500, 10)
    assert models.mcclure_mnist_cnn((28, 28, 1), 10).count_params() == expected == 569_606


def test_mcclure_cifar_cnn_table_3_3():
    # McClure 2018, Table 3.3: 13 3x3 convs, five 2x2/2 pools (32 -> 1), FC 512, FC 10.
    sizes = [3, 64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    expected = chain(sizes, [3] * 13, False) + dense(512, 512) + dense(512, 10)
    assert models.mcclure_cifar_cnn((32, 32, 3), 10).count_params() == expected


def test_mcclure_imagenet_cnn_table_4_1():
    # McClure 2018, Table 4.1: 7 3x3 convs 64 ... 1024, average pool, FC 1024 -> nclasses.
    sizes = [3, 64, 128, 256, 512, 512, 1024, 1024]
    expected = chain(sizes, [3] * 7, False) + dense(1024, 1000)
    assert models.mcclure_imagenet_cnn((224, 224, 3), 1000).count_params() == expected


def test_rdl_mnist_cnn_table_1():
    # McClure & Kriegeskorte 2016, Table 1: 5x5x32, pool 3/3, 5x5x64, pool 2/2, FC 200,
    # Linear 10; "valid" convolutions: 28 -> 24 -> 8 -> 4 -> 2.
    expected = conv(5, 1, 32) + conv(5, 32, 64) + dense(2 * 2 * 64, 200) + dense(200, 10)
    assert models.rdl_mnist_cnn((28, 28, 1), 10).count_params() == expected


def test_nin_table_4():
    # McClure & Kriegeskorte 2016, Table 4: (5x5x192, 1x1x160, 1x1x96), (5x5x192, 1x1x192,
    # 1x1x192), (5x5x192, 1x1x192, 1x1x100), every conv with BN; pools have no parameters.
    sizes = [3, 192, 160, 96, 192, 192, 192, 192, 192, 100]
    kernels = [5, 1, 1, 5, 1, 1, 5, 1, 1]
    assert models.nin((32, 32, 3), 100).count_params() == chain(sizes, kernels, True)


def test_all_cnn_c_table_2_2():
    # Dutta 2019, Table 2.2: 3x3 convs 10, 96, 96/2, 192, 192, 192/2, 192, then 1x1 192 and
    # 1x1 10, global average pool; no batch normalization.
    sizes = [3, 10, 96, 96, 192, 192, 192, 192, 192, 10]
    kernels = [3, 3, 3, 3, 3, 3, 3, 1, 1]
    assert models.all_cnn_c((32, 32, 3), 10).count_params() == chain(sizes, kernels, False)


def test_vgg11_table_3_1():
    # Dutta 2019, Table 3.1: 3x3 convs 64, 128, 256, 256, 512, 512, 512, 512 with BN, five
    # 2x2/2 pools (32 -> 1), FC 512 x 10.
    sizes = [3, 64, 128, 256, 256, 512, 512, 512, 512]
    expected = chain(sizes, [3] * 8, True) + dense(512, 10)
    assert models.vgg11((32, 32, 3), 10).count_params() == expected


@pytest.mark.parametrize("bottleneck, first", [(False, 200), (True, 8)])
def test_small_alexnet_tsvetkov(bottleneck, first):
    # Tsvetkov et al. 2020 (200 -> 8 bottleneck) on Zhang et al.'s small-alexnet: crop to 28,
    # 5x5 convs ("same") with BN, 3x3/3 pools (28 -> 9 -> 3), FC 384 and 192 with BN, FC 10.
    expected = (conv(5, 3, first) + bn(first) + conv(5, first, 200) + bn(200)
                + dense(3 * 3 * 200, 384) + bn(384) + dense(384, 192) + bn(192) + dense(192, 10))
    model = models.small_alexnet((32, 32, 3), 10, bottleneck=bottleneck)
    assert model.count_params() == expected


INCEPTION_FILTERS = [  # Zhang et al. 2017, Fig. 3: (inputs, 1x1 or 3x3/2 branch, 3x3 branch)
    ("inception", 32, 32), ("inception", 32, 48), ("downsample", 80, None),
    ("inception", 112, 48), ("inception", 96, 64), ("inception", 80, 80),
    ("inception", 48, 96), ("downsample", 96, None), ("inception", 176, 160),
    ("inception", 176, 160)]


def small_inception_counts(first):
    """(all parameters, conv filters) of small-inception from Zhang et al.'s module sizes."""
    total, channels, filters = conv(3, 3, first) + bn(first), first, first
    for kind, a, b in INCEPTION_FILTERS:
        if kind == "inception":
            total += conv(1, channels, a) + bn(a) + conv(3, channels, b) + bn(b)
            channels, filters = a + b, filters + a + b
        else:  # a 3x3/2 conv module beside a max pool that passes the channels through
            total += conv(3, channels, a) + bn(a)
            channels, filters = channels + a, filters + a
    return total + dense(channels, 10), filters


@pytest.mark.parametrize("bottleneck, first", [(False, 96), (True, 2)])
def test_small_inception_zhang(bottleneck, first):
    expected, _ = small_inception_counts(first)
    model = models.small_inception((32, 32, 3), 10, bottleneck=bottleneck)
    assert model.count_params() == expected


def test_small_inception_matches_zhang_table_1():
    # Zhang et al. 2017, Table 1: small Inception has 1,649,402 parameters. Their TensorFlow
    # conv modules have no conv bias and a batch norm without scale; here each conv filter
    # has a bias and a BN gamma (2 trainable parameters more per filter).
    model = models.small_inception((28, 28, 3), 10)
    trainable = sum(int(w.shape.num_elements()) for w in model.trainable_weights)
    _, filters = small_inception_counts(96)
    assert trainable == 1_649_402 + 2 * filters


def test_width_scales_the_counts():
    # Table 3.2 at half width: 16 and 32 filters, 250 units; the output keeps 10 classes.
    expected = conv(5, 1, 16) + conv(5, 16, 32) + dense(4 * 4 * 32, 250) + dense(250, 10)
    assert models.mcclure_mnist_cnn((28, 28, 1), 10, width=0.5).count_params() == expected
