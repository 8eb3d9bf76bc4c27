"""Dropout of kernel-similar feature maps: SimilarMapDropout and CorrDrop (Dutta 2019, 4.2).

Both wrap a convolution (any layer with a 4-D kernel `(kh, kw, in, maps)`, e.g. `Conv2D`), run
it, and drop part of its output. The tuning similarity of two maps is the cosine similarity of
their flattened kernels (Eq. 2.16), recomputed from the current kernel at every call, so it
follows the kernel as it trains.
"""

import keras
from keras import ops

from kerasbio._core.validation import validate_choice, validate_int, validate_range
from kerasbio.layers._wrapper import ConvolutionWrapper
from kerasbio.layers.correlation_structure import kernel_similarity
from kerasbio.layers.structured import (
    channels_last_shape,
    dropblock_keep_mask,
    from_channels_last,
    validate_block_size,
    validate_rate,
)


def top_scores_mask(scores, count):
    """1.0 at the `count` highest `scores` of each row of a (batch, maps) tensor, else 0.0."""
    ranks = ops.argsort(ops.argsort(-scores, axis=-1), axis=-1)
    return ops.cast(ranks < count, "float32")


def similar_maps_mask(similarity, chosen, count):
    """1.0 at the `count` maps most similar to map `chosen[i]` in row i, the chosen map included.

    The chosen map is ranked first even when another map's kernel is identical to it.
    """
    maps = similarity.shape[0]
    scores = ops.where(ops.one_hot(chosen, maps) > 0, 2.0, ops.take(similarity, chosen, axis=0))
    return top_scores_mask(scores, count)


class KernelSimilarityWrapper(ConvolutionWrapper):
    """Base of the similarity-dropout wrappers: a `rate` and the kernel similarity of the maps."""

    def __init__(self, layer, rate, mc=False, seed=None, **kwargs):
        super().__init__(layer, mc=mc, seed=seed, **kwargs)
        self.rate = validate_rate(rate)

    def similarity(self):
        return kernel_similarity(self.layer.kernel)

    def random_maps(self, batch):
        """One map index per example, uniformly at random."""
        return keras.random.randint((batch,), 0, self.maps, seed=self.seed_generator)

    def per_map(self, mask):
        """A (batch, maps) mask shaped to broadcast over the feature maps."""
        if self.data_format == "channels_last":
            return ops.expand_dims(ops.expand_dims(mask, 1), 1)
        return ops.expand_dims(ops.expand_dims(mask, -1), -1)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


@keras.saving.register_keras_serializable(package="kerasbio")
class SimilarMapDropout(KernelSimilarityWrapper):
    """Drops the feature maps most kernel-similar to a random map (Dutta's SpatialDropoutMod, 4.2).

    Per example, a map `r` is chosen uniformly at random and the `k = round(rate * maps)` maps
    with the highest kernel cosine similarity to it (Eq. 2.16) are dropped, `r` itself included
    (it is always dropped when `k >= 1`). The kept maps are scaled by `maps / (maps - k)`, which
    is the thesis' `1 / (1 - rate)` whenever `rate * maps` is a whole number and keeps the
    expectation exact otherwise. The expectation is the wrapped layer's output.

    Usage: `SimilarMapDropout(keras.layers.Conv2D(32, 3, activation="relu"), rate=0.25)`.

    Args:
        layer: The wrapped layer, with a 4-D kernel whose last axis indexes the output maps.
        rate: Float in [0, 1), the fraction of maps dropped.
        mc: Bool, sample at inference too.
        seed: Optional integer seed.

    Call arguments:
        inputs: Inputs of the wrapped layer.
        training: Python bool; sample when `True` (or when `mc`); passed to the wrapped layer.
    """

    _example_config = staticmethod(
        lambda: {"layer": keras.layers.Conv2D(32, 3, activation="relu"), "rate": 0.5})
    _invalid_configs = ({"rate": 1.0}, {"rate": -0.5}, {"layer": "conv"})

    def dropped_count(self):
        """`k = round(rate * maps)`, halves rounded up."""
        return int(self.rate * self.maps + 0.5)

    def sample(self, outputs):
        count = self.dropped_count()
        chosen = self.random_maps(ops.shape(outputs)[0])
        dropped = similar_maps_mask(self.similarity(), chosen, count)
        kept = max(self.maps - count, 1)
        mask = self.per_map((1.0 - dropped) * (self.maps / kept))
        return outputs * ops.cast(mask, outputs.dtype)


