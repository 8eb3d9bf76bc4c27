"""DropBlock theory and mask helpers shared by the structured-dropout tests."""

import math

import numpy as np

import keras

Z = 5.0  # tolerance in standard errors


def gamma(rate, height, width, block):
    """Ghiasi et al. / Dutta Eq. 4.1 with the valid seed region of a non-square map."""
    return min(rate / block**2 * height * width / ((height - block + 1) * (width - block + 1)), 1.0)


def expected_drop_fraction(rate, height, width, block):
    """Exact E[fraction dropped]: unit (i, j) survives iff none of its n_ij covering seeds fires."""
    def covering(size):
        return np.array([min(i, size - block) - max(0, i - block + 1) + 1 for i in range(size)])
    seeds = np.outer(covering(height), covering(width))
    return 1.0 - np.mean((1.0 - gamma(rate, height, width, block)) ** seeds)


def assert_fraction(per_example, expected):
    """Mean of i.i.d. per-example fractions within Z standard errors of `expected`."""
    se = per_example.std(ddof=1) / math.sqrt(per_example.size)
    assert abs(per_example.mean() - expected) < Z * se + 1e-12, (per_example.mean(), expected, se)


def dropped_units(layer, inputs):
    """Boolean array of the units a training call of `layer` zeroes (inputs must be non-zero)."""
    return keras.ops.convert_to_numpy(layer(inputs, training=True)) == 0
