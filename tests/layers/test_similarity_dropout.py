"""SimilarMapDropout and CorrDrop drop the maps known kernel similarities predict (Dutta 4.2)."""

import numpy as np
import pytest

import keras

from dropblock_theory import assert_fraction, expected_drop_fraction
from kerasbio.layers import CorrDrop, SimilarMapDropout
from kerasbio.layers.correlation_structure import kernel_similarity
from kerasbio.layers.similarity_dropout import similar_maps_mask
from probes import channels_first_conv_runs

# Eight 1x1 kernels w_j = (cos a_j, sin a_j): cosine similarity cos(a_i - a_j) (Eq. 2.16), no ties.
ANGLES = np.radians([0, 12, 31, 55, 84, 130, 150, 171])
INPUT_CHANNELS = np.array([1.0, 0.3], "float32")  # every map's response is far from 0


def angle_kernel(angles):
    return np.stack([np.cos(angles), np.sin(angles)])[None, None].astype("float32")


def predicted_sets(angles, count):
    """For each chosen map r, the `count` maps most similar to it (r first)."""
    similarity = np.cos(angles[:, None] - angles[None, :])
    sets = []
    for chosen, row in enumerate(similarity):
        order = np.argsort(-row, kind="stable")
        assert order[0] == chosen and row[order[count - 1]] - row[order[count]] > 1e-3
        sets.append(frozenset(order[:count].tolist()))
    return sets


def wrapped(cls, angles, size=6, **kwargs):
    layer = cls(keras.layers.Conv2D(len(angles), 1, use_bias=False), **kwargs)
    layer.build((None, size, size, 2))
    layer.layer.kernel.assign(angle_kernel(angles))
    return layer


def responses(layer, batch, size=6):
    """(expected, sampled) outputs for a batch of constant inputs."""
    x = np.broadcast_to(INPUT_CHANNELS, (batch, size, size, 2)).copy()
    return (keras.ops.convert_to_numpy(layer(x, training=False)),
            keras.ops.convert_to_numpy(layer(x, training=True)))


def maps_with_drops(out):
    return [frozenset(np.nonzero((example == 0).any(axis=(0, 1)))[0].tolist()) for example in out]


def test_kernel_similarity_is_the_cosine_of_the_flattened_kernels():
    kernel = np.random.default_rng(0).normal(size=(3, 3, 4, 5)).astype("float32")
    flat = kernel.reshape(-1, 5)
    expected = flat.T @ flat / np.outer(np.linalg.norm(flat, axis=0), np.linalg.norm(flat, axis=0))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(kernel_similarity(kernel)), expected,
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("count", [1, 3, 5])
def test_similar_maps_mask_selects_the_predicted_maps(count):
    similarity = kernel_similarity(angle_kernel(ANGLES)[0, 0][None, None])
    mask = keras.ops.convert_to_numpy(similar_maps_mask(similarity, np.arange(8), count))
    selected = [frozenset(np.nonzero(row)[0].tolist()) for row in mask]
    assert selected == predicted_sets(ANGLES, count)


def test_chosen_map_is_selected_even_when_kernels_are_identical():
    mask = similar_maps_mask(keras.ops.ones((6, 6)), np.array([4, 2, 5]), 1)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(mask), np.eye(6)[[4, 2, 5]])


@pytest.mark.parametrize("rate, dropped", [(0.5, 4), (0.3, 2)])
def test_similar_map_dropout_drops_the_predicted_maps_and_rescales(rate, dropped):
    layer = wrapped(SimilarMapDropout, ANGLES, rate=rate, seed=1)
    expected, out = responses(layer, 400)
    observed = maps_with_drops(out)
    predicted = set(predicted_sets(ANGLES, dropped))
    assert set(observed) == predicted  # each example drops a predicted set; all sets occur
    for example, maps, reference in zip(out, observed, expected):
        assert np.all(example[..., sorted(maps)] == 0)
        kept = sorted(set(range(8)) - maps)
        np.testing.assert_allclose(example[..., kept], reference[..., kept] * 8 / (8 - dropped),
                                   rtol=1e-6)


def test_similarity_follows_the_current_kernel():
    layer = wrapped(SimilarMapDropout, ANGLES, rate=0.5, seed=2)
    permuted = ANGLES[[5, 0, 7, 2, 6, 1, 4, 3]]
    layer.layer.kernel.assign(angle_kernel(permuted))
    observed = set(maps_with_drops(responses(layer, 400)[1]))
    assert observed == set(predicted_sets(permuted, 4))
    assert observed != set(predicted_sets(ANGLES, 4))


def test_corrdrop_applies_one_block_mask_to_the_predicted_maps():
    rate, size = 0.2, 12
    layer = wrapped(CorrDrop, ANGLES, size=size, rate=rate, block_size=3, seed=3)
    expected, out = responses(layer, 600, size)
    predicted = set(predicted_sets(ANGLES, 4))
    observed = maps_with_drops(out)
    assert set(observed) - {frozenset()} == predicted
    for example, maps, reference in zip(out, observed, expected):
        zeros = example == 0
        assert all(np.array_equal(zeros[..., m], zeros[..., min(maps)]) for m in maps)
        scale = example[~zeros] / reference[~zeros]
        np.testing.assert_allclose(scale, zeros.size / (~zeros).sum(), rtol=1e-5)
    # DropBlock at twice the rate on half the maps: nominal rate (Eq. 4.1) `rate` over all maps.
    theory = 0.5 * expected_drop_fraction(2 * rate, size, size, 3)
    assert_fraction((out == 0).mean(axis=(1, 2, 3)), theory)


def test_corrdrop_random_selection_ignores_similarity():
    layer = wrapped(CorrDrop, ANGLES, size=12, rate=0.2, block_size=3, selection="random",
                    fraction=0.25, seed=4)
    out = responses(layer, 600, 12)[1]
    observed = [maps for maps in maps_with_drops(out) if maps]
    assert all(len(maps) == 2 for maps in observed)
    assert len(set(observed)) > len(set(predicted_sets(ANGLES, 2))) + 5
    assert_fraction((out == 0).mean(axis=(1, 2, 3)), 0.25 * expected_drop_fraction(0.8, 12, 12, 3))


@pytest.mark.parametrize("cls", [SimilarMapDropout, CorrDrop])
def test_wrappers_reject_a_layer_without_a_4d_kernel(cls):
    with pytest.raises(ValueError, match="`layer`.*4-D kernel"):
        cls(keras.layers.Dense(4), 0.2)(np.ones((2, 6, 6, 3), "float32"))


@pytest.mark.skipif(not channels_first_conv_runs(), reason="no NCHW convolution on this CPU build")
@pytest.mark.parametrize("cls, kwargs", [(SimilarMapDropout, {}), (CorrDrop, {"block_size": 3})])
def test_channels_first_convolution_gets_the_same_drops(cls, kwargs):
    x = np.random.default_rng(0).uniform(0.5, 2.0, (4, 10, 10, 3)).astype("float32")
    last = cls(keras.layers.Conv2D(8, 3), 0.4, seed=3, **kwargs)
    first = cls(keras.layers.Conv2D(8, 3, data_format="channels_first"), 0.4, seed=3, **kwargs)
    last.build(x.shape)
    first.build((4, 3, 10, 10))
    first.layer.set_weights(last.layer.get_weights())
    expected = keras.ops.convert_to_numpy(last(x, training=True)).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(first(x.transpose(0, 3, 1, 2), training=True), expected, atol=1e-5)
    assert (expected == 0).mean() > 0.1
