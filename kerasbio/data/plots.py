"""One figure showing an image under every manipulation and corruption of `kerasbio.data`."""

import numpy as np

from kerasbio._core.plotting import DPI, new_figure
from kerasbio.data.corruptions import SEVERITIES, corrupt
from kerasbio.data.manipulations import (
    OCCLUSIONS,
    gaussian_noise,
    occlude,
    salt_and_pepper,
    uniform_noise,
)

NOISE_LEVELS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)


def manipulation_rows(image, seed=0):
    """`[(row name, [(column label, manipulated image), ...]), ...]` for one `(h, w, c)` image.

    Rows: Gaussian noise (stddev), Geirhos' uniform noise (width) and salt-and-pepper (p) at
    0-0.5 (both on the image reduced to contrast 0.3 first, as Geirhos et al. do, so their
    level-0 column is the contrast-reduced image), Dutta's six occlusions, and each CIFAR-10-C corruption at severities 1-5 (saturate
    only for RGB images).
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
    for name in SEVERITIES:
        if name == "saturate" and image.shape[-1] != 3:
            continue
        rows.append((name.replace("_", " "),
                     [(f"severity {s}", corrupt(image, name, s, seed=seed)) for s in range(1, 6)]))
    return rows


def manipulation_grid(image, path=None, seed=0, cell_inches=1.1):
    """Draw `manipulation_rows(image)` as a grid (rows: manipulations, columns: levels).

    Args:
        image: One float image `(height, width, channels)` in [0, 1].
        path: Optional PNG path to save the figure to.
        seed: Seed of the random manipulations.
        cell_inches: Size of one panel.

    Returns:
        The matplotlib `Figure`.
    """
    rows = manipulation_rows(image, seed)
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
    figure.suptitle("Image manipulations (rows) at increasing levels (columns)", fontsize=9)
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
