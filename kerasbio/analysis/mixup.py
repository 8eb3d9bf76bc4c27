"""Input and manifold mixup (Dutta 2019, 3.1.1-3.1.2; Zhang et al. 2018; Verma et al. 2019)."""

import keras
from keras import ops

import tensorflow as tf

from kerasbio._core.validation import validate_int, validate_range


# One generator per integer seed, kept across calls: `mixup(x, y, seed=0)` called batch after
# batch draws a new lambda and permutation each time, the same sequence in every run.
_SEED_GENERATORS = {}


def mixup(x, y, alpha=0.2, seed=None):
    """Eq. 3.1: `x~ = lambda x_i + (1 - lambda) x_j`, `y~` likewise, over a batch.

    One `lambda ~ Beta(alpha, alpha)` per batch and `j` a random permutation of the batch, as in
    Zhang et al. Usable in a `tf.data` map. `y` must be one-hot (or soft) labels.

    Args:
        x: Batch of inputs; y: their one-hot labels.
        alpha: Float > 0, the Beta distribution's parameter.
        seed: `None` (fresh randomness), an integer (one generator per integer, kept across
            calls, so successive batches differ but the sequence repeats from run to run), or a
            `keras.random.SeedGenerator` (advanced by each call).

    Returns:
        `(mixed_x, mixed_y)`.
    """
    validate_range("alpha", alpha, low=0, low_open=True)
    x, y = ops.convert_to_tensor(x), ops.convert_to_tensor(y)
    if len(x.shape) == 0 or len(y.shape) == 0 or x.shape[0] != y.shape[0]:
        raise ValueError(f"`x` and `y` must be batches of the same size. Received shapes "
                         f"{tuple(x.shape)} and {tuple(y.shape)}.")
    if not keras.backend.is_float_dtype(x.dtype):
        x = ops.cast(x, keras.backend.floatx())
    weight, partner = _mixing(ops.shape(x)[0], alpha, _seed_generator(seed))
    return _mix(x, weight, partner), _mix(ops.cast(y, x.dtype), weight, partner)


def _seed_generator(seed):
    if seed is None or isinstance(seed, keras.random.SeedGenerator):
        return keras.random.SeedGenerator(seed) if seed is None else seed
    seed = validate_int("seed", seed, low=0)
    if seed not in _SEED_GENERATORS:
        with tf.init_scope():
            _SEED_GENERATORS[seed] = keras.random.SeedGenerator(seed)
    return _SEED_GENERATORS[seed]


def _mixing(batch, alpha, seed):
    """A `Beta(alpha, alpha)` weight and a random permutation of the batch."""
    weight = keras.random.beta((), alpha, alpha, seed=seed)
    partner = keras.random.shuffle(ops.arange(batch), seed=seed)
    return weight, partner


def _mix(values, weight, partner):
    weight = ops.cast(weight, values.dtype)
    return weight * values + (1.0 - weight) * ops.take(values, partner, axis=0)


@keras.saving.register_keras_serializable(package="kerasbio")
class ManifoldMixup(keras.Model):
    """Trains a `Sequential` model with manifold mixup (Verma et al. 2019; Dutta 3.1.2).

    At each training step a mixing point `k` is drawn from `mix_layers`; the batch runs to layer
    `k`, its activations are mixed with a permutation of themselves (Eq. 3.1, one
    `lambda ~ Beta(alpha, alpha)`), and the loss is `lambda L(y) + (1 - lambda) L(y_perm)`, which
    equals mixing one-hot targets for cross-entropy and also works with sparse labels. Mixing
    point 0 is input mixup. Inference runs the wrapped model unchanged; metrics during training
    compare the mixed predictions with the unpermuted labels.

    Args:
        network: A `keras.Sequential` model.
        mix_layers: Indices into `network.layers` before which mixing may happen (0 = inputs).
        alpha: Float > 0, the Beta distribution's parameter (Verma et al. use 2.0).
        seed: Optional integer seed.
    """

    def __init__(self, network, mix_layers=(0,), alpha=2.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(network, keras.Sequential):
            raise ValueError("Invalid value received for argument `network`. Expected a "
                             f"keras.Sequential model. Received: network={network!r}")
        for index in mix_layers:
            validate_int("mix_layers", index, low=0, high=len(network.layers) - 1)
        self.network = network
        self.mix_layers = tuple(int(index) for index in mix_layers)
        self.alpha = validate_range("alpha", alpha, low=0, low_open=True)
        self.seed = seed
        self.mixing_seed = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        return self.network(inputs, training=training)

    def mixed_forward(self, x, weight, partner, point):
        """The network's output with activations mixed before layer `point`."""
        hidden = x
        for index, layer in enumerate(self.network.layers):
            if index in self.mix_layers:
                hidden = ops.where(point == index, _mix(hidden, weight, partner), hidden)
            hidden = layer(hidden, training=True)
        return hidden

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        weight, partner = _mixing(ops.shape(x)[0], self.alpha, self.mixing_seed)
        choice = keras.random.randint((), 0, len(self.mix_layers), seed=self.mixing_seed)
        point = ops.take(ops.convert_to_tensor(self.mix_layers), choice)
        partner_weight = None if sample_weight is None else ops.take(sample_weight, partner, 0)
        with tf.GradientTape() as tape:
            y_pred = self.mixed_forward(x, weight, partner, point)
            loss = (weight * self._compute_loss(x=x, y=y, y_pred=y_pred,
                                                sample_weight=sample_weight, training=True)
                    + (1.0 - weight) * self._compute_loss(
                        x=x, y=ops.take(y, partner, axis=0), y_pred=y_pred,
                        sample_weight=partner_weight, training=True))
            self._loss_tracker.update_state(loss, sample_weight=ops.shape(x)[0])
            scaled = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), "network": keras.saving.serialize_keras_object(
            self.network), "mix_layers": self.mix_layers, "alpha": self.alpha, "seed": self.seed}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        network = keras.saving.deserialize_keras_object(config.pop("network"),
                                                        custom_objects=custom_objects)
        return cls(network, **config)
