"""RateSchedule: the linear drop-rate ramp of Ghiasi et al., applied without retracing."""

import numpy as np
import pytest

import keras

from kerasbio.callbacks import RateSchedule
from kerasbio.layers import DropBlock2D, SpatialDropout2D


class CountingDropBlock(DropBlock2D):
    """DropBlock2D counting how often its sampling path is traced (or run eagerly)."""

    traces = 0

    def sample(self, inputs):
        CountingDropBlock.traces += 1
        return super().sample(inputs)


def drop_fraction_model(layer):
    """Outputs each example's fraction of dropped units, so the MAE loss to 0 is that fraction."""
    model = keras.Sequential([
        keras.Input((12, 12, 1)), layer,
        keras.layers.Lambda(lambda x: keras.ops.mean(
            keras.ops.cast(keras.ops.equal(x, 0.0), "float32"), axis=(1, 2, 3), keepdims=True)),
        keras.layers.Flatten(),
        keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")])
    model.compile(keras.optimizers.SGD(0.0), "mae")
    return model


def rates_seen(layers, hook):
    """A callback recording every layer's rate at `hook` ('epoch' or 'train_batch')."""
    seen = []
    record = keras.callbacks.LambdaCallback(**{
        f"on_{hook}_begin": lambda *_, **__: seen.append(
            [float(layer.rate.numpy()) for layer in layers])})
    return record, seen


def test_rate_ramps_per_epoch_without_retracing():
    CountingDropBlock.traces = 0
    layer = CountingDropBlock(0.3, 3, seed=1)
    model = drop_fraction_model(layer)
    traces = []
    count = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda *_: traces.append(CountingDropBlock.traces))
    record, seen = rates_seen([layer], "epoch")
    history = model.fit(np.ones((512, 12, 12, 1), "float32"), np.zeros((512, 1)), batch_size=128,
                        epochs=4, verbose=0, callbacks=[RateSchedule(epochs=4), record, count])
    ramp = [0.0, 0.1, 0.2, 0.3]
    np.testing.assert_allclose(np.ravel(seen), ramp, atol=1e-7)
    np.testing.assert_allclose(history.history["rate"], ramp, atol=1e-7)
    assert traces[0] >= 1 and traces == [traces[0]] * 4
    # The traced graph reads the variable: the drop fraction follows the ramp.
    fractions = history.history["loss"]
    assert fractions[0] == 0.0
    assert np.all(np.diff(fractions) > 0.03)
    assert abs(fractions[-1] - 0.3) < 0.3 * 0.15


def test_rate_ramps_per_step_between_given_rates_then_holds():
    layer = SpatialDropout2D(0.5, seed=2)
    record, seen = rates_seen([layer], "train_batch")
    model = drop_fraction_model(layer)
    model.fit(np.ones((40, 12, 12, 1), "float32"), np.zeros((40, 1)), batch_size=8, epochs=1,
              verbose=0, callbacks=[RateSchedule(start=0.1, end=0.4, steps=4), record])
    np.testing.assert_allclose(np.ravel(seen), [0.1, 0.2, 0.3, 0.4, 0.4], atol=1e-6)


def test_each_named_layer_ramps_to_its_own_rate():
    first, second = DropBlock2D(0.2, 3, name="first"), DropBlock2D(0.4, 3, name="second")
    untouched = SpatialDropout2D(0.5, name="untouched")
    model = keras.Sequential([keras.Input((12, 12, 1)), first, second, untouched,
                              keras.layers.Flatten(), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    record, seen = rates_seen([first, second, untouched], "epoch")
    model.fit(np.ones((8, 12, 12, 1)), np.zeros((8, 1)), epochs=3, verbose=0,
              callbacks=[RateSchedule(["first", second], epochs=3), record])
    np.testing.assert_allclose(seen, [[0.0, 0.0, 0.5], [0.1, 0.2, 0.5], [0.2, 0.4, 0.5]],
                               atol=1e-7)


@pytest.mark.parametrize("kwargs, argument", [
    ({}, "epochs"), ({"epochs": 3, "steps": 10}, "steps"), ({"epochs": 0}, "epochs"),
    ({"steps": 2.5}, "steps"), ({"epochs": 3, "start": -0.1}, "start"),
    ({"epochs": 3, "end": 1.0}, "end")])
def test_invalid_arguments_name_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        RateSchedule(**kwargs)
