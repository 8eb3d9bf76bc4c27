"""Image manipulations for robustness tests: image noise (McClure 2018, Geirhos et al. 2018) and
Dutta's occlusions.

All functions are vectorized over a batch `(n, height, width, channels)` (a single image
`(height, width, channels)` works too), take float images in [0, 1] or uint8 images in 0-255
and a seed, and return a new array with the input's shape and dtype (uint8 results are
rounded and clipped to 0-255). Other dtypes, NaN or inf, and float values outside [0, 1] are
refused.
"""

import numpy as np

from kerasbio._core.validation import validate_bool, validate_choice, validate_int, validate_range
from kerasbio.data._checks import restore_images, seeded_rng, unit_images

# Luminance weights of skimage's rgb2gray (ITU-R BT.709), which Geirhos et al. use.
LUMINANCE = np.array([0.2125, 0.7154, 0.0721])
OCCLUSIONS = ("central", "checkerboard", "horizontal_bars", "vertical_bars", "horizontal_half",
              "vertical_half")


def gaussian_noise(x, stddev, seed=None, clip=False):
    """Additive Gaussian image noise `x + N(0, stddev^2)`, independent per pixel and channel.

    McClure 2018, Figs. 3.5/3.6 (test images with St.D 0-5 on MNIST, 0-1 on CIFAR-10). Float
    results are not clipped by default (the thesis' St.D of 5 would otherwise saturate every
    pixel); `clip=True` clips to [0, 1]. uint8 results are always clipped (to 0-255).
    """
    validate_range("stddev", stddev, low=0)
    validate_bool("clip", clip)
    x, dtype = unit_images("x", x)
    noisy = x + stddev * seeded_rng(seed).standard_normal(x.shape)
    return restore_images(np.clip(noisy, 0, 1) if clip else noisy, dtype)


def to_grayscale(x):
    """Luminance `0.2125 R + 0.7154 G + 0.0721 B`, repeated over the channels (shape kept)."""
    x, dtype = unit_images("x", x)
    return restore_images(_luminance(x), dtype, x.shape)


def reduce_contrast(x, contrast):
    """Geirhos et al. 2018 contrast reduction: `(1 - c) / 2 + c * x`, `c` in [0, 1]."""
    validate_range("contrast", contrast, 0, 1)
    x, dtype = unit_images("x", x)
    return restore_images(_reduce_contrast(x, contrast), dtype)


def _reduce_contrast(x, contrast):
    return (1 - contrast) / 2 + contrast * x


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
    x, dtype = unit_images("x", x)
    base = _contrast_base(x, contrast, grayscale)
    noise = seeded_rng(seed).uniform(-width, width, base.shape)
    return restore_images(np.clip(base + noise, 0, 1), dtype, x.shape)


def salt_and_pepper(x, p, contrast=0.3, grayscale=True, seed=None):
    """Geirhos et al. 2018 salt-and-pepper noise: contrast reduction, then a fraction `p / 2` of
    the pixels set to white (1) and `p / 2` to black (0).

    With `grayscale` a whole pixel (all channels) turns white or black; otherwise each channel
    value independently. Tsvetkov et al. 2020 vary `p` over 0-0.5 in steps of 0.05.
    """
    validate_range("p", p, 0, 1)
    x, dtype = unit_images("x", x)
    base = _contrast_base(x, contrast, grayscale)
    u = seeded_rng(seed).random(base.shape)
    noisy = np.where(u < p / 2, 0.0, np.where(u >= 1 - p / 2, 1.0, base))
    return restore_images(noisy, dtype, x.shape)


def occlude(x, kind, fill=0.0):
    """One of Dutta's six occlusions (2019, section 2.4.3, Fig. 2.4), filled with `fill`.

    Fig. 2.4 shows the kinds but gives no sizes; for an `h x w` image we use (32x32: in pixels):
    `"central"`: the central `h/2 x w/2` square (16x16); `"checkerboard"`: squares of side `h/8`
    (4), alternate ones occluded starting at the top left; `"horizontal_bars"` /
    `"vertical_bars"`: bands of `h/8` (4) rows / `w/8` columns, every other one occluded
    starting at the top / left; `"horizontal_half"`: the bottom half; `"vertical_half"`: the
    right half. Every kind but `"central"` hides half of the image. `fill` is in the [0, 1]
    scale (uint8 images: `fill * 255`).
    """
    validate_choice("kind", kind, OCCLUSIONS)
    validate_range("fill", fill, 0, 1)
    x, dtype = unit_images("x", x)
    mask = occlusion_mask(x.shape[-3], x.shape[-2], kind)
    return restore_images(np.where(mask[:, :, None], fill, x), dtype)


def occlusion_mask(height, width, kind):
    """Boolean `(height, width)` mask, `True` where `occlude(..., kind)` hides the image."""
    validate_int("height", height, low=1)
    validate_int("width", width, low=1)
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
    pixel and shared by the channels when `restore_images` broadcasts it back."""
    validate_range("contrast", contrast, 0, 1)
    validate_bool("grayscale", grayscale)
    return _reduce_contrast(_luminance(x) if grayscale else x, contrast)


def _luminance(x):
    """`(..., channels)` -> `(..., 1)` luminance (grey images pass unchanged)."""
    if x.shape[-1] == 1:
        return x
    if x.shape[-1] != 3:
        raise ValueError(f"Invalid value received for argument `x`. Expected grey (1 channel) or "
                         f"RGB (3 channels) images. Received: {x.shape[-1]} channels")
    return (x @ LUMINANCE)[..., None]

