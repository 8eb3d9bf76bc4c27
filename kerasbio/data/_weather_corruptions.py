"""CIFAR-10-C snow, frost, fog and spatter (Hendrycks & Dietterich 2019).

Each function takes a float batch `(n, height, width, channels)` in [0, 1], its severity's
parameter (`corruptions.SEVERITIES`) and a NumPy generator, and draws its randomness
independently per image. See `corruptions.py` for how they differ from Hendrycks' script.
"""

import os

import numpy as np
from scipy import ndimage, special

from kerasbio.data._image_filters import (
    clipped_zoom,
    gaussian_smooth,
    grey_levels,
    motion_blur,
    paint,
    require_grey_or_rgb,
    size_factor,
)

SNOW_ANGLES = (-135.0, -45.0)  # degrees of the snow layer's motion blur, drawn per image
PLASMA_START = 100.0  # diamond-square: midpoint noise is uniform within +-wibble^2
FROST_ENV = "KERASBIO_FROST_DIR"
FROST_SUFFIXES = (".png", ".jpg", ".jpeg")
FROST_SHRINK = 0.2  # Hendrycks shrinks the frost photographs to 1/5 for 32x32 images
WATER_COLOUR = (175 / 255, 238 / 255, 238 / 255)  # pale turquoise
MUD_COLOUR = (63 / 255, 42 / 255, 20 / 255)  # mud brown
WATER_DISTANCE_CAP = 20.0  # pixels, at 32x32
MUD_CUTOFF = 0.8  # the smoothed mud mask below this is dry
EMBOSS = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], dtype=np.float64)


def fog(x, parameter, rng):
    """`(x + strength * plasma) * peak / (peak + strength)`, `peak` the image's maximum: the
    plasma fractal in [0, 1] of `plasma_fractal(decay)` on the smallest power-of-two square
    holding the image (32 for CIFAR), cropped; never leaves [0, peak]."""
    strength, decay = parameter
    n, height, width = x.shape[:3]
    side = 1 << int(np.ceil(np.log2(max(height, width))))
    haze = plasma_fractal(n, side, decay, rng)[:, :height, :width, None]
    peak = x.max(axis=(1, 2, 3), keepdims=True)
    return (x + strength * haze) * peak / (peak + strength)


def plasma_fractal(n, side, decay, rng):
    """`n` diamond-square height maps `(n, side, side)` on a torus, each scaled to [0, 1].

    Each new point is the mean of its four neighbours `step / 2` away plus uniform noise in
    `[-w^2, w^2]`, `w` starting at 100 and divided by `decay` at each halving of `step` (larger
    `decay`: smoother maps). `side` must be a power of two.
    """
    field = np.zeros((n, side, side))
    step, wibble = side, PLASMA_START
    while step >= 2:
        half = step // 2
        corners = field[:, ::step, ::step]
        pairs = corners + np.roll(corners, -1, axis=1)
        field[:, half::step, half::step] = _jittered_mean(
            pairs + np.roll(pairs, -1, axis=2), wibble, rng)
        centres = field[:, half::step, half::step]
        field[:, ::step, half::step] = _jittered_mean(
            corners + np.roll(corners, -1, axis=2) + centres + np.roll(centres, 1, axis=1),
            wibble, rng)
        field[:, half::step, ::step] = _jittered_mean(
            corners + np.roll(corners, -1, axis=1) + centres + np.roll(centres, 1, axis=2),
            wibble, rng)
        step, wibble = half, wibble / decay
    return _unit_range(field)


def _jittered_mean(sums, wibble, rng):
    return sums / 4 + wibble ** 2 * rng.uniform(-1, 1, size=sums.shape)


def _unit_range(values):
    """Each image of `values` shifted and scaled to [0, 1] (a constant image becomes 0)."""
    axes = tuple(range(1, values.ndim))
    values = values - values.min(axis=axes, keepdims=True)
    span = values.max(axis=axes, keepdims=True)
    return values / np.where(span > 0, span, 1)


