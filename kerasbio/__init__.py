"""kerasbio: biologically inspired stochastic layers, losses, callbacks and studies for Keras 3.

Subpackages load on first use, so `import kerasbio` is instant; the layers register with Keras as
soon as Keras is loaded, so `.keras` files holding kerasbio layers load after `import kerasbio`.
"""

from kerasbio._core.lazy import lazy_attributes, register_when_keras_loads

__version__ = "0.1.0"

_PUBLIC = {
    "analysis": "kerasbio.analysis",
    "callbacks": "kerasbio.callbacks",
    "data": "kerasbio.data",
    "export_saved_model": "kerasbio.export",
    "layers": "kerasbio.layers",
    "mc_predict": "kerasbio.mc",
    "mc_sampling": "kerasbio.mc",
    "metrics": "kerasbio.metrics",
    "models": "kerasbio.models",
    "rsa": "kerasbio.rsa",
    "stats": "kerasbio.stats",
}

__getattr__, __dir__ = lazy_attributes(__name__, _PUBLIC)
__all__ = sorted([*_PUBLIC, "__version__"])

register_when_keras_loads("kerasbio.layers")
