"""The XLA samplers of `kerasbio.layers._sampling` against exact distributions."""

import threading

import numpy as np
import pytest
import scipy.stats

import tensorflow as tf

from kerasbio.layers import PoissonNoise
from kerasbio.layers import correlation_structure as corr
from kerasbio.layers._sampling import gaussian_masks, poisson, word_halves
from moments import assert_mean_and_variance, assert_uncorrelated

N = 100_000  # draws per rate
ALPHA = 1e-3  # per-test false alarm rate of the goodness-of-fit tests
RNG_FIELDS = np.random.default_rng(4)


def poisson_chi_square_p_value(counts, rate):
    """Pearson chi-square of `counts` against Poisson(rate), bins pooled to expect >= 20 each."""
    low, high = scipy.stats.poisson.ppf([1e-4, 1 - 1e-4], rate).astype(int)
    edges = np.arange(low, high + 2)
    probabilities = np.diff(scipy.stats.poisson.cdf(edges - 1, rate))
    probabilities[0] += scipy.stats.poisson.cdf(low - 1, rate)
    probabilities[-1] += scipy.stats.poisson.sf(high, rate)
    observed = np.bincount(np.clip(counts.astype(int) - low, 0, high - low), minlength=high - low + 1)
    expected_counts, observed_pooled, run_expected, run_observed = [], [], 0.0, 0
    for p, o in zip(probabilities * len(counts), observed):
        run_expected, run_observed = run_expected + p, run_observed + o
        if run_expected >= 20:
            expected_counts.append(run_expected)
            observed_pooled.append(run_observed)
            run_expected, run_observed = 0.0, 0
    expected_counts[-1] += run_expected
    observed_pooled[-1] += run_observed
    if len(expected_counts) < 2:  # rate so small that nearly every draw is 0
        return scipy.stats.binomtest(int(np.sum(counts > 0)), len(counts),
                                     scipy.stats.poisson.sf(0, rate)).pvalue
    return scipy.stats.chisquare(observed_pooled, expected_counts).pvalue


@pytest.mark.parametrize("rate", [0.01, 0.3, 1.0, 4.5, 9.99, 10.0, 37.0, 250.0, 1000.0])
def test_poisson_counts_pass_chi_square_against_the_pmf(rate):
    """Inversion (< 10) and transformed rejection (>= 10) both draw the Poisson pmf exactly."""
    counts = poisson(tf.fill([N], np.float32(rate)), tf.constant([3, 11])).numpy()
    np.testing.assert_array_equal(counts, np.round(counts))
    assert poisson_chi_square_p_value(counts, rate) > ALPHA


@pytest.mark.parametrize("rate", [0.01, 0.3, 1.0, 4.5, 9.99, 10.0, 37.0, 250.0, 1000.0])
def test_copula_quantile_of_normal_draws_passes_chi_square_against_the_pmf(rate):
    """CorrelatedNoise's marginals: `F^-1(Phi(z))` of standard normal `z` is Poisson(rate), by
    inversion below 10 and by the guess-and-search quantile at 10 and above."""
    normal = np.random.default_rng(int(rate * 100)).normal(size=N).astype("float32")
    counts = corr.poisson_quantile(corr.normal_cdf(normal), np.full(N, rate, "float32")).numpy()
    assert poisson_chi_square_p_value(counts, rate) > ALPHA


def test_chi_square_detects_a_wrong_rate():
    """The test above can fail: draws at rate 1.02 are rejected as Poisson(1)."""
    counts = poisson(tf.fill([N], np.float32(1.02)), tf.constant([3, 11])).numpy()
    assert poisson_chi_square_p_value(counts, 1.0) < ALPHA


