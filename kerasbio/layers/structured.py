"""Structured dropout for convolutional feature maps: SpatialDropout2D and DropBlock2D.

Sources: Dutta 2019, section 4.1.1 (SpatialDropout, Tompson et al. 2015; DropBlock, Ghiasi et al.
2018, thesis Algorithm 1 and Eq. 4.1). Rates are Python floats; `kerasbio.callbacks.RateSchedule`
ramps them during training (setting the float and retracing the train function).
"""

import keras
from keras import ops

from kerasbio._core.validation import validate_bool, validate_choice, validate_int, validate_range
from kerasbio.layers._stochastic import StochasticLayer


def validate_rate(rate):
    """A drop rate: a float in [0, 1)."""
    return validate_range("rate", rate, low=0, high=1, high_open=True)


def validate_data_format(data_format):
    """`"channels_last"` or `"channels_first"`; `None` means Keras' image data format."""
    return validate_choice("data_format", data_format or keras.config.image_data_format(),
                           ("channels_last", "channels_first"))


def channels_last_shape(inputs, data_format):
    """The (batch, height, width, channels) sizes of 4-D `inputs` (symbolic where unknown)."""
    batch, *sizes = ops.shape(inputs)
    return (batch, *sizes) if data_format == "channels_last" else (batch, *sizes[1:], sizes[0])


def from_channels_last(mask, data_format):
    """A (batch, height, width, channels) mask laid out in `data_format`."""
    return ops.transpose(mask, (0, 3, 1, 2)) if data_format == "channels_first" else mask


def validate_block_size(block_size, height, width):
    """Raise a `ValueError` if a static feature map is smaller than the block."""
    too_small = [size for size in (height, width) if size is not None and size < block_size]
    if too_small:
        raise ValueError(
            f"Invalid value received for argument `block_size`. Expected a block no larger "
            f"than the feature map ({height}x{width}). Received: block_size={block_size}. "
            "Use a smaller block_size or apply the layer to a larger feature map.")


def dropblock_gamma(rate, height, width, block_size):
    """Seed probability of Ghiasi et al. (thesis Eq. 4.1) for an H x W map:

    `gamma = rate / block_size^2 * (H W) / ((H - block_size + 1) (W - block_size + 1))`,
    the valid seed region being (H - block_size + 1) x (W - block_size + 1) for non-square maps
    and even block sizes alike. The block overlaps make the dropped fraction slightly below `rate`.
    """
    height, width = ops.cast(height, "float32"), ops.cast(width, "float32")
    valid = (height - block_size + 1) * (width - block_size + 1)
    return ops.clip(rate / block_size**2 * height * width / valid, 0.0, 1.0)


def dropblock_keep_mask(shape, rate, block_size, seed):
    """A float32 DropBlock keep mask of `shape` (batch, height, width, channels) (Algorithm 1).

    Seeds ~ Bernoulli(gamma) are drawn only at the (H - b + 1) x (W - b + 1) top-left corners
    whose b x b block lies inside the map; zero padding by b - 1 on every side followed by a
    b x b max-pool turns each seed into exactly one b x b dropped block, for odd and even `b`.
    For odd `b` this is Algorithm 1's block centred on a seed of the valid (green) region of
    the thesis' Fig. 4.1.
    """
    batch, height, width, channels = shape
    gamma = dropblock_gamma(rate, height, width, block_size)
    seed_shape = (batch, height - block_size + 1, width - block_size + 1, channels)
    seeds = ops.cast(keras.random.uniform(seed_shape, dtype="float32", seed=seed) < gamma,
                     "float32")
    margin = block_size - 1
    seeds = ops.pad(seeds, ((0, 0), (margin, margin), (margin, margin), (0, 0)))
    dropped = ops.max_pool(seeds, block_size, strides=1, padding="valid",
                           data_format="channels_last")
    return 1.0 - dropped


def renormalized(mask):
    """`mask * count(M) / count_ones(M)` per example (Algorithm 1's normalisation)."""
    count = ops.cast(ops.prod(ops.shape(mask)[1:]), "float32")
    ones = ops.sum(mask, axis=(1, 2, 3), keepdims=True)
    return mask * count / ops.maximum(ones, 1.0)


