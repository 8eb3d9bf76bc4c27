"""Correlation structure of Dutta's correlated noise (thesis ch. 2.3) and its two samplers.

The correlation between units `u = (p, i)` and `v = (q, j)` (positions `p, q` on the
`(h, w)` grid, feature maps `i, j`) is Eq. 2.14 with a unit diagonal,

    f(u, v) = [a - b d(p, q)]^+ exp((k(i, j) - 1) / tau) + c,      f(u, u) = 1,

`d` the Euclidean distance of the positions (Eq. 2.15), `k` the cosine similarity of the two
maps' kernels (Eq. 2.16). Units are flattened channels-last, `u = p * maps + i` with
`p = row * w + col`, matching `reshape` of a `(h, w, maps)` activation.

Written as matrices, `Sigma = S kron T + c 11^T + (1 - a - c) I` with the spatial matrix
`S[p, q] = [a - b d(p, q)]^+` (constant while training) and the tuning matrix
`T[i, j] = exp((k(i, j) - 1) / tau)` (follows the kernel). `T` is always positive
semidefinite: the Gram matrix `K` is, hence so are its Hadamard powers (Schur product
theorem) and `exp∘(K / tau) = sum_n K^∘n / (tau^n n!)`. `S` need not be in 2-D.
"""

import keras
import numpy as np
from keras import ops

import tensorflow as tf

from kerasbio.layers import _sampling

TUNING_JITTER = 1e-6


def grid_distances(height, width):
    """`(h*w, h*w)` Euclidean distances between the grid positions (Eq. 2.15), row-major."""
    rows, cols = np.mgrid[:height, :width]
    positions = np.stack([rows.ravel(), cols.ravel()], axis=1).astype("float64")
    return np.sqrt(((positions[:, None] - positions[None]) ** 2).sum(-1))


def target_correlation(distance, similarity, a, b, c, tau):
    """Eq. 2.14 off the diagonal: `[a - b d]^+ exp((k - 1) / tau) + c` (broadcasting)."""
    return np.maximum(a - b * np.asarray(distance), 0.0) * np.exp(
        (np.asarray(similarity) - 1.0) / tau) + c


def spatial_matrix(height, width, a, b):
    """`S[p, q] = [a - b d(p, q)]^+`, the spatial factor of Eq. 2.14 (float64 numpy)."""
    return np.maximum(a - b * grid_distances(height, width), 0.0)


def psd_factor(matrix, tolerance=0.0):
    """Factor `L` with `L L^T` the nearest PSD matrix to `matrix`, truncated within `tolerance`.

    Eigenvalue clipping, `V max(Lambda, 0) V^T`, is the nearest PSD matrix in Frobenius norm
    (Higham 1988). The leading eigenvectors are kept until the dropped part's diagonal is at most
    `tolerance` everywhere; the dropped part is PSD, so no entry moves by more than `tolerance`
    (`|E_pq| <= sqrt(E_pp E_qq)`). `tolerance=0` keeps every positive eigenvalue.
    """
    values, vectors = np.linalg.eigh(matrix)
    values, vectors = np.maximum(values[::-1], 0.0), vectors[:, ::-1]
    positive = int(np.sum(values > values[0] * 1e-12))
    dropped = np.cumsum((vectors ** 2 * values)[:, ::-1], axis=1)[:, ::-1].max(axis=0)
    rank = min(positive, int(np.argmax(np.append(dropped, 0.0) <= tolerance)))
    return vectors[:, :rank] * np.sqrt(values[:rank])


def kernel_similarity(kernel, dtype="float32"):
    """`K_ij = w_i . w_j / (|w_i| |w_j|)` over the flattened kernels of the maps (Eq. 2.16).

    `kernel` has the output maps on its last axis; the result is `(maps, maps)` in `dtype`
    (float64 where a Cholesky factor follows). No gradient flows into the kernel; a zero kernel
    has similarity 0 with every map (`sqrt(|w|^2 + eps)` keeps the division finite).
    """
    flat = ops.reshape(ops.cast(ops.stop_gradient(kernel), dtype), (-1, ops.shape(kernel)[-1]))
    unit = flat / ops.sqrt(ops.sum(flat * flat, axis=0, keepdims=True) + 1e-12)
    return ops.matmul(ops.transpose(unit), unit)


def tuning_matrix(kernel, tau):
    """`T[i, j] = exp((k(i, j) - 1) / tau)`, the tuning factor of Eq. 2.14, float64."""
    return ops.exp((kernel_similarity(kernel, "float64") - 1.0) / tau)


