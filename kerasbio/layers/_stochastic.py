"""Shared base of kerasbio's stochastic layers: the `mc` switch, per-replica seeds, validation.

Every stochastic layer samples when `training=True`, samples at inference when `mc=True`
(Monte Carlo prediction, McClure 2018 ch. 3), and otherwise returns its expectation.
"""

import keras
from keras import ops

import tensorflow as tf


class ReplicaSeedGenerator(keras.random.SeedGenerator):
    """A `SeedGenerator` whose draws differ between the replicas of a `tf.distribute` strategy.

    A plain `SeedGenerator` state is mirrored, so every replica would draw the same noise. The
    replica id is added to the first seed component, which the generator never increments, so
    the streams of two replicas never meet.
    """

    def next(self, ordered=True):
        seed = super().next(ordered=ordered)
        context = tf.distribute.get_replica_context()
        if context is None or not tf.distribute.has_strategy():
            return seed
        replica = ops.cast(context.replica_id_in_sync_group, seed.dtype)
        return seed + ops.stack([replica * 7919, ops.zeros_like(replica)])


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


def validate_range(name, value, low=None, high=None, low_open=False, high_open=False):
    """Raise a `ValueError` naming `name` unless `low (<|<=) value (<|<=) high`."""
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a number "
            f"{_describe_range(low, high, low_open, high_open)}. Received: {name}={value}"
        )
    return value


def validate_choice(name, value, choices):
    """Raise a `ValueError` naming `name` unless `value` is one of `choices`."""
    if value not in choices:
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected one of "
            f"{', '.join(repr(c) for c in choices)}. Received: {name}={value!r}"
        )
    return value


def _describe_range(low, high, low_open, high_open):
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high}")
    return " and ".join(parts)
