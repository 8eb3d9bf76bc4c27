"""kerasbio layers; every public layer is registered with Keras under the `kerasbio` package."""

from kerasbio.layers.noise import (
    FanoGaussianNoise,
    GaussianNoise,
    MultiplicativeGaussianNoise,
    PoissonNoise,
)

__all__ = [
    "FanoGaussianNoise",
    "GaussianNoise",
    "MultiplicativeGaussianNoise",
    "PoissonNoise",
]
