"""The robustness study's networks (Dutta 2019): the zoo's All-CNN-C and VGG-11 with one layer's
noise or structured dropout, and the chapter 3 correlation analysis of a trained network."""

import keras
import numpy as np

import kerasbio

# The thesis counts VGG-11's pools as layers: its layer n is our convolution DUTTA_LAYERS[n].
DUTTA_LAYERS = {1: "conv1", 3: "conv2", 5: "conv3", 6: "conv4", 8: "conv5", 9: "conv6"}
# Chapter 3's training paradigms (Table 3.2's columns) and their Beta(alpha, alpha) parameter:
# the thesis gives none, so Zhang et al.'s CIFAR-10 value for input mixup and Verma et al.'s for
# manifold mixup.
MIXUP_ALPHA = {"input_mixup": 1.0, "manifold_mixup": 2.0}
# Manifold mixup's mixing points, as Verma et al. for their ResNets (the input, after the first
# and after the second block): before these VGG-11 layers (conv1 = the input).
MANIFOLD_POINTS = ("conv1", "conv2", "conv3")


def chain_with(model, wrap=None, after=None, l2=0.0):
    """A copy of the chain network `model` (fresh, unbuilt layers) with changes.

    Args:
        model: A functional model whose layers form one chain (as the zoo's All-CNN-C, VGG-11).
        wrap: Dict of layer name -> function `layer -> layer` (e.g. a `CorrelatedNoise` around
            it) replacing that layer.
        after: Dict of layer name -> list of zero-argument functions making layers inserted
            after it (`"input"`: before the first layer).
        l2: L2 penalty `l2 * sum(w^2)` on every kernel (0: none).
    """
    wrap, after = wrap or {}, after or {}
    inputs = keras.Input(model.input_shape[1:], name="input")
    x = inputs
    for make in after.get("input", ()):
        x = make()(x)
    for layer in model.layers[1:]:
        fresh = fresh_copy(layer, l2)
        x = wrap.get(layer.name, lambda same: same)(fresh)(x)
        for make in after.get(layer.name, ()):
            x = make()(x)
    return keras.Model(inputs, x, name=model.name)


def fresh_copy(layer, l2=0.0):
    """An unbuilt copy of `layer`, with an L2 penalty `l2 * sum(w^2)` on its kernel if it has one
    (0: none)."""
    fresh = layer.__class__.from_config(layer.get_config())
    if l2 and hasattr(fresh, "kernel_regularizer"):
        fresh.kernel_regularizer = keras.regularizers.L2(l2)
    return fresh


def noise_wrap(condition, seed):
    """Table 2.1's layer-1 noise as a `CorrelatedNoise` maker (None for the baseline): Gaussian
    with variance = activation (Fano 1) or Poisson, correlated by Eq. 2.14 with the thesis'
    parameters (CG, CP) or independent (UG, UP: `a = b = c = 0`, Sigma = I)."""
    if condition == "baseline":
        return None
    distribution = "gaussian" if condition in ("ug", "cg") else "poisson"
    independent = {"a": 0.0, "b": 0.0, "c": 0.0} if condition in ("ug", "up") else {}
    return lambda layer: kerasbio.layers.CorrelatedNoise(
        layer, distribution=distribution, seed=seed, name=f"noise_{layer.name}", **independent)


def chapter2_network(input_shape, classes, condition, dropout, width, l2, seed):
    """All-CNN-C (Table 2.2) with Table 2.1's layer-1 noise; with `dropout`, 20% dropout on the
    input and 50% after the stride-2 layers (conv3, conv6), as in 2.4.3."""
    base = kerasbio.models.all_cnn_c(input_shape, classes, width=width)
    wrap = {} if condition == "baseline" else {"conv1": noise_wrap(condition, seed)}
    after = {}
    if dropout:
        after = {"input": [lambda: keras.layers.Dropout(0.2, seed=seed)],
                 "act_conv3": [lambda: keras.layers.Dropout(0.5, seed=seed + 1)],
                 "act_conv6": [lambda: keras.layers.Dropout(0.5, seed=seed + 2)]}
    return chain_with(base, wrap, after, l2)