@keras.saving.register_keras_serializable(package="kerasbio")
class SpatialDropout2D(StochasticLayer):
    """Drops whole feature maps: `y = x * m / (1 - rate)`, `m ~ Bernoulli(1 - rate)` per example
    and channel (Tompson et al. 2015; Dutta 2019, 4.1.1).

    Same meaning as `keras.layers.SpatialDropout2D`, plus `mc`. The expectation is `x`.

    Args:
        rate: Float in [0, 1), the probability of dropping a feature map.
        data_format: `"channels_last"`, `"channels_first"` or `None` (Keras' image data format).
        mc: Bool, sample at inference too.
        seed: Optional integer seed.

    Call arguments:
        inputs: 4-D tensor of feature maps.
        training: Python bool; sample when `True` (or when `mc`).
    """

    _example_config = {"rate": 0.5}
    _example_input_shape = (8, 8, 16)
    _invalid_configs = ({"rate": 1.0}, {"rate": -0.1}, {"data_format": "channels_middle"})

    def __init__(self, rate, data_format=None, mc=False, seed=None, **kwargs):
        super().__init__(mc=mc, seed=seed, **kwargs)
        self.rate = validate_rate(rate)
        self.data_format = validate_data_format(data_format)
        self.input_spec = keras.layers.InputSpec(ndim=4)
        self._build_at_init()

    def sample(self, inputs):
        shape = ops.shape(inputs)
        if self.data_format == "channels_last":
            noise_shape = (shape[0], 1, 1, shape[3])
        else:
            noise_shape = (shape[0], shape[1], 1, 1)
        keep = keras.random.uniform(noise_shape, dtype="float32", seed=self.seed_generator)
        mask = ops.cast(keep >= self.rate, "float32") / (1.0 - self.rate)
        return inputs * ops.cast(mask, inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "data_format": self.data_format}


@keras.saving.register_keras_serializable(package="kerasbio")
class DropBlock2D(StochasticLayer):
    """DropBlock (Ghiasi et al. 2018; Dutta 2019, Algorithm 1 and Eq. 4.1).

    Seeds `M_ij ~ Bernoulli(gamma)` with `gamma = rate / b^2 * HW / ((H - b + 1)(W - b + 1))`
    are drawn in the valid region, each seed drops the `b x b` block it is the top-left corner
    of (always inside the map, for odd and even `b`), and `y = x * M * count(M) / count_ones(M)`
    with the counts taken per example. Ghiasi et al. (sec. 3) describe two variants, one mask
    shared by all channels and an independent mask per channel, and report the per-channel one
    (their Algorithm 1) working better; it is the default here. Dutta (4.1.1) writes the
    opposite; `per_channel=False` gives the shared mask. Ghiasi et al. ramp the rate from 0
    during training: use `kerasbio.callbacks.RateSchedule`. A rate of 0 gives `y = x`; the
    expectation is `x`.

    Args:
        rate: Float in [0, 1), the nominal fraction of units dropped (slightly more than the
            actual fraction, because blocks can overlap).
        block_size: Int >= 1, the side of the square blocks; at most the feature map's sides.
        per_channel: Bool, draw an independent mask per channel (default) rather than one mask
            shared by all channels.
        data_format: `"channels_last"`, `"channels_first"` or `None` (Keras' image data format).
        mc: Bool, sample at inference too.
        seed: Optional integer seed.

    Call arguments:
        inputs: 4-D tensor of feature maps.
        training: Python bool; sample when `True` (or when `mc`).
    """

    _example_config = {"rate": 0.3, "block_size": 3}
    _invalid_configs = ({"rate": 1.0}, {"block_size": 0}, {"block_size": 2.5},
                        {"per_channel": "false"}, {"data_format": "nhwc"})

    def __init__(self, rate, block_size=7, per_channel=True, data_format=None, mc=False,
                 seed=None, **kwargs):
        super().__init__(mc=mc, seed=seed, **kwargs)
        self.rate = validate_rate(rate)
        self.block_size = validate_int("block_size", block_size, low=1)
        self.per_channel = validate_bool("per_channel", per_channel)
        self.data_format = validate_data_format(data_format)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def build(self, input_shape):
        rows, cols = (1, 2) if self.data_format == "channels_last" else (2, 3)
        validate_block_size(self.block_size, input_shape[rows], input_shape[cols])

    def sample(self, inputs):
        batch, height, width, channels = channels_last_shape(inputs, self.data_format)
        shape = (batch, height, width, channels if self.per_channel else 1)
        mask = dropblock_keep_mask(shape, self.rate, self.block_size, self.seed_generator)
        mask = from_channels_last(renormalized(mask), self.data_format)
        return inputs * ops.cast(mask, inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "block_size": self.block_size,
                "per_channel": self.per_channel, "data_format": self.data_format}
