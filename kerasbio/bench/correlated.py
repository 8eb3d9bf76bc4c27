"""`kerasbio bench correlated`: training steps with CorrelatedNoise against Dutta's method and
against independent noise.

- 32x32x10 (the size Dutta shrank her first layer to): the structured sampler against Dutta's
  method, the full `(hwk)^2` correlation matrix with its Cholesky factor and one matrix-vector
  product per example (implemented here), once with the factor computed at build (favouring
  the reference) and once rebuilt every step from the current kernel (as ours does; skipped
  with `quick`, about 20 s a step).
- 32x32x256: against `FanoGaussianNoise` (independent noise, the same Fano scale); the full
  matrix would have 262144^2 entries, 275 GB in float32.
"""

import keras
from keras import ops

import tensorflow as tf

import kerasbio
from kerasbio.bench._timing import Row, compare_alternately, random_batch, train_step
from kerasbio.layers import correlation_structure as corr

BATCH, SHAPE, CLASSES = 32, (32, 32, 3), 10


class DuttaCorrelatedNoise(keras.layers.Layer):
    """Reference: `a + sqrt(a^+ + eps) * (L z)`, `L` the Cholesky factor of the full matrix.

    With `follow_kernel`, `L` is rebuilt from the current kernel at every call (as
    `CorrelatedNoise` does); otherwise it is computed once at build.
    """

    def __init__(self, layer, follow_kernel=False, a=0.225, b=0.0043, c=0.09, tau=1.87,
                 **kwargs):
        super().__init__(**kwargs)
        self.layer, self.follow_kernel = layer, follow_kernel
        self.a, self.b, self.c, self.tau = a, b, c, tau

    def build(self, input_shape):
        self.layer.build(input_shape)
        _, height, width, _ = self.layer.compute_output_shape(input_shape)
        self.spatial = corr.spatial_matrix(height, width, self.a, self.b)
        self.fixed_cholesky = None if self.follow_kernel else self.cholesky()

    def cholesky(self):
        sigma = corr.full_correlation(self.spatial, corr.tuning_matrix(self.layer.kernel,
                                                                       self.tau), self.a, self.c)
        return ops.cast(tf.linalg.cholesky(ops.cast(sigma, "float32")), "float32")

    def call(self, inputs, training=False):
        outputs = self.layer(inputs)
        cholesky = self.cholesky() if self.follow_kernel else self.fixed_cholesky
        white = keras.random.normal((ops.shape(outputs)[0], ops.shape(cholesky)[0]))
        normal = ops.reshape(ops.matmul(white, ops.transpose(cholesky)), ops.shape(outputs))
        return outputs + ops.sqrt(ops.relu(outputs) + 1e-6) * normal

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)


def conv(maps):
    return keras.layers.Conv2D(maps, 3, padding="same", activation="relu")


def noisy_cnn(noisy_block, front=None):
    """`[front conv] -> noisy block -> max-pool -> dense`."""
    layers = [keras.Input(SHAPE)] + ([front] if front else []) + noisy_block + [
        keras.layers.MaxPooling2D(4), keras.layers.Flatten(),
        keras.layers.Dense(CLASSES, activation="softmax")]
    return keras.Sequential(layers)


def run(quick=False):
    x, y = random_batch(BATCH, SHAPE, CLASSES)
    rounds = 2 if quick else 5
    ours = train_step(noisy_cnn([kerasbio.layers.CorrelatedNoise(conv(10))]), x, y)
    dutta = train_step(noisy_cnn([DuttaCorrelatedNoise(conv(10))]), x, y)
    yield Row("correlated: 32x32x10 vs Dutta, Cholesky once",
              *compare_alternately(ours, dutta, rounds=rounds))
    poisson = train_step(noisy_cnn([kerasbio.layers.CorrelatedNoise(
        conv(10), distribution="poisson")]), x, y)
    yield Row("correlated: 32x32x10 Poisson (copula) vs Gaussian",
              *compare_alternately(poisson, ours, rounds=rounds))
    if not quick:
        dutta = train_step(noisy_cnn([DuttaCorrelatedNoise(conv(10), follow_kernel=True)]), x, y)
        yield Row("correlated: 32x32x10 vs Dutta, Cholesky every step",
                  *compare_alternately(ours, dutta, rounds=1, repeats=1))
    ours = train_step(noisy_cnn([kerasbio.layers.CorrelatedNoise(conv(256))], front=conv(64)),
                      x, y)
    independent = train_step(noisy_cnn([conv(256), kerasbio.layers.FanoGaussianNoise()],
                                       front=conv(64)), x, y)
    yield Row("correlated: 32x32x256 (after 64 maps) vs FanoGaussianNoise",
              *compare_alternately(ours, independent, rounds=rounds))
    exact_spatial = train_step(noisy_cnn([kerasbio.layers.CorrelatedNoise(
        conv(256), spatial_tolerance=0.0)], front=conv(64)), x, y)
    yield Row("correlated: 32x32x256 tolerance=0 vs FanoGaussianNoise",
              *compare_alternately(exact_spatial, independent, rounds=rounds))
