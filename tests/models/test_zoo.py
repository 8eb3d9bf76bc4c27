"""The zoo's shapes, noise hook, width, argument checks and saving."""

import math

import keras
import numpy as np
import pytest

import kerasbio
from kerasbio import models

OUTPUT_ACTIVATIONS = {"all_cnn_c": "act_conv9", "nin": "act_mlpconv3_2"}  # their class maps


def gaussian_noise():
    return kerasbio.layers.GaussianNoise(0.1)


@pytest.mark.parametrize("name", sorted(models.ZOO))
def test_digits_size_builds_and_predicts(name):
    model = models.ZOO[name](input_shape=(8, 8, 1), num_classes=7, width=0.1)
    probabilities = model(np.random.default_rng(0).uniform(size=(3, 8, 8, 1)), training=False)
    assert probabilities.shape == (3, 7)
    np.testing.assert_allclose(np.sum(probabilities, axis=-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("name, input_shape, classes", [
    ("small_alexnet", (32, 32, 3), 10), ("small_inception", (32, 32, 3), 10),
    ("mcclure_mnist_cnn", (28, 28, 1), 10), ("mcclure_cifar_cnn", (32, 32, 3), 10),
    ("mcclure_imagenet_cnn", (224, 224, 3), 1000), ("rdl_mnist_cnn", (28, 28, 1), 10),
    ("nin", (32, 32, 3), 100), ("all_cnn_c", (32, 32, 3), 10), ("vgg11", (32, 32, 3), 10)])
def test_published_input_sizes(name, input_shape, classes):
    model = models.ZOO[name](input_shape, classes)
    assert model.input_shape == (None, *input_shape)
    assert model.output_shape == (None, classes)
    assert model.name == name


def test_published_map_sizes():
    """Spatial sizes the papers' tables imply (e.g. All-CNN-C averages a 6x6 map)."""
    assert models.all_cnn_c().get_layer("conv9").output.shape[1:3] == (6, 6)
    assert models.nin().get_layer("mlpconv3_2").output.shape[1:3] == (8, 8)
    assert models.small_alexnet().get_layer("crop").output.shape[1:] == (28, 28, 3)
    assert models.small_alexnet().get_layer("pool2").output.shape[1:] == (3, 3, 200)
    assert models.vgg11().get_layer("pool5").output.shape[1:] == (1, 1, 512)
    digits = models.small_alexnet((8, 8, 1), 10)
    assert "crop" not in [layer.name for layer in digits.layers]
    assert digits.get_layer("pool2").output.shape[1:3] == (1, 1)


def layer_inputs(layer):
    return layer.input if isinstance(layer.input, list) else [layer.input]


@pytest.mark.parametrize("name", sorted(models.ZOO))
def test_noise_follows_every_hidden_activation_only(name):
    model = models.ZOO[name](input_shape=(8, 8, 1), num_classes=10, width=0.1,
                             noise=gaussian_noise)
    activations = [layer for layer in model.layers if layer.name.startswith("act_")]
    hidden = [layer for layer in activations if layer.name != OUTPUT_ACTIVATIONS.get(name)]
    noise = [layer for layer in model.layers if isinstance(layer, kerasbio.layers.GaussianNoise)]
    assert sorted(layer.name for layer in noise) == sorted(
        "noise_" + layer.name[len("act_"):] for layer in hidden)
    assert len({id(layer) for layer in noise}) == len(noise) > 0
    for act in hidden:
        consumers = [layer for layer in model.layers
                     if any(tensor is act.output for tensor in layer_inputs(layer))]
        assert [layer.name for layer in consumers] == ["noise_" + act.name[len("act_"):]]
    softmax_input = model.get_layer("softmax").input
    assert not any(layer.output is softmax_input for layer in noise)


def test_noise_count_of_small_inception():
    # conv1, two branches in each of 8 inception modules, one conv in each of 2 downsamples.
    model = models.small_inception((8, 8, 1), 10, width=0.1, noise=gaussian_noise)
    noise = [layer for layer in model.layers if layer.name.startswith("noise_")]
    assert len(noise) == 1 + 2 * 8 + 2


def test_noise_from_a_layer_config():
    config = keras.layers.serialize(kerasbio.layers.GaussianNoise(0.25, mc=True, name="mine"))
    model = models.small_alexnet((8, 8, 1), 10, width=0.1, noise=config)
    noise = [layer for layer in model.layers if layer.name.startswith("noise_")]
    assert [layer.name for layer in noise] == ["noise_conv1", "noise_conv2", "noise_fc1",
                                               "noise_fc2"]
    assert all(isinstance(layer, kerasbio.layers.GaussianNoise) and layer.stddev == 0.25
               and layer.mc for layer in noise)
    assert config["config"]["name"] == "mine"  # the caller's config is not modified


def test_dropout_before_and_noise_after_the_nonlinearity():
    # McClure 2018, 3.3.2: dropout before the non-linearity; Tsvetkov: noise after it.
    model = models.mcclure_mnist_cnn((8, 8, 1), 10, width=0.1, noise=gaussian_noise,
                                     variational="bernoulli_dropout", rate=0.3, mc=True)
    names = [layer.name for layer in model.layers]
    start = names.index("conv1")
    assert names[start:start + 4] == ["conv1", "dropout_conv1", "act_conv1", "noise_conv1"]
    dropout = [model.get_layer(f"dropout_{n}") for n in ("conv1", "conv2", "fc1")]
    assert all(isinstance(layer, kerasbio.layers.BernoulliDropout) and layer.rate == 0.3
               and layer.mc for layer in dropout)
    assert "dropout_logits" not in names


@pytest.mark.parametrize("variational, conv_type, dense_type", [
    ("bernoulli_dropconnect", "DropConnectConv2D", "DropConnectDense"),
    ("gaussian_dropconnect", "DropConnectConv2D", "DropConnectDense"),
    ("spike_and_slab", "SpikeAndSlabConv2D", "SpikeAndSlabDense")])
def test_weight_sampling_replaces_every_weight_layer(variational, conv_type, dense_type):
    model = models.mcclure_mnist_cnn((8, 8, 1), 10, width=0.1, variational=variational,
                                     rate=0.4, mc=True)
    for name, kind in [("conv1", conv_type), ("conv2", conv_type), ("fc1", dense_type),
                       ("logits", dense_type)]:
        layer = model.get_layer(name)
        assert type(layer).__name__ == kind and layer.mc
    if variational == "spike_and_slab":  # the image itself is not dropped
        assert model.get_layer("conv1").dropout_rate == 0.0
        assert model.get_layer("conv2").dropout_rate == 0.4
    else:
        assert model.get_layer("conv1").distribution == variational.split("_")[0]


def hidden_sizes(model, output_name):
    return [getattr(layer, "filters", None) or layer.units for layer in model.layers
            if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))
            and layer.name != output_name]


