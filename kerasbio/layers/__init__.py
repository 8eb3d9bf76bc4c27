"""kerasbio layers; every public layer is registered with Keras under the `kerasbio` package."""

from kerasbio.layers.correlated import CorrelatedNoise
from kerasbio.layers.dropconnect import (
    DropConnectConv2D,
    DropConnectDense,
    SpikeAndSlabConv2D,
    SpikeAndSlabDense,
)
from kerasbio.layers.noise import (
    FanoGaussianNoise,
    GaussianNoise,
    MultiplicativeGaussianNoise,
    PoissonNoise,
)
from kerasbio.layers.similarity_dropout import CorrDrop, SimilarMapDropout
from kerasbio.layers.structured import DropBlock2D, SpatialDropout2D
from kerasbio.layers.variational import BernoulliDropout, GaussianDropout

__all__ = [
    "BernoulliDropout",
    "CorrDrop",
    "CorrelatedNoise",
    "DropBlock2D",
    "DropConnectConv2D",
    "DropConnectDense",
    "FanoGaussianNoise",
    "GaussianDropout",
    "GaussianNoise",
    "MultiplicativeGaussianNoise",
    "PoissonNoise",
    "SimilarMapDropout",
    "SpatialDropout2D",
    "SpikeAndSlabConv2D",
    "SpikeAndSlabDense",
]
