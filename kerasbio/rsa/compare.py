"""Comparing RDMs (on their upper triangles) and embedding sets of RDMs in 2-D with MDS.

Methods follow the RSA toolbox (Nili et al. 2014, as used by McClure & Kriegeskorte 2016):
Pearson, Spearman, Kendall's tau-a and Spearman's rho-a (rank correlations without tie
correction in the denominator) and cosine similarity.
"""

import numpy as np
import scipy.stats

from kerasbio._core.validation import validate_array, validate_choice, validate_int
from kerasbio.rsa.rdm import upper_triangle

METHODS = ("pearson", "spearman", "kendall_tau_a", "rho_a", "cosine")
RSATOOLBOX_NAMES = {"corr": "pearson", "tau-a": "kendall_tau_a", "rho-a": "rho_a"}


def _as_vectors(rdms, argument, form):
    """One RDM or a stack -> ((k, m) upper triangles, whether it was a single RDM).

    The rank decides, never the values: (m,) one triangle; (n, n) one square RDM (or, with
    `form="triangles"`, a (k, m) stack of triangles); (k, n, n) a stack of square RDMs.
    """
    rdms = validate_array(argument, rdms, ndim=(1, 2, 3), allow_nonfinite=True).astype("float64")
    if np.any(np.isinf(rdms)):
        raise ValueError(f"Invalid value received for argument `{argument}`. Expected "
                         "dissimilarities that are finite or NaN (a missing cell). Received: "
                         "inf values")
    if rdms.ndim == 3 or (rdms.ndim == 2 and form == "square"):
        if rdms.shape[-1] != rdms.shape[-2]:
            hint = (" For a (k, m) stack of upper triangles pass form='triangles'."
                    if rdms.ndim == 2 else "")
            raise ValueError(f"Invalid value received for argument `{argument}`. Expected a "
                             f"square (n, n) RDM or a (k, n, n) stack. Received: shape "
                             f"{rdms.shape}.{hint}")
        return np.atleast_2d(upper_triangle(rdms)), rdms.ndim == 2
    return np.atleast_2d(rdms), rdms.ndim == 1


def _pearson(a, b):
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    return _cosine(a, b)


def _cosine(a, b):
    with np.errstate(invalid="ignore", divide="ignore"):
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

    tau_b = (C - D) / sqrt((n0 - ties_a)(n0 - ties_b)), so C - D follows in O(m log m). When a
    vector is constant every pair is tied, C = D = 0 and tau-a is 0; with fewer than 2 values
    it is undefined (NaN).
    """
    pairs = len(a) * (len(a) - 1) / 2
    untied = (pairs - _tied_pairs(a)) * (pairs - _tied_pairs(b))
    if pairs == 0:
        return np.nan
    if untied == 0:
        return 0.0
    return scipy.stats.kendalltau(a, b, variant="b").statistic * np.sqrt(untied) / pairs


def _kendall_tau_a(a, b):
    return np.array([[_tau_a_pair(row_a, row_b) for row_b in b] for row_a in a])


def _without_missing_cells(comparator):
    """`comparator` on every pair of RDMs over the cells present (not NaN) in both of them."""
    def compare_present(a, b):
        if not (np.isnan(a).any() or np.isnan(b).any()):
            return comparator(a, b)
        similarity = np.empty((len(a), len(b)))
        for i, row_a in enumerate(a):
            for j, row_b in enumerate(b):
                present = ~(np.isnan(row_a) | np.isnan(row_b))
                similarity[i, j] = (comparator(row_a[None, present], row_b[None, present])[0, 0]
                                    if present.sum() >= 2 else np.nan)
        return similarity
    return compare_present


_COMPARATORS = {name: _without_missing_cells(comparator) for name, comparator in {
    "pearson": _pearson, "cosine": _cosine, "rho_a": _rho_a, "kendall_tau_a": _kendall_tau_a,
    "spearman": lambda a, b: _pearson(_ranks(a), _ranks(b))}.items()}
FORMS = ("square", "triangles")


def compare(rdm_a, rdm_b, method="pearson", form="square"):
    """Similarity of RDMs on their upper triangles (diagonal excluded).

    Missing cells (NaN, e.g. in a brain RDM) are left out: each pair of RDMs is compared over
    the cells present in both, identically for every method (as rsatoolbox, which requires the
    same missing cells in all RDMs). The result is NaN where a similarity is undefined: fewer
    than 2 cells left, or a constant RDM under `"pearson"`, `"spearman"` (`"cosine"`: a zero
    RDM); `"kendall_tau_a"` and `"rho_a"` of a constant RDM are 0 by their definition.

    Args:
        rdm_a, rdm_b: One RDM or a stack, read by rank: `(m,)` one upper triangle; `(n, n)`
            one square RDM; `(k, n, n)` a stack of square RDMs; `(k, m)` a stack of upper
            triangles when `form="triangles"`. Arrays or tensors.
        method: `"pearson"`, `"spearman"`, `"kendall_tau_a"`, `"rho_a"` or `"cosine"`, or
            rsatoolbox's names `"corr"`, `"tau-a"`, `"rho-a"`.
        form: How 2-D arguments are read: `"square"` (one RDM, the default) or `"triangles"`.

    Returns:
        A float when both arguments are single RDMs, else a `(k_a, k_b)` array.
    """
    method = validate_choice("method", RSATOOLBOX_NAMES.get(method, method),
                             METHODS + tuple(RSATOOLBOX_NAMES))
    validate_choice("form", form, FORMS)
    (a, single_a), (b, single_b) = (_as_vectors(rdm_a, "rdm_a", form),
                                    _as_vectors(rdm_b, "rdm_b", form))
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
    rdms = validate_array("rdms", rdms, ndim=(3, 4), allow_nonfinite=True)
    if rdms.ndim == 4:
        return np.mean([rdm_distances(sample, method) for sample in rdms], axis=0)
    return 1.0 - compare(rdms, rdms, method=method)


def classical_mds(distances, n_components=2):
    """Classical (Torgerson) MDS: points whose Euclidean distances approximate `distances`.

    The top eigenvectors of `B = -1/2 J D^2 J` (J the centring matrix), scaled by the square
    roots of their eigenvalues; exact when the distances are Euclidean in `n_components` dims.
    """
    distances = validate_array("distances", distances, ndim=2).astype("float64")
    k = distances.shape[0]
    if distances.shape != (k, k) or not np.allclose(distances, distances.T):
        raise ValueError("Invalid value received for argument `distances`. Expected a "
                         f"symmetric (k, k) matrix. Received: shape {distances.shape}"
                         f"{'' if distances.shape != (k, k) else ', not symmetric'}")
    validate_int("n_components", n_components, low=1, high=k)
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
