"""SpatialDropout2D and DropBlock2D against theory (Dutta 2019 4.1.1, Algorithm 1, Eq. 4.1)."""

import math

import numpy as np
import pytest

import keras
import tensorflow as tf

from dropblock_theory import assert_fraction, dropped_units, expected_drop_fraction
from kerasbio.layers import CorrDrop, DropBlock2D, SimilarMapDropout, SpatialDropout2D

# (height, width, block): square and non-square maps, odd and even blocks.
MAPS_AND_BLOCKS = [(16, 16, 3), (16, 16, 4), (12, 20, 5), (12, 20, 2)]


def block_corners(dropped, block):
    """Top-left corners of the all-dropped block x block windows lying inside a 2-D map."""
    windows = np.lib.stride_tricks.sliding_window_view(dropped, (block, block))
    return windows.all(axis=(-2, -1))


def union_of_blocks(corners, block, shape):
    union = np.zeros(shape, bool)
    for row, col in zip(*np.nonzero(corners)):
        union[row:row + block, col:col + block] = True
    return union


@pytest.mark.parametrize("height, width, block", MAPS_AND_BLOCKS)
def test_dropblock_drop_fraction_matches_theory_and_rate(height, width, block):
    rate = 0.1
    layer = DropBlock2D(rate, block, seed=1)
    dropped = dropped_units(layer, np.ones((3000, height, width, 1), "float32"))
    per_example = dropped.mean(axis=(1, 2, 3))
    assert_fraction(per_example, expected_drop_fraction(rate, height, width, block))
    # Eq. 4.1 ignores block overlaps, which only lower the fraction: 0.094-0.096 here.
    assert rate * 0.9 < per_example.mean() < rate


@pytest.mark.parametrize("height, width, block", MAPS_AND_BLOCKS)
def test_dropblock_drops_whole_blocks_inside_the_map(height, width, block):
    layer = DropBlock2D(0.03, block, seed=2)
    dropped = dropped_units(layer, np.ones((300, height, width, 1), "float32"))[..., 0]
    counts = dropped.sum(axis=(1, 2))
    for example in dropped:
        corners = block_corners(example, block)
        np.testing.assert_array_equal(union_of_blocks(corners, block, example.shape), example)
    assert counts[counts > 0].min() == block**2
    assert np.sum(counts == block**2) > 30  # many examples hold exactly one block


def test_dropblock_mask_is_per_channel_unless_shared():
    x = np.ones((50, 12, 12, 4), "float32")
    shared = dropped_units(DropBlock2D(0.2, 3, per_channel=False, seed=3), x)
    assert shared.any()
    assert np.all(shared == shared[..., :1])
    separate = dropped_units(DropBlock2D(0.2, 3, seed=3), x)
    assert not np.all(separate == separate[..., :1])
    assert_fraction(separate.mean(axis=(1, 2, 3)), expected_drop_fraction(0.2, 12, 12, 3))


@pytest.mark.parametrize("per_channel", [False, True])
def test_dropblock_renormalizes_each_example_by_count_over_count_ones(per_channel):
    layer = DropBlock2D(0.3, 3, per_channel=per_channel, seed=4)
    out = keras.ops.convert_to_numpy(layer(np.ones((20, 10, 10, 3), "float32"), training=True))
    for example in out:
        kept = example[example != 0]
        np.testing.assert_allclose(kept, example.size / kept.size, rtol=1e-6)
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), 1.0, rtol=1e-5)


def test_dropblock_traces_once_for_unknown_map_sizes():
    layer = DropBlock2D(0.15, 3, seed=5)
    step = tf.function(lambda x: layer(x, training=True),
                       input_signature=[tf.TensorSpec((None, None, None, 2), "float32")])
    for shape in [(1500, 10, 12, 2), (1500, 16, 9, 2)]:
        out = step(tf.ones(shape)).numpy()
        assert out.shape == shape
        theory = expected_drop_fraction(0.15, *shape[1:3], 3)
        assert_fraction((out == 0).mean(axis=(1, 2, 3)), theory)
    assert step.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("make_layer", [
    lambda data_format: DropBlock2D(0.3, 3, data_format=data_format, seed=7),
    lambda data_format: SpatialDropout2D(0.5, data_format=data_format, seed=7)],
    ids=["DropBlock2D", "SpatialDropout2D"])
def test_channels_first_draws_the_same_mask_as_channels_last(make_layer):
    x = np.random.default_rng(0).uniform(0.5, 2.0, (4, 10, 12, 3)).astype("float32")
    last = keras.ops.convert_to_numpy(make_layer("channels_last")(x, training=True))
    first = make_layer("channels_first")(x.transpose(0, 3, 1, 2), training=True)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(first), last.transpose(0, 3, 1, 2))
    assert (last == 0).any()


def test_dropblock_rejects_a_block_larger_than_the_map():
    with pytest.raises(ValueError, match="`block_size`.*5x5"):
        DropBlock2D(0.1, 7)(np.ones((1, 5, 5, 1), "float32"), training=True)


def test_spatial_dropout_drops_whole_maps_at_the_rate():
    rate, n = 0.3, 2000
    out = keras.ops.convert_to_numpy(
        SpatialDropout2D(rate, seed=8)(np.ones((n, 4, 5, 8), "float32"), training=True))
    per_map = out.reshape(n, 20, 8)
    assert np.all((per_map == 0) | np.isclose(per_map, 1 / (1 - rate)))
    assert np.all(per_map == per_map[:, :1])
    dropped = (per_map[:, 0] == 0).mean()
    assert abs(dropped - rate) < 5 * math.sqrt(rate * (1 - rate) / per_map[:, 0].size)


def conv(maps=6):
    return keras.layers.Conv2D(maps, 3, padding="same")


@pytest.mark.parametrize("make_layer", [
    lambda: SpatialDropout2D(0.5, seed=9),
    lambda: DropBlock2D(0.5, 3, seed=9),
    lambda: SimilarMapDropout(conv(), 0.5, seed=9),
    lambda: CorrDrop(conv(), 0.4, block_size=3, seed=9),
    lambda: CorrDrop(conv(), 0.4, block_size=3, selection="random", seed=9)],
    ids=["SpatialDropout2D", "DropBlock2D", "SimilarMapDropout", "CorrDrop", "DropBlockRandom"])
def test_rate_set_to_zero_gives_the_identity(make_layer):
    layer = make_layer()
    x = np.random.default_rng(1).uniform(0.5, 2.0, (8, 9, 9, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(layer(x, training=False))
    assert not np.array_equal(keras.ops.convert_to_numpy(layer(x, training=True)), expected)
    assert isinstance(layer.rate, float) and not layer.non_trainable_weights
    layer.rate = 0.0
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=True)), expected)
    assert layer.get_config()["rate"] == 0.0
