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

import tensorflow as tf

from kerasbio._core import keras_internals
from kerasbio._core.keras_internals import flatten_layers, reset_compiled_functions
from kerasbio._core.validation import (
    invalid_argument,
    validate_array,
    validate_bool,
    validate_choice,
    validate_int,
)
from kerasbio.metrics import distribution_problem, mutual_information, predictive_entropy

DEFAULT_MAX_BATCH = 1024


@dataclasses.dataclass
class MCPrediction:
    """Result of `mc_predict`; arrays have the examples first.

    Attributes:
        mean: The MC predictive distribution `(1/T) sum_t p_t`, shape `(N, ...)`.
        stddev: Standard deviation of the draws, same shape.
        predictive_entropy: `H[mean]` over the last axis (nats), shape `(N, ...)`; `None` when
            the outputs are not probabilities (e.g. a regression output).
        mutual_information: `H[mean] - mean_t H[p_t]`, the epistemic part of the entropy;
            `None` when the outputs are not probabilities.
        draws: The draws `(N, T, ...)` when `return_draws=True`, otherwise `None`.
    """

    mean: np.ndarray
    stddev: np.ndarray
    predictive_entropy: np.ndarray = None
    mutual_information: np.ndarray = None
    draws: np.ndarray = None


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
    validate_bool("enabled", enabled)
    if not isinstance(model, keras.layers.Layer):
        raise invalid_argument("model", "a Keras model or layer", model)
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


class TiledModel(keras.Model):
    """`x -> (B, T, ...)` around any single-output model (subclassed ones too): tile the
    inputs T times, run the model, split the draws."""

    def __init__(self, wrapped, samples, **kwargs):
        super().__init__(**kwargs)
        self.wrapped = wrapped
        self.tile = TileSamples(samples)
        self.split = SplitSamples(samples)

    def call(self, inputs, training=False):
        outputs = self.wrapped(keras.tree.map_structure(self.tile, inputs), training=training)
        if len(keras.tree.flatten(outputs)) != 1:
            raise ValueError("mc_predict supports models with one output; this model returns "
                             f"{len(keras.tree.flatten(outputs))}. Build a model for the output "
                             "you need.")
        return self.split(keras.tree.flatten(outputs)[0])


def graph_inputs(model):
    """The symbolic inputs of a functional or Sequential model, or `None` (subclassed)."""
    try:
        return model.inputs or None
    except (AttributeError, ValueError):
        return None


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
    """A model `x -> (B, samples, ...)`: prefix once, tile, rest of `model`, split samples.

    Subclassed models (no symbolic inputs) are wrapped whole: their inputs are tiled.
    """
    if graph_inputs(model) is None:
        return TiledModel(model, samples)
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


def mc_predict(model, x, samples=10, batch_size=None, return_draws=False,
               max_batch=DEFAULT_MAX_BATCH, from_logits=False, verbose="auto"):
    """Monte Carlo prediction: `samples` stochastic passes per example in batched passes.

    Every kerasbio stochastic layer samples (its `mc` is switched on through `mc_sampling`);
    the model runs with `training=False`, so BatchNorm uses its moving statistics. For
    Sequential and functional models the layers before the first stochastic layer run once per
    batch and their output is tiled `samples` times; when the rest of the network also reads
    an earlier tensor (branches, skip connections), for multi-input splits and for subclassed
    models the inputs are tiled instead. A model without stochastic layers gives its
    deterministic output (stddev and mutual information 0) with a warning.

    Memory: one pass holds at most `max_batch` rows (examples x draws), whatever `batch_size`
    or the batches of a dataset; larger `samples` are split over several passes. A layer's
    per-row cost multiplies by that: exact DropConnect holds a weight mask and a masked kernel
    per row (`2 * max_batch * inputs * units` floats: 784 -> 512 units at the default 1024
    rows is 3.3 GB), so lower `max_batch` to bound it.

    Outputs that are not probabilities over the last axis (a regression output, one unit,
    logits without `from_logits`) get `mean` and `stddev` only: `predictive_entropy` and
    `mutual_information` are `None`, with a warning saying why.

    Args:
        model: A built Keras model (functional, Sequential or subclassed) with a single
            output, probabilities over the last axis (or logits with `from_logits=True`).
        x: What `model.predict` takes: a NumPy array or tensor (a list/dict of them for several
            inputs), a batched `tf.data.Dataset`, a `keras.utils.PyDataset` or a generator
            (of inputs or `(inputs, targets)` tuples; targets are ignored).
        samples: Positive int, the number of MC draws `T`.
        batch_size: Examples per step for arrays; at most (and by default) `max_batch // T`.
        return_draws: Also return the draws `(N, T, ...)`.
        max_batch: Positive int, the most rows (examples x draws) of one pass.
        from_logits: Apply a softmax to every draw before averaging.
        verbose: Progress bar over the examples: `"auto"` or 1 (bar), 2 (end only), 0 (none).

    Returns:
        An `MCPrediction` with `mean`, `stddev`, `predictive_entropy`, `mutual_information`,
        `draws`.
    """
    samples = validate_int("samples", samples, low=1)
    max_batch = validate_int("max_batch", max_batch, low=1)
    if batch_size is not None:
        batch_size = validate_int("batch_size", batch_size, low=1)
    validate_bool("return_draws", return_draws)
    validate_bool("from_logits", from_logits)
    validate_choice("verbose", verbose, ("auto", 0, 1, 2))
    if not isinstance(model, keras.Model):
        raise invalid_argument("model", "a keras.Model", model)
    inputs = graph_inputs(model)
    if inputs is not None and len(model.outputs) != 1:
        raise ValueError("mc_predict supports models with one output; this model has "
                         f"{len(model.outputs)}. Build a model for the output you need.")
    progress = keras.utils.Progbar(_examples(x), verbose=1 if verbose == "auto" else verbose)
    if not any(is_sampling_layer(layer) for layer in flatten_layers(model, include_self=False)):
        warnings.warn(f"Model '{model.name}' has no kerasbio stochastic layer: mc_predict "
                      "returns its deterministic output.", stacklevel=2)
        output = draw_samples(model, x, [1], batch_size, max_batch, progress)
        draws = np.broadcast_to(output, (len(output), samples, *output.shape[2:]))
        return summarize(draws, from_logits, return_draws)
    with mc_sampling(model, True):
        draws = draw_samples(model, x, sample_chunks(samples, max_batch), batch_size, max_batch,
                             progress)
    return summarize(draws, from_logits, return_draws)


