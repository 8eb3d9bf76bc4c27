"""Unstructured data for memorization studies: random labels, random images, permuted pixels.

Zhang et al. 2017 ("Understanding deep learning requires rethinking generalization") define the
corrupted labels and the shuffled/random pixels; Tsvetkov et al. 2020 (Materials) the random
images whose pixels follow a Gaussian with the data set's per-channel mean and std.
All functions take NumPy arrays and a seed, and return new arrays.
"""

import numpy as np

from kerasbio.data.datasets import channel_statistics
from kerasbio._core.validation import validate_range


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
    y = np.asarray(y)
    n_classes = int(y.max()) + 1 if n_classes is None else n_classes
    rng = np.random.default_rng(seed)
    chosen = rng.random(y.shape) < fraction
    return np.where(chosen, rng.integers(0, n_classes, size=y.shape), y).astype(y.dtype)


def permute_labels(y, seed=None):
    """A random permutation of the labels: random labels with the class counts kept exactly.

    This is how the capacity study (Tsvetkov et al. 2020) randomizes labels.
    """
    y = np.asarray(y)
    return np.random.default_rng(seed).permutation(y)


def gaussian_pixels(like, n=None, seed=None):
    """Random images, each pixel drawn from `N(mean_c, std_c^2)` of its channel `c` in `like`.

    Tsvetkov et al. 2020, Materials: "sampling pixel values from a Gaussian distribution with a
    mean and standard deviation matching those of CIFAR10, calculated independently for each
    channel". Values are not clipped, so they follow the Gaussian exactly.

    Args:
        like: Images `(m, height, width, channels)` whose statistics and shape are matched.
        n: Number of images to draw (default `m`).
        seed: Optional integer seed.

    Returns:
        float32 array `(n, height, width, channels)`.
    """
    like = np.asarray(like)
    n = len(like) if n is None else n
    mean, std = channel_statistics(like)
    rng = np.random.default_rng(seed)
    return (mean + std * rng.standard_normal((n, *like.shape[1:]))).astype(np.float32)


def shuffled_pixels(x, seed=None):
    """Zhang's "shuffled pixels": one random permutation of the pixel positions for all images.

    The channels of a pixel move together; the images keep their labels.
    """
    x = np.asarray(x)
    flat = _flatten_pixels(x)
    order = np.random.default_rng(seed).permutation(flat.shape[1])
    return flat[:, order].reshape(x.shape)


def random_pixels(x, seed=None):
    """Zhang's "random pixels": an independent random permutation of pixel positions per image."""
    x = np.asarray(x)
    flat = _flatten_pixels(x)
    rng = np.random.default_rng(seed)
    orders = np.argsort(rng.random(flat.shape[:2]), axis=1)
    return np.take_along_axis(flat, orders[..., None], axis=1).reshape(x.shape)


def _flatten_pixels(x):
    """`(n, h, w, c)` -> `(n, h * w, c)`."""
    if x.ndim != 4:
        raise ValueError(f"Expected images of shape (n, height, width, channels). "
                         f"Received: shape={x.shape}")
    return x.reshape(len(x), -1, x.shape[-1])