def tuning_factor(kernel, tau):
    """Cholesky factor of `T + jitter I` (float32). `T` is PSD, so no projection is needed."""
    tuning = tuning_matrix(kernel, tau)
    jitter = TUNING_JITTER * ops.eye(ops.shape(tuning)[0], dtype="float64")
    return ops.cast(tf.linalg.cholesky(tuning + jitter), "float32")


def separable_normal(spatial_factor, maps_factor, c, batch, seed):
    """Unit-variance normal noise `(batch, h*w, maps)` with the separable correlation.

    `x = (L_s Z L_t^T + sqrt(c) z0 + sqrt(r) * e) / sqrt(v)`, `Z ~ N(0, I)` of shape
    `(rank_s, rank_t)`, one shared `z0 ~ N(0, 1)` and independent `e ~ N(0, I)` per example.
    Its covariance is `L_s L_s^T kron L_t L_t^T + c 11^T + diag(r)`: exactly N(0, Sigma) for PSD
    factors. `r = max(1 - c - diag(S) diag(T), 0)` puts the rest of each unit's unit variance on
    the identity (`1 - a - c` for the exact factors); `v`, the resulting variance, is 1 unless the
    projected factors have a diagonal above `1 - c`, and dividing by it keeps the diagonal 1.
    """
    spatial_factor = ops.convert_to_tensor(spatial_factor, "float32")
    positions, spatial_rank = ops.shape(spatial_factor)
    maps, maps_rank = ops.shape(maps_factor)
    white = keras.random.normal((spatial_rank * batch, maps_rank), dtype="float32", seed=seed)
    product = ops.matmul(white, ops.transpose(maps_factor))  # maps first: rank_s <= h*w rows
    product = ops.matmul(spatial_factor, ops.reshape(product, (spatial_rank, batch * maps)))
    product = ops.transpose(ops.reshape(product, (positions, batch, maps)), (1, 0, 2))
    shared = keras.random.normal((batch, 1, 1), dtype="float32", seed=seed)
    independent = keras.random.normal((batch, positions, maps), dtype="float32", seed=seed)
    product_variance = ops.outer(ops.sum(spatial_factor ** 2, axis=1),
                                 ops.sum(maps_factor ** 2, axis=1))
    residual = ops.relu(1.0 - c - product_variance)
    noise = product + np.sqrt(c) * shared + ops.sqrt(residual) * independent
    return noise * ops.rsqrt(product_variance + c + residual)


def full_correlation(spatial, tuning, a, c):
    """The full `(n, n)` matrix of Eq. 2.14, `S kron T + c 11^T + (1 - a - c) I` (float64)."""
    spatial = ops.convert_to_tensor(spatial, "float64")
    n = ops.shape(spatial)[0] * ops.shape(tuning)[0]
    product = ops.reshape(spatial[:, None, :, None] * tuning[None, :, None, :], (n, n))
    return product + c + (1.0 - a - c) * ops.eye(n, dtype="float64")


def nearest_correlation_factor(sigma):
    """Factor of the full matrix, projected to PSD by eigenvalue clipping, with a unit diagonal.

    The projection solves the thesis' Eq. 2.17 (nearest PSD matrix in Frobenius norm, done there
    with CVXPY) in closed form; `D^-1/2 B D^-1/2` then restores the unit diagonal.
    """
    values, vectors = tf.linalg.eigh(sigma)
    factor = vectors * ops.sqrt(ops.relu(values))[None, :]
    diagonal = ops.sum(factor ** 2, axis=1, keepdims=True)
    return ops.cast(factor / ops.sqrt(diagonal), "float32")


def full_normal(spatial, tuning, a, c, batch, seed):
    """Reference sampler: `L e` with `L` the factor of the full projected matrix, `(batch, n)`."""
    factor = nearest_correlation_factor(full_correlation(spatial, tuning, a, c))
    white = keras.random.normal((batch, ops.shape(factor)[0]), dtype="float32", seed=seed)
    return ops.matmul(white, ops.transpose(factor))


QUANTILE_STEPS = 4  # sequential-search steps from the large-rate guess before bisection