def draw_samples(model, x, chunks, batch_size, max_batch, progress):
    """`(N, sum(chunks), ...)` sampled outputs: each input batch once, every chunk of draws.

    Steps with `predict_on_batch` (Keras' `predict` builds a tf.data pipeline per call, which
    costs more than the MC passes of a small model); one pass is at most `max_batch` rows.
    """
    step = max(1, max_batch // chunks[0])
    step = step if batch_size is None else min(batch_size, step)
    samplers = {chunk: cached_sampling_model(model, chunk) for chunk in set(chunks)}
    outputs, seen = [], 0
    for batch in input_batches(x, step):
        outputs.append(np.concatenate(
            [np.asarray(samplers[chunk].predict_on_batch(batch)) for chunk in chunks], axis=1))
        seen += len(outputs[-1])
        progress.update(seen)
    if not outputs:
        raise ValueError("Invalid value received for argument `x`. Expected at least one "
                         "example. Received: no batches (an empty dataset or generator)")
    return np.concatenate(outputs)


def input_batches(x, step):
    """The inputs of `x` (arrays, dataset, PyDataset or generator) in slices of <= `step`."""
    for batch in _source_batches(x):
        arrays = keras.tree.map_structure(lambda value: validate_array("x", value, min_ndim=1),
                                          batch)
        examples = len(keras.tree.flatten(arrays)[0])
        for start in range(0, examples, step):
            yield keras.tree.map_structure(lambda array: array[start:start + step], arrays)


def _source_batches(x):
    if isinstance(x, tf.data.Dataset):
        return (_inputs_of(element) for element in x.as_numpy_iterator())
    if isinstance(x, keras.utils.PyDataset):
        if x.num_batches is None:
            raise ValueError("Invalid value received for argument `x`. Expected a finite "
                             "PyDataset (with `__len__`). Received: an infinite PyDataset")
        return (_inputs_of(x[index]) for index in range(x.num_batches))
    if hasattr(x, "__next__"):
        return (_inputs_of(element) for element in x)
    if x is None or isinstance(x, (str, bytes)):
        raise invalid_argument("x", "arrays, a tf.data.Dataset, a PyDataset or a generator", x)
    return iter([x])


def _inputs_of(element):
    inputs, _, _ = keras.utils.unpack_x_y_sample_weight(element)
    return inputs


def _examples(x):
    """The number of examples of array inputs, `None` for datasets and generators."""
    if isinstance(x, (tf.data.Dataset, keras.utils.PyDataset)) or hasattr(x, "__next__"):
        return None
    leaves = keras.tree.flatten(x)
    return len(leaves[0]) if leaves and hasattr(leaves[0], "__len__") else None


def summarize(draws, from_logits, return_draws):
    """`MCPrediction` from `(N, T, ...)` draws; the entropies only for probabilities."""
    draws = np.asarray(draws)
    if from_logits:
        if draws.ndim < 3 or draws.shape[-1] < 2:
            raise ValueError("from_logits=True applies a softmax over the last axis, which needs "
                             f"2 or more units; the model's output has shape {draws.shape[2:]} "
                             "per draw. For a one-unit logit use a sigmoid, or from_logits=False.")
        draws = ops.convert_to_numpy(ops.softmax(draws, axis=-1))
    mean = draws.mean(axis=1)
    result = MCPrediction(mean=mean, stddev=draws.std(axis=1),
                          draws=draws if return_draws else None)
    problem = ("no class axis" if draws.ndim < 3 else distribution_problem(draws))
    if problem is not None:
        warnings.warn(f"The model's outputs are not probabilities over the last axis ({problem})"
                      ": mc_predict returns mean and stddev only (predictive_entropy and "
                      "mutual_information are None). For logits pass from_logits=True.",
                      stacklevel=3)
        return result
    result.predictive_entropy = predictive_entropy(mean)
    result.mutual_information = mutual_information(draws, axis=1)
    return result
