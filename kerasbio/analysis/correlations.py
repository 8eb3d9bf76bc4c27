"""Correlations between a layer's units as a function of distance and tuning (Dutta 2019, ch. 3).

Units are ordered channels-last, `u = (row * w + col) * maps + map`, as `reshape` of a Keras
`(h, w, maps)` activation (the thesis' Eq. 3.3 orders them maps-first; only the order differs).
"""

import dataclasses

import keras
import numpy as np
import scipy.sparse
from tqdm.auto import tqdm

from kerasbio._core.plotting import axes_or_new, save_png
from kerasbio.layers import correlation_structure as corr


def unit_correlations(model, layer, images, pool, samples=100, batch_size=64, min_fraction=0.0,
                      seed=0, verbose=True):
    """Sigma' of Eq. 3.2: the unit correlations under mixup, averaged over `samples` images.

    For each of `samples` images `x` drawn from `images`, a random batch `x_b` of `batch_size`
    images from `pool` is mixed in, `lambda_b x + (1 - lambda_b) x_b` with `lambda_b` evenly
    spaced in [0, 1] (Eq. 3.1); the Pearson correlation of the layer's units over the mixed batch
    is averaged over the images. Units with no variance for an image are left out of that image's
    average; pairs left with fewer than `min_fraction` of the images are NaN (with sparse
    activity, e.g. ReLU units on a blank border, a few images give spurious +-1 correlations).

    Args:
        model: A built Keras model.
        layer: A layer of `model` (or its name) with `(batch, h, w, maps)` outputs.
        images: Array of candidate inputs; pool: array of inputs to mix with.
        samples: Number of images S; batch_size: mixed observations B per image.
        min_fraction: Float in [0, 1]; 0 (the thesis) keeps every pair seen at least once.
        seed: Seed of the image, batch choices.
        verbose: Show a progress bar.

    Returns:
        `(N, N)` float32 array, `N = h * w * maps`.
    """
    layer = model.get_layer(layer) if isinstance(layer, str) else layer
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    extractor = keras.Model(inputs, layer.output)
    rng = np.random.default_rng(seed)
    weights = np.linspace(0.0, 1.0, batch_size).reshape(-1, *([1] * (np.ndim(images) - 1)))
    total = count = 0.0
    chosen = rng.choice(len(images), size=min(samples, len(images)), replace=False)
    for index in tqdm(chosen, desc="unit correlations", disable=not verbose):
        partners = pool[rng.choice(len(pool), size=batch_size, replace=len(pool) < batch_size)]
        mixed = (weights * images[index] + (1.0 - weights) * partners).astype("float32")
        activity = keras.ops.convert_to_numpy(extractor(mixed, training=False))
        activity = activity.reshape(batch_size, -1)
        correlation = pearson_correlation(activity)
        defined = np.isfinite(correlation)
        total = total + np.where(defined, correlation, 0.0)
        count = count + defined
    with np.errstate(invalid="ignore"):
        average = total / count
    return np.where(count >= max(min_fraction * len(chosen), 1), average, np.nan).astype("float32")


def pearson_correlation(observations):
    """Correlation of the columns of `(observations, units)`; NaN for constant units.

    A unit counts as constant when its spread is within float32 rounding of its magnitude, so
    rounding noise on a constant activation does not produce spurious +-1 correlations.
    """
    observations = np.asarray(observations, "float64")
    centered = observations - observations.mean(axis=0)
    norms = np.sqrt((centered ** 2).sum(axis=0))
    rounding = 1e-6 * np.abs(observations).max(axis=0) * np.sqrt(len(observations)) + 1e-12
    with np.errstate(invalid="ignore", divide="ignore"):
        normalized = centered / np.where(norms > rounding, norms, np.nan)
    return normalized.T @ normalized


@dataclasses.dataclass
class SmoothedCorrelation:
    """Kernel-smoothed `g(d, k)` on a grid (`values[i, j]` at `distances[i]`, `similarities[j]`)
    and the Table 3.2 summary (max, min, mean, std of the off-diagonal correlations)."""

    distances: np.ndarray
    similarities: np.ndarray
    values: np.ndarray
    summary: dict


