"""CorrelatedNoise and its samplers against the target correlation of Dutta Eq. 2.14."""

import numpy as np
import pytest
import scipy.stats

import keras
import tensorflow as tf

from kerasbio.layers import CorrelatedNoise, _sampling
from kerasbio.layers import correlation_structure as corr
from probes import channels_first_conv_runs

HEIGHT, WIDTH, MAPS = 6, 6, 4
SAMPLES = 20000
A, B, C, TAU = 0.225, 0.0043, 0.09, 1.87


def planted_kernel():
    """A (1, 1, 3, 4) kernel: maps 0 and 1 identical (k = 1), 2 orthogonal, 3 opposite to 0."""
    columns = np.array([[1.0, 0, 0], [2.0, 0, 0], [0, 1.0, 0], [-1.0, 0, 0.5]]).T
    return columns.reshape(1, 1, 3, MAPS).astype("float32")


def target_matrix(kernel, a=A, b=B, c=C):
    """Eq. 2.14 built entry by entry in NumPy, independently of the implementation.

    k(i, j) is the cosine of maps i and j's flattened kernels (Eq. 2.16), d the Euclidean
    distance of the positions (Eq. 2.15); units are ordered (row, column, map).
    """
    flat = np.asarray(kernel, "float64").reshape(-1, MAPS)
    norms = np.linalg.norm(flat, axis=0)
    units = [(row, col, m) for row in range(HEIGHT) for col in range(WIDTH) for m in range(MAPS)]
    sigma = np.empty((len(units), len(units)))
    for u, (row_u, col_u, i) in enumerate(units):
        for v, (row_v, col_v, j) in enumerate(units):
            similarity = flat[:, i] @ flat[:, j] / (norms[i] * norms[j])
            distance = np.hypot(row_u - row_v, col_u - col_v)
            sigma[u, v] = 1.0 if u == v else (
                max(a - b * distance, 0.0) * np.exp((similarity - 1.0) / TAU) + c)
    return sigma


def separable_covariance(spatial, kernel, c=C, tolerance=0.0):
    """The covariance that `separable_normal` samples from, computed from its factors."""
    spatial_factor = corr.psd_factor(spatial, tolerance)
    maps_factor = keras.ops.convert_to_numpy(corr.tuning_factor(kernel, TAU)).astype("float64")
    product = np.kron(spatial_factor @ spatial_factor.T, maps_factor @ maps_factor.T)
    residual = np.maximum(1.0 - c - np.diag(product), 0.0)
    covariance = product + c + np.diag(residual)
    scale = 1.0 / np.sqrt(np.diag(covariance))
    return covariance * np.outer(scale, scale)


def full_covariance(spatial, kernel, c=C, a=A):
    factor = keras.ops.convert_to_numpy(corr.nearest_correlation_factor(
        corr.full_correlation(spatial, corr.tuning_matrix(kernel, TAU), a, c))).astype("float64")
    return factor @ factor.T


def assert_correlation_close(samples, target):
    """Every empirical correlation within 5.5 standard errors, (1 - rho^2) / sqrt(n), of the target.

    5.5 rather than 5: with ~10^4 entries, P(max |z| > 5.5) is about 4e-4.
    """
    empirical = np.corrcoef(samples, rowvar=False)
    tolerance = 5.5 * (1 - target ** 2) / np.sqrt(len(samples)) + 1e-6
    assert np.all(np.abs(empirical - target) <= tolerance), np.abs(empirical - target).max()


def test_spatial_matrix_of_default_parameters_is_psd_on_a_small_grid():
    assert np.linalg.eigvalsh(corr.spatial_matrix(HEIGHT, WIDTH, A, B)).min() > 0


def test_separable_sampler_matches_the_target_correlation():
    kernel = planted_kernel()
    spatial = corr.spatial_matrix(HEIGHT, WIDTH, A, B)
    samples = corr.separable_normal(corr.psd_factor(spatial).astype("float32"),
                                     corr.tuning_factor(kernel, TAU), C, SAMPLES,
                                     keras.random.SeedGenerator(1))
    assert_correlation_close(keras.ops.convert_to_numpy(samples).reshape(SAMPLES, -1),
                             target_matrix(kernel))


def test_full_sampler_matches_the_target_correlation():
    kernel = planted_kernel()
    spatial = corr.spatial_matrix(HEIGHT, WIDTH, A, B)
    samples = corr.full_normal(spatial, corr.tuning_matrix(kernel, TAU), A, C, SAMPLES,
                                keras.random.SeedGenerator(2))
    assert_correlation_close(keras.ops.convert_to_numpy(samples), target_matrix(kernel))


