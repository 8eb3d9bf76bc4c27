"""Checks shared by kerasbio.data. The one image convention: float images in [0, 1], or uint8 images in 0-255.

A function given uint8 images works on `x / 255` and returns uint8 again (rounded and clipped
to 0-255); float images come back in their own dtype. Other dtypes, NaN or inf, values outside
[0, 1] for floats and ranks other than those allowed are refused with a clear error.
"""

import numpy as np

from kerasbio._core.validation import validate_array, validate_int

# Float images may exceed [0, 1] by this much (rounding in a resize or a colour conversion).
RANGE_TOLERANCE = 1e-6


def unit_images(name, images, ndim=(3, 4)):
    """`(float64 images in [0, 1], dtype to return them in)`."""
    images = validate_array(name, images, ndim=ndim)
    if images.dtype == np.uint8:
        return images / 255.0, images.dtype
    if images.dtype.kind != "f":
        raise ValueError(f"Invalid value received for argument `{name}`. Expected float images "
                         f"in [0, 1] or uint8 images in 0-255. Received: dtype {images.dtype}")
    low, high = images.min(), images.max()
    if low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        raise ValueError(f"Invalid value received for argument `{name}`. Expected float images "
                         f"in [0, 1] (or uint8 in 0-255). Received: values from {low:.4g} to "
                         f"{high:.4g}; rescale them first, and standardize after manipulating")
    return images.astype(np.float64), images.dtype


def restore_images(values, dtype, shape=None):
    """Values in the [0, 1] scale back to `dtype` (uint8: rounded and clipped to 0-255),
    broadcasting one grey channel back to `shape` if given."""
    values = np.asarray(values)
    if shape is not None and values.shape != tuple(shape):
        values = np.broadcast_to(values, shape)
    if dtype == np.uint8:
        return np.clip(np.round(values * 255.0), 0, 255).astype(np.uint8)
    return values.astype(dtype)


def seeded_rng(seed):
    """NumPy generator of an optional non-negative integer seed."""
    if seed is not None:
        validate_int("seed", seed, low=0)
    return np.random.default_rng(seed)


def class_labels(name, labels):
    """Non-negative integer class labels `(n,)` (integral floats accepted), dtype kept."""
    labels = validate_array(name, labels, ndim=1)
    if np.any(labels != np.round(labels)) or labels.min() < 0:
        raise ValueError(f"Invalid value received for argument `{name}`. Expected non-negative "
                         f"integer class labels of shape (n,). Received: values such as "
                         f"{labels[:3]}")
    return labels


def matching_examples(x, y):
    """Raise unless `x` and `y` hold the same number of examples."""
    if len(x) != len(y):
        raise ValueError(f"`x` and `y` must hold the same examples. Received {len(x)} inputs "
                         f"and {len(y)} labels.")