@pytest.mark.parametrize("width, expected", [(0.5, [100, 100, 192, 96]),
                                             (1e-4, [1, 1, 1, 1]), (1.5, [300, 300, 576, 288])])
def test_width_scales_every_hidden_layer(width, expected):
    model = models.small_alexnet((8, 8, 1), 10, width=width)
    assert hidden_sizes(model, "logits") == expected
    assert model.get_layer("logits").units == 10


def test_width_keeps_class_maps():
    model = models.all_cnn_c((8, 8, 1), 10, width=0.5)
    assert hidden_sizes(model, "conv9") == [5, 48, 48, 96, 96, 96, 96, 96]
    assert model.get_layer("conv9").filters == 10


def test_bottleneck_is_scaled_with_width():
    assert models.small_alexnet((8, 8, 1), 10, width=0.25, bottleneck=True).get_layer(
        "conv1").filters == 2
    assert models.small_inception((8, 8, 1), 10, bottleneck=True).get_layer(
        "conv1").filters == 2


class NotALayer:
    pass


@pytest.mark.parametrize("noise, error, message", [
    (kerasbio.layers.GaussianNoise(0.1), TypeError, "One layer instance"),
    (0.3, TypeError, "Expected None, a zero-argument callable"),
    (lambda: NotALayer(), TypeError, "it made NotALayer"),
    ({"class_name": "NoSuchLayer", "config": {}}, ValueError, "does not deserialize"),
    ({"class_name": "GaussianNoise", "config": {"stddev": -1.0},
      "registered_name": "kerasbio>GaussianNoise", "module": "kerasbio.layers.noise"},
     ValueError, "stddev")])
