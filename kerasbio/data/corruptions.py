"""CIFAR-10-C corruptions (Hendrycks & Dietterich 2019): all 19, in our own code.

The severity parameters are those of Hendrycks' `make_cifar_c.py` for 32x32 CIFAR images (not
the ImageNet-C ones), listed in `SEVERITIES`; Dutta 2019 (section 2.4.4) evaluates on this set.
Differences from that script: images are computed as floats in [0, 1] (no rounding to uint8
between steps, except around JPEG coding; uint8 input is rounded once at the end), the HSV
conversions use `tf.image`, and pixelate applies Pillow's BOX filter to float images. Grey
images (one channel) work for every corruption but saturate.

The seven corruptions Hendrycks builds with ImageMagick, OpenCV or pictures are approximations:
motion blur (and snow's streaks) use ImageMagick's one-sided Gaussian line kernel, whole-pixel
taps; fog's plasma fractal is our diamond-square with his noise schedule; spatter's water
texture takes the drops' boundary pixels where he runs Canny, then our own distance,
equalisation and emboss steps; elastic follows his affine warp and smoothed displacement (two
bilinear resamplings); frosted glass blur does what his pixel "swap" does on RGB arrays (each
pixel copies an up-left neighbour, see `copy_neighbours`). Frost overlays photographs kerasbio
cannot ship: pass `frost_dir` (or set `$KERASBIO_FROST_DIR`) to a directory of frost pictures;
all of them are drawn from (Hendrycks draws from his first five), shrunk bilinearly.

Images of other sizes than 32x32: lengths in pixels of motion blur, snow's streaks, spatter's
smoothing and frost's picture scale are multiplied by `min(height, width) / 32`; elastic's
parameters are fractions of the image size, as in Hendrycks' code; fog's fractal
covers the smallest power-of-two square holding the image; the pixel-level blurs (Gaussian,
defocus, glass) and all noises keep their 32x32 parameters.
"""

import functools
import io
import os

import numpy as np
import tensorflow as tf
from scipy import ndimage

from kerasbio._core.validation import invalid_argument, validate_choice, validate_int
from kerasbio.data._checks import restore_images, seeded_rng, unit_images
from kerasbio.data._geometric_corruptions import (
    elastic_transform,
    glass_blur,
    motion_blur_corruption,
)
from kerasbio.data._image_filters import clipped_zoom, gaussian_smooth
from kerasbio.data._weather_corruptions import fog, frost, frost_pictures, snow, spatter

