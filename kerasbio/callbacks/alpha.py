"""Schedules of the auxiliary-loss weight `alpha` (RDL and deep supervision)."""

import math

from kerasbio._core.validation import validate_int, validate_range
from kerasbio.callbacks.schedule import Schedule


class AlphaDecay(Schedule):
    """Linear decay of the RDL weight, `alpha_t = initial (1 - t / t_max)`.

    McClure & Kriegeskorte 2016, below Eq. 5 (their `alpha_0` is `initial`): t is the epoch
    (from 0) and t_max the number of epochs, so the auxiliary loss guides early training and
    fades out by the end. Sets the `alpha` of the model (e.g. the variable of
    `kerasbio.rsa.RDL`) or of its layers at each epoch start.

    Args:
        initial: Float >= 0, the weight at the first epoch.
        epochs: Int, t_max (the `epochs` given to `fit`).
        layers: Layers or layer names to set; `None`: every one with an `alpha`.
    """

    def __init__(self, initial, epochs, layers=None):
        self.initial = validate_range("initial", initial, low=0)
        self.epochs = validate_int("epochs", epochs, low=1)
        super().__init__("alpha", schedule=self.alpha_at, layers=layers)

    def alpha_at(self, t):
        return self.initial * max(0.0, 1.0 - t / self.epochs)


class DeepSupervisionDecay(AlphaDecay):
    """Deep-supervision decay, `alpha_{t+1} = alpha_t * 0.1 * (1 - t / t_max)`.

    Lee et al. 2014, as used for the deep-supervision baseline of McClure & Kriegeskorte 2016
    (section 3.1). In closed form `alpha_t = initial prod_{s<t} 0.1 (1 - s / t_max)`. Arguments
    as `AlphaDecay`.
    """

    def alpha_at(self, t):
        return self.initial * math.prod(0.1 * max(0.0, 1.0 - s / self.epochs) for s in range(t))
