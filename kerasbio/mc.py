"""Monte Carlo prediction with stochastic layers (McClure 2018, Eq. 3.3, A.12 and Table 4.2).

`mc_predict` averages `T` stochastic forward passes, `p(y | x) ~ (1/T) sum_t p(y | x, W_t)`, in
batched passes: each batch is tiled `T` times (every kerasbio layer draws independent noise per
example, so the copies are independent samples), and the deterministic part of the network
before the first stochastic layer runs once per batch, before the tiling.
`mc_sampling` switches sampling at inference on or off for every kerasbio layer of a model.
"""

import contextlib
import dataclasses
import warnings

import keras
import numpy as np
from keras import ops

from kerasbio._core import keras_internals
from kerasbio._core.keras_internals import flatten_layers, reset_compiled_functions
from kerasbio._core.validation import validate_range
from kerasbio.metrics import mutual_information, predictive_entropy

DEFAULT_MAX_BATCH = 1024


@dataclasses.dataclass
class MCPrediction:
    """Result of `mc_predict`; arrays have the examples first.

    Attributes:
        mean: The MC predictive distribution `(1/T) sum_t p_t`, shape `(N, ...)`.
        std: Standard deviation of the samples, same shape.
        entropy: Predictive entropy `H[mean]` over the last axis (nats), shape `(N, ...)`.
        mutual_information: `H[mean] - mean_t H[p_t]`, the epistemic part of the entropy.
        samples: The samples `(N, T, ...)` when `return_samples=True`, otherwise `None`.
    """

    mean: np.ndarray
    std: np.ndarray
    entropy: np.ndarray
    mutual_information: np.ndarray
    samples: np.ndarray = None


def is_sampling_layer(layer):
    """True for layers with the kerasbio stochastic contract (a boolean `mc` attribute)."""
    return isinstance(getattr(layer, "mc", None), bool)


def sampling_layers(model):
    """Every layer of `model` (nested models and wrapped layers included) that can sample."""
    return [layer for layer in flatten_layers(model) if is_sampling_layer(layer)]


@contextlib.contextmanager
def mc_sampling(model, enabled=True):
    """Context manager: set `mc=enabled` on every kerasbio layer of `model`, restore on exit.

    Lets one trained model be evaluated as "MC training only" (`enabled=False`: the layers'
    expectation at test time) and "MC training and testing" (`enabled=True`) (McClure
    Table 4.2). The model's compiled predict/evaluate/fit functions are reset on entry and exit
    so `model.predict` and `model.evaluate` see the switch. The previous flags are restored
    even when the body raises.

    Example:
        with kerasbio.mc_sampling(model):
            sampled = model.predict(x)      # one stochastic pass
    """
    previous = [(layer, layer.mc) for layer in sampling_layers(model)]
    try:
        for layer, _ in previous:
            layer.mc = bool(enabled)
        reset_compiled_functions(model)
        yield model
    finally:
        for layer, flag in previous:
            layer.mc = flag
        reset_compiled_functions(model)


class TileSamples(keras.layers.Layer):
    """`(B, ...) -> (T * B, ...)`: T copies of the batch, sample-major."""

    def __init__(self, samples, **kwargs):
        super().__init__(**kwargs)
        self.samples = samples

    def call(self, inputs):
        return ops.tile(inputs, (self.samples,) + (1,) * (len(inputs.shape) - 1))

    def compute_output_shape(self, input_shape):
        return (None, *input_shape[1:])


class SplitSamples(keras.layers.Layer):
    """`(T * B, ...) -> (B, T, ...)`: undoes `TileSamples`, examples first."""

    def __init__(self, samples, **kwargs):
        super().__init__(**kwargs)
        self.samples = samples

    def call(self, inputs):
        shape = ops.shape(inputs)
        stacked = ops.reshape(inputs, (self.samples, -1, *shape[1:]))
        return ops.moveaxis(stacked, 0, 1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.samples, *input_shape[1:])


def deterministic_prefix_end(model):
    """The tensor entering the first stochastic node, if the rest of `model` depends on it alone.

    Nodes are visited in topological order (deepest first). Returns `None` (tile the inputs)
    for subclassed models, when the first stochastic node has several inputs, or when a later
    branch also reads an earlier tensor (e.g. a skip connection around the split).
    """
    graph, nodes_by_depth = keras_internals.nodes_by_depth(model)
    if nodes_by_depth is None:
        return None
    for depth in sorted(nodes_by_depth, reverse=True):
        for node in nodes_by_depth[depth]:
            operation = node.operation
            if not isinstance(operation, keras.layers.Layer) or not sampling_layers(operation):
                continue
            if len(node.input_tensors) != 1 or any(
                    node.input_tensors[0] is tensor for tensor in graph.inputs):
                return None
            try:
                keras.Model(node.input_tensors[0], graph.outputs)
            except ValueError:
                return None
            return node.input_tensors[0]
    return None


def cached_sampling_model(model, samples):
    """`sampling_model(model, samples)`, built once per model and `samples`.

    Kept in an attribute that Keras does not track (so it is neither saved nor a sublayer), so
    its compiled predict function is reused by later calls and dies with the model.
    """
    cache = model.__dict__.get("_kerasbio_sampling_models")
    if cache is None:
        cache = {}
        object.__setattr__(model, "_kerasbio_sampling_models", cache)
    if samples not in cache:
        cache[samples] = sampling_model(model, samples)
    return cache[samples]


