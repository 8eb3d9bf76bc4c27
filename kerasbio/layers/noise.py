"""Independent noise layers: additive, multiplicative and activity-dependent Gaussian, Poisson.

Sources: Tsvetkov et al. 2020 (internal Gaussian noise after hidden activations) and Dutta 2019,
section 2.2 (Eqs. 2.3-2.5 Gaussian, 2.9 Poisson with straight-through gradient, 2.10-2.12
Gumbel-softmax relaxation).
"""

import warnings

import keras
from keras import ops

import tensorflow as tf

from kerasbio._core.validation import validate_choice, validate_int, validate_range
from kerasbio.layers import _sampling
from kerasbio.layers._stochastic import StochasticLayer

DEFAULT_MAX_COUNT = 30


@keras.saving.register_keras_serializable(package="kerasbio")
class GaussianNoise(StochasticLayer):
    """Additive Gaussian noise, `x + N(0, stddev^2)` (Dutta Eqs. 2.3-2.4; Tsvetkov et al.).

    Same meaning as `keras.layers.GaussianNoise`, plus `mc`: with `mc=True` the noise is also
    applied at inference. The expectation is `x`.

    Args:
        stddev: Float >= 0, standard deviation of the noise.
        mc: Bool, sample at inference too.
        seed: Optional integer seed.

    Call arguments:
        inputs: Input tensor (of any rank).
        training: Python bool; sample when `True` (or when `mc`).
    """

    _example_config = {"stddev": 0.5}
    _invalid_configs = ({"stddev": -0.1},)

    def __init__(self, stddev, mc=False, seed=None, **kwargs):
        super().__init__(mc=mc, seed=seed, **kwargs)
        self.stddev = validate_range("stddev", stddev, low=0)
        self._build_at_init()

    def sample(self, inputs):
        noise = keras.random.normal(
            ops.shape(inputs), stddev=self.stddev, dtype=self.compute_dtype,
            seed=self.seed_generator)
        return inputs + noise

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev}


@keras.saving.register_keras_serializable(package="kerasbio")
class MultiplicativeGaussianNoise(StochasticLayer):
    """Multiplicative Gaussian noise, `x * N(1, stddev^2)`, independent per unit.

    The expectation is `x`.

    Args:
        stddev: Float >= 0, standard deviation of the multiplicative factor.
        mc: Bool, sample at inference too.
        seed: Optional integer seed.

    Call arguments:
        inputs: Input tensor (of any rank).
        training: Python bool; sample when `True` (or when `mc`).
    """

    _example_config = {"stddev": 0.5}
    _invalid_configs = ({"stddev": -0.1},)

    def __init__(self, stddev, mc=False, seed=None, **kwargs):
        super().__init__(mc=mc, seed=seed, **kwargs)
        self.stddev = validate_range("stddev", stddev, low=0)
        self._build_at_init()

    def sample(self, inputs):
        factor = keras.random.normal(
            ops.shape(inputs), mean=1.0, stddev=self.stddev, dtype=self.compute_dtype,
            seed=self.seed_generator)
        return inputs * factor

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev}


@keras.saving.register_keras_serializable(package="kerasbio")
class FanoGaussianNoise(StochasticLayer):
    """Activity-dependent Gaussian noise with Fano factor `fano` (Dutta 2.2.1, Eq. 2.5).

    `h = x + sqrt(fano * max(x, 0) + epsilon) * z`, `z ~ N(0, 1)`: the variance is proportional
    to the activation, as for Poisson-like neurons. Gradients flow through the
    reparameterization; `epsilon` keeps the square root's gradient finite at `x = 0`. The
    noise scale is computed in float32 under reduced-precision policies. The expectation is `x`.

    Args:
        fano: Float >= 0, variance / mean ratio.
        epsilon: Float > 0 added under the square root (Dutta uses 1e-6).
        mc: Bool, sample at inference too.
        seed: Optional integer seed.

    Call arguments:
        inputs: Input tensor (of any rank).
        training: Python bool; sample when `True` (or when `mc`).
    """

    _invalid_configs = ({"fano": -1.0}, {"epsilon": 0.0})

    def __init__(self, fano=1.0, epsilon=1e-6, mc=False, seed=None, **kwargs):
        super().__init__(mc=mc, seed=seed, **kwargs)
        self.fano = validate_range("fano", fano, low=0)
        self.epsilon = validate_range("epsilon", epsilon, low=0, low_open=True)
        self._build_at_init()

    def sample(self, inputs):
        activity = ops.relu(ops.cast(inputs, "float32"))
        scale = ops.sqrt(self.fano * activity + self.epsilon)
        noise = keras.random.normal(ops.shape(inputs), dtype="float32", seed=self.seed_generator)
        return inputs + ops.cast(scale * noise, inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "fano": self.fano, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="kerasbio")
