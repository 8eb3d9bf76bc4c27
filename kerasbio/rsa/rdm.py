"""Representational distance matrices (RDMs), differentiable and batched, with `keras.ops`.

An RDM holds the distances between the representations of n inputs (McClure & Kriegeskorte
2016, Eq. 1): `RDM(X; f)_ij = d(f(x_i), f(x_j))`. All metrics are computed from Gram matrices
(matrix products), so an RDM of thousands of inputs with tens of thousands of features takes
one matrix product.
"""

import keras
import numpy as np
from keras import ops

from kerasbio._core.validation import validate_array, validate_choice, validate_int

METRICS = ("euclidean", "sqeuclidean", "mse", "correlation", "cosine")

# rsatoolbox's name for the dissimilarity each metric computes (rsatoolbox's `calc_rdm`
# method "euclidean" is the squared distance divided by the number of channels: our "mse").
RSATOOLBOX_MEASURES = {
    "euclidean": "euclidean", "sqeuclidean": "squared euclidean",
    "mse": "squared euclidean / channels (rsatoolbox 'euclidean')",
    "correlation": "correlation", "cosine": "cosine"}


def _flatten_features(features, batch_dims):
    """(*batch, n, *feature_dims) -> (*batch, n, d): NumPy input in float64, tensors in float32
    (float64 tensors stay float64)."""
    if isinstance(features, (np.ndarray, list, tuple)):
        features = ops.convert_to_tensor(validate_array(
            "features", features, min_ndim=batch_dims + 1, allow_nonfinite=True,
            allow_empty=True).astype("float64"))
    features = ops.convert_to_tensor(features)
    if keras.backend.standardize_dtype(features.dtype) != "float64":
        features = ops.cast(features, "float32")
    shape = ops.shape(features)
    if len(shape) < batch_dims + 1:
        raise ValueError(
            f"`features` must have shape (*batch, n, ...) with {batch_dims} batch dimension(s). "
            f"Received a tensor of rank {len(shape)}.")
    return ops.reshape(features, (*shape[:batch_dims + 1], -1))


def _gram_squared_distances(vectors):
    """||v_i - v_j||^2 = G_ii + G_jj - 2 G_ij from the Gram matrix G (one matrix product).

    The squared norms are read from G's own diagonal, so identical rows give exactly 0;
    rounding below 0 is clamped.
    """
    gram = ops.matmul(vectors, ops.swapaxes(vectors, -1, -2))
    norms = ops.diagonal(gram, axis1=-2, axis2=-1)
    squared = ops.expand_dims(norms, -1) + ops.expand_dims(norms, -2) - 2.0 * gram
    return ops.maximum(squared, 0.0)


def _cosine_distances(features):
    """1 - cos(f_i, f_j) = ||u_i - u_j||^2 / 2 for the unit vectors u, clamped to [0, 2]."""
    norms = ops.sqrt(ops.sum(ops.square(features), axis=-1, keepdims=True))
    units = features / ops.where(norms > 0, norms, ops.ones_like(norms))
    return ops.minimum(_gram_squared_distances(units) / 2.0, 2.0)


def _safe_sqrt(squared):
    """sqrt with a zero (not infinite) gradient at 0, e.g. on the diagonal."""
    positive = squared > 0
    return ops.where(positive, ops.sqrt(ops.where(positive, squared, 1.0)), 0.0)


def _undefined_rows(features, metric):
    """(*batch, n) True where a row's distances are undefined: NaN or inf values, and for
    "correlation" a constant row, for "cosine" a zero row."""
    undefined = ops.logical_not(ops.all(ops.isfinite(features), axis=-1))
    if metric == "correlation":
        undefined = undefined | ops.all(features == features[..., :1], axis=-1)
    if metric == "cosine":
        undefined = undefined | ops.all(features == 0, axis=-1)
    return undefined


def _distances(features, metric):
    if metric == "correlation":
        return _cosine_distances(features - ops.mean(features, axis=-1, keepdims=True))
    if metric == "cosine":
        return _cosine_distances(features)
    # Centring removes the features' common offset: less cancellation in the Gram products.
    squared = _gram_squared_distances(features - ops.mean(features, axis=-2, keepdims=True))
    if metric == "euclidean":
        return _safe_sqrt(squared)
    if metric == "mse":
        return squared / ops.cast(ops.shape(features)[-1], squared.dtype)
    return squared


def rdm(features, metric="euclidean", batch_dims=0):
    """Representational distance matrix of `n` inputs (McClure & Kriegeskorte 2016, Eq. 1).

    Metrics, for the flattened representations `a = f(x_i)`, `b = f(x_j)` with `d` features:
    `"sqeuclidean"` `||a - b||^2`; `"euclidean"` `||a - b||`; `"mse"` `||a - b||^2 / d` (the
    paper's choice for RDL; rsatoolbox's `"euclidean"`); `"correlation"` `1 - pearson(a, b)`;
    `"cosine"` `1 - a.b / (|a| |b|)`. Differentiable (the euclidean gradient is 0 where the
    distance is 0).

    Precision: NumPy input is computed in float64, tensors in float32 (float64 tensors stay
    float64). Distances come from Gram matrices of centred features: identical rows are exactly
    0 apart and no distance is negative; in float32 a squared distance is accurate to about
    `1e-6 (|a_c|^2 + |b_c|^2)`, `a_c` the centred row, so near-duplicate rows with large norms
    have a relative error that grows as their distance shrinks (use float64 for those).

    Undefined distances are NaN, in the row and column of the input concerned (the diagonal
    stays 0, as scipy's `squareform(pdist(...))`): a row holding NaN or inf, under
    `"correlation"` a constant row, under `"cosine"` a zero row.

    Args:
        features: Tensor or array of shape `(*batch, n, *feature_dims)`.
        metric: One of `"euclidean"`, `"sqeuclidean"`, `"mse"`, `"correlation"`, `"cosine"`.
        batch_dims: Non-negative int, the leading batch dimensions (each gets its own RDM).

    Returns:
        Tensor of shape `(*batch, n, n)`, symmetric with a zero diagonal.
    """
    validate_choice("metric", metric, METRICS)
    validate_int("batch_dims", batch_dims, low=0)
    features = _flatten_features(features, batch_dims)
    undefined = _undefined_rows(features, metric)
    clean = ops.where(ops.expand_dims(undefined, -1), ops.zeros_like(features), features)
    distances = _distances(clean, metric)
    n = ops.shape(distances)[-1]
    off_diagonal = ops.logical_not(ops.eye(n, dtype="bool"))
    missing = (ops.expand_dims(undefined, -1) | ops.expand_dims(undefined, -2)) & off_diagonal
    nan = ops.full_like(distances, float("nan"))
    return ops.where(missing, nan, ops.where(off_diagonal, distances, ops.zeros_like(distances)))


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