def test_bad_noise_hooks(noise, error, message):
    with pytest.raises(error, match=message):
        models.small_alexnet((8, 8, 1), 10, noise=noise)


def test_noise_callable_returning_one_layer_twice():
    layer = kerasbio.layers.GaussianNoise(0.1)
    with pytest.raises(ValueError, match="same layer twice"):
        models.rdl_mnist_cnn((8, 8, 1), 10, noise=lambda: layer)


@pytest.mark.parametrize("width", [0, -1.0, math.nan, math.inf, True, "1", None])
def test_bad_width(width):
    with pytest.raises(ValueError, match="argument `width`"):
        models.vgg11((8, 8, 1), 10, width=width)


@pytest.mark.parametrize("kwargs, argument", [
    ({"activation": "no_such_activation"}, "activation"), ({"activation": None}, "activation"),
    ({"input_shape": (8, 8)}, "input_shape"), ({"input_shape": (8, 0, 1)}, "input_shape"),
    ({"num_classes": 1}, "num_classes"), ({"num_classes": 2.5}, "num_classes"),
    ({"variational": "dropout"}, "variational"), ({"rate": 1.0}, "rate"),
    ({"dropconnect_rate": -0.1}, "dropconnect_rate")])
def test_bad_arguments(kwargs, argument):
    arguments = {"input_shape": (8, 8, 1), "num_classes": 10, **kwargs}
    with pytest.raises(ValueError, match=f"argument `{argument}`"):
        models.mcclure_mnist_cnn(**arguments)


@pytest.mark.parametrize("kwargs, argument", [
    ({"crop_to": 0}, "crop_to"), ({"batch_norm_momentum": 1.0}, "batch_norm_momentum")])
def test_bad_alexnet_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=f"argument `{argument}`"):
        models.small_alexnet((8, 8, 1), 10, **kwargs)


def test_sigmoid_activation():
    model = models.small_alexnet((8, 8, 1), 10, activation="sigmoid", width=0.1)
    hidden = model.get_layer("act_fc2")(np.linspace(-50, 50, 7)[None])
    assert np.all((np.asarray(hidden) >= 0) & (np.asarray(hidden) <= 1))
    assert keras.activations.serialize(model.get_layer("act_conv1").activation) == "sigmoid"


def test_keras_round_trip_with_kerasbio_noise(tmp_path):
    model = models.small_alexnet((8, 8, 1), 10, width=0.1, batch_norm_momentum=0.9,
                                 noise=lambda: kerasbio.layers.GaussianNoise(0.3))
    x = np.random.default_rng(0).uniform(size=(16, 8, 8, 1)).astype("float32")
    y = np.arange(16) % 10
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)  # moving statistics and weights away from their init
    path = tmp_path / "alexnet.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert isinstance(loaded.get_layer("noise_fc1"), kerasbio.layers.GaussianNoise)


@pytest.mark.slow
def test_small_alexnet_learns_digits():
    """The capacity study's quick network: small width, digits, 20 epochs of SGD 0.01."""
    x, y = kerasbio.data.load("digits", "train")
    x_test, y_test = kerasbio.data.load("digits", "test")
    keras.utils.set_random_seed(0)
    model = models.small_alexnet(x.shape[1:], 10, width=0.25, batch_norm_momentum=0.9,
                                 noise=lambda: kerasbio.layers.GaussianNoise(0.1))
    model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, batch_size=128, epochs=20, verbose=0)
    assert model.evaluate(x, y, verbose=0)[1] > 0.95
    assert model.evaluate(x_test, y_test, verbose=0)[1] > 0.9