def sampling_model(model, samples):
    """A model `x -> (B, samples, ...)`: prefix once, tile, rest of `model`, split samples."""
    split = deterministic_prefix_end(model)
    if split is not None:
        rest = keras.Model(split, model.outputs[0])
        outputs = SplitSamples(samples)(rest(TileSamples(samples)(split)))
        return keras.Model(model.inputs, outputs)
    inputs = [keras.Input(batch_shape=tensor.shape, dtype=tensor.dtype) for tensor in model.inputs]
    tiled = [TileSamples(samples)(tensor) for tensor in inputs]
    outputs = model(tiled[0] if len(tiled) == 1 else tiled)
    return keras.Model(inputs, SplitSamples(samples)(outputs))


def sample_chunks(samples, max_batch):
    """Split `samples` into passes of at most `max_batch` copies each."""
    per_pass = min(samples, max_batch)
    return [per_pass] * (samples // per_pass) + ([samples % per_pass] if samples % per_pass else [])


def mc_predict(model, x, samples=10, batch_size=None, return_samples=False,
               max_batch=DEFAULT_MAX_BATCH, from_logits=False, verbose="auto"):
    """Monte Carlo prediction: `samples` stochastic passes per example in batched passes.

    Every kerasbio stochastic layer samples (its `mc` is switched on through `mc_sampling`);
    the model runs with `training=False`, so BatchNorm uses its moving statistics. For
    Sequential and functional models the layers before the first stochastic layer run once per
    batch and their output is tiled `samples` times; when the rest of the network also reads
    an earlier tensor (branches, skip connections), for multi-input splits and for subclassed
    models the inputs are tiled instead. A model without stochastic layers gives its
    deterministic output (std and mutual information 0) with a warning.

    Args:
        model: A built Keras model with a single output, probabilities over the last axis
            (or logits with `from_logits=True`).
        x: Input arrays (a NumPy array, or a list/dict of them for several inputs).
        samples: Positive int, the number of MC samples `T`.
        batch_size: Examples per step; at most (and by default) `max_batch // T`.
        return_samples: Also return the samples `(N, T, ...)`.
        max_batch: Upper bound on the rows of one tiled pass (examples x samples per step);
            larger `T` is split into several passes.
        from_logits: Apply a softmax to every sample before averaging.
        verbose: Progress bar over the examples: `"auto"` or 1 (bar), 2 (end only), 0 (none).

    Returns:
        An `MCPrediction` with `mean`, `std`, `entropy`, `mutual_information`, `samples`.
    """
    samples = int(validate_range("samples", samples, low=1))
    max_batch = int(validate_range("max_batch", max_batch, low=1))
    if len(model.outputs) != 1:
        raise ValueError("mc_predict supports models with one output; this model has "
                         f"{len(model.outputs)}. Build a model for the output you need.")
    if not any(is_sampling_layer(layer) for layer in flatten_layers(model, include_self=False)):
        warnings.warn(f"Model '{model.name}' has no kerasbio stochastic layer: mc_predict "
                      "returns its deterministic output.", stacklevel=2)
        output = model.predict(x, batch_size=batch_size, verbose=verbose)
        draws = np.broadcast_to(output[:, None], (len(output), samples, *output.shape[1:]))
        return summarize(draws, from_logits, return_samples)
    with mc_sampling(model, True):
        draws = [draw_samples(model, x, chunk, batch_size, max_batch, verbose)
                 for chunk in sample_chunks(samples, max_batch)]
    return summarize(np.concatenate(draws, axis=1), from_logits, return_samples)


def draw_samples(model, x, samples, batch_size, max_batch, verbose):
    """`(N, samples, ...)` sampled outputs, `samples` copies of every batch per step.

    Steps through the arrays with `predict_on_batch` (Keras' `predict` builds a tf.data
    pipeline per call, which costs more than the MC passes of a small model).
    """
    steps_batch = max(1, max_batch // samples)
    batch_size = steps_batch if batch_size is None else min(batch_size, steps_batch)
    sampler = cached_sampling_model(model, samples)
    examples = len(keras.tree.flatten(x)[0])
    progress = keras.utils.Progbar(examples, verbose=1 if verbose == "auto" else verbose)
    outputs = []
    for start in range(0, examples, batch_size):
        batch = keras.tree.map_structure(lambda array: array[start:start + batch_size], x)
        outputs.append(np.asarray(sampler.predict_on_batch(batch)))
        if verbose:
            progress.update(min(start + batch_size, examples))
    return np.concatenate(outputs)


def summarize(draws, from_logits, return_samples):
    """`MCPrediction` from `(N, T, ...)` draws."""
    if from_logits:
        draws = ops.convert_to_numpy(ops.softmax(draws, axis=-1))
    draws = np.asarray(draws)
    mean = draws.mean(axis=1)
    return MCPrediction(mean=mean, std=draws.std(axis=1), entropy=predictive_entropy(mean),
                        mutual_information=mutual_information(draws, axis=1),
                        samples=draws if return_samples else None)
