"""Hostile input for every public layer (found through the registry) and every callback.

Documented results, asserted here:
- NaN or inf in an example's inputs: that example's output is non-finite (NaN propagates, the
  layer never hangs), the other examples are untouched.
- Integer and uint8 inputs: cast to the layer's compute dtype, the same result as floats.
- An empty batch gives an empty output, a batch of one a finite one.
- A tensor of the wrong rank: a `ValueError` naming the expected rank for 4-D layers; layers of
  any rank accept it.
- Unknown height and width: accepted, except by `CorrelatedNoise`, which needs them to build
  its spatial correlations and says so.
- Arguments of the wrong kind or range: a `ValueError` naming the argument.
"""


import numpy as np
import pytest

import keras

import kerasbio
from kerasbio.callbacks import (
    AlphaDecay,
    DeepSupervisionDecay,
    MemorizationMonitor,
    RateSchedule,
    RelabelEachEpoch,
    Schedule,
    TimeToFit,
)
from kerasbio.layers import CorrelatedNoise, PoissonNoise
from layer_examples import LAYERS, example_batch, example_kwargs, input_shape

NEEDS_STATIC_SIZE = {CorrelatedNoise}

# (class, extra kwargs): the registry's example of every layer, plus the Poisson variants.
VARIANTS = [(cls, {}) for cls in LAYERS] + [
    (CorrelatedNoise, {"distribution": "poisson"}),
    (PoissonNoise, {"gradient": "gumbel_softmax"})]


def variant_id(variant):
    cls, extra = variant
    return cls.__name__ + "".join(f"-{value}" for value in extra.values())


@pytest.fixture(params=VARIANTS, ids=variant_id)
def make(request):
    cls, extra = request.param

    def make_layer(**overrides):
        return cls(**example_kwargs(cls, **{**extra, **overrides}))

    make_layer.cls = cls
    return make_layer


def numpy(tensor):
    return keras.ops.convert_to_numpy(tensor)


@pytest.mark.parametrize("value", [np.nan, np.inf], ids=["nan", "inf"])
@pytest.mark.parametrize("training", [True, False], ids=["sample", "expectation"])
def test_a_non_finite_example_stays_non_finite_and_alone(make, value, training):
    layer = make(seed=1)
    x = example_batch(make.cls)
    x[0] = value
    out = numpy(layer(x, training=training))
    assert not np.isfinite(out[0]).all()
    assert np.isfinite(out[1:]).all()


@pytest.mark.parametrize("dtype", ["int32", "uint8", "bool"])
def test_integer_inputs_are_cast_to_the_compute_dtype(make, dtype):
    values = np.random.default_rng(2).integers(0, 2 if dtype == "bool" else 4,
                                               (4, *input_shape(make.cls)))
    integers, floats = values.astype(dtype), values.astype("float32")
    layer, reference = make(seed=3), make(seed=3)
    layer.build(floats.shape)
    reference.build(floats.shape)
    reference.set_weights(layer.get_weights())
    for training in (True, False):
        out = layer(integers, training=training)
        assert keras.backend.standardize_dtype(out.dtype) == "float32"
        np.testing.assert_array_equal(numpy(out), numpy(reference(floats, training=training)))


@pytest.mark.parametrize("batch", [0, 1])
@pytest.mark.parametrize("training", [True, False], ids=["sample", "expectation"])
def test_empty_and_single_example_batches(make, batch, training):
    layer = make(seed=4)
    x = example_batch(make.cls, batch=batch)
    out = numpy(layer(x, training=training))
    assert out.shape == tuple(layer.compute_output_shape(x.shape))
    assert np.isfinite(out).all()


def requires_4d(layer):
    inner = getattr(layer, "layer", layer)
    spec = layer.input_spec
    return isinstance(inner, keras.layers.Conv2D) or getattr(spec, "ndim", None) == 4


def test_a_rank_2_input_is_refused_by_4d_layers_and_accepted_by_the_others(make):
    layer = make(seed=5)
    x = np.ones((4, 3), "float32")
    if requires_4d(layer):
        with pytest.raises(ValueError, match="expected (min_)?ndim=4, found ndim=2"):
            layer(x, training=True)
    else:
        out = numpy(layer(x, training=True))
        assert out.shape == tuple(layer.compute_output_shape(x.shape))
        assert np.isfinite(out).all()


def test_unknown_height_and_width(make):
    channels = input_shape(make.cls)[-1]
    inputs = keras.Input((None, None, channels))
    layer = make(seed=6)
    if make.cls in NEEDS_STATIC_SIZE:
        with pytest.raises(ValueError, match="fixed input size"):
            layer(inputs)
        return
    model = keras.Model(inputs, layer(inputs, training=True))
    out = numpy(model(example_batch(make.cls), training=True))
    assert out.shape[0] == 4 and np.isfinite(out).all()


