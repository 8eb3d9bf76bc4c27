"""The manipulations grid: one row per manipulation, levels as columns, saved as one PNG."""

import numpy as np
from PIL import Image

from kerasbio.data import OCCLUSIONS, corruptions, load, uniform_noise
from kerasbio.data.plots import NOISE_LEVELS, manipulation_grid, manipulation_rows


def test_rows_cover_every_manipulation_and_level():
    rgb, _ = load("digits", split="test", shape=(32, 32, 3))
    rows = dict(manipulation_rows(rgb[0]))
    assert len(rows) == 4 + len(corruptions())
    assert [len(cells) for cells in rows.values()] == [6, 6, 6, 6] + [5] * len(corruptions())
    assert [label for label, _ in rows["occlusion"]] == [k.replace("_", " ") for k in OCCLUSIONS]
    np.testing.assert_array_equal(rows["Gaussian noise"][0][1], rgb[0])  # std 0 is the image
    np.testing.assert_array_equal(rows["uniform noise\n(contrast 0.3)"][3][1],
                                  uniform_noise(rgb[0], NOISE_LEVELS[3], seed=0))
    grey_rows = dict(manipulation_rows(rgb[0, ..., :1]))
    assert "saturate" not in grey_rows and len(grey_rows) == len(rows) - 1


def test_grid_is_saved_as_one_png(tmp_path):
    grey, _ = load("digits", split="test", shape=(16, 16, 1))
    path = tmp_path / "grid.png"
    figure = manipulation_grid(grey[0], path, cell_inches=1.0)
    n_corruptions = len(corruptions()) - 1  # no saturate for grey images
    assert len([axis for axis in figure.axes if axis.images]) == 4 * 6 + n_corruptions * 5
    width, height = Image.open(path).size
    assert (width, height) == (int(7.2 * 120), (4 + n_corruptions) * 120)