def test_samplers_agree_where_the_factors_are_psd():
    kernel = planted_kernel()
    spatial = corr.spatial_matrix(HEIGHT, WIDTH, A, B)
    np.testing.assert_allclose(separable_covariance(spatial, kernel),
                               full_covariance(spatial, kernel), atol=1e-4)
    np.testing.assert_allclose(full_covariance(spatial, kernel), target_matrix(kernel),
                               atol=1e-4)


def test_factor_projection_differs_little_from_the_full_projection():
    """b = 0.1 makes S indefinite (lambda_min = -0.0078), while the full matrix stays PSD.

    The full projection (the thesis' Eq. 2.17) then keeps Eq. 2.14 exactly; projecting S alone
    changes the correlations by at most |lambda_min(S)| per entry (measured: 0.0016, Frobenius
    0.034 over 144 units). Both results are valid correlation matrices.
    """
    kernel = planted_kernel()
    spatial = corr.spatial_matrix(HEIGHT, WIDTH, A, 0.1)
    smallest_eigenvalue = np.linalg.eigvalsh(spatial).min()
    assert smallest_eigenvalue < -1e-3
    target = target_matrix(kernel, b=0.1)
    separable, full = separable_covariance(spatial, kernel), full_covariance(spatial, kernel)
    for covariance in (separable, full):
        np.testing.assert_allclose(np.diag(covariance), 1.0, atol=1e-5)
        assert np.linalg.eigvalsh(covariance).min() > -1e-6
    np.testing.assert_allclose(full, target, atol=1e-5)
    difference = np.abs(separable - full).max()
    assert 1e-4 < difference <= abs(smallest_eigenvalue)


def test_truncated_spatial_factor_moves_no_correlation_by_more_than_the_tolerance():
    kernel = planted_kernel()
    spatial = corr.spatial_matrix(HEIGHT, WIDTH, A, B)
    assert corr.psd_factor(spatial, 0.005).shape[1] < HEIGHT * WIDTH
    truncated = separable_covariance(spatial, kernel, tolerance=0.005)
    np.testing.assert_allclose(np.diag(truncated), 1.0, atol=1e-6)
    error = np.abs(truncated - target_matrix(kernel)).max()
    assert 1e-3 < error <= 0.005 + 1e-5


def test_poisson_quantile_matches_scipy():
    rates = np.array([0.0, 0.3, 1.0, 4.5, 20.0, 150.0], "float32")[:, None]
    probabilities = np.array([1e-4, 0.1, 0.5, 0.9, 0.9999], "float32")[None, :]
    rates_grid, probabilities_grid = np.broadcast_arrays(rates, probabilities)
    quantiles = corr.poisson_quantile(probabilities_grid, rates_grid)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(quantiles),
                                  scipy.stats.poisson.ppf(probabilities_grid, rates_grid))


@pytest.mark.parametrize("largest_rate", [1.5, 30.0])
def test_poisson_copula_equals_the_quantile_of_phi_exactly(largest_rate):
    """The fused pass (all rates <= 1.5: it settles every element) and its fallback (rates up
    to 30: some >= 10 and some counts >= FIRST_PASS_STEPS) give `F^-1(Phi(z))` bit for bit,
    non-finite and negative rates included."""
    rng = np.random.default_rng(int(largest_rate))
    normal = np.append(rng.normal(size=200_000), [0.0] * 5).astype("float32")
    rates = np.append(rng.uniform(0.0, np.sqrt(largest_rate), 200_000) ** 2,
                      [np.nan, np.inf, -np.inf, -1.0, 0.0]).astype("float32")
    fused = keras.ops.convert_to_numpy(corr.poisson_copula(normal, rates))
    settled = _sampling.small_rate_copula(normal, rates).numpy() >= 0
    assert settled[:-5].all() == (largest_rate < 10)
    reference = keras.ops.convert_to_numpy(corr.poisson_quantile(corr.normal_cdf(normal), rates))
    np.testing.assert_array_equal(fused, reference)
    np.testing.assert_array_equal(fused[-5:], [np.nan, np.inf, -np.inf, 0.0, 0.0])


