"""Image filters shared by the CIFAR-10-C corruptions, on float batches `(n, height, width, c)`.

Our own versions of what Hendrycks' `make_cifar_c.py` takes from scikit-image, SciPy and
ImageMagick: Gaussian smoothing, the centre zoom, ImageMagick's motion blur as a line kernel,
and the size factor that scales pixel lengths tuned for 32x32 images to other image sizes.
"""

import numpy as np
from scipy import ndimage

CIFAR_SIZE = 32
# OpenCV's RGB -> grey weights (ITU-R BT.601), as Hendrycks' `cv2.cvtColor(..., RGB2GRAY)`.
BT601_WEIGHTS = np.array([0.299, 0.587, 0.114])


def size_factor(x):
    """`min(height, width) / 32`: lengths in pixels tuned for CIFAR scale by it (8x8: 0.25)."""
    return min(x.shape[1:3]) / CIFAR_SIZE


def gaussian_smooth(x, sigma):
    """skimage `gaussian(sigma)` per channel: edge mode "nearest", truncated at 4 sigma."""
    return ndimage.gaussian_filter(x, sigma=(0, sigma, sigma, 0), mode="nearest", truncate=4.0)


def clipped_zoom(x, factor):
    """Hendrycks' `clipped_zoom`: crop the centre, zoom it bilinearly back to the image size."""
    height, width = x.shape[1:3]
    crop_h, crop_w = int(np.ceil(height / factor)), int(np.ceil(width / factor))
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    zoomed = ndimage.zoom(x[:, top:top + crop_h, left:left + crop_w], (1, factor, factor, 1),
                          order=1)
    trim_top, trim_left = (zoomed.shape[1] - height) // 2, (zoomed.shape[2] - width) // 2
    return zoomed[:, trim_top:trim_top + height, trim_left:trim_left + width]


def motion_blur_kernel(radius, sigma, angle):
    """ImageMagick's `-motion-blur radius x sigma + angle` as `(rows, cols, weights)`.

    A one-sided line of `2 * ceil(radius) + 1` taps starting at the pixel itself: tap `i` reads
    the pixel `round(i sin(angle))` rows and `round(i cos(angle))` columns away (angle in
    degrees, 0 pointing right, 90 down), weighted `exp(-i^2 / (2 sigma^2))`, normalised to 1.
    """
    steps = np.arange(2 * int(np.ceil(radius)) + 1)
    weights = np.exp(-steps ** 2 / (2.0 * max(sigma, 1e-12) ** 2))
    theta = np.deg2rad(angle)
    rows = np.ceil(steps * np.sin(theta) - 0.5).astype(int)
    cols = np.ceil(steps * np.cos(theta) - 0.5).astype(int)
    return rows, cols, weights / weights.sum()


def motion_blur(x, radius, sigma, angles):
    """Blur image `k` of `x` along `motion_blur_kernel(radius, sigma, angles[k])`; pixels
    beyond the border repeat the edge (ImageMagick's default virtual pixels)."""
    n, height, width = x.shape[:3]
    kernels = [motion_blur_kernel(radius, sigma, angle) for angle in angles]
    row_steps = np.stack([rows for rows, _, _ in kernels])
    col_steps = np.stack([cols for _, cols, _ in kernels])
    weights = kernels[0][2]
    images = np.arange(n)[:, None, None]
    out = np.zeros_like(x)
    for tap, weight in enumerate(weights):
        rows = np.clip(np.arange(height)[None, :, None] + row_steps[:, tap, None, None], 0,
                       height - 1)
        cols = np.clip(np.arange(width)[None, None, :] + col_steps[:, tap, None, None], 0,
                       width - 1)
        out += weight * x[images, rows, cols]
    return out


def grey_levels(x, corruption):
    """`(n, h, w, c)` -> `(n, h, w, 1)` grey with OpenCV's weights (grey images unchanged)."""
    require_grey_or_rgb(x.shape[-1], corruption)
    return x if x.shape[-1] == 1 else (x @ BT601_WEIGHTS)[..., None]


def paint(rgb, channels, corruption):
    """An RGB colour in [0, 1] for images of `channels` channels: itself, or its grey level."""
    require_grey_or_rgb(channels, corruption)
    rgb = np.asarray(rgb, dtype=np.float64)
    return rgb if channels == 3 else rgb @ BT601_WEIGHTS[:, None]


def require_grey_or_rgb(channels, corruption):
    if channels not in (1, 3):
        raise ValueError(f"The {corruption!r} corruption needs grey (1 channel) or RGB "
                         f"(3 channels) images. Received images with {channels} channels.")
