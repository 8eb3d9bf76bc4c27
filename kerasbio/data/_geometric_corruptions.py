"""CIFAR-10-C glass blur, motion blur and elastic transform (Hendrycks & Dietterich 2019).

Each function takes a float batch `(n, height, width, channels)` in [0, 1], its severity's
parameter (`corruptions.SEVERITIES`) and a NumPy generator, and draws its randomness
independently per image. See `corruptions.py` for how they differ from Hendrycks' script.
"""

import numpy as np
from scipy import ndimage

from kerasbio._core.validation import invalid_argument
from kerasbio.data._image_filters import gaussian_smooth, motion_blur, size_factor

MOTION_BLUR_ANGLES = (-45.0, 45.0)  # degrees, drawn uniformly per image
ELASTIC_TRUNCATE = 3.0  # Hendrycks smooths the elastic field with `truncate=3`


def glass_blur(x, parameter, rng):
    """Gaussian blur, `passes` of `copy_neighbours`, Gaussian blur again."""
    sigma, max_delta, passes = parameter
    shuffled = gaussian_smooth(x, sigma)
    for _ in range(passes):
        shuffled = copy_neighbours(shuffled, max_delta, rng)
    return gaussian_smooth(shuffled, sigma)


def copy_neighbours(x, max_delta, rng):
    """One pass of Hendrycks' local pixel shuffle, as it runs on RGB arrays.

    His loop visits pixels `(h, w)`, `h, w = size - max_delta, ..., max_delta + 1` from the
    bottom-right, and "swaps" each with `(h + dy, w + dx)`, `dy, dx` uniform integers in
    `[-max_delta, max_delta)`; on `(h, w, 3)` arrays the tuple swap assigns through NumPy views,
    so the pixel only takes its neighbour's value. For `max_delta = 1` (all CIFAR severities)
    that neighbour is not yet visited: each visited pixel independently copies the pixel
    `(dy, dx)` in `{-1, 0}^2` away, which this gather does for every `max_delta`.
    """
    n, height, width = x.shape[:3]
    out = x.copy()
    rows = np.arange(height - max_delta, max_delta, -1)
    cols = np.arange(width - max_delta, max_delta, -1)
    if len(rows) == 0 or len(cols) == 0:
        return out
    d_rows, d_cols = rng.integers(-max_delta, max_delta, size=(2, n, len(rows), len(cols)))
    images = np.arange(n)[:, None, None]
    out[images, rows[:, None], cols[None, :]] = x[images, rows[:, None] + d_rows,
                                                 cols[None, :] + d_cols]
    return out


def motion_blur_corruption(x, parameter, rng):
    """ImageMagick motion blur (radius, sigma in pixels, scaled by `size_factor`) at an angle
    drawn uniformly from [-45, 45] degrees per image."""
    radius, sigma = parameter
    scale = size_factor(x)
    angles = rng.uniform(*MOTION_BLUR_ANGLES, size=len(x))
    return motion_blur(x, radius * scale, sigma * scale, angles)


def elastic_transform(x, parameter, rng):
    """A random affine warp, then a smooth random displacement field (Simard et al. 2003).

    `parameter = (alpha, sigma, affine)` as fractions of the image size (Hendrycks multiplies
    them by 32): the warp moves three control points by up to `affine` pixels in each coordinate;
    the displacement is `alpha` times uniform [-1, 1] noise smoothed by a Gaussian of `sigma`.
    Both are bilinear resamplings, the first with mirrored borders, the second reflected.
    """
    validate_image_size(x, 3, "elastic")  # the warp's control points need 3 pixels
    size = min(x.shape[1:3])
    alpha, sigma, affine = (value * size for value in parameter)
    warped = _resample(x, *_affine_sources(x.shape, affine, rng), mode="mirror")
    d_rows, d_cols = elastic_field(len(x), x.shape[1:3], alpha, sigma, rng)
    rows, cols = np.indices(x.shape[1:3])
    return _resample(warped, rows + d_rows, cols + d_cols, mode="reflect")


def elastic_field(n, shape, alpha, sigma, rng):
    """Row and column displacements `(n, height, width)`: `alpha * G_sigma * U(-1, 1)`, the
    Gaussian truncated at 3 sigma with reflected borders (zero when `alpha` is 0)."""
    noise = rng.uniform(-1, 1, size=(2, n, *shape))
    if alpha == 0:
        return np.zeros_like(noise)
    return alpha * ndimage.gaussian_filter(noise, sigma=(0, 0, sigma, sigma), mode="reflect",
                                           truncate=ELASTIC_TRUNCATE)


def _affine_sources(shape, affine, rng):
    """Source rows and columns `(n, h, w)` of each image's random affine warp: the map taking
    three points around the centre to themselves plus uniform [-affine, affine] offsets."""
    n, height, width = shape[:3]
    centre = np.array([height // 2, width // 2], dtype=np.float64)
    half_side = min(height, width) // 3
    anchors = centre + half_side * np.array([[1, 1], [1, -1], [-1, -1]])
    targets = anchors + rng.uniform(-affine, affine, size=(n, 3, 2))
    # Output pixel p reads the source at the inverse map: solve [target 1] @ M = anchor.
    inverse = np.linalg.solve(np.concatenate([targets, np.ones((n, 3, 1))], axis=-1),
                              np.broadcast_to(anchors, (n, 3, 2)))
    pixels = np.stack([*np.indices((height, width)), np.ones((height, width))], axis=-1)
    sources = pixels @ inverse[:, None]  # (n, h, w, 2)
    return sources[..., 0], sources[..., 1]


def _resample(x, rows, cols, mode):
    """Bilinear `x[k, rows[k], cols[k], c]` at fractional positions `(n, h, w)`, per channel."""
    images = np.broadcast_to(np.arange(len(x))[:, None, None], rows.shape)
    coordinates = np.stack([images, rows, cols])
    return np.stack([ndimage.map_coordinates(x[..., c], coordinates, order=1, mode=mode)
                     for c in range(x.shape[-1])], axis=-1)


def validate_image_size(x, minimum, corruption):
    """Raise unless both sides of the images hold at least `minimum` pixels."""
    if min(x.shape[1:3]) < minimum:
        raise invalid_argument("x", f"images of at least {minimum}x{minimum} pixels for the "
                                    f"{corruption!r} corruption", f"shape {x.shape}")
