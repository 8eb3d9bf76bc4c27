"""Moment checks for sampled layer outputs, with tolerances from the sample size."""

import numpy as np

Z = 5.0  # tolerance in standard errors


def assert_mean_and_variance(samples, mean, variance):
    """Per element along axis 0: sample mean and variance within Z standard errors.

    se(mean)^2 = variance / n; se(variance)^2 = (m4 - s^4) / n + 2 s^4 / (n (n - 1)) with the
    sample's central fourth moment m4, so no distributional assumption (Bernoulli masks are far
    from normal).
    """
    samples = np.asarray(samples, dtype="float64")
    n = samples.shape[0]
    mean = np.broadcast_to(mean, samples.shape[1:])
    variance = np.broadcast_to(variance, samples.shape[1:])
    centred = samples - samples.mean(axis=0)
    sample_variance = samples.var(axis=0, ddof=1)
    fourth = np.mean(centred ** 4, axis=0)
    variance_se = np.sqrt(np.maximum(fourth - sample_variance ** 2, 0) / n
                          + 2 * sample_variance ** 2 / (n * (n - 1)))
    np.testing.assert_array_less(np.abs(samples.mean(axis=0) - mean), Z * np.sqrt(variance / n))
    np.testing.assert_array_less(np.abs(sample_variance - variance), Z * variance_se)


def assert_uncorrelated(first, second):
    """Pearson correlation of two equally long samples within Z / sqrt(n) of 0."""
    first, second = np.ravel(first), np.ravel(second)
    correlation = np.corrcoef(first, second)[0, 1]
    assert abs(correlation) < Z / np.sqrt(first.size), correlation
