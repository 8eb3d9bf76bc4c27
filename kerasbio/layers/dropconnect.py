"""Weight noise as a variational distribution: Bernoulli and Gaussian dropconnect.

Source: McClure 2018, section 3.2.2 and Appendix A.2-A.3: sampled weights `W = V o M` (Eq. 3.4)
with every mask element independent, `m_ij ~ Bernoulli(1 - p) / (1 - p)` or
`m_ij ~ N(1, alpha)`, `alpha = p / (1 - p)` (Eq. A.4-A.5). Every example of a batch gets its own
weight sample, so tiling a batch T times gives T independent MC samples (Eq. A.12).

Prior and L2: `kernel_regularizer=keras.regularizers.L2(c)` adds `c * sum(V^2)` to the mean
per-example loss. That is the lower bound (Eq. A.3, A.10) of the KL divergence to the prior
`N(0, sigma_p^2)` divided by the number of training examples `N`, with `c = 1 / (2 N sigma_p^2)`,
i.e. `sigma_p^2 = 1 / (2 N c)` (the thesis' `lambda` is `2 N c`).
"""

import keras
from keras import ops

from kerasbio._core.validation import invalid_argument, validate_choice, validate_int, validate_range
from kerasbio.layers import _bernoulli, _sampling
from kerasbio.layers._stochastic import StochasticLayer
from kerasbio.layers.variational import dropout_variance

DISTRIBUTIONS = ("bernoulli", "gaussian")
SAMPLERS = ("mask", "local_reparameterization")
EPSILON = 1e-8
# Largest static batches whose per-example convolutions are unrolled in the graph, or run as a
# loop (as unknown batches do; measured, issue 15).
UNROLLED_BATCH_LIMIT = 64
LOOPED_BATCH_LIMIT = 512


class WeightNoiseLayer(StochasticLayer):
    """Base of the dropconnect layers: mixed in before `keras.layers.Dense` or `Conv2D`.

    Two samplers of the pre-activation `z = x (V o M)` (the bias is not noisy):
    - `"mask"`: a weight mask per example, `z_b = x_b (V o M_b)` (memory: batch x kernel
      size), exact. Bernoulli masks come from packed random bits (`_bernoulli`: exactly
      Bernoulli(1 - p) when `p` is a multiple of 1/256, else within 2^-32 of it); on a Dense
      layer with 2-D inputs they are decoded a few examples at a time, so no per-example
      kernel is held. Gaussian masks come from a counter-based stream
      (`_sampling.gaussian_masks`: inversion of a uniform 24-bit grid, `|m - 1| <= 5.42
      sigma`). Where the local reparameterization below is exactly equal in distribution
      (Gaussian noise on a Dense layer with 2-D inputs) it is used instead, being cheaper.
    - `"local_reparameterization"` (Kingma et al. 2015): `z ~ N(x V, alpha x^2 V^2)` drawn
      per output unit, the moment-matched Gaussian approximation: for Bernoulli noise it
      matches the first two moments (central limit), and where weights are shared across
      positions (Conv2D, Dense on >2D inputs) it ignores the correlation between the positions
      of one example.

    Subclasses set `weight_rate` (the drop probability of the weight noise) and
    `distribution`, and define `linear(x, kernel)`, `per_example_linear(x, kernels)` and
    `add_bias_and_activation(z)`.
    """

    def __init__(self, sampler="mask", mc=False, seed=None, **kwargs):
        super().__init__(mc=mc, seed=seed, **kwargs)
        self.sampler = validate_choice("sampler", sampler, SAMPLERS)

    def expectation(self, inputs):
        # The wrapped Keras layer's own call (next after StochasticLayer in the MRO): mean weights.
        return super(StochasticLayer, self).call(inputs)

    def sample(self, inputs):
        return self.add_bias_and_activation(self.noisy_preactivation(inputs))

    def noisy_preactivation(self, inputs):
        """One draw of `x (V o M)` per example, by the sampler `sampler` selects."""
        if self.weight_rate == 0:
            return self.linear(inputs, self.kernel)
        if (self.sampler == "local_reparameterization"
                or self.local_reparameterization_is_exact(inputs)):
            return self.local_reparameterization(inputs)
        return self.masked_linear(inputs)

    def masked_linear(self, inputs):
        """`x_b (V o M_b)` through the per-example kernels."""
        return self.per_example_linear(inputs, self.per_example_kernels(ops.shape(inputs)[0]))

    def local_reparameterization_is_exact(self, inputs):
        return False

    def per_example_kernels(self, batch):
        """`V o M_b` for every example `b`: shape `(batch, *kernel.shape)`."""
        kernel, dtype = self.kernel, self.compute_dtype
        if self.distribution == "bernoulli":
            kernels = _bernoulli.masked_kernels(ops.cast(kernel, "float32"), batch,
                                                self.weight_rate, self.seed_generator.next())
            return ops.cast(kernels, dtype)
        stddev = dropout_variance(self.weight_rate) ** 0.5
        masks = _sampling.gaussian_masks((batch, *kernel.shape), stddev,
                                         self.seed_generator.next())
        return ops.expand_dims(kernel, 0) * ops.cast(masks, dtype)

    def local_reparameterization(self, inputs):
        """`x V + sqrt(alpha x^2 V^2) * eps`, `eps ~ N(0, 1)` per output (Kingma et al. 2015)."""
        kernel = self.kernel
        mean = self.linear(inputs, kernel)
        variance = dropout_variance(self.weight_rate) * self.linear(ops.square(inputs),
                                                                    ops.square(kernel))
        stddev = ops.sqrt(ops.cast(variance, "float32") + EPSILON)
        noise = keras.random.normal(ops.shape(mean), dtype="float32", seed=self.seed_generator)
        return mean + ops.cast(stddev * noise, mean.dtype)

    def get_config(self):
        return {**super().get_config(), "sampler": self.sampler}


