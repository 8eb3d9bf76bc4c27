"""kerasbio: biologically inspired stochastic layers, losses, callbacks and studies for Keras 3."""

__version__ = "0.1.0"

from kerasbio import callbacks, layers  # noqa: E402

__all__ = ["callbacks", "layers", "__version__"]