class PoissonNoise(StochasticLayer):
    """Poisson spike-count noise, `h ~ Poisson(gain * max(x, 0)) / gain` (Dutta Eq. 2.9).

    Gradients (the sample itself has none):
    - `"straight_through"`: the backward pass uses the mean (Dutta 2.2.3), so
      `dh/dx = 1` where `x > 0` and 0 elsewhere.
    - `"gumbel_softmax"`: the categorical relaxation of Dutta Eqs. 2.10-2.12 over the counts
      `0..max_count`: `y = softmax((log pi + g) / temperature)` with `log pi_k = k log(lambda)
      - lambda - log k!` and Gumbel noise `g`; the forward pass emits `argmax y` (an exact draw
      from the Poisson truncated to `0..max_count`), the backward pass differentiates the soft
      count `sum_k k y_k`.

    Finite rates above `max_count` are clipped to it (and so are straight-through counts;
    infinite rates stay infinite), with a one-time warning when that happens in an eager call;
    `clipped_count` (a non-trainable weight) counts clipped units in every mode, so graph-mode
    training can be checked too. Draws are exact (inversion below rate 10, Hormann's
    transformed rejection above; `kerasbio.layers._sampling.poisson`) and compile with XLA; a
    NaN or infinite input gives NaN. With `gradient="gumbel_softmax"` and no
    `max_count`, `max_count=30`. The expectation is `max(x, 0)` (clipped the same way). Sampling
    runs in float32.

    Args:
        gain: Float > 0, counts per unit of activation.
        gradient: `"straight_through"` or `"gumbel_softmax"`.
        max_count: Optional int >= 1, the largest count (and rate) represented; at most 160
            with `gradient="gumbel_softmax"`.
        temperature: Float > 0, Gumbel-softmax temperature.
        mc: Bool, sample at inference too.
        seed: Optional integer seed.

    Call arguments:
        inputs: Input tensor (of any rank).
        training: Python bool; sample when `True` (or when `mc`).
    """

    _invalid_configs = ({"gain": 0.0}, {"gradient": "reinforce"}, {"temperature": 0.0},
                        {"max_count": 0}, {"gradient": "gumbel_softmax", "max_count": 161})

    def __init__(self, gain=1.0, gradient="straight_through", max_count=None, temperature=0.5,
                 mc=False, seed=None, **kwargs):
        super().__init__(mc=mc, seed=seed, **kwargs)
        self.gain = validate_range("gain", gain, low=0, low_open=True)
        self.gradient = validate_choice("gradient", gradient,
                                        ("straight_through", "gumbel_softmax"))
        highest = _sampling.GUMBEL_MAX_COUNT if self.gradient == "gumbel_softmax" else None
        self.max_count = (None if max_count is None
                          else validate_int("max_count", max_count, low=1, high=highest))
        self.temperature = validate_range("temperature", temperature, low=0, low_open=True)
        self._warned_clipping = False

    @property
    def count_limit(self):
        """The count limit in force: `max_count`, its Gumbel-softmax default, or `None`."""
        if self.max_count is None and self.gradient == "gumbel_softmax":
            return DEFAULT_MAX_COUNT
        return self.max_count

    def build(self, input_shape):
        self.clipped_count = self.add_weight(
            shape=(), initializer="zeros", trainable=False, dtype="float32",
            aggregation="sum", name="clipped_count")

    def rates(self, inputs):
        """`gain * max(x, 0)` in float32, clipped to the count limit (counted, warned once)."""
        rates = self.gain * ops.relu(ops.cast(inputs, "float32"))
        limit = self.count_limit
        if limit is None:
            return rates
        clipped = ops.sum(ops.cast(rates > limit, "float32"))
        self.clipped_count.assign_add(clipped)
        if tf.executing_eagerly() and not self._warned_clipping and float(clipped) > 0:
            self._warned_clipping = True
            warnings.warn(
                f"PoissonNoise '{self.name}': {int(float(clipped))} rates exceeded "
                f"max_count={limit} and were clipped to it. Increase `max_count` (or lower "
                "`gain`) so that it is well above the rates seen.", stacklevel=2)
        return clip_finite(rates, float(limit))

    def expectation(self, inputs):
        if self.count_limit is None:
            return ops.relu(inputs)
        return ops.cast(clip_finite(ops.relu(ops.cast(inputs, "float32")),
                                    self.count_limit / self.gain), inputs.dtype)

    def sample(self, inputs):
        rates = self.rates(inputs)
        if self.gradient == "straight_through":
            counts = self._straight_through_counts(rates)
        else:
            counts = self._gumbel_softmax_counts(rates)
        return ops.cast(counts / self.gain, inputs.dtype)

    def _straight_through_counts(self, rates):
        draws = _sampling.poisson(rates, self.seed_generator.next())
        if self.count_limit is not None:
            draws = ops.minimum(draws, float(self.count_limit))
        return rates + ops.stop_gradient(draws - rates)

    def _gumbel_softmax_counts(self, rates):
        # Flattened, so that inputs of any rank give one (units, counts) problem.
        flat = ops.reshape(rates, (-1,))
        counts = _sampling.relaxed_poisson(flat, self.seed_generator.next(), self.count_limit,
                                           self.temperature)
        return ops.reshape(counts, ops.shape(rates))

    def get_config(self):
        return {**super().get_config(), "gain": self.gain, "gradient": self.gradient,
                "max_count": self.max_count, "temperature": self.temperature}



def clip_finite(values, limit):
    """`min(values, limit)`, but infinite values stay infinite: a diverging activation is not
    turned into a plausible count."""
    return ops.where(ops.isinf(values), values, ops.minimum(values, limit))
