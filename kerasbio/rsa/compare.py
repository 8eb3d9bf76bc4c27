"""Comparing RDMs (on their upper triangles) and embedding sets of RDMs in 2-D with MDS.

Methods follow the RSA toolbox (Nili et al. 2014, as used by McClure & Kriegeskorte 2016):
Pearson, Spearman, Kendall's tau-a and Spearman's rho-a (rank correlations without tie
correction in the denominator) and cosine similarity.
"""

import numpy as np
import scipy.stats

from kerasbio._core.validation import validate_choice
from kerasbio.rsa.rdm import upper_triangle

METHODS = ("pearson", "spearman", "kendall_tau_a", "rho_a", "cosine")
RSATOOLBOX_NAMES = {"corr": "pearson", "tau-a": "kendall_tau_a", "rho-a": "rho_a"}


def _as_vectors(rdms, argument):
    """(n, n) or (k, n, n) square RDMs, or (m,) or (k, m) upper triangles -> ((k, m), single)."""
    rdms = np.asarray(rdms, dtype="float64")
    square = rdms.ndim == 3 or (
        rdms.ndim == 2 and rdms.shape[0] == rdms.shape[1] and not np.any(np.diag(rdms)))
    if square:
        rdms = upper_triangle(rdms)
    elif rdms.ndim not in (1, 2):
        raise ValueError(
            f"`{argument}` must be an (n, n) RDM, a (k, n, n) stack, or upper triangles (m,) or "
            f"(k, m). Received shape {rdms.shape}.")
    return np.atleast_2d(rdms), rdms.ndim == 1


def _pearson(a, b):
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    return _cosine(a, b)


def _cosine(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return a @ b.T


def _ranks(vectors):
    return np.apply_along_axis(scipy.stats.rankdata, 1, vectors)


def _rho_a(a, b):
    """Spearman's rho without tie correction: 12 sum(r_a r_b) / (m^3 - m), centred ranks."""
    m = a.shape[1]
    ranks_a, ranks_b = _ranks(a), _ranks(b)
    ranks_a -= ranks_a.mean(axis=1, keepdims=True)
    ranks_b -= ranks_b.mean(axis=1, keepdims=True)
    return 12.0 * (ranks_a @ ranks_b.T) / (m ** 3 - m)


def _tied_pairs(vector):
    _, counts = np.unique(vector, return_counts=True)
    return float(np.sum(counts * (counts - 1) / 2))


def _tau_a_pair(a, b):
    """Kendall's tau-a = (concordant - discordant) / (m (m - 1) / 2), from scipy's tau-b.

    tau_b = (C - D) / sqrt((n0 - ties_a)(n0 - ties_b)), so C - D follows in O(m log m).
    """
    pairs = len(a) * (len(a) - 1) / 2
    tau_b = scipy.stats.kendalltau(a, b, variant="b").statistic
    if np.isnan(tau_b):
        return 0.0
    return tau_b * np.sqrt((pairs - _tied_pairs(a)) * (pairs - _tied_pairs(b))) / pairs


def _kendall_tau_a(a, b):
    return np.array([[_tau_a_pair(row_a, row_b) for row_b in b] for row_a in a])


_COMPARATORS = {
    "pearson": _pearson, "cosine": _cosine, "rho_a": _rho_a, "kendall_tau_a": _kendall_tau_a,
    "spearman": lambda a, b: _pearson(_ranks(a), _ranks(b))}


def compare(rdm_a, rdm_b, method="pearson"):
    """Similarity of RDMs on their upper triangles (diagonal excluded).

    Args:
        rdm_a, rdm_b: One RDM (`(n, n)` square, or its `(m,)` upper triangle) or a stack
            (`(k, n, n)` or `(k, m)`); tensors are accepted.
        method: `"pearson"`, `"spearman"`, `"kendall_tau_a"`, `"rho_a"` or `"cosine"`, or
            rsatoolbox's names `"corr"`, `"tau-a"`, `"rho-a"`.

    Returns:
        A float when both arguments are single RDMs, else a `(k_a, k_b)` array.
    """
    method = validate_choice("method", RSATOOLBOX_NAMES.get(method, method),
                             METHODS + tuple(RSATOOLBOX_NAMES))
    (a, single_a), (b, single_b) = _as_vectors(rdm_a, "rdm_a"), _as_vectors(rdm_b, "rdm_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"The RDMs compare different numbers of pairs: {a.shape[1]} and {b.shape[1]}.")
    similarity = _COMPARATORS[method](a, b)
    return float(similarity[0, 0]) if single_a and single_b else similarity


def rdm_distances(rdms, method="pearson"):
    """`1 - compare(rdms, rdms)`: the (k, k) distances between k RDMs.

    `rdms` may also be `(b, k, n, n)`, b bootstrap samples of the same k models (as the paper's
    Figs. 4 and 6: 20 samples of 100 images); the distances are then averaged over samples.
    """
    rdms = np.asarray(rdms, dtype="float64")
    if rdms.ndim == 4:
        return np.mean([rdm_distances(sample, method) for sample in rdms], axis=0)
    return 1.0 - compare(rdms, rdms, method=method)


def classical_mds(distances, n_components=2):
    """Classical (Torgerson) MDS: points whose Euclidean distances approximate `distances`.

    The top eigenvectors of `B = -1/2 J D^2 J` (J the centring matrix), scaled by the square
    roots of their eigenvalues; exact when the distances are Euclidean in `n_components` dims.
    """
    distances = np.asarray(distances, dtype="float64")
    k = distances.shape[0]
    centring = np.eye(k) - np.ones((k, k)) / k
    inner = -0.5 * centring @ np.square(distances) @ centring
    eigenvalues, eigenvectors = np.linalg.eigh((inner + inner.T) / 2)
    top = np.argsort(eigenvalues)[::-1][:n_components]
    return eigenvectors[:, top] * np.sqrt(np.maximum(eigenvalues[top], 0.0))


def mds(rdms, method="pearson", n_components=2):
    """2-D embedding of the distances between RDMs (McClure & Kriegeskorte 2016, Figs. 4, 6).

    `classical_mds(rdm_distances(rdms, method))`, so models with similar RDMs lie close.

    Args:
        rdms: `(k, n, n)` RDMs (or `(b, k, n, n)` bootstrap samples, distances averaged).
        method: Comparison method turned into a distance, `1 - similarity`.
        n_components: Embedding dimension.

    Returns:
        Array `(k, n_components)`, one point per RDM.
    """
    return classical_mds(rdm_distances(rdms, method), n_components)
