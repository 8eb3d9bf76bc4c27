"""RateSchedule and Schedule: float rates set between epochs and used by the retraced step."""

import numpy as np
import pytest

import keras

from kerasbio.callbacks import RateSchedule, Schedule
from kerasbio.layers import (
    BernoulliDropout,
    DropBlock2D,
    DropConnectDense,
    GaussianDropout,
    GaussianNoise,
    SpatialDropout2D,
    SpikeAndSlabDense,
)

ONES = np.ones((512, 12, 12, 1), "float32")


def statistic_model(layer, statistic, jit_compile=False):
    """Outputs `statistic` of each example's units after `layer`, so the MAE loss to 0 is its
    mean over the batch (an SGD(0) model: the loss only reads the layer's noise)."""
    model = keras.Sequential([
        keras.Input(ONES.shape[1:]), layer,
        keras.layers.Lambda(lambda x: keras.ops.reshape(statistic(x), (-1, 1)))])
    model.compile(keras.optimizers.SGD(0.0), "mae", jit_compile=jit_compile)
    return model


def drop_fraction(x):
    return keras.ops.mean(keras.ops.cast(keras.ops.equal(x, 0.0), "float32"), axis=(1, 2, 3))


def standard_deviation(x):
    return keras.ops.std(keras.ops.reshape(x, (keras.ops.shape(x)[0], -1)), axis=1)


def rates_seen(layers, hook, attribute="rate"):
    """A callback recording every layer's `attribute` at `hook` ('epoch' or 'train_batch')."""
    seen = []
    record = keras.callbacks.LambdaCallback(**{
        f"on_{hook}_begin": lambda *_, **__: seen.append(
            [float(getattr(layer, attribute)) for layer in layers])})
    return record, seen


@pytest.mark.parametrize("make_layer, jit_compile", [
    (lambda: DropBlock2D(0.3, 1, seed=1), False), (lambda: BernoulliDropout(0.3, seed=1), False),
    (lambda: BernoulliDropout(0.3, seed=1), True)],
    ids=["DropBlock2D", "BernoulliDropout", "BernoulliDropout-xla"])
def test_a_ramped_float_rate_takes_effect_inside_fit(make_layer, jit_compile):
    layer = make_layer()
    model = statistic_model(layer, drop_fraction, jit_compile)
    record, seen = rates_seen([layer], "epoch")
    history = model.fit(ONES, np.zeros((len(ONES), 1)), batch_size=256, epochs=3, verbose=0,
                        callbacks=[RateSchedule(epochs=3), record])
    ramp = [0.0, 0.15, 0.3]
    np.testing.assert_allclose(np.ravel(seen), ramp, atol=1e-12)
    np.testing.assert_allclose(history.history["rate"], ramp, atol=1e-12)
    # The loss is the fraction of dropped units seen by the compiled step: it follows the ramp
    # (to 5 standard errors: 512 x 144 units per epoch).
    fractions = np.asarray(history.history["loss"])
    assert fractions[0] == 0.0
    np.testing.assert_allclose(fractions[1:], ramp[1:], rtol=0.05)
    assert np.all(np.diff(fractions) > 0.05)
    assert not layer.weights  # the rate is a float, saved in the config only


def test_a_schedule_of_any_callable_sets_a_float_stddev():
    layer = GaussianNoise(0.5, seed=2)
    model = statistic_model(layer, standard_deviation)
    stddevs = [0.5 * 0.5 ** epoch for epoch in range(3)]
    history = model.fit(ONES, np.zeros((len(ONES), 1)), batch_size=256, epochs=3, verbose=0,
                        callbacks=[Schedule("stddev", lambda epoch: 0.5 * 0.5 ** epoch)])
    np.testing.assert_allclose(history.history["stddev"], stddevs)
    np.testing.assert_allclose(history.history["loss"], stddevs, rtol=0.02)
    assert layer.stddev == stddevs[-1]