def validate_kernel_size(kernel_size):
    """A positive int or a tuple (or list) of two positive ints."""
    sizes = kernel_size if isinstance(kernel_size, (tuple, list)) else (kernel_size,)
    if len(sizes) not in (1, 2):
        raise invalid_argument("kernel_size", "an integer or a tuple of 2 integers", kernel_size)
    for size in sizes:
        validate_int("kernel_size", size, low=1)
    return kernel_size


class DenseWeightNoise(WeightNoiseLayer, keras.layers.Dense):
    """The Dense half of the dropconnect layers: matmul, per-example einsum, bias."""

    compute_output_shape = keras.layers.Dense.compute_output_shape

    def __init__(self, *args, units, **kwargs):
        super().__init__(*args, units=validate_int("units", units, low=1), **kwargs)

    def linear(self, inputs, kernel):
        return ops.matmul(inputs, kernel)

    def per_example_linear(self, inputs, kernels):
        return ops.einsum("b...i,bio->b...o", inputs, kernels)

    def local_reparameterization_is_exact(self, inputs):
        return self.distribution == "gaussian" and len(inputs.shape) == 2

    def masked_linear(self, inputs):
        """Bernoulli masks on 2-D inputs: packed bits, no per-example kernel copies."""
        if self.distribution == "bernoulli" and len(inputs.shape) == 2:
            kernel = ops.cast(self.kernel, inputs.dtype)
            return _bernoulli.dropconnect_matmul(inputs, kernel, self.weight_rate,
                                                 self.seed_generator.next())
        return super().masked_linear(inputs)

    def add_bias_and_activation(self, outputs):
        if self.bias is not None:
            outputs = outputs + self.bias
        return self.activation(outputs) if self.activation is not None else outputs


