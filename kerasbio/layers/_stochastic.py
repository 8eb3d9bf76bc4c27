"""Shared base of kerasbio's stochastic layers: the `mc` switch, a per-replica seed, and the
one input rule (integer inputs are cast to the compute dtype, as `keras.layers.Dense` does).

Every stochastic layer samples when `training=True`, samples at inference when `mc=True`
(Monte Carlo prediction, McClure 2018 ch. 3), and otherwise returns its expectation. Rates are
plain Python floats: a schedule (`kerasbio.callbacks.Schedule`) sets them and retraces the
compiled functions, so a layer without weights has none (as Keras' dropout layers).
"""

import keras
from keras import ops

from kerasbio._core.seeds import ReplicaSeedGenerator
from kerasbio._core.validation import validate_bool, validate_int


class StochasticLayer(keras.layers.Layer):
    """Base class: `call` dispatches to `sample` or `expectation`.

    Subclasses implement `sample(inputs)` (one independent draw per element of the batch) and
    `expectation(inputs)` (the deterministic pass used when neither training nor `mc`). A
    subclass without weights calls `self._build_at_init()` at the end of its `__init__`, as
    Keras' weightless layers do, so it is built at construction.

    Args:
        mc: Python bool. If `True`, the layer also samples at inference (`training=False`).
        seed: Optional integer seed of the layer's `SeedGenerator`.
    """

    def __init__(self, mc=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.mc = validate_bool("mc", mc)
        self.seed = None if seed is None else validate_int("seed", seed, low=0)
        self.seed_generator = ReplicaSeedGenerator(self.seed)
        self.supports_masking = True

    def call(self, inputs, training=False):
        inputs = as_floating(inputs, self.compute_dtype)
        if training or self.mc:
            return self.sample(inputs)
        return self.expectation(inputs)

    def sample(self, inputs):
        raise NotImplementedError

    def expectation(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mc": self.mc, "seed": self.seed}


def as_floating(inputs, dtype):
    """`inputs` unchanged if floating, else cast to `dtype` (integer and boolean inputs)."""
    if keras.backend.is_float_dtype(keras.backend.standardize_dtype(inputs.dtype)):
        return inputs
    return ops.cast(inputs, dtype)
