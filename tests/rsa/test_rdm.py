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
