"""Shared base of kerasbio's stochastic layers: the `mc` switch and a per-replica seed.

Every stochastic layer samples when `training=True`, samples at inference when `mc=True`
(Monte Carlo prediction, McClure 2018 ch. 3), and otherwise returns its expectation.
"""

import keras

from kerasbio._core.seeds import ReplicaSeedGenerator


class StochasticLayer(keras.layers.Layer):
    """Base class: `call` dispatches to `sample` or `expectation`.

    Subclasses implement `sample(inputs)` (one independent draw per element of the batch) and
    `expectation(inputs)` (the deterministic pass used when neither training nor `mc`).

    Args:
        mc: Python bool. If `True`, the layer also samples at inference (`training=False`).
        seed: Optional integer seed of the layer's `SeedGenerator`.
    """

    def __init__(self, mc=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.mc = bool(mc)
        self.seed = seed
        self.seed_generator = ReplicaSeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=False):
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