def snow(x, parameter, rng):
    """Flakes: Gaussian noise zoomed in, thresholded, motion-blurred downwards (radius, sigma
    scaled by `size_factor`) and added with its 180-degree rotation to the image brightened
    towards `1.5 * grey + 0.5` (weight `1 - blend`)."""
    mean, stddev, zoom, threshold, radius, sigma, blend = parameter
    grey = grey_levels(x, "snow")
    flakes = clipped_zoom(rng.normal(mean, stddev, size=(*x.shape[:3], 1)), zoom)
    flakes = np.clip(np.where(flakes < threshold, 0, flakes), 0, 1)
    scale = size_factor(x)
    flakes = motion_blur(flakes, radius * scale, sigma * scale,
                         rng.uniform(*SNOW_ANGLES, size=len(x)))
    brightened = blend * x + (1 - blend) * np.maximum(x, grey * 1.5 + 0.5)
    return brightened + flakes + flakes[:, ::-1, ::-1]


def spatter(x, parameter, rng):
    """Water drops (severities 1-3) or mud (4-5) where `liquid_layer` exceeds `threshold`."""
    mean, stddev, sigma, threshold, strength, is_mud = parameter
    scale = size_factor(x)
    liquid = liquid_layer((len(x), *x.shape[1:3]), mean, stddev, sigma * scale, rng)
    liquid = np.where(liquid < threshold, 0, liquid)
    if is_mud:
        return _mud(x, liquid > threshold, strength * scale)
    return _water(x, liquid, strength, WATER_DISTANCE_CAP * scale)


def liquid_layer(shape, mean, stddev, sigma, rng):
    """Gaussian noise `N(mean, stddev^2)` of `shape = (n, h, w)` smoothed by a Gaussian of
    `sigma` pixels (edges "nearest"): a smooth field, drops where it exceeds a threshold."""
    noise = rng.normal(mean, stddev, size=shape)
    return ndimage.gaussian_filter(noise, sigma=(0, sigma, sigma), mode="nearest", truncate=4.0)