def chapter4_network(input_shape, classes, method, layer, width, l2, block_size, seed,
                     spatial_rate, dropblock_rate):
    """VGG-11 (Table 3.1) with one structured dropout method on the output of the thesis' layer
    `layer` (a convolution, see `DUTTA_LAYERS`); `block_size` is capped at that layer's map
    size."""
    base = kerasbio.models.vgg11(input_shape, classes, width=width)
    name = DUTTA_LAYERS[int(layer)]
    block = int(min(block_size, *base.get_layer(name).output.shape[1:3]))
    layers = kerasbio.layers
    makers = {
        "spatial_dropout": ("after", lambda: layers.SpatialDropout2D(spatial_rate, seed=seed)),
        "dropblock": ("after", lambda: layers.DropBlock2D(dropblock_rate, block, per_channel=False,
                                                          seed=seed)),
        "spatial_dropout_mod": ("wrap", lambda conv: layers.SimilarMapDropout(
            conv, spatial_rate, seed=seed, name=f"dropout_{conv.name}")),
        "dropblock_random": ("wrap", lambda conv: layers.CorrDrop(
            conv, dropblock_rate, block, selection="random", seed=seed,
            name=f"dropout_{conv.name}")),
        "corrdrop": ("wrap", lambda conv: layers.CorrDrop(
            conv, dropblock_rate, block, selection="similar", seed=seed,
            name=f"dropout_{conv.name}")),
    }
    where, make = makers[method]
    if where == "wrap":
        return chain_with(base, wrap={name: make}, l2=l2)
    return chain_with(base, after={name: [make]}, l2=l2)


def chapter3_network(input_shape, classes, paradigm, width, l2, seed):
    """VGG-11 (Table 3.1) for chapter 3: `"vanilla"`, or wrapped in `kerasbio.analysis.
    ManifoldMixup` mixing the inputs only (`"input_mixup"`, Zhang et al.) or at a point drawn
    each step from `MANIFOLD_POINTS` (`"manifold_mixup"`, Verma et al.); the wrapped chain is
    the trainer's `network`."""
    base = kerasbio.models.vgg11(input_shape, classes, width=width)
    if paradigm == "vanilla":
        return chain_with(base, l2=l2)
    network = keras.Sequential([keras.Input(input_shape),
                                *(fresh_copy(layer, l2) for layer in base.layers[1:])],
                               name=base.name)
    names = [layer.name for layer in network.layers]
    points = MANIFOLD_POINTS if paradigm == "manifold_mixup" else MANIFOLD_POINTS[:1]
    return kerasbio.analysis.ManifoldMixup(network, [names.index(name) for name in points],
                                           MIXUP_ALPHA[paradigm], seed=seed)


def trained_network(model):
    """The network of a trained model: a mixup trainer's wrapped chain, or the model itself."""
    return getattr(model, "network", model)


def kernel_layer(model, name):
    """The layer holding convolution `name`'s kernel: the convolution, or the wrapper around it."""
    for layer in model.layers:
        inner = getattr(layer, "layer", None)
        if layer.name == name or (inner is not None and inner.name == name):
            return layer
    raise ValueError(f"The model has no convolution named {name!r}.")


def correlation_metrics(model, name, images, samples, grid_size=9, seed=0):
    """Chapter 3 on a trained network: Table 3.2's summary of Sigma' (Eq. 3.2) for the units
    after convolution `name`'s activation (pairs defined in at least half of the images: with
    few images, units silent in most of them give spurious +-1), and Eq. 3.6's smoothed
    correlation on a fixed grid (distance 0 to the map's diagonal, kernel similarity -1 to 1),
    as flat metrics `corr_<name>_<max|min|mean|std>` and `corr_<name>_g<i>_<j>`."""
    from kerasbio import analysis

    sigma = analysis.unit_correlations(model, f"act_{name}", images, images, samples=samples,
                                       min_fraction=0.5, seed=seed, verbose=False)
    layer = kernel_layer(model, name)
    height, width = layer.output.shape[1:3]
    smoothed = analysis.smooth_correlation(
        sigma, layer, distances=np.linspace(0, np.hypot(height - 1, width - 1), grid_size),
        similarities=np.linspace(-1, 1, grid_size))
    values = {f"corr_{name}_{stat}": value for stat, value in smoothed.summary.items()}
    for (i, j), value in np.ndenumerate(smoothed.values):
        values[f"corr_{name}_g{i}_{j}"] = float(value)
    return values