def test_small_rate_copula_marks_the_counts_it_does_not_settle():
    """-1 where the rate is >= 10 or the count reaches FIRST_PASS_STEPS; the exact quantile
    below; non-finite rates pass through."""
    rates = np.float32([0.5, 12.0, 5.0, 5.0, np.nan, np.inf, -1.0])
    normal = np.float32([0.3, 0.0, 3.0, 0.5, 0.0, 0.0, 0.0])
    counts = _sampling.small_rate_copula(normal, rates).numpy()
    quantiles = scipy.stats.poisson.ppf(scipy.stats.norm.cdf(normal[[0, 3]]), rates[[0, 3]])
    assert scipy.stats.poisson.ppf(scipy.stats.norm.cdf(3.0), 5.0) >= _sampling.FIRST_PASS_STEPS
    np.testing.assert_array_equal(counts, [quantiles[0], -1, -1, quantiles[1], np.nan, np.inf, 0])


def identity_layer(distribution, **kwargs):
    """CorrelatedNoise around a 1x1 convolution with the planted kernel, so `a = x @ kernel`."""
    conv = keras.layers.Conv2D(MAPS, 1, use_bias=False)
    layer = CorrelatedNoise(conv, distribution=distribution, mc=True, **kwargs)
    layer.build((None, HEIGHT, WIDTH, 3))
    conv.kernel.assign(planted_kernel())
    return layer


def test_poisson_copula_marginals_and_positive_correlation():
    layer = identity_layer("poisson", seed=3)
    x = np.tile(np.array([3.0, 1.0, 4.0], "float32"), (4000, HEIGHT, WIDTH, 1))
    counts = keras.ops.convert_to_numpy(layer(x)).reshape(len(x), -1)
    rates = keras.ops.convert_to_numpy(layer.expectation(layer.layer(x[:1]))).reshape(-1)
    positive = rates > 0
    standard_error = np.sqrt(rates[positive] / len(x))
    assert np.all(np.abs(counts.mean(0)[positive] - rates[positive]) < 5 * standard_error)
    variance_error = rates[positive] * np.sqrt(2.0 / len(x)) + np.sqrt(rates[positive] / len(x))
    assert np.all(np.abs(counts.var(0)[positive] - rates[positive]) < 5 * variance_error)
    assert np.all(counts[:, ~positive] == 0)
    empirical = np.corrcoef(counts[:, positive], rowvar=False)
    target = target_matrix(planted_kernel())[np.ix_(positive, positive)]
    off_diagonal = ~np.eye(len(target), dtype=bool)
    assert np.all(empirical[off_diagonal] > 0)
    assert np.mean(empirical[off_diagonal]) < np.mean(target[off_diagonal])  # copula shrinks


def test_poisson_noise_of_non_finite_activity_is_nan():
    """NaN and +inf activities give NaN (never a finite count), -inf gives rate 0, count 0."""
    conv = keras.layers.Conv2D(2, 1, use_bias=False, kernel_initializer="ones")
    layer = CorrelatedNoise(conv, distribution="poisson", mc=True, seed=1)
    x = np.full((2, HEIGHT, WIDTH, 1), 0.5, "float32")
    x[0, 0, :3, 0] = [np.nan, np.inf, -np.inf]
    counts = keras.ops.convert_to_numpy(layer(x))
    assert np.isnan(counts[0, 0, :2]).all()
    np.testing.assert_array_equal(counts[0, 0, 2], [0.0, 0.0])
    rest = np.delete(counts.reshape(-1, 2), [0, 1], axis=0)
    np.testing.assert_array_equal(rest, np.round(rest))


def test_fano_gaussian_noise_moments():
    layer = identity_layer("gaussian", fano=0.5, seed=4)
    x = np.tile(np.array([3.0, 1.0, 4.0], "float32"), (4000, HEIGHT, WIDTH, 1))
    outputs = keras.ops.convert_to_numpy(layer(x)).reshape(len(x), -1)
    means = keras.ops.convert_to_numpy(layer.expectation(layer.layer(x[:1]))).reshape(-1)
    variances = 0.5 * np.maximum(means, 0) + 1e-6
    assert np.all(np.abs(outputs.mean(0) - means) < 5 * np.sqrt(variances / len(x)))
    assert np.all(np.abs(outputs.var(0) / variances - 1) < 5 * np.sqrt(2.0 / len(x)))


def gradient_and_output(layer, x):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        outputs = layer(x, training=True)
    return tape.gradient(outputs, x).numpy(), outputs.numpy()