def test_mixed_rates_in_one_tensor_each_follow_their_own_pmf():
    rates = np.tile(np.float32([0.2, 3.0, 12.0, 600.0]), N // 4)
    counts = poisson(tf.constant(rates), tf.constant([5, 1])).numpy()
    for rate in (0.2, 3.0, 12.0, 600.0):
        assert poisson_chi_square_p_value(counts[rates == np.float32(rate)], rate) > ALPHA


def test_draws_are_independent_across_elements_and_calls():
    """Neighbouring elements, and the same element in two calls with the next seed, are uncorrelated."""
    rates = tf.fill([N], np.float32(3.0))
    first = poisson(rates, tf.constant([7, 0])).numpy()
    second = poisson(rates, tf.constant([7, 1])).numpy()
    bound = 5 / np.sqrt(N)
    assert abs(np.corrcoef(first[:-1], first[1:])[0, 1]) < bound
    assert abs(np.corrcoef(first, second)[0, 1]) < bound


def test_non_finite_or_negative_rates_give_nan_and_others_are_untouched():
    rates = tf.constant([np.nan, np.inf, -1.0, 0.0, 2.0, 50.0], tf.float32)
    counts = poisson(rates, tf.constant([1, 2])).numpy()
    assert np.isnan(counts[:3]).all()
    assert counts[3] == 0 and np.isfinite(counts[4:]).all()


def test_poisson_noise_with_a_nan_input_returns_promptly():
    """A NaN used to hang TFP's rejection loop forever; it must give NaN within seconds."""
    x = np.full((64, 100), 2.0, np.float32)
    x[3, 7], x[10, 0] = np.nan, 1e6
    result = {}
    thread = threading.Thread(
        target=lambda: result.update(out=PoissonNoise(seed=1)(x, training=True).numpy()),
        daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "PoissonNoise did not return within 60 s for a NaN input"
    assert np.isnan(result["out"][3, 7])
    assert np.isfinite(np.delete(result["out"].ravel(), 3 * 100 + 7)).all()


def test_poisson_compiles_with_xla_inside_a_jit_compiled_function():
    sample = tf.function(lambda r, s: poisson(r, s) + 0.0, jit_compile=True)
    counts = sample(tf.constant([0.5, 20.0, np.nan]), tf.constant([1, 1])).numpy()
    assert np.isfinite(counts[:2]).all() and np.isnan(counts[2])


def test_word_halves_are_the_symmetric_grid_strictly_inside_minus_one_to_one():
    """Fields f and 2^24 - 1 - f give opposite values; the extreme fields give +-(1 - 2^-24),
    so that erfinv stays finite (a uniform's 2 u - 1 rounded the largest field to 1: inf)."""
    fields = np.concatenate([[0, 2 ** 23 - 1, 2 ** 23, 2 ** 24 - 1],
                             RNG_FIELDS.integers(0, 2 ** 24, 1000)]).astype(np.uint64)
    mirrored = np.uint64(2 ** 24 - 1) - fields
    words = (fields << np.uint64(40)) | mirrored
    high, low = (half.numpy() for half in word_halves(tf.constant(words)))
    np.testing.assert_array_equal(high, -low)
    np.testing.assert_array_equal(high, (fields.astype(np.float64) - 2 ** 23 + 0.5) * 2.0 ** -23)
    np.testing.assert_array_equal(high[:4], [-(1 - 2 ** -24), -2 ** -24, 2 ** -24, 1 - 2 ** -24])
    compiled_erfinv = tf.function(tf.math.erfinv, jit_compile=True)  # as in `counter_normal`
    extremes = np.sqrt(2.0) * compiled_erfinv(tf.constant(high[[0, 3]])).numpy()
    np.testing.assert_allclose(extremes, np.array([-1, 1]) * scipy.stats.norm.isf(2.0 ** -25), rtol=1e-4)


MASK_STDDEV = 0.6


def standardized_masks(shape, seed):
    masks = gaussian_masks(shape, MASK_STDDEV, tf.constant(seed)).numpy()
    return (masks.astype("float64") - 1.0) / MASK_STDDEV


def assert_standard_normal(draws):
    """Mean 0, variance 1 (standard errors from the sample) and chi-square over 40
    equiprobable bins of N(0, 1), tails included."""
    assert_mean_and_variance(draws[:, None], 0.0, 1.0)
    observed = np.bincount(np.searchsorted(scipy.stats.norm.ppf(np.arange(1, 40) / 40), draws),
                           minlength=40)
    assert scipy.stats.chisquare(observed).pvalue > ALPHA


def test_gaussian_masks_are_normal_with_mean_one_and_the_given_stddev():
    draws = standardized_masks((4, N), [3, 9])
    assert draws.shape == (4, N)
    assert_standard_normal(draws.ravel())


def test_the_gaussian_mask_check_can_fail():
    """Draws whose standard deviation is 2% too large are rejected."""
    with pytest.raises(AssertionError):
        assert_standard_normal(1.02 * standardized_masks((4, N), [3, 9]).ravel())


def test_gaussian_masks_are_independent_within_words_across_examples_and_calls():
    """Neighbours (the two halves of one random word), one weight in consecutive examples, and
    one element under consecutive seeds (a `SeedGenerator`'s next) are uncorrelated, in value
    and in magnitude."""
    draws = standardized_masks((64, 4096), [5, 0])
    following = standardized_masks((64, 4096), [5, 1])
    for first, second in [(draws[:, 0::2], draws[:, 1::2]), (draws[:-1], draws[1:]),
                          (draws, following)]:
        assert_uncorrelated(first, second)
        assert_uncorrelated(first ** 2, second ** 2)