def smooth_correlation(sigma, layer, bandwidth=(1.0, 0.1), grid_size=41, distances=None,
                       similarities=None, path=None, title=None):
    """Eq. 3.6: Nadaraya-Watson estimate of the correlation as a function of distance and tuning.

    Every off-diagonal entry `Sigma'_uv` is an observation at `X = (d(u, v), k(u, v))`
    (Eqs. 3.4-3.5, 2.15, 2.16); `g(X0) = sum K(X0, X) Y / sum K(X0, X)` with the Gaussian kernel
    `K = exp(-sum_i (X_i - X0_i)^2 / (2 b_i^2))`, one bandwidth per axis (`bandwidth` = distance,
    similarity) since the axes have different units. Entries are pooled by their (distance,
    map pair), which gives the same estimate at far lower cost.

    Args:
        sigma: `(N, N)` unit correlations, e.g. from `unit_correlations`.
        layer: The layer they belong to (its kernel gives `k`; `CorrelatedNoise` works too).
        bandwidth: Float or `(distance, similarity)` kernel widths.
        grid_size: Points per axis of the default grid, which spans the observed (non-NaN)
            distances and similarities (the estimate does not extrapolate well).
        distances, similarities: Optional grid axes instead (e.g. shared by several networks).
        path: Optional PNG path for a contour plot; title: its title.
    """
    kernel = _kernel(layer)
    maps = kernel.shape[-1]
    height, width = _output_size(layer)
    similarity = keras.ops.convert_to_numpy(corr.kernel_similarity(kernel, "float64"))
    observed_d, group_sums, group_counts = _pool_by_distance(sigma, height, width, maps)
    points_d = np.repeat(observed_d, maps * maps)
    points_k = np.tile(similarity.ravel(), len(observed_d))
    sums, counts = group_sums.ravel(), group_counts.ravel()
    seen = counts > 0
    if distances is None:
        distances = np.linspace(0.0, points_d[seen].max(), grid_size)
    if similarities is None:
        similarities = np.linspace(points_k[seen].min(), points_k[seen].max(), grid_size)
    grid_d, grid_k = np.asarray(distances, "float64"), np.asarray(similarities, "float64")
    band_d, band_k = np.broadcast_to(bandwidth, (2,))
    weight_d = np.exp(-(grid_d[:, None] - points_d[None]) ** 2 / (2 * band_d ** 2))
    weight_k = np.exp(-(grid_k[:, None] - points_k[None]) ** 2 / (2 * band_k ** 2))
    with np.errstate(invalid="ignore"):
        values = ((weight_d * sums) @ weight_k.T) / ((weight_d * counts) @ weight_k.T)
    result = SmoothedCorrelation(grid_d, grid_k, values, correlation_summary(sigma))
    if path is not None:
        plot_smoothed_correlation(result, path, title)
    return result


def correlation_summary(sigma):
    """Max, min, mean and std of the off-diagonal entries (Table 3.2), NaN entries ignored."""
    off_diagonal = sigma[~np.eye(len(sigma), dtype=bool)]
    return {"max": float(np.nanmax(off_diagonal)), "min": float(np.nanmin(off_diagonal)),
            "mean": float(np.nanmean(off_diagonal)), "std": float(np.nanstd(off_diagonal))}


def target_unit_correlations(layer, a=0.225, b=0.0043, c=0.09, tau=1.87):
    """The `(N, N)` correlation of Eq. 2.14 for `layer` (the thesis' "linear exponential")."""
    kernel = _kernel(layer)
    height, width = _output_size(layer)
    sigma = keras.ops.convert_to_numpy(corr.full_correlation(
        corr.spatial_matrix(height, width, a, b), corr.tuning_matrix(kernel, tau), a, c))
    return sigma.astype("float32")


def plot_smoothed_correlation(result, path=None, title=None, ax=None, levels=20):
    """Contour plot of `g(d, k)` (as the thesis' Figs. 3.2-3.7); returns the axes.

    To compare networks, draw each into one figure's axes (`ax`) with the same `levels` (an
    array of contour levels, i.e. one colour scale) and results smoothed on the same grid.
    """
    axes = axes_or_new(ax, figsize=(5, 4))
    contour = axes.contourf(result.distances, result.similarities, result.values.T,
                            levels=levels, extend="both")
    axes.figure.colorbar(contour, ax=axes, label="correlation")
    axes.set_xlabel("distance between units d")
    axes.set_ylabel("kernel similarity k")
    if title:
        axes.set_title(title)
    save_png(axes.figure, path)
    return axes


def _pool_by_distance(sigma, height, width, maps):
    """Sums and counts of the off-diagonal entries per (distance, map i, map j)."""
    positions = height * width
    squared = np.rint(corr.grid_distances(height, width) ** 2).astype(int).ravel()
    unique, group = np.unique(squared, return_inverse=True)
    entries = np.array(sigma, dtype="float64").reshape(positions, maps, positions, maps)
    entries = entries.transpose(0, 2, 1, 3).reshape(positions * positions, maps * maps)
    same_unit = (np.arange(positions)[:, None] == np.arange(positions)).ravel()
    entries[np.ix_(same_unit, np.eye(maps, dtype=bool).ravel())] = np.nan
    defined = np.isfinite(entries)
    one_hot = scipy.sparse.csr_matrix(
        (np.ones(group.size), (group.ravel(), np.arange(group.size))),
        shape=(len(unique), group.size))
    sums = one_hot @ np.where(defined, entries, 0.0)
    return np.sqrt(unique), sums, one_hot @ defined.astype("float64")


def _kernel(layer):
    kernel = getattr(layer, "kernel", None)
    if kernel is None and hasattr(layer, "layer"):
        kernel = getattr(layer.layer, "kernel", None)
    if kernel is None or len(kernel.shape) != 4:
        raise ValueError(f"Layer '{layer.name}' has no 4-D kernel; pass a Conv2D-like layer "
                         "(or a CorrelatedNoise wrapping one).")
    return kernel


def _output_size(layer):
    shape = layer.output.shape
    if len(shape) != 4 or shape[1] is None or shape[2] is None:
        raise ValueError(f"Layer '{layer.name}' needs a known (batch, h, w, maps) output; "
                         f"got {shape}. Build the model from a fixed-size keras.Input.")
    return shape[1], shape[2]
