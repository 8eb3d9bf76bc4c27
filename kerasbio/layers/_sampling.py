"""Exact, vectorised samplers compiled with XLA: Poisson counts and Gumbel-softmax moments.

Each sampler is a `tf.function(jit_compile=True)`: called from an ordinary graph it runs as one
XLA cluster, so its elementwise loops fuse into a few passes over memory instead of one kernel
per operation; inside a `jit_compile=True` model it is inlined. Callers pass a `(2,)` seed
tensor taken from their layer's `SeedGenerator` (`seed_generator.next()`), so draws are fresh
per call, per example and per replica. Two generators: stateless Philox streams (the Poisson
sampler, Bernoulli masks; the algorithm is named explicitly because XLA on CPU generates
"auto_select" floats about 100 times more slowly), and a counter-based SplitMix64 stream whose
words are computed inside the fused loops where millions of draws per step make Philox's cost
(about 5 ns a word on CPU) the bottleneck (the Gumbel-softmax relaxation, Gaussian masks).
"""

import os

import numpy as np

import tensorflow as tf

SMALL_RATE = 10.0  # inversion below, transformed rejection at and above (Hormann 1993: >= 10)
INVERSION_STEPS = 10  # search steps per pass: P(count >= 10 | rate = 1) = 1.1e-7
INVERSION_PASSES = 16  # P(count >= 160 | rate < 10) < 1e-90
FIRST_PASS_STEPS = INVERSION_STEPS  # the copula's one pass is the inversion's first, exactly
REJECTION_ROUNDS = 64  # each round accepts with probability > 0.88: 0.12^64 < 1e-58
ALGORITHM = "philox"


def random_words(shape, seed, stream):
    """Random uint32 words from the Philox stream `stream` of `seed`.

    The stream is hashed into the key (`stateless_fold_in`): adding it to the seed would make
    stream 1 of one call the stream 0 of the next, since a `SeedGenerator` counts up by one.
    """
    seed = tf.random.experimental.stateless_fold_in(seed, stream, alg=ALGORITHM)
    return tf.random.stateless_uniform(shape, seed, minval=None, maxval=None, dtype=tf.uint32,
                                       alg=ALGORITHM)


GOLDEN_GAMMA = 0x9E3779B97F4A7C15  # SplitMix64's counter increment (Steele et al. 2014)


def counter_key(seed):
    """A uint64 SplitMix64 key from an int32 `(2,)` seed (one from a `SeedGenerator`).

    Mixed, so that the consecutive seeds of a `SeedGenerator` give unrelated keys.
    """
    halves = tf.cast(tf.bitcast(tf.cast(seed, tf.int32), tf.uint32), tf.uint64)
    return _mix64(tf.bitwise.left_shift(halves[0], tf.constant(32, tf.uint64)) | halves[1])


def counter_words(key, counters):
    """SplitMix64 words `mix64(key + counter * gamma)` (Steele et al. 2014, passes BigCrush).

    A counter-based stream: any element's word is computed from its own (uint64) counter, so a
    word costs about 3 multiplies inside a fused XLA loop, against about 5 ns on CPU for a
    Philox word from `random_words`. Distinct counters under one key give distinct states;
    two calls' keys are unrelated, so their streams overlap with probability about
    `counters / 2^63`.
    """
    gamma = tf.constant(GOLDEN_GAMMA, tf.uint64)
    return _mix64(key + tf.cast(counters, tf.uint64) * gamma)


def word_halves(words):
    """Two independent float32 values from a uint64 word, each uniform on the `2^24` points
    `(k + 1/2) 2^-23`, `k = -2^23 .. 2^23 - 1`, symmetric and strictly inside `(-1, 1)`: the
    24-bit fields `f` (bits 40-63 and 0-23) as `(f - 2^23 + 1/2) 2^-23`.

    Every step is exact in float32 (`f - (2^23 - 1/2)` is a half-integer below `2^23` in
    magnitude), unlike `2 u - 1` of a uniform `u = (f + 1/2) 2^-24`, which float32 cannot hold
    for `f >= 2^23` and rounds to 1 for the largest `f`.
    """
    low_mask = tf.constant(0xFFFFFF, tf.uint64)
    high = tf.bitwise.right_shift(words, tf.constant(40, tf.uint64))
    low = tf.bitwise.bitwise_and(words, low_mask)
    return tuple((tf.cast(field, tf.float32) - (2.0 ** 23 - 0.5)) * 2.0 ** -23
                 for field in (high, low))