class Conv2DWeightNoise(WeightNoiseLayer, keras.layers.Conv2D):
    """The Conv2D half: convolution, per-example kernels (looped or via image patches), bias."""

    compute_output_shape = keras.layers.Conv2D.compute_output_shape

    def __init__(self, *args, filters, kernel_size, **kwargs):
        super().__init__(*args, filters=validate_int("filters", filters, low=1),
                         kernel_size=validate_kernel_size(kernel_size), **kwargs)
        self.supports_masking = False
        if self.groups != 1 and self.sampler == "mask":
            raise ValueError(
                "Invalid value received for argument `groups`. Per-example weight masks "
                "support groups=1 only; use sampler='local_reparameterization' for grouped "
                f"convolutions. Received: groups={self.groups}")

    def linear(self, inputs, kernel):
        return self.convolution_op(inputs, kernel)

    def per_example_linear(self, inputs, kernels):
        """Convolution of each example with its own kernel, by the cheapest of three exact forms.

        Channels-last inputs: a static batch of up to `UNROLLED_BATCH_LIMIT` examples gets one
        convolution per example written out in the graph (no loop: the examples' convolutions
        and gradients run in parallel, about 1.5x cheaper per training step than the loop on
        CPU); a static batch up to `LOOPED_BATCH_LIMIT`, or an unknown one (`fit` traces its
        step with an unknown batch), the same as a loop (`ops.map`, 2-4x cheaper than the
        patches product for batches of 64 to 640 of 12x12x32 inputs). Empty or larger static
        batches, or channels first (which TF's CPU convolution does not support): image
        patches times flattened kernels, one batched product.
        """
        batch = inputs.shape[0]
        if self.data_format == "channels_last" and batch != 0:
            if batch is not None and batch <= UNROLLED_BATCH_LIMIT:
                return self.unrolled_linear(inputs, kernels)
            if batch is None or batch <= LOOPED_BATCH_LIMIT:
                return self.looped_linear(inputs, kernels)
        return self.patches_linear(inputs, kernels)

    def unrolled_linear(self, inputs, kernels):
        """One convolution per example of a static batch, each its own graph node."""
        batch = inputs.shape[0]
        examples = ops.unstack(inputs, num=batch, axis=0)
        return ops.concatenate(
            [self.convolution_op(example[None], kernel)
             for example, kernel in zip(examples, ops.unstack(kernels, num=batch, axis=0))],
            axis=0)

    def looped_linear(self, inputs, kernels):
        """One convolution per example, the examples in sequence."""
        def convolve(example_and_kernel):
            example, kernel = example_and_kernel
            return self.convolution_op(example[None], kernel)[0]

        return ops.map(convolve, (inputs, kernels))

    def patches_linear(self, inputs, kernels):
        """Image patches times flattened per-example kernels: one batched product."""
        patches = ops.image.extract_patches(
            inputs, self.kernel_size, strides=self.strides, dilation_rate=self.dilation_rate,
            padding=self.padding, data_format=self.data_format)
        flat = ops.reshape(kernels, (ops.shape(kernels)[0], -1, self.filters))
        if self.data_format == "channels_first":
            return ops.einsum("bkhw,bko->bohw", patches, flat)
        return ops.einsum("bhwk,bko->bhwo", patches, flat)

    def add_bias_and_activation(self, outputs):
        if self.use_bias:
            shape = ((1, 1, 1, self.filters) if self.data_format == "channels_last"
                     else (1, self.filters, 1, 1))
            outputs = outputs + ops.reshape(self.bias, shape)
        return self.activation(outputs) if self.activation is not None else outputs


class DropConnectLayer(WeightNoiseLayer):
    """Dropconnect: every weight masked independently, Bernoulli or Gaussian (McClure 3.2.2)."""

    def __init__(self, rate, distribution="bernoulli", sampler="mask", mc=False, seed=None,
                 **kwargs):
        rate = validate_range("rate", rate, low=0, high=1, high_open=True)
        distribution = validate_choice("distribution", distribution, DISTRIBUTIONS)
        super().__init__(sampler=sampler, mc=mc, seed=seed, **kwargs)
        self.rate = rate
        self.distribution = distribution

    @property
    def weight_rate(self):
        return self.rate

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "distribution": self.distribution}