def test_gaussian_gradient_is_the_reparameterization_gradient():
    layer = identity_layer("gaussian", fano=2.0, seed=5)
    layer.layer.kernel.assign(np.eye(3, MAPS).reshape(1, 1, 3, MAPS).astype("float32"))
    x = np.random.default_rng(0).uniform(-1.0, 2.0, (2, HEIGHT, WIDTH, 3)).astype("float32")
    gradient, outputs = gradient_and_output(layer, x)
    scale = np.sqrt(2.0 * np.maximum(x, 0) + 1e-6)
    normal = (outputs[..., :3] - x) / scale
    expected = 1.0 + (x > 0) * 2.0 * normal / (2 * scale)
    np.testing.assert_allclose(gradient, expected, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("gradient", ["straight_through", "gumbel_softmax"])
def test_poisson_gradient(gradient):
    layer = identity_layer("poisson", gradient=gradient, seed=6)
    x = np.random.default_rng(1).uniform(-1.0, 3.0, (2, HEIGHT, WIDTH, 3)).astype("float32")
    grad, counts = gradient_and_output(layer, x)
    straight, straight_counts = gradient_and_output(identity_layer("poisson", seed=6), x)
    np.testing.assert_array_equal(counts, straight_counts)  # same copula draw
    kernel = planted_kernel()[0, 0]
    rates = x @ kernel
    np.testing.assert_allclose(straight, (rates > 0) @ kernel.T, rtol=1e-5, atol=1e-6)
    assert np.all(np.isfinite(grad))
    if gradient == "gumbel_softmax":
        assert not np.allclose(grad, straight)


def test_similarity_follows_the_kernel():
    layer = identity_layer("gaussian", scale=1.0, seed=7)
    x = np.ones((SAMPLES // 4, HEIGHT, WIDTH, 3), "float32")
    before = keras.ops.convert_to_numpy(layer(x)).reshape(len(x), -1, MAPS)
    layer.layer.kernel.assign(np.eye(3, MAPS).reshape(1, 1, 3, MAPS).astype("float32"))
    after = keras.ops.convert_to_numpy(layer(x)).reshape(len(x), -1, MAPS)
    expected_before = A + C  # maps 0 and 1 identical: k = 1, d = 0
    expected_after = A * np.exp(-1 / TAU) + C  # orthogonal: k = 0
    for noise, expected in ((before, expected_before), (after, expected_after)):
        noise = noise - noise.mean(0)
        observed = np.corrcoef(noise[:, 0, 0], noise[:, 0, 1])[0, 1]
        assert abs(observed - expected) < 5 / np.sqrt(len(x))


def test_layer_without_kernel_or_spatial_size_is_rejected():
    with pytest.raises(ValueError, match="4-D kernel"):
        CorrelatedNoise(keras.layers.Dense(3)).build((None, 5))
    with pytest.raises(ValueError, match="fixed input size"):
        CorrelatedNoise(keras.layers.Conv2D(3, 3)).build((None, None, None, 3))
    with pytest.raises(ValueError, match="`layer`"):
        CorrelatedNoise("conv")


def test_a_depthwise_convolution_is_rejected_at_build_by_name():
    layer = CorrelatedNoise(keras.layers.DepthwiseConv2D(3, depth_multiplier=1))
    with pytest.raises(ValueError, match="`layer`.*not DepthwiseConv2D.*kernel shape"):
        layer.build((None, 8, 8, 3))


@pytest.mark.skipif(not channels_first_conv_runs(), reason="no NCHW convolution on this CPU build")
@pytest.mark.parametrize("distribution", ["gaussian", "poisson"])
def test_channels_first_convolution_gets_the_same_noise(distribution):
    """The same seed gives the same noise unit for unit, whatever the wrapped data format."""
    x = np.random.default_rng(0).uniform(0.5, 2.0, (3, 7, 6, 2)).astype("float32")
    last = CorrelatedNoise(keras.layers.Conv2D(4, 3), distribution=distribution, seed=5)
    first = CorrelatedNoise(keras.layers.Conv2D(4, 3, data_format="channels_first"),
                            distribution=distribution, seed=5)
    last.build(x.shape)
    first.build(x.transpose(0, 3, 1, 2).shape)
    first.layer.set_weights(last.layer.get_weights())
    expected = keras.ops.convert_to_numpy(last(x, training=True))
    got = keras.ops.convert_to_numpy(first(x.transpose(0, 3, 1, 2), training=True))
    np.testing.assert_allclose(got, expected.transpose(0, 3, 1, 2), rtol=1e-5, atol=1e-5)
