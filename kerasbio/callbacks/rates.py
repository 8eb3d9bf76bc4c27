"""`RateSchedule`: the linear drop-rate ramp of Ghiasi et al. 2018, for every rate of a model."""

from kerasbio._core.validation import validate_int, validate_range
from kerasbio.callbacks.schedule import Schedule, current_value

RATE_ATTRIBUTES = ("rate", "dropout_rate", "dropconnect_rate")


def _validate_length(epochs, steps):
    if (epochs is None) == (steps is None):
        raise ValueError(
            "Invalid value received for arguments `epochs` and `steps`. Expected exactly one of "
            f"them (the length of the ramp). Received: epochs={epochs}, steps={steps}")
    return validate_int("epochs", epochs, low=1) if steps is None else validate_int(
        "steps", steps, low=1)


def _validate_rate(name, rate):
    return float(validate_range(name, rate, low=0, high=1, high_open=True))


class RateSchedule(Schedule):
    """Linear ramp of drop rates from `initial` to `final` (Ghiasi et al. 2018, DropBlock, 3.1).

    Ghiasi et al. (and Dutta 2019, 4.1.1) found a fixed DropBlock rate trains poorly and ramp
    it linearly from 0 instead. At epoch (or global step) `t`, counted from 0, each rate is
    `initial + (final - initial) * min(t / (length - 1), 1)`: `initial` at the first epoch,
    `final` from epoch `length - 1` on (`length` being `epochs` or `steps`). Every rate of the
    targeted layers is ramped: `rate` (dropout, Gaussian dropout, dropconnect, structured and
    similarity dropout, and Keras' own dropout layers) and spike-and-slab's `dropout_rate` and
    `dropconnect_rate`. Rates are floats, so each change retraces the train function once (see
    `Schedule`). The first scheduled rate is logged as `rate`.

    Usage: `DropBlock2D(0.1, 5)` in the model and `RateSchedule(epochs=20)` in `fit`'s callbacks
    ramp that layer's rate from 0 to 0.1 over 20 epochs.

    Args:
        layers: Layers or layer names; `None`: every layer with a rate.
        initial: Float in [0, 1), the first rate.
        final: Float in [0, 1), the last rate; `None`: each rate's own value when training
            first starts.
        epochs: Int >= 1, the ramp length in epochs (set before each epoch).
        steps: Int >= 1, the ramp length in training steps (set before each batch); give
            exactly one of `epochs` and `steps`.
    """

    def __init__(self, layers=None, initial=0.0, final=None, epochs=None, steps=None):
        self.length = _validate_length(epochs, steps)
        super().__init__(RATE_ATTRIBUTES, schedule=self.progress, layers=layers,
                         per="epoch" if steps is None else "step")
        self.initial = _validate_rate("initial", initial)
        self.final = None if final is None else _validate_rate("final", final)
        self.finals = {}

    def on_train_begin(self, logs=None):
        for layer, name in self.targets():
            if (id(layer), name) not in self.finals:
                self.finals[id(layer), name] = (current_value(layer, name) if self.final is None
                                                else self.final)

    def progress(self, t):
        """The fraction of the ramp done at epoch or step `t`, in [0, 1]."""
        return 1.0 if self.length == 1 else min(t / (self.length - 1), 1.0)

    def values(self, t):
        """The rates at epoch or step `t`, one per scheduled (layer, attribute)."""
        done = self.progress(t)
        return [self.initial + (self.finals[id(layer), name] - self.initial) * done
                for layer, name in self.targets()]
