"""Every public kerasbio layer, found through the Keras registry, with an example to build it.

A layer declares `_example_config` (constructor kwargs, or a zero-argument callable returning
them, for wrappers that need a fresh inner layer), optionally `_example_input_shape`
(default (8, 8, 3)), and `_invalid_configs` (kwargs that must raise a `ValueError` naming the
argument). Shared by the conformance and the robustness suites, so a new layer is covered by
both without anyone remembering.
"""

import numpy as np

import keras

import kerasbio

DEFAULT_INPUT_SHAPE = (8, 8, 3)


def public_layer_classes():
    registered = keras.saving.get_custom_objects()
    classes = {obj for key, obj in registered.items()
               if key.startswith("kerasbio>") and isinstance(obj, type)
               and issubclass(obj, keras.layers.Layer)}
    public = {getattr(kerasbio.layers, name) for name in kerasbio.layers.__all__}
    return sorted(classes & public, key=lambda cls: cls.__name__)


LAYERS = public_layer_classes()


def example_kwargs(cls, **overrides):
    config = getattr(cls, "_example_config", {})
    config = dict(config() if callable(config) else config)
    return {**config, **overrides}


def input_shape(cls):
    return getattr(cls, "_example_input_shape", DEFAULT_INPUT_SHAPE)


def example_batch(cls, batch=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 2.0, size=(batch, *input_shape(cls))).astype("float32")