def liquid_coverage(mean, stddev, sigma, threshold, side=64):
    """Expected fraction of `liquid_layer` pixels above `threshold` away from the borders: the
    smoothed noise is Gaussian with stddev `stddev * ||kernel||_2`."""
    impulse = np.zeros((1, side, side))
    impulse[0, side // 2, side // 2] = 1
    kernel = ndimage.gaussian_filter(impulse, sigma=(0, sigma, sigma), truncate=4.0)
    spread = stddev * np.sqrt(np.sum(kernel ** 2))
    return float(special.ndtr((mean - threshold) / spread))


def _mud(x, wet, sigma):
    """Mud brown painted with opacity `m` where the mask smoothed by `sigma` is >= 0.8."""
    opacity = gaussian_smooth(wet[..., None].astype(np.float64), sigma)
    opacity = np.where(opacity < MUD_CUTOFF, 0, opacity)
    return x * (1 - opacity) + opacity * paint(MUD_COLOUR, x.shape[-1], "spatter")


def _water(x, liquid, strength, distance_cap):
    """Pale turquoise added with weight `strength * shade / max(shade)`, `shade` the liquid
    times an embossed distance-to-the-drop-edges map."""
    shade = liquid * np.stack([_embossed_distance(drops, distance_cap) for drops in liquid])
    peak = shade.max(axis=(1, 2), keepdims=True)
    weight = strength * shade / np.where(peak > 0, peak, 1)
    return x + weight[..., None] * paint(WATER_COLOUR, x.shape[-1], "spatter")


def _embossed_distance(liquid, cap):
    """Hendrycks' water texture for one `(h, w)` layer, without OpenCV: the distance to the
    drops' edges (their boundary pixels instead of Canny edges), capped at `cap`, 3x3 box blur,
    histogram equalisation to 0-255, an emboss filter clipped to 0-255, 3x3 box blur."""
    drops = liquid > 0
    edges = drops & ~ndimage.binary_erosion(drops, border_value=1)
    if edges.any():
        distance = np.minimum(ndimage.distance_transform_edt(~edges), cap)
    else:
        distance = np.full(liquid.shape, cap)
    levels = np.floor(ndimage.uniform_filter(distance, 3, mode="mirror"))
    embossed = np.clip(np.round(ndimage.correlate(_equalize(levels), EMBOSS, mode="mirror")),
                       0, 255)
    return ndimage.uniform_filter(embossed, 3, mode="mirror")


def _equalize(levels):
    """Histogram equalisation as OpenCV's `equalizeHist`: each level to 255 times the fraction
    of the pixels above the lowest level that are at or below it (a constant map is kept)."""
    ordered = np.sort(levels, axis=None)
    at_lowest = np.searchsorted(ordered, ordered[0], side="right")
    if at_lowest == ordered.size:
        return levels
    at_or_below = np.searchsorted(ordered, levels, side="right")
    return np.round(255.0 * (at_or_below - at_lowest) / (ordered.size - at_lowest))


def frost(x, parameter, rng, pictures):
    """`image_weight * x + frost_weight * crop`, the crop a random window of one of the frost
    `pictures` (float RGB arrays, already shrunk for this image size), one per image."""
    image_weight, frost_weight = parameter
    height, width, channels = x.shape[1:]
    require_grey_or_rgb(channels, "frost")
    crops = np.empty(x.shape[:3] + (3,))
    for k, choice in enumerate(rng.integers(len(pictures), size=len(x))):
        picture = pictures[choice]
        top = rng.integers(picture.shape[0] - height + 1)
        left = rng.integers(picture.shape[1] - width + 1)
        crops[k] = picture[top:top + height, left:left + width]
    if channels == 1:
        crops = grey_levels(crops, "frost")
    return image_weight * x + frost_weight * crops


def frost_pictures(frost_dir, height, width):
    """The frost photographs of `frost_dir` (or `$KERASBIO_FROST_DIR`) as float RGB arrays in
    [0, 1], shrunk by `0.2 * min(height, width) / 32` (bilinear)."""
    from PIL import Image

    directory = frost_dir if frost_dir is not None else os.environ.get(FROST_ENV)
    paths = _frost_files(directory)
    shrink = FROST_SHRINK * min(height, width) / 32
    pictures = []
    for path in paths:
        with Image.open(path) as picture:
            size = (max(1, round(picture.width * shrink)), max(1, round(picture.height * shrink)))
            small = np.asarray(picture.convert("RGB").resize(size, Image.Resampling.BILINEAR))
        if small.shape[0] < height or small.shape[1] < width:
            raise ValueError(
                f"The frost picture {str(path)!r} is too small for {height}x{width} images: "
                f"shrunk by {shrink:.3g} (as Hendrycks' 0.2 for 32x32 images) it has "
                f"{small.shape[0]}x{small.shape[1]} pixels. Use pictures of at least "
                f"{int(np.ceil(height / shrink))}x{int(np.ceil(width / shrink))} pixels.")
        pictures.append(small / 255.0)
    return pictures


def _frost_files(directory):
    """The image files (.png, .jpg, .jpeg) of the frost directory, sorted; a clear error when
    it is not given, not a directory, or holds none."""
    how = (f"kerasbio does not ship the frost photographs of CIFAR-10-C (Hendrycks' frost1.png "
           f"... frost6.jpg, from github.com/hendrycks/robustness, are not ours to distribute). "
           f"Put frost pictures (.png/.jpg) in a directory and pass `frost_dir=` that directory "
           f"or set the environment variable {FROST_ENV}.")
    if directory is None:
        raise ValueError(f"The 'frost' corruption needs a directory of frost pictures: {how}")
    if not os.path.isdir(directory):
        raise ValueError(f"The frost directory {str(directory)!r} does not exist. {how}")
    paths = sorted(os.path.join(directory, name) for name in os.listdir(directory)
                   if name.lower().endswith(FROST_SUFFIXES))
    if not paths:
        raise ValueError(f"The frost directory {str(directory)!r} holds no .png or .jpg "
                         f"pictures. {how}")
    return paths
