"""Seed generators whose noise differs between the replicas of a `tf.distribute` strategy."""

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
