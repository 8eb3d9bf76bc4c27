"""The manipulations grid: one row per manipulation, levels as columns, saved as one PNG."""

import numpy as np
from PIL import Image

from kerasbio.data import OCCLUSIONS, corruptions, load, uniform_noise
from kerasbio.data.plots import (
    NOISE_LEVELS,
    corruption_grid,
    manipulation_grid,
    manipulation_rows,
)


def test_rows_cover_every_manipulation_and_level(monkeypatch):
    monkeypatch.delenv("KERASBIO_FROST_DIR", raising=False)
    rgb, _ = load("digits", split="test", shape=(32, 32, 3))
    rows = dict(manipulation_rows(rgb[0]))
    n_corruptions = len(corruptions()) - 1  # no frost without a frost directory
    assert len(rows) == 4 + n_corruptions and "frost" not in rows
    assert [len(cells) for cells in rows.values()] == [6, 6, 6, 6] + [5] * n_corruptions
    assert [label for label, _ in rows["occlusion"]] == [k.replace("_", " ") for k in OCCLUSIONS]
    np.testing.assert_array_equal(rows["Gaussian noise"][0][1], rgb[0])  # std 0 is the image
    np.testing.assert_array_equal(rows["uniform noise\n(contrast 0.3)"][3][1],
                                  uniform_noise(rgb[0], NOISE_LEVELS[3], seed=0))
    grey_rows = dict(manipulation_rows(rgb[0, ..., :1]))
    assert "saturate" not in grey_rows and len(grey_rows) == len(rows) - 1


def test_grid_is_saved_as_one_png(tmp_path, monkeypatch):
    monkeypatch.delenv("KERASBIO_FROST_DIR", raising=False)
    grey, _ = load("digits", split="test", shape=(16, 16, 1))
    path = tmp_path / "grid.png"
    figure = manipulation_grid(grey[0], path, cell_inches=1.0)
    n_corruptions = len(corruptions()) - 2  # no saturate for grey images, no frost
    assert len([axis for axis in figure.axes if axis.images]) == 4 * 6 + n_corruptions * 5
    width, height = Image.open(path).size
    assert (width, height) == (int(7.2 * 120), (4 + n_corruptions) * 120)


def test_corruption_grid_shows_the_clean_image_and_five_severities(tmp_path):
    Image.fromarray(np.full((200, 200, 3), 230, np.uint8)).save(tmp_path / "frost.png")
    rgb, _ = load("digits", split="test", shape=(32, 32, 3))
    figure = corruption_grid(rgb[0], ["frost"], tmp_path / "grid.png", frost_dir=str(tmp_path))
    shown = [axis for axis in figure.axes if axis.images]
    assert len(shown) == 6
    np.testing.assert_array_equal(shown[0].images[0].get_array(), rgb[0])
    assert [axis.get_xlabel() for axis in shown[:6]] == ["clean"] + [
        f"severity {s}" for s in range(1, 6)]
    assert Image.open(tmp_path / "grid.png").size[1] == int(1.1 * 120)
