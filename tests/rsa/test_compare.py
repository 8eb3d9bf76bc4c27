import itertools

import numpy as np
import pytest
import scipy.spatial.distance
import scipy.stats

from kerasbio.rsa import classical_mds, compare, mds, rdm_distances, upper_triangle


def random_rdm(n=12, seed=0, decimals=None):
    vector = np.random.default_rng(seed).uniform(size=n * (n - 1) // 2)
    if decimals is not None:  # ties
        vector = np.round(vector, decimals)
    return scipy.spatial.distance.squareform(vector)


def brute_force_tau_a(a, b):
    signs = [np.sign(a[i] - a[j]) * np.sign(b[i] - b[j])
             for i, j in itertools.combinations(range(len(a)), 2)]
    return np.sum(signs) / len(signs)


def test_pearson_spearman_cosine_match_scipy():
    a, b = random_rdm(seed=1), random_rdm(seed=2)
    va, vb = upper_triangle(a), upper_triangle(b)
    assert compare(a, b, "pearson") == pytest.approx(scipy.stats.pearsonr(va, vb).statistic)
    assert compare(a, b, "spearman") == pytest.approx(scipy.stats.spearmanr(va, vb).statistic)
    assert compare(a, b, "cosine") == pytest.approx(1 - scipy.spatial.distance.cosine(va, vb))


@pytest.mark.parametrize("decimals", [None, 1])
def test_kendall_tau_a_matches_brute_force_with_and_without_ties(decimals):
    a, b = random_rdm(seed=3, decimals=decimals), random_rdm(seed=4, decimals=decimals)
    expected = brute_force_tau_a(upper_triangle(a), upper_triangle(b))
    assert compare(a, b, "kendall_tau_a") == pytest.approx(expected, abs=1e-12)
    assert compare(a, b, "tau-a") == pytest.approx(expected, abs=1e-12)


def test_rho_a_equals_spearman_without_ties_and_rsatoolbox_with_ties():
    a, b = random_rdm(seed=5), random_rdm(seed=6)
    assert compare(a, b, "rho_a") == pytest.approx(compare(a, b, "spearman"), abs=1e-12)
    rsatoolbox = pytest.importorskip("rsatoolbox")
    a, b = random_rdm(seed=5, decimals=1), random_rdm(seed=6, decimals=1)
    reference = rsatoolbox.rdm.compare(rsatoolbox.rdm.RDMs(upper_triangle(a)[None]),
                                       rsatoolbox.rdm.RDMs(upper_triangle(b)[None]), "rho-a")
    assert compare(a, b, "rho-a") == pytest.approx(float(reference[0, 0]), abs=1e-12)


def test_stacks_give_a_matrix_of_all_comparisons():
    first = np.stack([random_rdm(seed=s) for s in range(3)])
    second = np.stack([random_rdm(seed=s) for s in range(10, 12)])
    matrix = compare(first, upper_triangle(second), "corr", form="triangles")
    assert matrix.shape == (3, 2)
    assert matrix[2, 1] == pytest.approx(compare(first[2], second[1], "pearson"))


def test_invalid_method_and_mismatched_sizes_raise():
    with pytest.raises(ValueError, match="`method`"):
        compare(random_rdm(), random_rdm(), "euclidean")
    with pytest.raises(ValueError, match="numbers of pairs"):
        compare(random_rdm(12), random_rdm(10))


def test_classical_mds_recovers_euclidean_configuration():
    points = np.random.default_rng(0).normal(size=(7, 2))
    distances = scipy.spatial.distance.squareform(scipy.spatial.distance.pdist(points))
    embedded = classical_mds(distances)
    np.testing.assert_allclose(scipy.spatial.distance.pdist(embedded),
                               scipy.spatial.distance.pdist(points), atol=1e-10)


def test_mds_places_similar_rdms_close_and_averages_bootstrap_samples():
    base = random_rdm(seed=0)
    noise = [0.01 * random_rdm(seed=s) for s in (1, 2)]
    rdms = np.stack([base, base + noise[0], random_rdm(seed=9)])
    points = mds(rdms)
    assert points.shape == (3, 2)
    close, far = (np.linalg.norm(points[0] - points[i]) for i in (1, 2))
    assert close < 0.1 * far
    samples = np.stack([rdms, rdms[::-1]])
    np.testing.assert_allclose(rdm_distances(samples),
                               (rdm_distances(rdms) + rdm_distances(rdms[::-1])) / 2)


def test_a_near_zero_diagonal_or_a_similarity_matrix_still_gives_one_number():
    """Issue 10: a 1e-9 diagonal, or similarity matrices, came back as a (6, 6) array."""
    a, b = random_rdm(6, seed=1), random_rdm(6, seed=2)
    expected = compare(a, b)
    assert compare(a + 1e-9 * np.eye(6), b + 1e-9 * np.eye(6)) == pytest.approx(expected)
    assert isinstance(compare(1 - a, 1 - b), float)


def test_a_square_stack_of_triangles_is_read_as_a_stack_when_told():
    """A (k, m) stack with k == m and zeros at [i, i] was read as one square RDM."""
    triangles = np.random.default_rng(0).uniform(size=(3, 3))
    np.fill_diagonal(triangles, 0.0)
    matrix = compare(triangles, triangles, form="triangles")
    assert matrix.shape == (3, 3)
    np.testing.assert_allclose(np.diag(matrix), 1.0)
    with pytest.raises(ValueError, match="form='triangles'"):
        compare(np.ones((2, 6)), np.ones((2, 6)))


@pytest.mark.parametrize("method", ["corr", "spearman", "tau-a", "rho-a", "cosine"])
def test_missing_cells_are_left_out_as_rsatoolbox(method):
    rsatoolbox = pytest.importorskip("rsatoolbox")
    vectors = np.stack([upper_triangle(random_rdm(10, seed=s, decimals=1)) for s in (7, 8, 9)])
    vectors[:, [3, 17, 30]] = np.nan
    expected = rsatoolbox.rdm.compare(rsatoolbox.rdm.RDMs(vectors[:1]),
                                      rsatoolbox.rdm.RDMs(vectors[1:]), method)
    ours = compare(vectors[:1], vectors[1:], method, form="triangles")
    np.testing.assert_allclose(ours, expected, atol=1e-12)
    assert not np.isnan(ours).any()


def test_kendall_tau_a_never_turns_missing_cells_into_zero():
    """Issue 10: NaN cells made tau-a 0.0; they are now left out."""
    a = upper_triangle(random_rdm(9, seed=3))
    b = a + 0.01 * upper_triangle(random_rdm(9, seed=4))
    a_missing = a.copy()
    a_missing[[0, 5]] = np.nan
    kept = ~np.isnan(a_missing)
    assert compare(a_missing, b, "kendall_tau_a") == pytest.approx(
        brute_force_tau_a(a[kept], b[kept]), abs=1e-12)
    assert compare(np.full_like(a, 0.5), b, "kendall_tau_a") == 0.0  # all pairs tied
    assert np.isnan(compare(np.r_[1.0, np.nan, np.nan], np.r_[1.0, 2.0, 3.0], "pearson"))
