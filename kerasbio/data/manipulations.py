"""Image manipulations for robustness tests: image noise (McClure 2018, Geirhos et al. 2018) and
Dutta's occlusions.

All functions are vectorized over a batch `(n, height, width, channels)` (a single image
`(height, width, channels)` works too), take float images in [0, 1] and a seed, and return a
new array with the input's shape and dtype.
"""

import numpy as np

from kerasbio._core.validation import validate_choice, validate_range

# Luminance weights of skimage's rgb2gray (ITU-R BT.709), which Geirhos et al. use.
LUMINANCE = np.array([0.2125, 0.7154, 0.0721])
OCCLUSIONS = ("central", "checkerboard", "horizontal_bars", "vertical_bars", "horizontal_half",
              "vertical_half")


def gaussian_noise(x, std, seed=None, clip=False):
    """Additive Gaussian image noise `x + N(0, std^2)`, independent per pixel and channel.

    McClure 2018, Figs. 3.5/3.6 (test images with St.D 0-5 on MNIST, 0-1 on CIFAR-10). The
    result is not clipped by default (the thesis' St.D of 5 would otherwise saturate every
    pixel); `clip=True` clips to [0, 1].
    """
    validate_range("std", std, low=0)
    x = np.asarray(x)
    noisy = x + std * np.random.default_rng(seed).standard_normal(x.shape)
    return _finish(np.clip(noisy, 0, 1) if clip else noisy, x.dtype)


def to_grayscale(x):
    """Luminance `0.2125 R + 0.7154 G + 0.0721 B`, repeated over the channels (shape kept)."""
    x = np.asarray(x)
    return _finish(_luminance(x), x.dtype, x.shape)


def reduce_contrast(x, contrast):
    """Geirhos et al. 2018 contrast reduction: `(1 - c) / 2 + c * x`, `c` in [0, 1]."""
    validate_range("contrast", contrast, 0, 1)
    x = np.asarray(x)
    return _finish((1 - contrast) / 2 + contrast * x, x.dtype)


def uniform_noise(x, width, contrast=0.3, grayscale=True, seed=None):
    """Geirhos et al. 2018 uniform noise: contrast reduction, then `+ U(-width, width)`, then clip.

    With `grayscale` (as Geirhos and Tsvetkov et al. 2020, who vary `width` over 0-0.5 in steps
    of 0.05) the image is first converted to grey and one noise value is added per pixel (the
    same on every channel); otherwise noise is drawn per channel.

    Args:
        x: Float images in [0, 1].
        width: Float >= 0, half-width of the uniform noise.
        contrast: Contrast level `c` in [0, 1] (Geirhos: 0.3).
        grayscale: Convert to grey first.
        seed: Optional integer seed.
    """
    validate_range("width", width, low=0)
    x = np.asarray(x)
    base = _contrast_base(x, contrast, grayscale)
    noise = np.random.default_rng(seed).uniform(-width, width, base.shape)
    return _finish(np.clip(base + noise, 0, 1), x.dtype, x.shape)


def salt_and_pepper(x, p, contrast=0.3, grayscale=True, seed=None):
    """Geirhos et al. 2018 salt-and-pepper noise: contrast reduction, then a fraction `p / 2` of
    the pixels set to white (1) and `p / 2` to black (0).

    With `grayscale` a whole pixel (all channels) turns white or black; otherwise each channel
    value independently. Tsvetkov et al. 2020 vary `p` over 0-0.5 in steps of 0.05.
    """
    validate_range("p", p, 0, 1)
    x = np.asarray(x)
    base = _contrast_base(x, contrast, grayscale)
    u = np.random.default_rng(seed).random(base.shape)
    noisy = np.where(u < p / 2, 0.0, np.where(u >= 1 - p / 2, 1.0, base))
    return _finish(noisy, x.dtype, x.shape)


def occlude(x, kind, fill=0.0):
    """One of Dutta's six occlusions (2019, section 2.4.3, Fig. 2.4), filled with `fill`.

    Fig. 2.4 shows the kinds but gives no sizes; for an `h x w` image we use (32x32: in pixels):
    `"central"`: the central `h/2 x w/2` square (16x16); `"checkerboard"`: squares of side `h/8`
    (4), alternate ones occluded starting at the top left; `"horizontal_bars"` /
    `"vertical_bars"`: bands of `h/8` (4) rows / `w/8` columns, every other one occluded
    starting at the top / left; `"horizontal_half"`: the bottom half; `"vertical_half"`: the
    right half. Every kind but `"central"` hides half of the image.
    """
    validate_choice("kind", kind, OCCLUSIONS)
    x = np.asarray(x)
    mask = occlusion_mask(x.shape[-3], x.shape[-2], kind)
    return _finish(np.where(mask[:, :, None], fill, x), x.dtype)


def occlusion_mask(height, width, kind):
    """Boolean `(height, width)` mask, `True` where `occlude(..., kind)` hides the image."""
    validate_choice("kind", kind, OCCLUSIONS)
    rows = np.arange(height)[:, None]
    cols = np.arange(width)[None, :]
    row_band = rows // max(1, height // 8)
    col_band = cols // max(1, width // 8)
    masks = {
        "central": lambda: ((rows >= height // 4) & (rows < height // 4 + height // 2)
                            & (cols >= width // 4) & (cols < width // 4 + width // 2)),
        "checkerboard": lambda: (row_band + col_band) % 2 == 0,
        "horizontal_bars": lambda: row_band % 2 == 0,
        "vertical_bars": lambda: col_band % 2 == 0,
        "horizontal_half": lambda: rows >= height // 2,
        "vertical_half": lambda: cols >= width // 2,
    }
    return np.broadcast_to(masks[kind](), (height, width))


def _contrast_base(x, contrast, grayscale):
    """The contrast-reduced image; with `grayscale` one channel, so the noise is drawn once per
    pixel and shared by the channels when `_finish` broadcasts it back."""
    return reduce_contrast(_luminance(x) if grayscale else x, contrast)


def _luminance(x):
    """`(..., channels)` -> `(..., 1)` luminance (grey images pass unchanged)."""
    if x.shape[-1] == 1:
        return x
    return (x @ LUMINANCE.astype(x.dtype))[..., None]


def _finish(values, dtype, shape=None):
    """Cast to `dtype`, broadcasting one grey channel back to `shape` if given."""
    values = np.asarray(values)
    if shape is not None and values.shape != tuple(shape):
        return np.broadcast_to(values, shape).astype(dtype)
    return values.astype(dtype, copy=False)
