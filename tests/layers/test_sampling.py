"""The XLA samplers of `kerasbio.layers._sampling` against exact distributions."""

import threading

import numpy as np
import pytest
import scipy.special
import scipy.stats

import tensorflow as tf

from kerasbio.layers import PoissonNoise, _sampling
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


# The SplitMix64 counter stream and the Gumbel-softmax relaxation built on it.

def splitmix64(key, counters):
    """NumPy reference of SplitMix64: `mix64(key + counter * gamma)` (Steele et al. 2014)."""
    with np.errstate(over="ignore"):
        z = np.uint64(key) + np.asarray(counters, np.uint64) * np.uint64(_sampling.GOLDEN_GAMMA)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def high_uniform(words):
    return ((words >> np.uint64(41)).astype("float64") + 0.5) * 2.0 ** -23


def test_counter_words_are_splitmix64_of_the_mixed_seed():
    """The key is Mix13 of the two seed words; word `i` is SplitMix64's output at counter `i`."""
    packed = (np.uint64(7) << np.uint64(32)) | np.uint64(np.uint32(np.int32(-3)))
    key = splitmix64(packed, 0)  # mix64(packed + 0 * gamma)
    assert _sampling.counter_key(tf.constant([7, -3])).numpy() == key
    counters = np.array([0, 1, 2, 10**12], np.int64)
    words = _sampling.counter_words(tf.constant(key, tf.uint64), counters).numpy()
    np.testing.assert_array_equal(words, splitmix64(key, counters))


def test_counter_normal_is_standard_normal_and_uncorrelated():
    draws = _sampling.counter_normal(tf.constant([N]), tf.constant([2, 5])).numpy()
    assert scipy.stats.kstest(draws, "norm").pvalue > ALPHA
    assert abs(np.corrcoef(draws[:-1], draws[1:])[0, 1]) < 5 / np.sqrt(N)
    following = _sampling.counter_normal(tf.constant([N]), tf.constant([2, 6])).numpy()
    assert abs(np.corrcoef(draws, following)[0, 1]) < 5 / np.sqrt(N)


def test_word_uniforms_stay_strictly_inside_zero_to_one_at_the_extreme_fields():
    words = tf.constant([0, 2**64 - 1, (2**23 - 1) << 41], tf.uint64)
    high, low = (uniform.numpy() for uniform in _sampling.word_uniforms(words))
    np.testing.assert_array_equal(high, [2.0**-24, 1 - 2.0**-24, 1 - 2.0**-24])
    np.testing.assert_array_equal(low, [2.0**-24, 1 - 2.0**-24, 2.0**-24])
    assert np.all(np.isfinite(-np.log(high))) and np.all(-np.log(high) > 0)


def relaxed_reference(rates, seed, max_count, temperature):
    """NumPy (float64) reference of `relaxed_poisson`'s top-down draw from the same words:
    argmax by inversion of the truncated pmf, then `y_k ~ (pi_k / (pi_k + E_k Z / E_0))^(1/t)`."""
    key = _sampling.counter_key(tf.constant(seed)).numpy()
    counters = np.arange(len(rates), dtype=np.uint64) * np.uint64(max_count + 2)
    words = splitmix64(key, counters)
    argmax_uniform = high_uniform(words)
    maximum_uniform = ((words & np.uint64(0x7FFFFF)).astype("float64") + 0.5) * 2.0 ** -23
    k = np.arange(max_count + 1)
    pmf = scipy.stats.poisson.pmf(k, rates[:, None].astype("float64"))
    total = pmf.sum(-1)
    hard = (argmax_uniform[:, None] * total[:, None] > np.cumsum(pmf, -1)[:, :-1]).sum(-1)
    exponential = -np.log(high_uniform(splitmix64(key, counters[:, None] + np.uint64(1) + k)))
    ratio = pmf / (pmf + exponential * (total / -np.log(maximum_uniform))[:, None])
    weights = np.where(k == hard[:, None], 1.0, ratio ** (1.0 / temperature))
    y = weights / weights.sum(-1, keepdims=True)
    return hard, (y * k**2).sum(-1) - (y * k).sum(-1) ** 2


