"""Unstructured data for memorization studies: random labels, random images, permuted pixels.

Zhang et al. 2017 ("Understanding deep learning requires rethinking generalization") define the
corrupted labels and the shuffled/random pixels; Tsvetkov et al. 2020 (Materials) the random
images whose pixels follow a Gaussian with the data set's per-channel mean and stddev.
All functions take NumPy arrays and a seed, and return new arrays. Images keep their dtype
(uint8 too; `gaussian_pixels` follows the dtype of `like`, uint8 rounded and clipped to 0-255).
"""

import numpy as np

from kerasbio._core.validation import validate_array, validate_int, validate_range
from kerasbio.data._checks import class_labels, seeded_rng
from kerasbio.data.datasets import channel_statistics


def randomize_labels(y, fraction=1.0, seed=None, n_classes=None):
    """Zhang's corrupted labels: each label, with probability `fraction`, becomes a uniform class.

    A redrawn label can equal the true one by chance (probability `1 / n_classes`), so the
    expected fraction of changed labels is `fraction * (1 - 1 / n_classes)`. The examples whose
    label was corrupted are `randomize_labels(y, ...) != y`.

    Args:
        y: Integer labels, shape `(n,)`.
        fraction: Float in [0, 1], the probability that a label is redrawn.
        seed: Optional integer seed.
        n_classes: Number of classes (default `max(y) + 1`).
    """
    validate_range("fraction", fraction, 0, 1)
    y = class_labels("y", y)
    n_classes = int(y.max()) + 1 if n_classes is None else validate_int("n_classes", n_classes,
                                                                         low=1)
    rng = seeded_rng(seed)
    chosen = rng.random(y.shape) < fraction
    return np.where(chosen, rng.integers(0, n_classes, size=y.shape), y).astype(y.dtype)


def permute_labels(y, seed=None):
    """A random permutation of the labels: random labels with the class counts kept exactly.

    This is how the capacity study (Tsvetkov et al. 2020) randomizes labels.
    """
    return seeded_rng(seed).permutation(class_labels("y", y))


def gaussian_pixels(like, n=None, seed=None):
    """Random images, each pixel drawn from `N(mean_c, stddev_c^2)` of its channel `c` in `like`.

    Tsvetkov et al. 2020, Materials: "sampling pixel values from a Gaussian distribution with a
    mean and standard deviation matching those of CIFAR10, calculated independently for each
    channel". Values are not clipped, so they follow the Gaussian exactly.

    Args:
        like: Images `(m, height, width, channels)` whose statistics and shape are matched.
        n: Number of images to draw (default `m`).
        seed: Optional integer seed.

    Returns:
        Array `(n, height, width, channels)`: float32, or uint8 (rounded, clipped to 0-255, so
        the tails differ from the Gaussian) when `like` is uint8.
    """
    like = validate_array("like", like, ndim=4)
    n = len(like) if n is None else validate_int("n", n, low=1)
    mean, stddev = channel_statistics(like)
    pixels = mean + stddev * seeded_rng(seed).standard_normal((n, *like.shape[1:]))
    if like.dtype == np.uint8:
        return np.clip(np.round(pixels), 0, 255).astype(np.uint8)
    return pixels.astype(np.float32)


def shuffled_pixels(x, seed=None):
    """Zhang's "shuffled pixels": one random permutation of the pixel positions for all images.

    The channels of a pixel move together; the images keep their labels.
    """
    x = validate_array("x", x, ndim=4)
    flat = _flatten_pixels(x)
    order = seeded_rng(seed).permutation(flat.shape[1])
    return flat[:, order].reshape(x.shape)


def random_pixels(x, seed=None):
    """Zhang's "random pixels": an independent random permutation of pixel positions per image."""
    x = validate_array("x", x, ndim=4)
    flat = _flatten_pixels(x)
    rng = seeded_rng(seed)
    orders = np.argsort(rng.random(flat.shape[:2]), axis=1)
    return np.take_along_axis(flat, orders[..., None], axis=1).reshape(x.shape)


def _flatten_pixels(x):
    """`(n, h, w, c)` -> `(n, h * w, c)`."""
    return x.reshape(len(x), -1, x.shape[-1])