@keras.saving.register_keras_serializable(package="kerasbio")
class DropConnectDense(DropConnectLayer, DenseWeightNoise):
    """Dense layer with dropconnect: every weight masked independently (McClure 3.2.2).

    `y = activation(x (V o M) + bias)` with `m_ij ~ Bernoulli(1 - rate) / (1 - rate)` or
    `m_ij ~ N(1, rate / (1 - rate))`, a fresh mask for every example. The expectation uses
    the mean weights `V` (training-time scaling), i.e. it is exactly `keras.layers.Dense`.

    Samplers (see `WeightNoiseLayer`): `"mask"` draws a batch x in x units mask (Bernoulli:
    packed bits, 32 masks per random word at rate 0.5); Gaussian noise on 2D inputs is sampled
    exactly and cheaply as
    `N(x V, alpha x^2 V^2)` (local reparameterization, equal in distribution there).
    `"local_reparameterization"` always uses that Gaussian form, which for Bernoulli noise
    matches the mean and variance only. L2 on the kernel is the Gaussian-prior KL bound (module
    docstring: `sigma_p^2 = 1 / (2 N c)`).

    Args:
        units: Positive int, output dimension.
        rate: Float in [0, 1), the drop probability (Gaussian: variance `rate / (1 - rate)`).
        distribution: `"bernoulli"` or `"gaussian"`, the distribution of the mask.
        sampler: `"mask"` or `"local_reparameterization"`.
        mc: Bool, sample at inference too.
        seed: Optional integer seed.
        **kwargs: `keras.layers.Dense` arguments (`activation`, `use_bias`, initializers,
            regularizers, constraints).

    Call arguments:
        inputs: Tensor `(batch, ..., input_dim)`.
        training: Python bool; sample when `True` (or when `mc`).
    """

    _example_config = {"units": 4, "rate": 0.3}
    _invalid_configs = ({"rate": 1.0}, {"distribution": "uniform"}, {"sampler": "exact"},
                        {"units": 2.5})

    def __init__(self, units, rate, distribution="bernoulli", sampler="mask", mc=False,
                 seed=None, **kwargs):
        super().__init__(rate=rate, distribution=distribution, sampler=sampler, mc=mc,
                         seed=seed, units=units, **kwargs)


@keras.saving.register_keras_serializable(package="kerasbio")
class DropConnectConv2D(DropConnectLayer, Conv2DWeightNoise):
    """Conv2D layer with dropconnect: every kernel weight masked independently (McClure 3.2.2).

    As `DropConnectDense`, for a convolution: each example is convolved with its own masked
    kernel `V o M_b` (`sampler="mask"`: one convolution per example for channels-last batches
    up to 512 or of unknown size, written out in the graph up to 64, image patches times
    per-example kernels otherwise; costs batch x kernel memory).
    `sampler="local_reparameterization"` draws each output from
    `N(conv(x, V), alpha conv(x^2, V^2))` independently, so positions of one example no longer
    share one weight sample (and Bernoulli noise is moment-matched). The expectation is
    exactly `keras.layers.Conv2D`.

    Args:
        filters: Positive int, number of output channels.
        kernel_size: Int or tuple of 2 ints.
        rate: Float in [0, 1), the drop probability (Gaussian: variance `rate / (1 - rate)`).
        distribution: `"bernoulli"` or `"gaussian"`, the distribution of the mask.
        sampler: `"mask"` or `"local_reparameterization"` (`"mask"` needs `groups=1`).
        mc: Bool, sample at inference too.
        seed: Optional integer seed.
        **kwargs: `keras.layers.Conv2D` arguments (`strides`, `padding`, `data_format`,
            `dilation_rate`, `groups`, `activation`, `use_bias`, initializers, regularizers).

    Call arguments:
        inputs: 4D tensor.
        training: Python bool; sample when `True` (or when `mc`).
    """

    _example_config = {"filters": 4, "kernel_size": 3, "rate": 0.3}
    _invalid_configs = ({"rate": 1.0}, {"distribution": "uniform"}, {"sampler": "fast"},
                        {"groups": 2, "filters": 4})

    def __init__(self, filters, kernel_size, rate, distribution="bernoulli", sampler="mask",
                 mc=False, seed=None, **kwargs):
        super().__init__(rate=rate, distribution=distribution, sampler=sampler, mc=mc,
                         seed=seed, filters=filters, kernel_size=kernel_size, **kwargs)


class SpikeAndSlabLayer(WeightNoiseLayer):
    """Spike-and-slab dropout: Bernoulli dropout on the inputs, then Gaussian dropconnect.

    `m_ij = b_i N(1, sigma^2)`, `b_i ~ Bernoulli(1 - dropout_rate) / (1 - dropout_rate)` per
    input unit, `sigma^2 = dropconnect_rate / (1 - dropconnect_rate)` (McClure 3.2.2, A.3.1).
    """

    distribution = "gaussian"

    def __init__(self, dropout_rate, dropconnect_rate, sampler="mask", mc=False, seed=None,
                 **kwargs):
        dropout_rate = validate_range("dropout_rate", dropout_rate, low=0, high=1,
                                      high_open=True)
        dropconnect_rate = validate_range("dropconnect_rate", dropconnect_rate, low=0, high=1,
                                          high_open=True)
        super().__init__(sampler=sampler, mc=mc, seed=seed, **kwargs)
        self.dropout_rate = dropout_rate
        self.dropconnect_rate = dropconnect_rate

    @property
    def weight_rate(self):
        return self.dropconnect_rate

    def sample(self, inputs):
        kept = keras.random.dropout(inputs, self.dropout_rate, seed=self.seed_generator)
        return super().sample(kept)

    def get_config(self):
        return {**super().get_config(), "dropout_rate": self.dropout_rate,
                "dropconnect_rate": self.dropconnect_rate}