LAYER_ARGUMENTS = [  # (layer, kwargs, the argument the error must name)
    (kerasbio.layers.BernoulliDropout, {"rate": np.nan}, "rate"),
    (kerasbio.layers.BernoulliDropout, {"rate": "0.5"}, "rate"),
    (kerasbio.layers.BernoulliDropout, {"rate": None}, "rate"),
    (kerasbio.layers.BernoulliDropout, {"rate": 0.5, "mc": "false"}, "mc"),
    (kerasbio.layers.BernoulliDropout, {"rate": 0.5, "noise_shape": "abc"}, "noise_shape"),
    (kerasbio.layers.BernoulliDropout, {"rate": 0.5, "seed": 1.5}, "seed"),
    (kerasbio.layers.DropBlock2D, {"rate": np.nan}, "rate"),
    (kerasbio.layers.DropBlock2D, {"rate": 0.1, "block_size": 2.5}, "block_size"),
    (kerasbio.layers.GaussianNoise, {"stddev": np.inf}, "stddev"),
    (kerasbio.layers.FanoGaussianNoise, {"fano": np.inf}, "fano"),
    (kerasbio.layers.PoissonNoise, {"gain": np.inf}, "gain"),
    (kerasbio.layers.PoissonNoise, {"max_count": 2.5}, "max_count"),
    (kerasbio.layers.DropConnectDense, {"units": 4, "rate": 0.2, "sampler": "fast"}, "sampler"),
    (kerasbio.layers.SpikeAndSlabDense, {"units": 4, "dropout_rate": True,
                                         "dropconnect_rate": 0.1}, "dropout_rate"),
]


@pytest.mark.parametrize("cls, kwargs, argument", LAYER_ARGUMENTS,
                         ids=[f"{cls.__name__}-{arg}" for cls, _, arg in LAYER_ARGUMENTS])
def test_layer_arguments_of_the_wrong_kind_are_refused_by_name(cls, kwargs, argument):
    with pytest.raises(ValueError, match=f"Invalid value received for argument `{argument}`"):
        cls(**kwargs)


WRAPPERS = [cls for cls in LAYERS if issubclass(cls, keras.layers.Wrapper)]


@pytest.mark.parametrize("cls", WRAPPERS, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("make_inner", [lambda: keras.layers.Dense(4),
                                        lambda: keras.layers.DepthwiseConv2D(3)],
                         ids=["Dense", "DepthwiseConv2D"])
def test_unsupported_wrapped_layers_are_refused_at_build(cls, make_inner):
    layer = cls(**example_kwargs(cls, layer=make_inner()))
    with pytest.raises(ValueError, match="`layer`.*4-D kernel"):
        layer(example_batch(cls), training=True)


CALLBACK_ARGUMENTS = [  # (make the callback, the argument the error must name)
    (lambda: RateSchedule(epochs=2.5), "epochs"),
    (lambda: RateSchedule(epochs="3"), "epochs"),
    (lambda: RateSchedule(epochs=3, final=np.nan), "final"),
    (lambda: RateSchedule(steps=0), "steps"),
    (lambda: Schedule("rate", schedule=None), "schedule"),
    (lambda: Schedule(None, schedule=abs), "attribute"),
    (lambda: AlphaDecay(np.nan, epochs=3), "initial"),
    (lambda: AlphaDecay(1.0, epochs=True), "epochs"),
    (lambda: DeepSupervisionDecay(np.inf, epochs=3), "initial"),
    (lambda: TimeToFit(threshold=np.nan), "threshold"),
    (lambda: TimeToFit(stop="yes"), "stop"),
    (lambda: TimeToFit(monitor=None), "monitor"),
    (lambda: RelabelEachEpoch(2.5, 10), "n_examples"),
    (lambda: RelabelEachEpoch(10, 1), "n_classes"),
    (lambda: RelabelEachEpoch(10, 3, seed="a"), "seed"),
    (lambda: MemorizationMonitor(np.ones((4, 2)), np.ones(4), np.zeros(4, bool),
                                 batch_size=0), "batch_size"),
]


@pytest.mark.parametrize("make_callback, argument", CALLBACK_ARGUMENTS,
                         ids=[f"{i}-{arg}" for i, (_, arg) in enumerate(CALLBACK_ARGUMENTS)])
def test_callback_arguments_of_the_wrong_kind_are_refused_by_name(make_callback, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        make_callback()


def test_callback_data_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError, match="same examples"):
        MemorizationMonitor(np.ones((5, 2)), np.ones(4), np.zeros(4, bool))
    with pytest.raises(ValueError, match="one entry per example"):
        MemorizationMonitor(np.ones((4, 2)), np.ones(4), np.zeros(3, bool))
    with pytest.raises(ValueError, match="n_examples=10"):
        RelabelEachEpoch(10, 3).dataset(np.ones((7, 2)))


@pytest.mark.parametrize("value", [np.nan, np.inf, "0.1"], ids=["nan", "inf", "str"])
def test_a_schedule_returning_a_non_number_stops_fit_with_a_clear_error(value):
    model = keras.Sequential([keras.Input((3,)), kerasbio.layers.GaussianDropout(0.2),
                              keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="schedule of `rate` returned"):
        model.fit(np.ones((4, 3)), np.zeros((4, 1)), verbose=0,
                  callbacks=[Schedule("rate", lambda epoch: value)])
