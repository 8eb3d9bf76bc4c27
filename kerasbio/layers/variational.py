"""Unit dropout as a variational distribution: Bernoulli and Gaussian dropout with MC sampling.

Source: McClure 2018, section 3.2.2 (masks on the rows of the weight matrix, Eq. 3.4) and
Appendix A.3 (Gaussian dropout as MC variational inference). Both use training-time
("inverted") scaling, so the deterministic pass is the identity and `mc=True` turns the layer
into MC dropout at test time (Eq. 3.3).
"""

import numbers

import keras
from keras import ops

from kerasbio._core.validation import invalid_argument, validate_range
from kerasbio.layers._stochastic import StochasticLayer


def validate_noise_shape(noise_shape):
    """`None`, or a tuple of positive integers and `None`s (Keras' `Dropout` rule)."""
    if noise_shape is None:
        return None
    if isinstance(noise_shape, str) or not hasattr(noise_shape, "__iter__"):
        raise invalid_argument("noise_shape", "a tuple or list of integers", noise_shape)
    noise_shape = tuple(noise_shape)
    for size in noise_shape:
        if size is None:
            continue
        if isinstance(size, bool) or not isinstance(size, numbers.Integral):
            raise invalid_argument("noise_shape", "all elements to be integers or None",
                                   noise_shape)
        if size <= 0:
            raise invalid_argument("noise_shape",
                                   "all dimensions to be positive integers or None", noise_shape)
    return tuple(None if size is None else int(size) for size in noise_shape)


def dropout_variance(rate):
    """Variance of an inverted-dropout mask, `p / (1 - p)` (McClure 3.2.2, Appendix A.2)."""
    return rate / (1.0 - rate)


@keras.saving.register_keras_serializable(package="kerasbio")
class BernoulliDropout(StochasticLayer):
    """Bernoulli (MC) dropout: `x * b / (1 - rate)`, `b ~ Bernoulli(1 - rate)` (McClure 3.2.2).

    Same meaning as `keras.layers.Dropout`, plus `mc`: with `mc=True` units are also dropped at
    inference, so averaging `T` passes approximates the predictive distribution (McClure
    Eq. 3.3). The mask has mean 1 and variance `rate / (1 - rate)`; the expectation is `x`.

    Args:
        rate: Float in [0, 1), the probability of dropping a unit.
        noise_shape: Optional shape of the mask, broadcast over the input (as in
            `keras.layers.Dropout`; `None` entries take the input's size). Keep the batch
            dimension `None` so that examples get independent masks.
        mc: Bool, sample at inference too.
        seed: Optional integer seed.

    Call arguments:
        inputs: Input tensor (of any rank).
        training: Python bool; sample when `True` (or when `mc`).
    """

    _example_config = {"rate": 0.5}
    _invalid_configs = ({"rate": 1.0}, {"rate": -0.1}, {"noise_shape": "abc"},
                        {"noise_shape": (None, 2.5)}, {"noise_shape": (None, 0)})

    def __init__(self, rate, noise_shape=None, mc=False, seed=None, **kwargs):
        super().__init__(mc=mc, seed=seed, **kwargs)
        self.rate = validate_range("rate", rate, low=0, high=1, high_open=True)
        self.noise_shape = validate_noise_shape(noise_shape)
        self._build_at_init()

    def sample(self, inputs):
        if self.noise_shape is not None and len(self.noise_shape) != len(inputs.shape):
            raise ValueError(
                f"BernoulliDropout '{self.name}' has noise_shape={self.noise_shape} of rank "
                f"{len(self.noise_shape)}, but its input has rank {len(inputs.shape)} (shape "
                f"{inputs.shape}). Give `noise_shape` one entry per input dimension.")
        return keras.random.dropout(inputs, self.rate, noise_shape=self.noise_shape,
                                    seed=self.seed_generator)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape}


@keras.saving.register_keras_serializable(package="kerasbio")
class GaussianDropout(StochasticLayer):
    """Gaussian (MC) dropout: `x * N(1, rate / (1 - rate))` per unit (McClure 3.2.2, A.3).

    The variance `rate / (1 - rate)` matches Bernoulli dropout's under training-time scaling,
    so `rate` means the same in both layers (McClure Chapter 4 writes `(1 - p) / p`; the
    derivation in Appendix A.2 and 3.2.2 use `p / (1 - p)`, as here and in
    `keras.layers.GaussianDropout`). The expectation is `x`.

    Args:
        rate: Float in [0, 1), the equivalent Bernoulli drop probability.
        mc: Bool, sample at inference too.
        seed: Optional integer seed.

    Call arguments:
        inputs: Input tensor (of any rank).
        training: Python bool; sample when `True` (or when `mc`).
    """

    _example_config = {"rate": 0.5}
    _invalid_configs = ({"rate": 1.0}, {"rate": -0.1})

    def __init__(self, rate, mc=False, seed=None, **kwargs):
        super().__init__(mc=mc, seed=seed, **kwargs)
        self.rate = validate_range("rate", rate, low=0, high=1, high_open=True)
        self._build_at_init()

    def sample(self, inputs):
        stddev = dropout_variance(self.rate) ** 0.5
        factor = keras.random.normal(ops.shape(inputs), mean=1.0, stddev=stddev,
                                     dtype=self.compute_dtype, seed=self.seed_generator)
        return inputs * factor

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}
