"""Unstructured data: Zhang et al. 2017 random labels and pixels, Tsvetkov et al. 2020 images."""

import math

import numpy as np
import pytest

from kerasbio.data import (
    gaussian_pixels,
    permute_labels,
    random_pixels,
    randomize_labels,
    shuffled_pixels,
)

Z = 5.0


@pytest.mark.parametrize("fraction", [0.0, 0.3, 1.0])
def test_randomize_labels_changes_the_expected_fraction(fraction):
    n, classes = 50_000, 10
    y = np.arange(n) % classes
    corrupted = randomize_labels(y, fraction, seed=0) != y
    expected = fraction * (1 - 1 / classes)
    assert abs(corrupted.mean() - expected) <= Z * math.sqrt(expected * (1 - expected) / n)


def test_randomized_labels_are_uniform_and_seeded():
    n, classes = 50_000, 10
    y = np.zeros(n, np.int64)
    random = randomize_labels(y, 1.0, seed=1, n_classes=classes)
    assert random.dtype == y.dtype
    counts = np.bincount(random, minlength=classes)
    assert np.all(np.abs(counts - n / classes) < Z * math.sqrt(n * 0.1 * 0.9))
    np.testing.assert_array_equal(random, randomize_labels(y, 1.0, seed=1, n_classes=classes))
    assert not np.array_equal(random, randomize_labels(y, 1.0, seed=2, n_classes=classes))


def test_randomize_labels_rejects_bad_fraction():
    with pytest.raises(ValueError, match="`fraction`"):
        randomize_labels(np.arange(10), 1.5)


def test_permute_labels_keeps_class_counts_and_mixes():
    y = np.repeat(np.arange(10), [100, 200, 300, 50, 50, 100, 100, 40, 40, 20])
    permuted = permute_labels(y, seed=0)
    np.testing.assert_array_equal(np.bincount(permuted), np.bincount(y))
    assert (permuted != y).mean() > 0.5


def test_gaussian_pixels_match_per_channel_statistics():
    rng = np.random.default_rng(0)
    like = np.concatenate([rng.uniform(0, 1, (500, 8, 8, 1)), rng.normal(0.3, 0.05, (500, 8, 8, 1)),
                           rng.beta(2, 5, (500, 8, 8, 1))], axis=-1).astype(np.float32)
    random = gaussian_pixels(like, n=2000, seed=1)
    assert random.shape == (2000, 8, 8, 3) and random.dtype == np.float32
    m = random[..., 0].size
    for c in range(3):
        mean, std = like[..., c].mean(), like[..., c].std()
        assert abs(random[..., c].mean() - mean) < Z * std / math.sqrt(m)
        assert abs(random[..., c].std() - std) < Z * std / math.sqrt(2 * m)
    pixel_correlation = np.corrcoef(random[:, 0, 0, 0], random[:, 0, 1, 0])[0, 1]
    assert abs(pixel_correlation) < Z / math.sqrt(2000)  # independent pixels


def _images(n=50):
    """Images whose every pixel has distinct values, the channels carrying the pixel identity."""
    pixel_id = np.arange(n * 16, dtype=np.float32).reshape(n, 4, 4, 1)
    return np.concatenate([pixel_id, pixel_id + 0.5], axis=-1)


def test_shuffled_pixels_apply_one_permutation_to_all_images():
    x = _images()
    shuffled = shuffled_pixels(x, seed=0)
    flat, flat_shuffled = x.reshape(50, 16, 2), shuffled.reshape(50, 16, 2)
    order = np.argsort(flat_shuffled[0, :, 0] - flat[0, 0, 0])
    assert not np.array_equal(order, np.arange(16))
    np.testing.assert_array_equal(flat_shuffled[:, order], flat)  # same permutation everywhere
    np.testing.assert_array_equal(flat_shuffled[..., 1] - flat_shuffled[..., 0], 0.5)


def test_random_pixels_permute_each_image_independently():
    x = _images()
    randomized = random_pixels(x, seed=0)
    flat, flat_random = x.reshape(50, 16, 2), randomized.reshape(50, 16, 2)
    np.testing.assert_array_equal(np.sort(flat_random[..., 0], axis=1), flat[..., 0])
    np.testing.assert_array_equal(flat_random[..., 1] - flat_random[..., 0], 0.5)
    orders = {tuple(np.argsort(image[:, 0])) for image in flat_random}
    assert len(orders) == 50  # a different permutation for every image


def test_pixel_permutations_need_image_batches():
    with pytest.raises(ValueError, match="`x`.*rank 4"):
        shuffled_pixels(np.zeros((4, 4, 3)))
