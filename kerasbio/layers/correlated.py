"""Correlated Gaussian and Poisson noise on a convolutional layer's units (Dutta 2019, ch. 2).

The correlation structure and the samplers live in `kerasbio.layers.correlation_structure`.
"""

import keras
from keras import ops

from kerasbio._core.validation import validate_choice, validate_int, validate_range
from kerasbio.layers import _sampling
from kerasbio.layers import correlation_structure as corr
from kerasbio.layers._wrapper import ConvolutionWrapper

SAMPLERS = ("separable", "full")


@keras.saving.register_keras_serializable(package="kerasbio")
class CorrelatedNoise(ConvolutionWrapper):
    """Adds noise correlated across units to the output of a wrapped convolution (Dutta ch. 2).

    The correlation of units `(p, i)` and `(q, j)` (positions `p, q`, maps `i, j`) is Eq. 2.14,
    `f = [a - b d]^+ exp((k - 1) / tau) + c` with a unit diagonal; `d` is the distance of the
    positions on the output grid (Eq. 2.15) and `k` the cosine similarity of the maps' kernels
    (Eq. 2.16), recomputed from the current kernel at every call (no gradient flows through it).

    - Gaussian (Eqs. 2.6-2.8): `h = a + std * z`, `z ~ N(0, Sigma)`; `std = sqrt(fano * max(a, 0)
      + epsilon)` for `scale="fano"` (Dutta's CG model), else `std = scale`.
    - Poisson (2.2.4): a Gaussian copula, `h = F^-1_Poisson(Phi(z); max(a, 0))`. Gradient:
      straight-through (`dh/da = 1` where `a > 0`), or with `gradient="gumbel_softmax"` that of
      the soft count of Eqs. 2.10-2.12 at the same rates (clipped to `max_count`) while the
      forward pass keeps the copula's counts.

    `sampler="separable"` (default) never builds the `(hwk)^2` matrix. `Sigma = S kron T + c 11^T
    + (1 - a - c) I` with `S[p, q] = [a - b d]^+` and `T[i, j] = exp((k - 1) / tau)`, sampled as
    `L_s Z L_t^T` plus one shared and one independent normal term (two matrix products per
    batch; see `correlation_structure.separable_normal`). `T` is positive semidefinite by
    construction. `S` need not be in 2-D: it is replaced by its nearest PSD matrix (eigenvalue clipping of the
    `(hw, hw)` matrix, once at build: 0.5 s at 32x32, about a minute at 64x64). The thesis
    instead projects the whole `(hwk)^2` matrix (Eq. 2.17, CVXPY). Both agree when `S` is PSD
    (as for the defaults up to 32x32). Otherwise the full matrix is often still PSD (the identity
    term absorbs small negative eigenvalues of `S`) and kept as is, whereas clipping `S` moves
    each correlation by at most `|lambda_min(S)|` (6x6, b=0.1: 0.0016, measured in the tests).
    Only the leading eigenvectors of `S` are kept, until the variance dropped from any unit is at
    most `spatial_tolerance`; the dropped part is PSD, so no correlation moves by more than that,
    and its variance goes to the independent term (the diagonal stays 1). The default 0.005
    keeps 105 of 1024 components at 32x32; `spatial_tolerance=0` samples exactly `N(0, Sigma)`
    with the projected `S`.

    `sampler="full"` builds the full matrix, projects it by eigenvalue clipping (the closed-form
    solution of Eq. 2.17), rescales it to a unit diagonal and samples with its factor: the
    reference, for small layers. Noise is sampled in float32 under any dtype policy.

    Args:
        layer: The wrapped layer, with a 4-D kernel whose last axis indexes its output maps
            (Conv2D, either data format).
        distribution: `"gaussian"` or `"poisson"`.
        a, b, c, tau: Parameters of Eq. 2.14 (`a, c` in [0, 1] with `a + c <= 1`, `b >= 0`,
            `tau > 0`); the defaults are the thesis' (Fig. 2.3).
        scale: `"fano"` or a float >= 0, the Gaussian noise standard deviation.
        fano: Float >= 0, variance / mean ratio for `scale="fano"`.
        epsilon: Float > 0 under the square root of the Fano scale (Dutta uses 1e-6).
        sampler: `"separable"` or `"full"`.
        spatial_tolerance: Float >= 0, largest change of any correlation allowed when truncating
            the spatial factor (separable sampler).
        gradient: Poisson gradient, `"straight_through"` or `"gumbel_softmax"`.
        max_count: Int from 1 to 160, largest count of the Gumbel-softmax relaxation.
        temperature: Float > 0, Gumbel-softmax temperature.
        mc: Bool, sample at inference too.
        seed: Optional integer seed.

    Call arguments:
        inputs: Input of the wrapped layer.
        training: Python bool; sample when `True` (or when `mc`).
    """

    _example_config = staticmethod(lambda: {"layer": keras.layers.Conv2D(4, 3, activation="relu")})
    _invalid_configs = ({"a": 1.5}, {"b": -0.1}, {"c": 0.9}, {"tau": 0.0},
                        {"distribution": "gamma"}, {"scale": -1.0}, {"sampler": "cvxpy"},
                        {"spatial_tolerance": -1.0},
                        {"gradient": "reinforce"}, {"max_count": 0}, {"max_count": 2.5},
                        {"gradient": "gumbel_softmax", "max_count": 161},
                        {"layer": "conv"})

    def __init__(self, layer, distribution="gaussian", a=0.225, b=0.0043, c=0.09, tau=1.87,
                 scale="fano", fano=1.0, epsilon=1e-6, sampler="separable",
                 spatial_tolerance=0.005, gradient="straight_through", max_count=30,
                 temperature=0.5, mc=False, seed=None, **kwargs):
        super().__init__(layer, mc=mc, seed=seed, **kwargs)
        self.distribution = validate_choice("distribution", distribution, ("gaussian", "poisson"))
        self.a = validate_range("a", a, low=0, high=1)
        self.b = validate_range("b", b, low=0)
        self.c = validate_range("c", c, low=0, high=1 - a)
        self.tau = validate_range("tau", tau, low=0, low_open=True)
        self.scale = scale if scale == "fano" else validate_range("scale", scale, low=0)
        self.fano = validate_range("fano", fano, low=0)
        self.epsilon = validate_range("epsilon", epsilon, low=0, low_open=True)
        self.sampler = validate_choice("sampler", sampler, SAMPLERS)
        self.spatial_tolerance = validate_range("spatial_tolerance", spatial_tolerance, low=0)
        self.gradient = validate_choice("gradient", gradient,
                                        ("straight_through", "gumbel_softmax"))
        self.max_count = validate_int("max_count", max_count, low=1, high=(
            _sampling.GUMBEL_MAX_COUNT if self.gradient == "gumbel_softmax" else None))
        self.temperature = validate_range("temperature", temperature, low=0, low_open=True)

    def build(self, input_shape):
        super().build(input_shape)
        height, width = self.output_size
        if height is None or width is None:
            raise ValueError("CorrelatedNoise needs a known output height and width to build "
                             "its spatial correlations; give the model a fixed input size.")
        self.spatial = corr.spatial_matrix(height, width, self.a, self.b)
        self.spatial_factor = corr.psd_factor(self.spatial,
                                              self.spatial_tolerance).astype("float32")

    def expectation(self, outputs):
        return ops.relu(outputs) if self.distribution == "poisson" else outputs

    def sample(self, outputs):
        normal = self.correlated_normal(ops.shape(outputs)[0])
        if self.data_format == "channels_first":
            normal = ops.transpose(normal, (0, 2, 1))
        normal = ops.reshape(normal, ops.shape(outputs))
        activity = ops.cast(outputs, "float32")
        if self.distribution == "gaussian":
            noisy = activity + self.noise_scale(activity) * normal
        else:
            noisy = self.poisson_counts(ops.relu(activity), normal)
        return ops.cast(noisy, outputs.dtype)

    def correlated_normal(self, batch):
        """`(batch, h*w, maps)` standard normal noise with the correlation of Eq. 2.14."""
        if self.sampler == "full":
            tuning = corr.tuning_matrix(self.layer.kernel, self.tau)
            return corr.full_normal(self.spatial, tuning, self.a, self.c, batch,
                                     self.seed_generator)
        maps_factor = corr.tuning_factor(self.layer.kernel, self.tau)
        return corr.separable_normal(self.spatial_factor, maps_factor, self.c, batch,
                                      self.seed_generator)

    def noise_scale(self, activity):
        """Per-unit standard deviation: `sqrt(fano * max(a, 0) + epsilon)` or the constant."""
        if self.scale == "fano":
            return ops.sqrt(self.fano * ops.relu(activity) + self.epsilon)
        return self.scale

    def poisson_counts(self, rates, normal):
        """Gaussian-copula Poisson counts at `rates` with the chosen surrogate gradient."""
        counts = ops.stop_gradient(corr.poisson_copula(normal, rates))
        if self.gradient == "straight_through":
            return rates + ops.stop_gradient(counts - rates)
        relaxed = _sampling.relaxed_poisson(ops.minimum(rates, float(self.max_count)),
                                            self.seed_generator.next(), self.max_count,
                                            self.temperature)
        return relaxed + ops.stop_gradient(counts - relaxed)

    def get_config(self):
        return {**super().get_config(),
                "distribution": self.distribution, "a": self.a, "b": self.b, "c": self.c,
                "tau": self.tau, "scale": self.scale, "fano": self.fano,
                "epsilon": self.epsilon, "sampler": self.sampler,
                "spatial_tolerance": self.spatial_tolerance, "gradient": self.gradient,
                "max_count": self.max_count, "temperature": self.temperature}