@keras.saving.register_keras_serializable(package="kerasbio")
class CorrDrop(KernelSimilarityWrapper):
    """DropBlock on a selected subset of feature maps (Dutta 2019, section 4.2).

    This is Dutta's CorrDrop, not the unrelated CorrDrop of Zeng et al. (ICASSP 2020). Per
    example, `n = max(1, round(fraction * maps))` maps are selected: with `selection="similar"`
    a random map and the `n - 1` maps most kernel-similar to it (Eq. 2.16); with
    `selection="random"` `n` maps at random (the thesis' DropBlockRandom). One DropBlock mask
    (Algorithm 1, Eq. 4.1) is applied to the selected maps only, with the block rate
    `rate * maps / n` (the thesis doubles the rate for `fraction=0.5`), so that the fraction of
    all units dropped matches `DropBlock2D(rate)`; the output is renormalized by
    `count(M) / count_ones(M)` over the whole example. With `rate` near `fraction` or above, the
    seed probability saturates at 1 and every selected unit is dropped. The expectation is the
    wrapped layer's output.

    Usage: `CorrDrop(keras.layers.Conv2D(32, 3, activation="relu"), rate=0.1, block_size=5)`.

    Args:
        layer: The wrapped layer, with a 4-D kernel whose last axis indexes the output maps.
        rate: Float in [0, 1), the nominal fraction of all units dropped (as `DropBlock2D`).
        block_size: Int >= 1, the side of the square blocks; at most the output maps' sides.
        selection: `"similar"` (CorrDrop) or `"random"` (DropBlockRandom).
        fraction: Float in (0, 1], the fraction of maps the mask is applied to.
        mc: Bool, sample at inference too.
        seed: Optional integer seed.

    Call arguments:
        inputs: Inputs of the wrapped layer.
        training: Python bool; sample when `True` (or when `mc`); passed to the wrapped layer.
    """

    _example_config = staticmethod(lambda: {
        "layer": keras.layers.Conv2D(16, 3, activation="relu"), "rate": 0.3, "block_size": 3})
    _invalid_configs = ({"rate": 1.0}, {"block_size": 0}, {"block_size": 2.5},
                        {"selection": "nearest"}, {"fraction": 0.0}, {"fraction": 1.5})

    def __init__(self, layer, rate, block_size=7, selection="similar", fraction=0.5, mc=False,
                 seed=None, **kwargs):
        super().__init__(layer, rate, mc=mc, seed=seed, **kwargs)
        self.block_size = validate_int("block_size", block_size, low=1)
        self.selection = validate_choice("selection", selection, ("similar", "random"))
        self.fraction = validate_range("fraction", fraction, low=0, high=1, low_open=True)

    def build(self, input_shape):
        super().build(input_shape)
        validate_block_size(self.block_size, *self.output_size)

    @property
    def selected_count(self):
        """The number of maps the mask is applied to, `max(1, round(fraction * maps))`."""
        return max(1, int(self.fraction * self.maps + 0.5))

    def selected_maps(self, batch):
        """A (batch, maps) float mask of the maps each example's block mask applies to."""
        if self.selection == "similar":
            return similar_maps_mask(self.similarity(), self.random_maps(batch),
                                     self.selected_count)
        scores = keras.random.uniform((batch, self.maps), seed=self.seed_generator)
        return top_scores_mask(scores, self.selected_count)

    def sample(self, outputs):
        batch, height, width, _ = channels_last_shape(outputs, self.data_format)
        block_rate = self.rate * (self.maps / self.selected_count)
        block = dropblock_keep_mask((batch, height, width, 1), block_rate, self.block_size,
                                    self.seed_generator)
        selected = self.per_map(self.selected_maps(batch))
        mask = 1.0 - selected * from_channels_last(1.0 - block, self.data_format)
        return outputs * ops.cast(mask * self.renormalization(block, height, width), outputs.dtype)

    def renormalization(self, block, height, width):
        """`count(M) / count_ones(M)` per example, from the block mask of the selected maps."""
        count = ops.cast(height * width * self.maps, "float32")
        dropped = ops.sum(1.0 - block, axis=(1, 2, 3), keepdims=True) * self.selected_count
        return count / ops.maximum(count - dropped, 1.0)

    def get_config(self):
        return {**super().get_config(), "block_size": self.block_size,
                "selection": self.selection, "fraction": self.fraction}