@keras.saving.register_keras_serializable(package="kerasbio")
class SpikeAndSlabDense(SpikeAndSlabLayer, DenseWeightNoise):
    """Dense layer with spike-and-slab dropout (McClure 3.2.2, Appendix A.3.1).

    Bernoulli dropout on the layer's input units combined with Gaussian dropconnect on its
    weights: `y = activation((x o b) (V o G) + bias)`, `b_i ~ Bernoulli(1 - p_do) / (1 - p_do)`,
    `g_ij ~ N(1, p_dc / (1 - p_dc))`, fresh for every example. For 2D inputs both parts are
    sampled exactly and cheaply (the Gaussian part by local reparameterization); `sampler`
    matters only for inputs of rank > 2 (see `DropConnectDense`). The expectation uses the mean
    weights, i.e. it is exactly `keras.layers.Dense`. L2 on the kernel: see the module docstring.

    Args:
        units: Positive int, output dimension.
        dropout_rate: Float in [0, 1), probability of dropping an input unit (`p_do`).
        dropconnect_rate: Float in [0, 1), Gaussian dropconnect rate (`p_dc`).
        sampler: `"mask"` or `"local_reparameterization"`.
        mc: Bool, sample at inference too.
        seed: Optional integer seed.
        **kwargs: `keras.layers.Dense` arguments.

    Call arguments:
        inputs: Tensor `(batch, ..., input_dim)`.
        training: Python bool; sample when `True` (or when `mc`).
    """

    _example_config = {"units": 4, "dropout_rate": 0.5, "dropconnect_rate": 0.2}
    _invalid_configs = ({"dropout_rate": 1.0}, {"dropconnect_rate": -0.1},
                        {"sampler": "exact"})

    def __init__(self, units, dropout_rate, dropconnect_rate, sampler="mask", mc=False,
                 seed=None, **kwargs):
        super().__init__(dropout_rate, dropconnect_rate, sampler=sampler, mc=mc, seed=seed,
                         units=units, **kwargs)


@keras.saving.register_keras_serializable(package="kerasbio")
class SpikeAndSlabConv2D(SpikeAndSlabLayer, Conv2DWeightNoise):
    """Conv2D layer with spike-and-slab dropout (McClure 3.2.2, Appendix A.3.1).

    Bernoulli dropout on every input unit (position and channel) combined with Gaussian
    dropconnect on the kernel; `sampler` as in `DropConnectConv2D` (`"mask"`: one kernel
    sample per example; `"local_reparameterization"`: the Gaussian approximation per output).
    The expectation is exactly `keras.layers.Conv2D`.

    Args:
        filters: Positive int, number of output channels.
        kernel_size: Int or tuple of 2 ints.
        dropout_rate: Float in [0, 1), probability of dropping an input unit (`p_do`).
        dropconnect_rate: Float in [0, 1), Gaussian dropconnect rate (`p_dc`).
        sampler: `"mask"` or `"local_reparameterization"` (`"mask"` needs `groups=1`).
        mc: Bool, sample at inference too.
        seed: Optional integer seed.
        **kwargs: `keras.layers.Conv2D` arguments.

    Call arguments:
        inputs: 4D tensor.
        training: Python bool; sample when `True` (or when `mc`).
    """

    _example_config = {"filters": 4, "kernel_size": 3, "dropout_rate": 0.5,
                       "dropconnect_rate": 0.2}
    _invalid_configs = ({"dropout_rate": 1.0}, {"dropconnect_rate": -0.1},
                        {"sampler": "exact"})

    def __init__(self, filters, kernel_size, dropout_rate, dropconnect_rate, sampler="mask",
                 mc=False, seed=None, **kwargs):
        super().__init__(dropout_rate, dropconnect_rate, sampler=sampler, mc=mc, seed=seed,
                         filters=filters, kernel_size=kernel_size, **kwargs)
