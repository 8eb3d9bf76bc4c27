"""kerasbio: biologically inspired stochastic layers, losses, callbacks and studies for Keras 3."""

__version__ = "0.1.0"

from kerasbio import analysis, callbacks, data, layers, metrics, rsa, stats  # noqa: E402
from kerasbio.export import export_saved_model  # noqa: E402
from kerasbio.mc import mc_predict, mc_sampling  # noqa: E402

__all__ = [
    "analysis",
    "callbacks",
    "data",
    "export_saved_model",
    "layers",
    "mc_predict",
    "mc_sampling",
    "metrics",
    "rsa",
    "stats",
    "__version__",
]
