"""Figures of an image under every manipulation and corruption of `kerasbio.data`."""

import os

import numpy as np

from kerasbio._core.plotting import DPI, new_figure
from kerasbio.data._weather_corruptions import FROST_ENV
from kerasbio.data.corruptions import SEVERITIES, corrupt
from kerasbio.data.manipulations import (
    OCCLUSIONS,
    gaussian_noise,
    occlude,
    salt_and_pepper,
    uniform_noise,
)

NOISE_LEVELS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)


def manipulation_rows(image, seed=0, frost_dir=None):
    """`[(row name, [(column label, manipulated image), ...]), ...]` for one `(h, w, c)` image.

    Rows: Gaussian noise (stddev), Geirhos' uniform noise (width) and salt-and-pepper (p) at
    0-0.5 (both on the image reduced to contrast 0.3 first, as Geirhos et al. do, so their
    level-0 column is the contrast-reduced image), Dutta's six occlusions, and the CIFAR-10-C
    corruptions of `corruption_rows`.
    """
    image = np.asarray(image, dtype=np.float32)
    rows = [
        ("Gaussian noise", [(f"stddev {s:g}", gaussian_noise(image, s, seed=seed, clip=True))
                            for s in NOISE_LEVELS]),
        ("uniform noise\n(contrast 0.3)", [(f"width {w:g}", uniform_noise(image, w, seed=seed))
                                           for w in NOISE_LEVELS]),
        ("salt & pepper\n(contrast 0.3)", [(f"p {p:g}", salt_and_pepper(image, p, seed=seed))
                                           for p in NOISE_LEVELS]),
        ("occlusion", [(kind.replace("_", " "), occlude(image, kind)) for kind in OCCLUSIONS]),
    ]
    return rows + corruption_rows(image, seed=seed, frost_dir=frost_dir)


def corruption_rows(image, names=None, seed=0, frost_dir=None):
    """`[(corruption, [(f"severity {s}", corrupted image) for s in 1-5]), ...]` for one image.

    `names` defaults to every corruption that applies: saturate only for RGB images, frost
    only with a frost directory (`frost_dir` or `$KERASBIO_FROST_DIR`).
    """
    image = np.asarray(image, dtype=np.float32)
    if names is None:
        has_frost = frost_dir is not None or os.environ.get(FROST_ENV)
        names = [name for name in SEVERITIES
                 if (name != "saturate" or image.shape[-1] == 3)
                 and (name != "frost" or has_frost)]
    return [(name.replace("_", " "),
             [(f"severity {s}", corrupt(image, name, s, seed=seed, frost_dir=frost_dir))
              for s in range(1, 6)])
            for name in names]


def manipulation_grid(image, path=None, seed=0, cell_inches=1.1, frost_dir=None):
    """Draw `manipulation_rows(image)` as a grid (rows: manipulations, columns: levels).

    Args:
        image: One float image `(height, width, channels)` in [0, 1].
        path: Optional PNG path to save the figure to.
        seed: Seed of the random manipulations.
        cell_inches: Size of one panel.
        frost_dir: Directory of frost pictures for the frost row (see `corrupt`).

    Returns:
        The matplotlib `Figure`.
    """
    return _grid(manipulation_rows(image, seed, frost_dir),
                 "Image manipulations (rows) at increasing levels (columns)", path, cell_inches)


def corruption_grid(image, names=None, path=None, seed=0, cell_inches=1.1, frost_dir=None):
    """Draw `corruption_rows(image, names)`: CIFAR-10-C corruptions (rows) x severities 1-5,
    with the clean image first. Arguments as `manipulation_grid`."""
    image = np.asarray(image, dtype=np.float32)
    rows = [(name, [("clean", image)] + cells)
            for name, cells in corruption_rows(image, names, seed, frost_dir)]
    return _grid(rows, "CIFAR-10-C corruptions (rows) at severities 1-5 (columns)", path,
                 cell_inches)


def _grid(rows, title, path, cell_inches):
    n_cols = max(len(cells) for _, cells in rows)
    figure = new_figure((cell_inches * n_cols + 1.2, cell_inches * len(rows)))
    axes = figure.subplots(len(rows), n_cols, squeeze=False)
    for row, (name, cells) in zip(axes, rows):
        for column, axis in enumerate(row):
            axis.set_xticks([])
            axis.set_yticks([])
            if column >= len(cells):
                axis.set_axis_off()
                continue
            label, picture = cells[column]
            _show(axis, picture)
            axis.set_xlabel(label, fontsize=6, labelpad=1)
        row[0].set_ylabel(name, fontsize=7)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout(rect=(0, 0, 1, 0.98))
    if path is not None:
        figure.savefig(path, dpi=DPI)
    return figure


def _show(axis, picture):
    picture = np.clip(picture, 0, 1)
    if picture.shape[-1] == 1:
        axis.imshow(picture[..., 0], cmap="gray", vmin=0, vmax=1)
    else:
        axis.imshow(picture)