def test_rate_ramps_per_step_between_given_rates_then_holds():
    layer = SpatialDropout2D(0.5, seed=2)
    record, seen = rates_seen([layer], "train_batch")
    model = statistic_model(layer, drop_fraction)
    model.fit(ONES[:40], np.zeros((40, 1)), batch_size=8, epochs=1, verbose=0,
              callbacks=[RateSchedule(initial=0.1, final=0.4, steps=4), record])
    np.testing.assert_allclose(np.ravel(seen), [0.1, 0.2, 0.3, 0.4, 0.4], atol=1e-12)


def test_every_rate_of_every_layer_ramps_to_its_own_value():
    layers = [BernoulliDropout(0.2), GaussianDropout(0.4), DropConnectDense(3, 0.3),
              SpikeAndSlabDense(3, 0.5, 0.1)]
    model = keras.Sequential([keras.Input((4,)), *layers, keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    record, seen = rates_seen(layers[:3], "epoch")
    slab_do, slab_dc = rates_seen([layers[3]], "epoch", "dropout_rate"), rates_seen(
        [layers[3]], "epoch", "dropconnect_rate")
    model.fit(np.ones((8, 4)), np.zeros((8, 1)), epochs=3, verbose=0,
              callbacks=[RateSchedule(epochs=3), record, slab_do[0], slab_dc[0]])
    np.testing.assert_allclose(seen, [[0, 0, 0], [0.1, 0.2, 0.15], [0.2, 0.4, 0.3]], atol=1e-12)
    np.testing.assert_allclose(np.ravel(slab_do[1]), [0, 0.25, 0.5], atol=1e-12)
    np.testing.assert_allclose(np.ravel(slab_dc[1]), [0, 0.05, 0.1], atol=1e-12)


def test_only_the_named_layers_ramp():
    first, second = DropBlock2D(0.2, 3, name="first"), DropBlock2D(0.4, 3, name="second")
    untouched = SpatialDropout2D(0.5, name="untouched")
    model = keras.Sequential([keras.Input((12, 12, 1)), first, second, untouched,
                              keras.layers.Flatten(), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    record, seen = rates_seen([first, second, untouched], "epoch")
    model.fit(np.ones((8, 12, 12, 1)), np.zeros((8, 1)), epochs=3, verbose=0,
              callbacks=[RateSchedule(["first", second], final=0.3, epochs=3), record])
    np.testing.assert_allclose(seen, [[0.0, 0.0, 0.5], [0.15, 0.15, 0.5], [0.3, 0.3, 0.5]],
                               atol=1e-12)


def test_a_schedule_returning_nan_or_naming_a_layer_without_the_attribute_fails_clearly():
    model = keras.Sequential([keras.Input((4,)), GaussianNoise(0.1, name="noise"),
                              keras.layers.Dense(1, name="dense")])
    model.compile("sgd", "mse")
    data = np.ones((4, 4)), np.zeros((4, 1))
    with pytest.raises(ValueError, match="returned nan"):
        model.fit(*data, verbose=0, callbacks=[Schedule("stddev", lambda epoch: float("nan"))])
    with pytest.raises(ValueError, match="'dense' has no float or variable attribute stddev"):
        model.fit(*data, verbose=0,
                  callbacks=[Schedule("stddev", lambda epoch: 0.1, layers=["dense"])])
    with pytest.raises(ValueError, match="No layer of the model has .* rate"):
        model.fit(*data, verbose=0, callbacks=[RateSchedule(epochs=2)])


@pytest.mark.parametrize("kwargs, argument", [
    ({}, "epochs"), ({"epochs": 3, "steps": 10}, "steps"), ({"epochs": 0}, "epochs"),
    ({"steps": 2.5}, "steps"), ({"epochs": 3, "initial": -0.1}, "initial"),
    ({"epochs": 3, "final": 1.0}, "final"), ({"epochs": 3, "initial": float("nan")}, "initial"),
    ({"epochs": True}, "epochs")])
def test_invalid_arguments_name_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        RateSchedule(**kwargs)


@pytest.mark.parametrize("kwargs, argument", [
    ({"attribute": 3, "schedule": abs}, "attribute"), ({"attribute": "rate", "schedule": 0.1},
                                                        "schedule"),
    ({"attribute": "rate", "schedule": abs, "per": "batch"}, "per")])
def test_schedule_arguments_are_validated(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        Schedule(**kwargs)
