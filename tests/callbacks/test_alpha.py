import keras
import numpy as np
import pytest

from kerasbio.callbacks import AlphaDecay, DeepSupervisionDecay


class AlphaLayer(keras.layers.Layer):
    """Identity layer carrying an `alpha` variable, recording its value at each call."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.alpha = keras.Variable(-1.0, trainable=False, name="alpha")

    def call(self, inputs):
        return inputs + 0.0 * self.alpha


def fit_with(callback, epochs):
    model = keras.Sequential([keras.Input((2,)), AlphaLayer(), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: seen.append(float(model.layers[0].alpha.numpy())))
    history = model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=epochs, verbose=0,
                        callbacks=[callback, record])
    return seen, history.history["alpha"]


def test_alpha_decay_is_linear_to_zero():
    seen, logged = fit_with(AlphaDecay(0.8, epochs=4), epochs=4)
    expected = [0.8 * (1 - t / 4) for t in range(4)]
    np.testing.assert_allclose(seen, expected, rtol=1e-7)
    np.testing.assert_allclose(logged, expected, rtol=1e-7)


def test_deep_supervision_decay_follows_the_recursion():
    epochs, alpha = 5, [2.0]
    for t in range(epochs - 1):
        alpha.append(alpha[-1] * 0.1 * (1 - t / epochs))
    seen, _ = fit_with(DeepSupervisionDecay(2.0, epochs=epochs), epochs=epochs)
    np.testing.assert_allclose(seen, alpha, rtol=1e-6)


@pytest.mark.parametrize("schedule", [AlphaDecay, DeepSupervisionDecay])
def test_invalid_arguments_raise(schedule):
    with pytest.raises(ValueError, match="`epochs`"):
        schedule(1.0, epochs=0)
    with pytest.raises(ValueError, match="`initial`"):
        schedule(-1.0, epochs=3)
