import numpy as np

from kerasbio.rsa import mds, rdm
from kerasbio.rsa.plots import plot_mds, plot_rdm


def test_plot_rdm_shows_the_matrix_with_class_blocks(tmp_path):
    labels = np.repeat([3, 5, 8], 4)
    features = np.random.default_rng(0).normal(size=(12, 5)) + labels[:, None]
    matrix = rdm(features).numpy()
    ax = plot_rdm(matrix, labels=labels, title="layer", path=tmp_path / "rdm.png")
    np.testing.assert_array_equal(ax.images[0].get_array(), matrix)
    assert [line.get_ydata()[0] for line in ax.lines[::2]] == [3.5, 7.5]
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["3", "5", "8"]
    assert ax.get_xlabel() and ax.get_ylabel()
    assert (tmp_path / "rdm.png").read_bytes()[:4] == b"\x89PNG"


def test_plot_mds_places_one_labelled_point_per_rdm(tmp_path):
    rng = np.random.default_rng(0)
    rdms = np.stack([rdm(rng.normal(size=(10, 4))).numpy() for _ in range(4)])
    points = mds(rdms)
    ax = plot_mds(points, ["a1", "a2", "b1", "b2"], groups=["a", "a", "b", "b"],
                  path=tmp_path / "mds.png")
    plotted = np.concatenate([collection.get_offsets() for collection in ax.collections])
    np.testing.assert_allclose(plotted, points)
    assert [text.get_text() for text in ax.texts] == ["a1", "a2", "b1", "b2"]
    assert ax.get_xlabel() == "MDS dimension 1"
    assert (tmp_path / "mds.png").stat().st_size > 0
