"""Plotting helpers: figures are plain `matplotlib.figure.Figure`s with an Agg canvas.

No pyplot state and no `matplotlib.use`, so a notebook user's backend is never switched; pass
`ax` to draw into an existing figure instead.
"""

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 120


def new_figure(figsize=(5, 4)):
    """A new `Figure` with an Agg canvas (so it can be saved without pyplot)."""
    figure = Figure(figsize=figsize)
    FigureCanvasAgg(figure)
    return figure


def axes_or_new(ax=None, figsize=(5, 4)):
    """`ax` itself, or the single axes of a new figure."""
    return ax if ax is not None else new_figure(figsize).add_subplot()


def save_png(figure, path=None):
    """Lay out `figure` and save it as a PNG at `path` (nothing when `path` is None)."""
    if path is not None:
        figure.tight_layout()
        figure.savefig(path, dpi=DPI)
    return figure
