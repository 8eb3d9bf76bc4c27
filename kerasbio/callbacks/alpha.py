"""Schedules of the auxiliary-loss weight `alpha` (RDL and deep supervision)."""

import math

from kerasbio.callbacks._schedule import VariableSchedule
from kerasbio._core.validation import validate_range


def _validate_epochs(epochs):
    if int(epochs) != epochs or epochs < 1:
        raise ValueError(
            f"Invalid value received for argument `epochs`. Expected a positive integer (the "
            f"total number of training epochs). Received: epochs={epochs}")
    return int(epochs)


class AlphaDecay(VariableSchedule):
    """Linear decay of the RDL weight, `alpha_t = alpha_0 (1 - t / t_max)`.

    McClure & Kriegeskorte 2016, below Eq. 5: t is the epoch (from 0) and t_max the number of
    epochs, so the auxiliary loss guides early training and fades out by the end. Sets the
    `alpha` variable of the model (e.g. `kerasbio.rsa.RDL`) or of its layers at each epoch start.

    Args:
        alpha_0: Float >= 0, the weight at the first epoch.
        epochs: Int, t_max (the `epochs` given to `fit`).
        layers: Layers or layer names to set; `None`: every one with an `alpha` variable.
    """

    def __init__(self, alpha_0, epochs, layers=None):
        super().__init__("alpha", layers=layers)
        self.alpha_0 = validate_range("alpha_0", alpha_0, low=0)
        self.epochs = _validate_epochs(epochs)

    def value(self, t):
        return self.alpha_0 * max(0.0, 1.0 - t / self.epochs)


class DeepSupervisionDecay(AlphaDecay):
    """Deep-supervision decay, `alpha_{t+1} = alpha_t * 0.1 * (1 - t / t_max)`.

    Lee et al. 2014, as used for the deep-supervision baseline of McClure & Kriegeskorte 2016
    (section 3.1). In closed form `alpha_t = alpha_0 prod_{s<t} 0.1 (1 - s / t_max)`. Arguments
    as `AlphaDecay`.
    """

    def value(self, t):
        return self.alpha_0 * math.prod(0.1 * max(0.0, 1.0 - s / self.epochs) for s in range(t))