def test_relaxed_poisson_value_and_gradient_follow_the_top_down_draw():
    """Value: the argmax by inversion; gradient: `Var_y(k) / (temperature * rate)` (the soft
    count's derivative, Dutta Eqs. 2.10-2.12), both rebuilt from the same SplitMix64 words."""
    rates = tf.constant(np.random.default_rng(8).uniform(0.0, 12.0, 200).astype("float32"))
    seed, max_count, temperature = [4, 9], 12, 0.7
    with tf.GradientTape() as tape:
        tape.watch(rates)
        counts = _sampling.relaxed_poisson(rates, tf.constant(seed), max_count, temperature)
    gradient = tape.gradient(counts, rates).numpy()
    hard, variance = relaxed_reference(rates.numpy(), seed, max_count, temperature)
    np.testing.assert_array_equal(counts.numpy(), hard)
    np.testing.assert_allclose(gradient, variance / (temperature * (rates.numpy() + 1e-8)),
                               rtol=1e-4, atol=1e-6)


def bottom_up_variances(rate, max_count, temperature, n, rng):
    """`Var_y(k)` of the textbook construction: `K + 1` independent Gumbels added to log pi."""
    k = np.arange(max_count + 1)
    logits = (scipy.stats.poisson.logpmf(k, rate) + rng.gumbel(size=(n, max_count + 1)))
    y = scipy.special.softmax(logits / temperature, axis=-1)
    return (y * k**2).sum(-1) - (y * k).sum(-1) ** 2


@pytest.mark.parametrize("rate, temperature", [(0.7, 0.5), (4.0, 0.7), (20.0, 0.5)])
def test_top_down_gumbels_have_the_law_of_independent_gumbels(rate, temperature):
    """The gradient's `Var_y(k)` from the top-down draw is distributed as from K + 1 independent
    Gumbels (two-sample Kolmogorov-Smirnov), and its argmax is the truncated Poisson."""
    n, max_count = 20_000, 30
    rates = tf.fill([n], np.float32(rate))
    with tf.GradientTape() as tape:
        tape.watch(rates)
        counts = _sampling.relaxed_poisson(rates, tf.constant([1, rate * 10]), max_count,
                                           temperature)
    variances = tape.gradient(counts, rates).numpy() * temperature * (rate + 1e-8)
    reference = bottom_up_variances(rate, max_count, temperature, n, np.random.default_rng(3))
    assert scipy.stats.ks_2samp(variances, reference).pvalue > ALPHA
    assert truncated_chi_square_p_value(counts.numpy(), rate, max_count) > ALPHA


def truncated_chi_square_p_value(counts, rate, max_count):
    """Pearson chi-square of `counts` against Poisson(rate) truncated to `0..max_count`, the
    cells expecting fewer than 20 pooled into one."""
    k = np.arange(max_count + 1)
    truncated = scipy.stats.poisson.pmf(k, rate) / scipy.stats.poisson.cdf(max_count, rate)
    observed = np.bincount(counts.astype(int), minlength=max_count + 1)
    pooled = truncated * len(counts) >= 20
    expected = np.append(truncated[pooled], truncated[~pooled].sum()) * len(counts)
    observed = np.append(observed[pooled], observed[~pooled].sum())
    return scipy.stats.chisquare(observed, expected).pvalue


def test_relaxed_poisson_reaches_its_largest_count_with_the_scaled_pmf():
    """Rates above 80 start the pmf recurrence scaled: the argmax is still the truncated pmf."""
    max_count, rate = _sampling.GUMBEL_MAX_COUNT, 150.0
    counts = _sampling.relaxed_poisson(tf.fill([N], np.float32(rate)), tf.constant([6, 6]),
                                       max_count, 0.5).numpy()
    assert truncated_chi_square_p_value(counts, rate, max_count) > ALPHA


def test_the_split_into_parallel_calls_does_not_change_the_draws(monkeypatch):
    rates = tf.constant(np.random.default_rng(2).uniform(0, 6, 1000).astype("float32"))
    monkeypatch.setattr(_sampling, "GUMBEL_CHUNK", 64)
    results = []
    for cores in (1, 3):
        monkeypatch.setattr(_sampling.os, "cpu_count", lambda cores=cores: cores)
        results.append([m.numpy() for m in _sampling._parallel_gumbel_moments(
            rates, tf.constant([8, 8]), 20, 0.5)])
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_gumbel_softmax_count_limit_is_validated():
    with pytest.raises(ValueError, match="`max_count`. Expected an integer between 1 and 160"):
        _sampling.relaxed_poisson(tf.ones([3]), tf.constant([1, 1]), 161, 0.5)
    with pytest.raises(ValueError, match="Received: max_count=161"):
        PoissonNoise(gradient="gumbel_softmax", max_count=161)
    PoissonNoise(max_count=161)  # straight-through counts have no such limit


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
