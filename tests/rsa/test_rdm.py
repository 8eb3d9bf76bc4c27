import keras
import numpy as np
import pytest
import scipy.spatial.distance
import tensorflow as tf

from kerasbio.rsa import rdm, to_rsatoolbox, upper_triangle

SCIPY_METRICS = {"euclidean": "euclidean", "sqeuclidean": "sqeuclidean",
                 "correlation": "correlation", "cosine": "cosine"}


def features(shape=(30, 4, 5), seed=0):
    return np.random.default_rng(seed).normal(loc=1.0, size=shape)


@pytest.mark.parametrize("metric", sorted(SCIPY_METRICS))
@pytest.mark.parametrize("dtype, tolerance", [("float64", 1e-10), ("float32", 2e-4)])
def test_rdm_matches_scipy(metric, dtype, tolerance):
    x = features().astype(dtype)
    expected = scipy.spatial.distance.squareform(
        scipy.spatial.distance.pdist(x.reshape(len(x), -1).astype("float64"),
                                     SCIPY_METRICS[metric]))
    result = keras.ops.convert_to_numpy(rdm(x, metric))
    np.testing.assert_allclose(result, expected, atol=tolerance, rtol=tolerance)
    assert np.all(np.diag(result) == 0)


def test_mse_is_squared_distance_over_features():
    x = features()
    expected = scipy.spatial.distance.pdist(x.reshape(len(x), -1), "sqeuclidean") / 20
    np.testing.assert_allclose(upper_triangle(rdm(x, "mse")), expected, rtol=1e-10)


def test_rdm_batched_over_leading_dimensions():
    x = features((3, 10, 2, 3))
    batched = keras.ops.convert_to_numpy(rdm(x, "correlation", batch_dims=1))
    assert batched.shape == (3, 10, 10)
    for b in range(3):
        np.testing.assert_allclose(batched[b], keras.ops.convert_to_numpy(rdm(x[b], "correlation")),
                                   atol=1e-12)


def test_euclidean_gradient_is_finite_and_exact_with_duplicate_inputs():
    x = features((6, 3))
    x[3] = x[1]  # a zero distance off the diagonal too
    variable = tf.Variable(x)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(rdm(variable, "euclidean"))
    gradient = tape.gradient(total, variable).numpy()
    differences = x[:, None, :] - x[None, :, :]
    norms = np.linalg.norm(differences, axis=-1, keepdims=True)
    expected = 2 * np.sum(np.divide(differences, norms, out=np.zeros_like(differences),
                                    where=norms > 0), axis=1)
    np.testing.assert_allclose(gradient, expected, atol=1e-10)


def test_rdm_works_in_a_jit_compiled_function_with_unknown_batch():
    compiled = tf.function(lambda x: rdm(x, "mse"), jit_compile=True,
                           input_signature=[tf.TensorSpec((None, 8), tf.float32)])
    x = features((7, 8)).astype("float32")
    np.testing.assert_allclose(compiled(x).numpy(), keras.ops.convert_to_numpy(rdm(x, "mse")),
                               atol=1e-5)


def test_upper_triangle_is_scipy_condensed_form():
    square = keras.ops.convert_to_numpy(rdm(features(), "euclidean"))
    np.testing.assert_allclose(upper_triangle(square),
                               scipy.spatial.distance.squareform(square, checks=False))
    assert upper_triangle(np.stack([square, square])).shape == (2, 30 * 29 // 2)


def test_invalid_metric_names_the_argument():
    with pytest.raises(ValueError, match="`metric`"):
        rdm(features(), "manhattan")


@pytest.mark.parametrize("ours, theirs", [("mse", "euclidean"), ("correlation", "correlation")])
def test_rsatoolbox_scale_convention(ours, theirs):
    rsatoolbox = pytest.importorskip("rsatoolbox")
    x = features((12, 9))
    reference = rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(x), method=theirs)
    exported = to_rsatoolbox(rdm(x, ours), metric=ours)
    np.testing.assert_allclose(exported.get_vectors(), reference.get_vectors(), atol=1e-10)
    assert exported.n_cond == 12


@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "mse", "correlation", "cosine"])
def test_nan_features_give_nan_only_in_their_row_and_column_as_scipy(metric):
    """Issue 10: one NaN made the euclidean RDM all zeros and the sqeuclidean one all NaN."""
    x = features((12, 6)).copy()
    x[4, 2] = np.nan
    result = keras.ops.convert_to_numpy(rdm(x, metric))
    reference = scipy.spatial.distance.squareform(scipy.spatial.distance.pdist(
        x, {"mse": "sqeuclidean"}.get(metric, metric)))
    if metric == "mse":
        reference = reference / x.shape[1]
    np.testing.assert_array_equal(np.isnan(result), np.isnan(reference))
    assert np.isnan(result[4, :4]).all() and np.isnan(result[:4, 4]).all() and result[4, 4] == 0
    np.testing.assert_allclose(result[~np.isnan(result)], reference[~np.isnan(reference)],
                               atol=1e-12)


def test_correlation_of_a_constant_row_is_undefined():
    """Issue 10: a constant row got correlation distance 1.0; it is undefined (scipy: NaN)."""
    x = features((5, 8)).copy()
    x[2] = 3.0
    result = keras.ops.convert_to_numpy(rdm(x, "correlation"))
    assert np.isnan(np.delete(result[2], 2)).all() and result[2, 2] == 0
    assert not np.isnan(np.delete(np.delete(result, 2, 0), 2, 1)).any()


@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "correlation", "cosine"])
def test_float32_identical_rows_are_exactly_zero_and_nothing_is_negative(metric):
    """Issue 8: identical rows (512 features, norm ~70) were 0.022 apart in float32, and
    correlation distances slightly negative."""
    x = np.random.default_rng(1).normal(3.0, 1.0, (64, 512)).astype("float32")
    pairs = [(0, 1), (5, 63), (7, 40)]
    for i, j in pairs:
        x[j] = x[i]
    result = keras.ops.convert_to_numpy(rdm(tf.constant(x), metric))
    assert result.dtype == np.float32
    assert all(result[i, j] == 0 and result[j, i] == 0 for i, j in pairs)
    assert result.min() >= 0


def test_float32_squared_distances_are_within_the_rounding_bound():
    """Near-duplicates with large norms: the float32 squared distance is within
    1e-6 (|a_c|^2 + |b_c|^2) of the float64 one (a_c the centred row), and far closer than
    the uncentred Gram formula's error; the NumPy path is float64 and matches scipy."""
    rng = np.random.default_rng(2)
    x = rng.normal(3.0, 1.0, (32, 512))
    x[1] = x[0] + 1e-3 * rng.normal(size=512)
    exact = scipy.spatial.distance.squareform(scipy.spatial.distance.pdist(x, "sqeuclidean"))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(rdm(x, "sqeuclidean")), exact,
                               rtol=1e-9, atol=1e-9)
    single = keras.ops.convert_to_numpy(rdm(tf.constant(x.astype("float32")), "sqeuclidean"))
    centred_norms = np.sum(np.square(x - x.mean(0)), axis=1)
    bound = 1e-6 * (centred_norms[:, None] + centred_norms[None, :])
    assert np.all(np.abs(single - exact) <= bound)
