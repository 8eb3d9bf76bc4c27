"""Figures for RSA: an RDM heatmap with class blocks, and an MDS map of models' RDMs.

New figures come from `kerasbio._core.plotting` (no pyplot backend is needed or changed); pass
`ax` to draw into an existing figure.
"""

import numpy as np
from keras import ops

from kerasbio._core.plotting import axes_or_new, save_png


def _class_boundaries(labels):
    """Positions between runs of equal labels, and the centre and label of each run."""
    labels = np.asarray(labels)
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    ends = np.r_[starts[1:], len(labels)]
    return starts[1:] - 0.5, (starts + ends - 1) / 2, labels[starts]


def plot_rdm(rdm, labels=None, title=None, ax=None, path=None, cmap="viridis"):
    """Heatmap of an (n, n) RDM (as the paper's Figs. 1 and 3), with class blocks marked.

    Args:
        rdm: Square RDM (array or tensor).
        labels: Optional class label per row; sort the inputs by label first to see blocks.
        title: Optional axes title.
        ax: Matplotlib axes to draw on (a new figure when `None`).
        path: If given, the figure is saved there as PNG.
        cmap: Colour map.

    Returns:
        The matplotlib `Axes`.
    """
    rdm = np.asarray(ops.convert_to_numpy(rdm))
    ax = axes_or_new(ax, figsize=(5, 4.3))
    image = ax.imshow(rdm, cmap=cmap, interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, label="dissimilarity")
    ax.set_xlabel("input")
    ax.set_ylabel("input")
    if labels is not None:
        boundaries, centres, names = _class_boundaries(labels)
        for boundary in boundaries:
            ax.axhline(boundary, color="white", linewidth=0.6)
            ax.axvline(boundary, color="white", linewidth=0.6)
        ax.set_xticks(centres, [str(name) for name in names])
        ax.set_yticks(centres, [str(name) for name in names])
        ax.set_xlabel("input (by class)")
        ax.set_ylabel("input (by class)")
    if title:
        ax.set_title(title)
    save_png(ax.figure, path)
    return ax


def plot_mds(points, names, groups=None, title=None, ax=None, path=None):
    """Scatter of an MDS embedding of RDMs (`kerasbio.rsa.mds`), one named point per RDM.

    Args:
        points: `(k, 2)` coordinates.
        names: k point labels (e.g. "RDL fc").
        groups: Optional k group keys (e.g. the model or the layer), one colour per group.
        title, ax, path: As in `plot_rdm`.

    Returns:
        The matplotlib `Axes`.
    """
    points = np.asarray(points)
    ax = axes_or_new(ax, figsize=(5.5, 4.5))
    groups = list(names) if groups is None else list(groups)
    for group in dict.fromkeys(groups):
        members = [i for i, g in enumerate(groups) if g == group]
        ax.scatter(points[members, 0], points[members, 1], label=str(group))
    for (x, y), name in zip(points, names):
        ax.annotate(str(name), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("MDS dimension 1")
    ax.set_ylabel("MDS dimension 2")
    if len(set(groups)) < len(groups):
        ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    save_png(ax.figure, path)
    return ax

