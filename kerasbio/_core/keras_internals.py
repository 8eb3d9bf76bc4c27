"""The one module that touches Keras' private attributes: layer flattening, graph walking,
and the root of an exported SavedModel.

Keras 3 has no public API for these; keeping them here means a Keras upgrade is fixed in one file.
"""


def flatten_layers(model, include_self=True):
    """Every layer of `model`, nested models and wrapped layers included (depth first)."""
    return list(model._flatten_layers(include_self=include_self))


def find_layer(model, name):
    """The layer of `model` (nested ones included) called `name`; `ValueError` if none is."""
    for layer in flatten_layers(model):
        if layer.name == name:
            return layer
    raise ValueError(f"The model has no layer named {name!r}.")


def nodes_by_depth(model):
    """`(graph, {depth: [node, ...]})` of a functional or Sequential model; `(model, None)` else.

    Depth 0 holds the output nodes, so visiting depths in decreasing order is topological.
    """
    graph = getattr(model, "_functional", None) or model
    return graph, getattr(graph, "_nodes_by_depth", None)


def reset_compiled_functions(model):
    """Drop cached `fit`/`evaluate`/`predict` graphs, so Python attributes changed since they were
    traced (a layer's `mc` flag or rate) are read again on the next call."""
    for layer in flatten_layers(model):
        for attribute in ("train_function", "test_function", "predict_function"):
            if getattr(layer, attribute, None) is not None:
                setattr(layer, attribute, None)


def recorded_input_shape(model):
    """The input shape a built subclassed model was first called with (single input), or
    `None` when it was never built or has several inputs."""
    shapes = list((getattr(model, "_build_shapes_dict", None) or {}).values())
    if len(shapes) != 1 or not isinstance(shapes[0], (tuple, list)) or not all(
            isinstance(size, (int, type(None))) for size in shapes[0]):
        return None
    return tuple(shapes[0])


def call_endpoint_on_call(archive, endpoint):
    """Make a `keras.export.ExportArchive`'s SavedModel callable: `served(x)` runs `endpoint`
    (TF-Hub's convention, so `hub.KerasLayer(path)` needs no `signature`)."""
    archive._tf_trackable.__call__ = getattr(archive._tf_trackable, endpoint)
