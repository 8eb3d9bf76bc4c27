"""Drop-rate schedules for the layers with a `rate` variable (structured dropout)."""

from kerasbio.callbacks._schedule import VariableSchedule
from kerasbio._core.validation import validate_range
from kerasbio.layers.structured import current_rate


def _validate_length(epochs, steps):
    if (epochs is None) == (steps is None):
        raise ValueError(
            "Invalid value received for arguments `epochs` and `steps`. Expected exactly one of "
            f"them (the length of the ramp). Received: epochs={epochs}, steps={steps}")
    name, length = ("epochs", epochs) if steps is None else ("steps", steps)
    if int(length) != length or length < 1:
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a positive integer. "
            f"Received: {name}={length}")
    return int(length)


class RateSchedule(VariableSchedule):
    """Linear ramp of the drop rate from `start` to `end` (Ghiasi et al. 2018, DropBlock, sec. 3.1).

    Ghiasi et al. (and Dutta 2019, 4.1.1) found a fixed DropBlock rate trains poorly and ramp
    it linearly from 0 instead. At epoch (or global step) `t`, counted from 0, the rate is
    `start + (end - start) * min(t / (length - 1), 1)`: `start` at the first epoch, `end` from
    epoch `length - 1` on (`length` being `epochs` or `steps`). The `rate` variables are assigned,
    so the train function is not retraced. The first scheduled layer's rate is logged as `rate`.

    Usage: `DropBlock2D(0.1, 5)` in the model and `RateSchedule(epochs=20)` in `fit`'s callbacks
    ramp that layer's rate from 0 to 0.1 over 20 epochs.

    Args:
        layers: Layers or layer names; `None`: every layer with a `rate` variable.
        start: Float in [0, 1), the first rate.
        end: Float in [0, 1), the final rate; `None`: each layer's own rate when training starts.
        epochs: Int >= 1, the ramp length in epochs (set before each epoch).
        steps: Int >= 1, the ramp length in training steps (set before each batch); give
            exactly one of `epochs` and `steps`.
    """

    def __init__(self, layers=None, start=0.0, end=None, epochs=None, steps=None):
        self.length = _validate_length(epochs, steps)
        super().__init__("rate", layers=layers, per="epoch" if steps is None else "step")
        self.start = float(validate_range("start", start, low=0, high=1, high_open=True))
        if end is not None:
            end = float(validate_range("end", end, low=0, high=1, high_open=True))
        self.end = end
        self.ends = None

    def on_train_begin(self, logs=None):
        if self.ends is None:
            self.ends = [current_rate(layer) if self.end is None else self.end
                         for layer in self.targets()]

    def progress(self, t):
        """The fraction of the ramp done at epoch or step `t`, in [0, 1]."""
        return 1.0 if self.length == 1 else min(t / (self.length - 1), 1.0)

    def value(self, t):
        """The rates at epoch or step `t`, one per scheduled layer."""
        return [self.start + (end - self.start) * self.progress(t) for end in self.ends]

    def _assign(self, t):
        rates = self.value(t)
        for layer, rate in zip(self.targets(), rates):
            layer.rate.assign(rate)
        self.current = rates[0]