def word_uniforms(words):
    """Two independent float32 uniforms from a uint64 word: the 23-bit fields `f` (bits 41-63
    and 0-22) as `(f + 1/2) 2^-23`, exact in float32 and in `[2^-24, 1 - 2^-24]`, so that
    `-log u` is finite and positive (a 24-bit `(f + 1/2) 2^-24` rounds to 1 at the top)."""
    low_mask = tf.constant(0x7FFFFF, tf.uint64)
    high = tf.bitwise.right_shift(words, tf.constant(41, tf.uint64))
    low = tf.bitwise.bitwise_and(words, low_mask)
    return tuple((tf.cast(field, tf.float32) + 0.5) * 2.0 ** -23 for field in (high, low))


def _mix64(z):
    """SplitMix64's finalizer (Stafford's Mix13): a bijection of uint64 with full avalanche."""
    for shift, multiplier in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
        z = tf.bitwise.bitwise_xor(z, tf.bitwise.right_shift(z, tf.constant(shift, tf.uint64)))
        z = z * tf.constant(multiplier, tf.uint64)
    return tf.bitwise.bitwise_xor(z, tf.bitwise.right_shift(z, tf.constant(31, tf.uint64)))


@tf.function(jit_compile=True, reduce_retracing=True, autograph=False)
def counter_normal(shape, seed):
    """Standard normal float32 draws of `shape` from the SplitMix64 stream of `seed`.

    Inversion, two draws per word: `z = sqrt(2) erfinv(v)` for each of the word's two 24-bit
    values `v = (bits - 2^23 + 1/2) 2^-23` in `(-1, 1)` (exact up to that grid: |z| <= 5.4).
    XLA's `erfinv` costs about a third of Box-Muller's `cos` on CPU.
    """
    size = tf.reduce_prod(shape)
    counters = tf.range((size + 1) // 2, dtype=tf.int64)
    halves = word_halves(counter_words(counter_key(seed), counters))
    draws = np.sqrt(2.0) * tf.math.erfinv(tf.reshape(tf.stack(halves, axis=-1), [-1]))
    return tf.reshape(draws[:size], shape)


@tf.function(jit_compile=True, reduce_retracing=True, autograph=False)
def gaussian_masks(shape, stddev, seed):
    """`N(1, stddev^2)` float32 masks of `shape` (`stddev` a Python float): `1 + stddev z`, `z`
    from `counter_normal`, drawn and scaled in one fused XLA loop."""
    return 1.0 + stddev * counter_normal(shape, seed)


def _uniform(shape, seed, stream, dtype):
    """Uniforms on the open interval `(0, 1)`: `(bits + 1/2) 2^-b`, `b = 24` (float32) or 32."""
    bits = random_words(shape, seed, stream)
    if dtype == tf.float32:
        high_bits = tf.bitwise.right_shift(bits, tf.constant(8, tf.uint32))
        return (tf.cast(high_bits, tf.float32) + 0.5) * 2.0 ** -24
    return (tf.cast(bits, tf.float64) + 0.5) * 2.0 ** -32


def poisson(rates, seed):
    """Exact Poisson counts with means `rates` (float32), one draw per element.

    Rates below 10: inversion, `k = min{k : u <= F(k)}` with a 24-bit uniform `u` and the CDF
    summed in float32 (so exact up to float32 rounding: every `F(k)` within about 1e-6 of the
    true one). Rates of 10 and more: Hormann's (1993) transformed rejection with squeeze (PTRS)
    in float64, repeated until every element is accepted. Both loops run only as long as some element still needs them, so a
    tensor of small rates costs about one pass. A rate that is NaN, infinite or negative gives
    NaN (immediately, without entering the loops).

    Args:
        rates: float32 tensor of Poisson means.
        seed: int32 tensor of shape `(2,)`.

    Returns:
        float32 tensor of counts, the shape of `rates` (no gradient).
    """
    # Without a gradient path, no tape asks the loops to keep their intermediates.
    rates = tf.stop_gradient(tf.convert_to_tensor(rates, tf.float32))
    seed = tf.cast(seed, tf.int32)
    flat = tf.reshape(rates, [-1])  # XLA on CPU vectorises loops over a vector, not a short axis
    counts = _small_rate_counts(flat, seed)
    counts = tf.cond(tf.reduce_any(flat >= SMALL_RATE),
                     lambda: _large_rate_counts(flat, counts, seed), lambda: counts)
    # `reduce_retracing` may trace the compiled parts for unknown shapes: restore the static one.
    return tf.ensure_shape(tf.reshape(counts, tf.shape(rates)), rates.shape)


@tf.function(jit_compile=True, reduce_retracing=True, autograph=False)
def _small_rate_counts(rates, seed):
    """Inversion counts where `0 <= rate < 10`, NaN where the rate is not finite or negative."""
    valid = tf.math.is_finite(rates) & (rates >= 0.0)
    uniform = _uniform(tf.shape(rates), seed, 0, tf.float32)
    counts = _inversion(tf.where(valid & (rates < SMALL_RATE), rates, 0.0), uniform)
    return tf.where(valid, counts, np.float32("nan"))


@tf.function(jit_compile=True, reduce_retracing=True, autograph=False)
def normal_cdf(x):
    """Standard normal CDF, `(1 + erf(x / sqrt 2)) / 2`, rounded as in `small_rate_copula`."""
    return _normal_cdf(x)


def _normal_cdf(x):
    return 0.5 * (1.0 + tf.math.erf(x / np.sqrt(2.0)))


@tf.function(jit_compile=True, reduce_retracing=True, autograph=False)
def small_rate_quantile(probability, rates):
    """`min{k : F(k) >= probability}` for Poisson rates below 10 (float32 CDF, as `poisson`)."""
    return _inversion(rates, probability)


@tf.function(jit_compile=True, reduce_retracing=True, autograph=False)
def small_rate_copula(normal, rates):
    """Gaussian-copula Poisson counts `min{k : F(k) >= Phi(normal)}` of vectors, in one pass.

    Equal to `small_rate_quantile(normal_cdf(normal), max(rates, 0))` where the count is below
    `FIRST_PASS_STEPS` and the rate below 10 (`first_inversion_pass`, `Phi` never stored); the
    rate itself where it is not finite; -1 (not final) elsewhere. One output, as XLA would copy
    the whole pass into a second one (a flag), and vectors, as on CPU it vectorises a loop over a
    vector but not one over a short last axis.
    """
    finite = tf.math.is_finite(rates)
    small = finite & (rates < SMALL_RATE)
    counts = first_inversion_pass(tf.where(small, tf.maximum(rates, 0.0), 0.0),
                                  _normal_cdf(normal))
    counts = tf.where(small & (counts >= FIRST_PASS_STEPS), -1.0, counts)
    return tf.where(small, counts, tf.where(finite, -1.0, rates))


@tf.function(jit_compile=True, reduce_retracing=True, autograph=False)
def _large_rate_counts(rates, counts, seed):
    """`counts` with transformed-rejection draws where `10 <= rate < inf`."""
    large = tf.math.is_finite(rates) & (rates >= SMALL_RATE)
    return tf.where(large, _transformed_rejection(rates, large, seed), counts)


def first_inversion_pass(rates, uniform):
    """`_inversion`'s count among `F(0), ..., F(FIRST_PASS_STEPS - 1)`, final where it is below
    `FIRST_PASS_STEPS`: one fused loop that stores nothing but the counts (constant `k`)."""
    pmf = tf.exp(-rates)
    count, _, _ = _search(rates, uniform, 0, tf.zeros_like(rates), pmf, pmf, FIRST_PASS_STEPS)
    return count


def _inversion(rates, uniform):
    """Sequential-search inversion of `uniform` for `rates < 10` (float32).

    Counts the CDF values `F(0) < F(1) < ...` below a uniform `u`, in passes of
    `INVERSION_STEPS` values (`_search`) while some element still searches. `F(k)` counts only
    while the float32 sum still grows (`min(u, F(k+1)) > F(k)`), so the search ends where the
    rounded CDF stops growing, also for the rare `u` above its limit.
    """
    def search(k, count, cdf, pmf):
        return (k + INVERSION_STEPS,
                *_search(rates, uniform, k, count, cdf, pmf, INVERSION_STEPS))

    def searching(k, count, cdf, pmf):
        next_cdf = cdf + pmf * rates / tf.cast(k + 1, tf.float32)
        return tf.reduce_any(tf.minimum(uniform, next_cdf) > cdf)

    pmf = tf.exp(-rates)
    _, count, _, _ = tf.while_loop(searching, search, (0, tf.zeros_like(rates), pmf, pmf),
                                   maximum_iterations=INVERSION_PASSES)
    return count


def _search(rates, uniform, k, count, cdf, pmf, steps):
    """Tests `F(k), ..., F(k + steps - 1)` below `uniform`; `(count, F, p)` at `k + steps`.

    `F(k + i) = F(k) + p(k) Q_i`, `Q_i = sum_{m<=i} rate^m (k! / (k + m)!)` by Horner's rule, so
    that each test is an independent expression and the pass fuses into one loop.
    """
    reciprocals = [1.0 / tf.cast(k + m, tf.float32) for m in range(1, steps + 1)]
    cdfs = [cdf]
    for i in range(1, steps + 1):
        partial = tf.zeros_like(rates)
        for m in range(i, 0, -1):
            partial = (partial + 1.0) * rates * reciprocals[m - 1]
        cdfs.append(cdf + pmf * partial)
    for low, high in zip(cdfs[:-1], cdfs[1:]):
        count += tf.cast(tf.minimum(uniform, high) > low, tf.float32)
    for reciprocal in reciprocals:
        pmf *= rates * reciprocal
    return count, cdfs[-1], pmf


def _transformed_rejection(rates, wanted, seed):
    """Hormann's PTRS for the `wanted` elements (rates >= 10, float64 arithmetic).

    Returns float32 counts, NaN where no round accepted (probability below 1e-58).

    Constants and acceptance test from Hormann (1993), "The transformed rejection method for
    generating Poisson random variables", Insurance: Mathematics and Economics 12, algorithm PTRS.
    """
    def attempt(round_, pending, counts):
        """One round for every element; the constants are computed here, not before the loop,
        so that a tensor without large rates (no round at all) costs nothing."""
        rate = tf.where(pending, tf.cast(rates, tf.float64), SMALL_RATE)
        b = 0.931 + 2.53 * tf.sqrt(rate)
        a = -0.059 + 0.02483 * b
        inverse_alpha = 1.1239 + 1.1328 / (b - 3.4)
        v_r = 0.9277 - 3.6224 / (b - 2.0)
        u = _uniform(tf.shape(rate), seed, 2 * round_ + 1, tf.float64) - 0.5
        v = _uniform(tf.shape(rate), seed, 2 * round_ + 2, tf.float64)
        us = 0.5 - tf.abs(u)
        k = tf.floor((2.0 * a / us + b) * u + rate + 0.43)
        squeezed = (us >= 0.07) & (v <= v_r)
        rejected = (k < 0.0) | ((us < 0.013) & (v > us))
        safe_k = tf.maximum(k, 0.0)
        log_ratio = tf.math.log(v * inverse_alpha / (a / (us * us) + b))
        log_pmf = -rate + safe_k * tf.math.log(rate) - tf.math.lgamma(safe_k + 1.0)
        accepted = pending & (squeezed | (~rejected & (log_ratio <= log_pmf)))
        return round_ + 1, pending & ~accepted, tf.where(accepted, tf.cast(k, tf.float32), counts)

    def rejecting(round_, pending, counts):
        return tf.reduce_any(pending)

    _, pending, counts = tf.while_loop(
        rejecting, attempt, (0, wanted, tf.zeros_like(rates)),
        maximum_iterations=REJECTION_ROUNDS)
    return tf.where(pending, np.float32("nan"), counts)


GUMBEL_MAX_COUNT = 160  # largest count whose scaled pmf recurrence stays in float32 range
GUMBEL_CHUNK = 16384  # units per step of the compiled loop: its per-unit vectors stay in cache
PMF_FLOOR_EXPONENT = 80.0  # the recurrence starts at exp(-min(rate, 80)), a normal float32


def relaxed_poisson(rates, seed, max_count, temperature):
    """Gumbel-softmax Poisson counts over `0..max_count` (Dutta Eqs. 2.10-2.12).

    `y = softmax((log pi + g) / temperature)`, `log pi_k = k log(rate) - rate - log k!`, Gumbel
    noise `g`. The value is `argmax y`, an exact draw from the Poisson truncated to
    `0..max_count`; the gradient is that of the soft count `s = sum_k k y_k`,
    `ds/drate = Var_y(k) / (temperature * rate)`. The Gumbels are drawn top-down (as in
    Maddison et al. 2014): first the argmax by inversion, then the maximum and the other
    Gumbels given it (`_gumbel_softmax_moments`), the same joint law as `K + 1` independent
    Gumbels. Only the argmax and `Var_y(k)` per unit are kept for the backward pass.

    Args:
        rates: float32 tensor of rates in `[0, max_count]` (clipped by the caller); NaN or
            infinite rates give NaN.
        seed: int32 tensor of shape `(2,)`.
        max_count: Python int, the largest count, at most `GUMBEL_MAX_COUNT`.
        temperature: Python float > 0.
    """
    if not 1 <= max_count <= GUMBEL_MAX_COUNT:
        raise ValueError(
            "Invalid value received for argument `max_count`. Expected an integer between 1 and "
            f"{GUMBEL_MAX_COUNT} for the Gumbel-softmax relaxation. Received: "
            f"max_count={max_count}")

    @tf.custom_gradient
    def counts(rates):
        hard, variance = _parallel_gumbel_moments(tf.stop_gradient(rates), seed, max_count,
                                                  float(temperature))
        hard = tf.where(tf.math.is_finite(rates), hard, np.float32("nan"))  # as `poisson`

        def gradient(upstream):
            return upstream * variance / (temperature * (rates + RATE_EPSILON))

        return hard, gradient

    return counts(tf.convert_to_tensor(rates, tf.float32))


RATE_EPSILON = 1e-8  # in the gradient's denominator, so that a zero rate has a finite one


def _parallel_gumbel_moments(rates, seed, max_count, temperature):
    """`_gumbel_softmax_moments` of the flattened `rates`, split into one compiled call per
    CPU core (`os.cpu_count()`), which TF's executor runs concurrently: XLA runs one loop's
    steps one after another. Unit `i` draws from counters `i (max_count + 2) + slot` of the
    call's SplitMix64 key, so the split does not change the draws."""
    shape = tf.shape(rates)
    flat = tf.reshape(rates, [-1])
    size = flat.shape[0]
    chunk = GUMBEL_CHUNK if size is None else max(1, min(GUMBEL_CHUNK, size))
    parts = os.cpu_count() or 1
    if size is not None:
        parts = max(1, min(parts, size // chunk))
    units = tf.size(flat)
    per_part = tf.maximum(-(-units // (parts * chunk)), 1) * chunk  # an empty input: a chunk
    padded = tf.pad(flat, [[0, parts * per_part - units]])
    key = counter_key(seed)
    moments = [_gumbel_softmax_moments(padded[i * per_part:(i + 1) * per_part], key,
                                       tf.cast(i * per_part, tf.int64), max_count, temperature,
                                       chunk) for i in range(parts)]
    hard, variance = (tf.concat(values, 0)[:units] for values in zip(*moments))
    return tf.reshape(hard, shape), tf.reshape(variance, shape)


@tf.function(jit_compile=True, autograph=False)
def _gumbel_softmax_moments(rates, key, offset, max_count, temperature, chunk):
    """`argmax_k` and `Var_y(k)` of `y = softmax((log pi_k + g_k) / temperature)`, `k <= K`.

    Top-down Gumbels: the argmax `h` is the inversion of a uniform `u`, `h = #{k < K :
    u Z > F(k)}` (`F` the float32 CDF, `Z = F(K)`); the maximum is `log Z + g_0`; every other
    `g_k` is a Gumbel of location `log pi_k` truncated below the maximum,
    `-log(e^-max + E_k / pi_k)`, `E_k ~ Exp(1)`. Relative to the argmax's weight 1 the weights
    are then `y_k ~ (pi_k / (pi_k + E_k Z / E_0))^(1 / temperature)`, all in `[0, 1]`: no
    exponentials and no overflow. The pmf comes by the recurrence `pi_k = pi_(k-1) rate / k`
    scaled by `e^max(rate - 80, 0)` (so that it starts at a normal float32; the scale cancels).
    `rates` is processed `chunk` units at a time, so each unit's loops over `k` run on
    cache-sized vectors.
    """
    chunks = tf.reshape(rates, [-1, chunk])

    def moments_of_chunk(index):
        first_unit = offset + tf.cast(index * chunk, tf.int64)
        counters = (first_unit + tf.range(chunk, dtype=tf.int64)) * (max_count + 2)
        return _unit_moments(chunks[index], key, counters, max_count, temperature)

    def step(index, hard, variance):
        unit_hard, unit_variance = moments_of_chunk(index)
        return index + 1, hard.write(index, unit_hard), variance.write(index, unit_variance)

    steps = tf.shape(chunks)[0]
    arrays = [tf.TensorArray(tf.float32, size=steps, element_shape=[chunk]) for _ in range(2)]
    _, hard, variance = tf.while_loop(lambda index, *_: index < steps, step, (0, *arrays))
    return tf.reshape(hard.stack(), [-1]), tf.reshape(variance.stack(), [-1])


def _unit_moments(rates, key, counters, max_count, temperature):
    """Argmax and `Var_y(k)` for one chunk of units (see `_gumbel_softmax_moments`)."""
    first_pmf = tf.exp(-tf.minimum(rates, PMF_FLOOR_EXPONENT))

    def next_pmf(k, pmf):
        return pmf * rates / tf.cast(k + 1, tf.float32)

    def add_pmf(k, pmf, total):
        pmf = next_pmf(k, pmf)
        return k + 1, pmf, total + pmf

    _, _, total = tf.while_loop(lambda k, *_: k < max_count, add_pmf,
                                (0, first_pmf, first_pmf))
    argmax_uniform, maximum_uniform = word_uniforms(counter_words(key, counters))
    target = argmax_uniform * total

    def invert(k, pmf, cdf, count):
        cdf = cdf + pmf
        return k + 1, next_pmf(k, pmf), cdf, count + tf.cast(target > cdf, tf.float32)

    zeros = tf.zeros_like(rates)
    _, _, _, hard = tf.while_loop(lambda k, *_: k < max_count, invert,
                                  (0, first_pmf, zeros, zeros))
    scale = total / -tf.math.log(maximum_uniform)  # Z / E_0

    def accumulate(k, pmf, weight_sum, first_moment, second_moment):
        words = counter_words(key, counters + 1 + tf.cast(k, tf.int64))
        exponential = -tf.math.log(word_uniforms(words)[0])
        offsets = tf.cast(k, tf.float32) - hard
        ratio = pmf / (pmf + scale * exponential)
        weight = tf.where(offsets == 0.0, 1.0, _power(ratio, 1.0 / temperature))
        return (k + 1, next_pmf(k, pmf), weight_sum + weight, first_moment + weight * offsets,
                second_moment + weight * offsets * offsets)

    _, _, weight_sum, first_moment, second_moment = tf.while_loop(
        lambda k, *_: k <= max_count, accumulate, (0, first_pmf, zeros, zeros, zeros))
    mean = first_moment / weight_sum
    return hard, tf.maximum(second_moment / weight_sum - mean * mean, 0.0)


def _power(base, exponent):
    """`base ** exponent` for `base` in `[0, 1]`; by multiplication for integer exponents <= 4."""
    if exponent in (1.0, 2.0, 3.0, 4.0):
        result = base
        for _ in range(int(exponent) - 1):
            result *= base
        return result
    return tf.pow(base, exponent)
