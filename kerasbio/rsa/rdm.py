"""Representational distance matrices (RDMs), differentiable and batched, with `keras.ops`.

An RDM holds the distances between the representations of n inputs (McClure & Kriegeskorte
2016, Eq. 1): `RDM(X; f)_ij = d(f(x_i), f(x_j))`. All metrics are computed from Gram matrices
(matrix products), so an RDM of thousands of inputs with tens of thousands of features takes
one matrix product.
"""

import keras
import numpy as np
from keras import ops

from kerasbio._core.validation import validate_choice

METRICS = ("euclidean", "sqeuclidean", "mse", "correlation", "cosine")

# rsatoolbox's name for the dissimilarity each metric computes (rsatoolbox's `calc_rdm`
# method "euclidean" is the squared distance divided by the number of channels: our "mse").
RSATOOLBOX_MEASURES = {
    "euclidean": "euclidean", "sqeuclidean": "squared euclidean",
    "mse": "squared euclidean / channels (rsatoolbox 'euclidean')",
    "correlation": "correlation", "cosine": "cosine"}


def _flatten_features(features, batch_dims):
    """(*batch, n, *feature_dims) -> (*batch, n, d) in float32 (float64 stays float64)."""
    features = ops.convert_to_tensor(features)
    if keras.backend.standardize_dtype(features.dtype) != "float64":
        features = ops.cast(features, "float32")
    shape = ops.shape(features)
    if len(shape) < batch_dims + 1:
        raise ValueError(
            f"`features` must have shape (*batch, n, ...) with {batch_dims} batch dimension(s). "
            f"Received a tensor of rank {len(shape)}.")
    return ops.reshape(features, (*shape[:batch_dims + 1], -1))


def _gram_squared_distances(features):
    """||f_i - f_j||^2 = |f_i|^2 + |f_j|^2 - 2 f_i.f_j, on centred features (less cancellation)."""
    centred = features - ops.mean(features, axis=-2, keepdims=True)
    norms = ops.sum(ops.square(centred), axis=-1)
    gram = ops.matmul(centred, ops.swapaxes(centred, -1, -2))
    squared = ops.expand_dims(norms, -1) + ops.expand_dims(norms, -2) - 2.0 * gram
    return _zero_diagonal(ops.maximum(squared, 0.0))


def _zero_diagonal(matrix):
    n = ops.shape(matrix)[-1]
    return matrix * (1.0 - ops.eye(n, dtype=matrix.dtype))


def _cosine_distances(features):
    """1 - f_i.f_j / (|f_i| |f_j|), normalised on the Gram matrix (one pass over the features);
    a zero vector gets distance 1 to everything else."""
    gram = ops.matmul(features, ops.swapaxes(features, -1, -2))
    norms = ops.sqrt(ops.maximum(ops.diagonal(gram, axis1=-2, axis2=-1), 0.0))
    scale = ops.maximum(ops.expand_dims(norms, -1) * ops.expand_dims(norms, -2), 1e-12)
    return _zero_diagonal(1.0 - gram / scale)


def _safe_sqrt(squared):
    """sqrt with a zero (not infinite) gradient at 0, e.g. on the diagonal."""
    positive = squared > 0
    return ops.where(positive, ops.sqrt(ops.where(positive, squared, 1.0)), 0.0)


def rdm(features, metric="euclidean", batch_dims=0):
    """Representational distance matrix of `n` inputs (McClure & Kriegeskorte 2016, Eq. 1).

    Metrics, for the flattened representations `a = f(x_i)`, `b = f(x_j)` with `d` features:
    `"sqeuclidean"` `||a - b||^2`; `"euclidean"` `||a - b||`; `"mse"` `||a - b||^2 / d` (the
    paper's choice for RDL; rsatoolbox's `"euclidean"`); `"correlation"` `1 - pearson(a, b)`;
    `"cosine"` `1 - a.b / (|a| |b|)`. Differentiable (the euclidean gradient is 0 where the
    distance is 0). Computed in float32 (float64 inputs stay float64).

    Args:
        features: Tensor or array of shape `(*batch, n, *feature_dims)`.
        metric: One of `"euclidean"`, `"sqeuclidean"`, `"mse"`, `"correlation"`, `"cosine"`.
        batch_dims: Number of leading batch dimensions (each gets its own RDM).

    Returns:
        Tensor of shape `(*batch, n, n)`, symmetric with a zero diagonal.
    """
    validate_choice("metric", metric, METRICS)
    features = _flatten_features(features, batch_dims)
    if metric == "correlation":
        return _cosine_distances(features - ops.mean(features, axis=-1, keepdims=True))
    if metric == "cosine":
        return _cosine_distances(features)
    squared = _gram_squared_distances(features)
    if metric == "euclidean":
        return _safe_sqrt(squared)
    if metric == "mse":
        return squared / ops.cast(ops.shape(features)[-1], squared.dtype)
    return squared


def upper_triangle(rdms):
    """The entries above the diagonal, row by row (scipy's condensed form), as numpy.

    Args:
        rdms: Array of shape `(*batch, n, n)`.

    Returns:
        Array of shape `(*batch, n (n - 1) / 2)`.
    """
    rdms = np.asarray(keras.ops.convert_to_numpy(rdms))
    n = rdms.shape[-1]
    if rdms.ndim < 2 or rdms.shape[-2] != n:
        raise ValueError(f"Expected square RDMs of shape (..., n, n). Received shape {rdms.shape}.")
    rows, cols = np.triu_indices(n, k=1)
    return rdms[..., rows, cols]


def to_rsatoolbox(rdms, metric="euclidean", descriptors=None, pattern_descriptors=None):
    """Wraps square RDMs in an `rsatoolbox.rdm.RDMs` object (needs the `rsa` extra).

    Scale convention: rsatoolbox's `calc_rdm(method="euclidean")` is the squared distance
    divided by the number of channels, i.e. kerasbio's `metric="mse"`; its "correlation" equals
    ours. The measure name stored in the object says which kerasbio metric made the RDMs.

    Args:
        rdms: Array `(n, n)` or `(k, n, n)`.
        metric: The kerasbio metric the RDMs were computed with.
        descriptors: Optional dict of rsatoolbox `rdm_descriptors` (one value per RDM).
        pattern_descriptors: Optional dict of per-input descriptors, e.g. `{"label": y}`.
    """
    try:
        import rsatoolbox
    except ImportError as error:
        raise ImportError("to_rsatoolbox needs rsatoolbox: pip install 'kerasbio[rsa]' "
                          "(or pip install rsatoolbox).") from error
    validate_choice("metric", metric, METRICS)
    vectors = upper_triangle(rdms)
    return rsatoolbox.rdm.RDMs(
        vectors.reshape(-1, vectors.shape[-1]), dissimilarity_measure=RSATOOLBOX_MEASURES[metric],
        rdm_descriptors=descriptors, pattern_descriptors=pattern_descriptors)