SEVERITIES = {
    "gaussian_noise": (0.04, 0.06, 0.08, 0.09, 0.10),  # noise stddev
    "shot_noise": (500, 250, 100, 75, 50),  # photons at full intensity
    "impulse_noise": (0.01, 0.02, 0.03, 0.05, 0.07),  # fraction of salt-and-pepper values
    "speckle_noise": (0.06, 0.10, 0.12, 0.16, 0.20),  # multiplicative noise stddev
    "gaussian_blur": (0.4, 0.6, 0.7, 0.8, 1.0),  # blur sigma in pixels
    "defocus_blur": ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)),  # radius, alias
    "zoom_blur": (1.06, 1.11, 1.16, 1.21, 1.26),  # averages zooms np.arange(1, this, 0.01)
    "contrast": (0.75, 0.5, 0.4, 0.3, 0.15),  # contrast factor around the image mean
    "brightness": (0.05, 0.1, 0.15, 0.2, 0.3),  # added to the HSV value
    "saturate": ((0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2)),  # HSV saturation s*a + b
    "jpeg_compression": (80, 65, 58, 50, 40),  # JPEG quality
    "pixelate": (0.95, 0.9, 0.85, 0.75, 0.65),  # downscaling factor
    # blur sigma, largest swap offset (pixels), swap passes
    "frosted_glass_blur": ((0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2)),
    "motion_blur": ((6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5)),  # ImageMagick radius, sigma
    # flake noise mean, stddev, zoom, threshold; streak radius, sigma; image blend
    "snow": ((0.1, 0.2, 1, 0.6, 8, 3, 0.95), (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
             (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9), (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
             (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8)),
    "frost": ((1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)),  # image, frost weights
    "fog": ((0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)),  # strength, fractal decay
    # liquid noise mean, stddev, smoothing sigma, threshold; water strength or mud sigma; mud
    "spatter": ((0.62, 0.1, 0.7, 0.7, 0.5, 0), (0.65, 0.1, 0.8, 0.7, 0.5, 0),
                (0.65, 0.3, 1, 0.69, 0.5, 0), (0.65, 0.1, 0.7, 0.69, 0.6, 1),
                (0.65, 0.1, 0.5, 0.68, 0.6, 1)),
    # alpha, sigma, affine offset, as fractions of the image size
    "elastic": ((0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06), (0.1, 0.04, 0.05),
                (0.1, 0.03, 0.03)),
}


def corruptions():
    """Names of the corruptions `corrupt` implements (the TFDS `cifar10_corrupted` config names)."""
    return tuple(SEVERITIES)


def corrupt(x, name, severity, seed=None, frost_dir=None):
    """Apply CIFAR-10-C corruption `name` at `severity` (1-5) to images.

    Args:
        x: Images `(n, height, width, channels)` or one image `(height, width, channels)`,
            float in [0, 1] or uint8 in 0-255 (returned as uint8, rounded).
        name: One of `corruptions()`.
        severity: Integer 1-5; the parameter is `SEVERITIES[name][severity - 1]`.
        seed: Optional integer seed of the random corruptions (drawn per image).
        frost_dir: For `"frost"`: a directory of frost pictures (.png, .jpg), default
            `$KERASBIO_FROST_DIR`; kerasbio does not ship Hendrycks' frost photographs.

    Returns:
        The corrupted images, same shape and dtype as `x`, in [0, 1] (uint8: 0-255).
    """
    validate_choice("name", name, corruptions())
    validate_int("severity", severity, low=1, high=5)
    if frost_dir is not None and not isinstance(frost_dir, (str, os.PathLike)):
        raise invalid_argument("frost_dir", "a directory path or None", frost_dir)
    x, dtype = unit_images("x", x)
    batch = x if x.ndim == 4 else x[None]
    corruption = _CORRUPTIONS[name]
    if name == "frost":
        pictures = frost_pictures(frost_dir, *batch.shape[1:3])
        corruption = functools.partial(frost, pictures=pictures)
    parameter = SEVERITIES[name][severity - 1]
    out = restore_images(np.clip(corruption(batch, parameter, seeded_rng(seed)), 0, 1), dtype)
    return out if x.ndim == 4 else out[0]


def _gaussian_noise(x, stddev, rng):
    return x + rng.normal(scale=stddev, size=x.shape)


def _shot_noise(x, photons, rng):
    return rng.poisson(x * photons) / photons


def _impulse_noise(x, amount, rng):
    """skimage `random_noise(mode="s&p")`: each value flips with prob. `amount`, half to 1."""
    flipped = rng.random(x.shape) < amount
    salt = rng.random(x.shape) < 0.5
    return np.where(flipped, salt.astype(x.dtype), x)


def _speckle_noise(x, stddev, rng):
    return x + x * rng.normal(scale=stddev, size=x.shape)


def _gaussian_blur(x, sigma, rng):
    return gaussian_smooth(x, sigma)


def _defocus_blur(x, parameter, rng):
    radius, alias_blur = parameter
    kernel = defocus_kernel(radius, alias_blur)
    return ndimage.correlate(x, kernel[None, :, :, None], mode="mirror")


def defocus_kernel(radius, alias_blur):
    """Hendrycks' anti-aliased disk: a 17x17 disk of `radius`, normalised, then blurred by a 3x3
    Gaussian of stddev `alias_blur` (OpenCV's `GaussianBlur`, edges reflected without repetition)."""
    half = max(8, int(np.ceil(radius)))
    grid = np.arange(-half, half + 1)
    disk = (grid[:, None] ** 2 + grid[None, :] ** 2 <= radius ** 2).astype(np.float64)
    disk /= disk.sum()
    taps = np.exp(-np.arange(-1, 2) ** 2 / (2 * alias_blur ** 2))
    taps /= taps.sum()
    blurred = ndimage.correlate1d(disk, taps, axis=0, mode="mirror")
    return ndimage.correlate1d(blurred, taps, axis=1, mode="mirror")


def _zoom_blur(x, stop, rng):
    """Mean of the image and its central zooms by `np.arange(1, stop, 0.01)` (as Hendrycks)."""
    factors = np.arange(1, stop, 0.01)
    total = x + sum(clipped_zoom(x, factor) for factor in factors)
    return total / (len(factors) + 1)


def _contrast(x, factor, rng):
    means = x.mean(axis=(1, 2), keepdims=True)
    return (x - means) * factor + means


def _brightness(x, shift, rng):
    return _in_hsv(x, lambda h, s, v: (h, s, tf.clip_by_value(v + shift, 0, 1)))


def _saturate(x, parameter, rng):
    if x.shape[-1] != 3:
        raise ValueError(f"The 'saturate' corruption changes colour saturation and needs RGB "
                         f"images (3 channels). Received images with {x.shape[-1]} channel(s).")
    scale, shift = parameter
    return _in_hsv(x, lambda h, s, v: (h, tf.clip_by_value(s * scale + shift, 0, 1), v))


def _in_hsv(x, change):
    """Apply `change(h, s, v) -> (h, s, v)` in HSV space; grey images pass as RGB and back."""
    grey = x.shape[-1] == 1
    rgb = tf.constant(np.repeat(x, 3, axis=-1) if grey else x, tf.float32)
    h, s, v = tf.unstack(tf.image.rgb_to_hsv(rgb), axis=-1)
    out = tf.image.hsv_to_rgb(tf.stack(change(h, s, v), axis=-1)).numpy().astype(np.float64)
    return out[..., :1] if grey else out


def _jpeg_compression(x, quality, rng):
    from PIL import Image

    out = np.empty_like(x)
    for i, image in enumerate(np.round(x * 255).astype(np.uint8)):
        buffer = io.BytesIO()
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(
            buffer, "JPEG", quality=quality)
        decoded = np.asarray(Image.open(buffer), dtype=np.float64) / 255
        out[i] = decoded.reshape(image.shape)
    return out


def _pixelate(x, factor, rng):
    """Pillow BOX resize to `int(size * factor)` and back, as separable matrices on floats."""
    height, width = x.shape[1:3]
    small_h, small_w = max(1, int(height * factor)), max(1, int(width * factor))
    rows = _box_resize_matrix(small_h, height) @ _box_resize_matrix(height, small_h)
    cols = _box_resize_matrix(small_w, width) @ _box_resize_matrix(width, small_w)
    n, channels = len(x), x.shape[-1]
    along_rows = rows @ x.reshape(n, height, width * channels)  # batched matrix products
    return (cols @ along_rows.reshape(n * height, width, channels)).reshape(x.shape)


@functools.lru_cache(maxsize=None)
def _box_resize_matrix(size_in, size_out):
    """Matrix `m` with `m @ v` = Pillow's BOX resize of the column `v` from `size_in` values."""
    from PIL import Image

    matrix = np.zeros((size_out, size_in))
    for j in range(size_in):
        basis = np.zeros((size_in, 1), np.float32)
        basis[j] = 1
        resized = Image.fromarray(basis, mode="F").resize((1, size_out), Image.Resampling.BOX)
        matrix[:, j] = np.asarray(resized)[:, 0]
    return matrix


_CORRUPTIONS = {
    "gaussian_noise": _gaussian_noise,
    "shot_noise": _shot_noise,
    "impulse_noise": _impulse_noise,
    "speckle_noise": _speckle_noise,
    "gaussian_blur": _gaussian_blur,
    "defocus_blur": _defocus_blur,
    "zoom_blur": _zoom_blur,
    "contrast": _contrast,
    "brightness": _brightness,
    "saturate": _saturate,
    "jpeg_compression": _jpeg_compression,
    "pixelate": _pixelate,
    "frosted_glass_blur": glass_blur,
    "motion_blur": motion_blur_corruption,
    "snow": snow,
    "frost": frost,
    "fog": fog,
    "spatter": spatter,
    "elastic": elastic_transform,
}