def poisson_quantile(probability, rate):
    """Smallest count `k` with `P(X <= k) >= probability` for `X ~ Poisson(rate)` (float32).

    Rates below 10: sequential-search inversion from 0 with the float32 CDF, as the Poisson
    sampler (`_sampling.small_rate_quantile`). Rates of 10 and more, in float64: the
    Cornish-Fisher guess `k = rate + sqrt(rate) z + (z^2 - 1) / 6`, `z = Phi^-1(probability)`,
    one CDF there, `P(X <= k) = Q(k + 1, rate)` (regularized upper incomplete gamma), then up to
    `QUANTILE_STEPS` steps `F(k +- 1)` by the pmf recurrence until
    `F(k - 1) < probability <= F(k)`; elements not settled by then (far tails only) are redone by
    bisection of `Q`. A NaN or infinite rate gives itself. No gradient.
    """
    # Counts have no gradient: without a gradient path no tape keeps the loops' intermediates.
    probability = tf.stop_gradient(tf.cast(probability, tf.float32))
    rate = tf.stop_gradient(tf.cast(rate, tf.float32))
    finite = tf.math.is_finite(rate)
    large = finite & (rate >= _sampling.SMALL_RATE)
    counts = tf.reshape(_sampling.small_rate_quantile(  # vectors: XLA vectorises their loops
        tf.reshape(probability, [-1]),
        tf.reshape(tf.where(finite & ~large, tf.maximum(rate, 0.0), 0.0), [-1])), tf.shape(rate))
    counts = tf.cond(tf.reduce_any(large),
                     lambda: tf.where(large, _large_rate_quantile(probability, rate, large),
                                      counts),
                     lambda: counts)
    return tf.ensure_shape(tf.where(finite, counts, rate), rate.shape)


def poisson_copula(normal, rate):
    """`poisson_quantile(normal_cdf(normal), rate)`, equal element for element: the counts of the
    Gaussian copula at standard normal `normal`. One fused XLA pass
    (`_sampling.small_rate_copula`) when it settles every element (all rates below 10 and counts
    below `_sampling.FIRST_PASS_STEPS`), else `poisson_quantile`. No gradient.
    """
    normal = tf.stop_gradient(tf.cast(normal, tf.float32))
    rate = tf.stop_gradient(tf.cast(rate, tf.float32))
    counts = tf.reshape(_sampling.small_rate_copula(tf.reshape(normal, [-1]),
                                                    tf.reshape(rate, [-1])), tf.shape(rate))
    return tf.ensure_shape(tf.cond(tf.reduce_any(counts < 0.0),
                                   lambda: poisson_quantile(normal_cdf(normal), rate),
                                   lambda: counts), rate.shape)


def _large_rate_quantile(probability, rate, large):
    """The guess-and-search quantile (float64) where `large`, bisection where it did not settle."""
    probability = tf.cast(probability, tf.float64)
    rate = tf.where(large, tf.cast(rate, tf.float64), _sampling.SMALL_RATE)
    z = tf.math.ndtri(tf.clip_by_value(probability, 1e-300, 1.0 - 2.0 ** -53))
    guess = tf.floor(rate + tf.sqrt(rate) * z + (z * z - 1.0) / 6.0 + 0.5)
    count = tf.clip_by_value(guess, 0.0, _upper_bound(rate))
    cdf = tf.math.igammac(count + 1.0, rate)
    pmf = tf.exp(count * tf.math.log(rate) - rate - tf.math.lgamma(count + 1.0))
    for _ in range(QUANTILE_STEPS):
        up = cdf < probability
        down = ~up & (count > 0.0) & (cdf - pmf >= probability)
        next_pmf, previous_pmf = pmf * rate / (count + 1.0), pmf * count / rate
        cdf = tf.where(up, cdf + next_pmf, tf.where(down, cdf - pmf, cdf))
        count = tf.where(up, count + 1.0, tf.where(down, count - 1.0, count))
        pmf = tf.where(up, next_pmf, tf.where(down, previous_pmf, pmf))
    settled = ((cdf >= probability) & ((count == 0.0) | (cdf - pmf < probability))
               & (pmf > 0.0)) | ~large
    return tf.cast(tf.cond(tf.reduce_all(settled), lambda: count, lambda: tf.where(
        settled, count, _bisection_quantile(probability, rate))), tf.float32)


def _upper_bound(rate):
    """`rate + 10 sqrt(rate) + 10`: beyond it the Poisson tail is below float32 resolution."""
    return tf.math.ceil(rate + 10.0 * tf.sqrt(rate) + 10.0)


def _bisection_quantile(probability, rate):
    """The quantile by bisection of `Q(k + 1, rate)` on `(-1, _upper_bound(rate)]` (finite rates)."""
    low = -tf.ones_like(rate)
    high = _upper_bound(rate)
    steps = tf.cast(tf.math.ceil(tf.math.log(tf.reduce_max(high) + 2.0) / np.log(2.0)), tf.int32)

    def bisect(_, bracket):
        low, high = bracket
        middle = ops.floor((low + high) / 2.0)
        below = tf.math.igammac(ops.maximum(middle, 0.0) + 1.0, rate) < probability
        active = high - low > 1.0
        return (ops.where(active & below, middle, low),
                ops.where(active & ~below, middle, high))

    _, high = ops.fori_loop(0, steps, bisect, (low, high))
    return high


normal_cdf = _sampling.normal_cdf  # XLA-compiled, so that it rounds as `poisson_copula`
