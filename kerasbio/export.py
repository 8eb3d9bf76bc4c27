"""SavedModel export with a Monte Carlo serving signature (TF-Hub / TF Serving style)."""

import keras
from keras import ops

import tensorflow as tf

from kerasbio._core.keras_internals import call_endpoint_on_call, recorded_input_shape
from kerasbio._core.validation import invalid_argument, validate_bool, validate_int
from kerasbio.mc import graph_inputs, mc_sampling, sampling_model
from kerasbio.metrics import mutual_information, predictive_entropy


def export_saved_model(model, path, samples=10, from_logits=False, input_signature=None,
                       verbose=True):
    """Write `model` as a SavedModel with a deterministic and an MC endpoint.

    Endpoints (also serving signatures) of the reloaded object
    `served = tf.saved_model.load(path)`:
    - `served.serve(x)`: one pass with every kerasbio layer at its expectation (`mc` off),
      the `serving_default` signature.
    - `served.mc_predict(x)`: `samples` stochastic passes per example (every kerasbio layer
      sampling, BatchNorm at its moving statistics), returning a dict with the MC predictive
      distribution `mean = (1/T) sum_t p_t`, `stddev`, the `predictive_entropy` H[mean] and
      the `mutual_information` H[mean] - mean_t H[p_t] (McClure 2018, Eq. 3.3 and ch. 4). The
      deterministic layers before the first stochastic one run once per example, as in
      `kerasbio.mc_predict`. Every call draws fresh samples.
    - `served(x)`: the same as `served.serve(x)`, so `hub.KerasLayer(path)` needs no signature.

    Reuse: `tf.saved_model.load(path)`, `hub.load(path)`, or inside a Keras 3 model
    `keras.layers.TFSMLayer(path, call_endpoint="mc_predict")`. `hub.KerasLayer` is a
    tf_keras (Keras 2) layer: it runs on tensors and in tf_keras models, not in Keras 3 ones.

    Inputs are checked against the signature: calling an endpoint with another shape or dtype
    raises a `TypeError` naming the expected `TensorSpec`; through `served.signatures`
    (TF Serving), which feed any shape into the graph, a wrong shape and non-finite inputs
    fail on an assertion naming the expected shape, before the model runs.

    The `mc` flags of the model are restored afterwards.

    Args:
        model: Built single-input, single-output Keras model (functional, Sequential, or
            subclassed and called once), giving probabilities (or logits with
            `from_logits=True`).
        path: Directory to write.
        samples: Positive int, MC draws `T` of `mc_predict`.
        from_logits: Apply a softmax to each draw before the statistics.
        input_signature: Optional `tf.TensorSpec` of the input batch; by default read from the
            model's input (or, for a subclassed model, from the shape of its first call).
        verbose: Print the endpoints written.
    """
    samples = validate_int("samples", samples, low=1)
    validate_bool("from_logits", from_logits)
    validate_bool("verbose", verbose)
    if not isinstance(model, keras.Model):
        raise invalid_argument("model", "a keras.Model", model)
    spec = input_signature or _input_spec(model)
    if not isinstance(spec, tf.TensorSpec):
        raise invalid_argument("input_signature", "one tf.TensorSpec (a single input)", spec)
    sampler = sampling_model(model, samples)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", checked_input(spec, "serve", with_sampling(
        model, False, lambda x: model(x, training=False))), [spec])
    archive.add_endpoint("mc_predict", checked_input(spec, "mc_predict", with_sampling(
        model, True, lambda x: mc_statistics(sampler(x, training=False), from_logits))), [spec])
    call_endpoint_on_call(archive, "serve")
    archive.write_out(str(path), verbose=verbose)


def _input_spec(model):
    """The `TensorSpec` of a single-input, single-output model's input batch."""
    inputs = graph_inputs(model)
    if inputs is not None:
        if len(inputs) != 1 or len(model.outputs) != 1:
            raise ValueError(
                "export_saved_model needs a model with one input and one output; this one has "
                f"{len(inputs)} inputs and {len(model.outputs)} outputs.")
        return tf.TensorSpec((None, *inputs[0].shape[1:]), inputs[0].dtype, name="x")
    shape = recorded_input_shape(model)
    if shape is None:
        raise ValueError(
            f"Cannot tell the input shape of the subclassed model '{model.name}': call it once "
            "on a batch (or build it) before exporting, or pass `input_signature=tf.TensorSpec("
            "(None, ...), 'float32')`.")
    return tf.TensorSpec((None, *shape[1:]), model.input_dtype, name="x")


def checked_input(spec, endpoint, fn):
    """`fn` behind run-time checks of its input batch `x`: the shape `spec` has (batch size
    free), and finite values for a floating `spec`.

    A call through the endpoint is checked by TensorFlow against `spec` already; a call
    through a serving signature is not (a wrong shape would fail deep inside the model, on a
    message about a matrix product), so the expected signature is asserted here first. Shapes
    are compared as text ("28,28,1"), which TensorFlow cannot fold into a constant at trace time.
    """
    expected = ",".join(r"\d+" if size is None else str(size) for size in spec.shape[1:])
    signature = f"x: a {spec.dtype.name} batch of shape {tuple(spec.shape)}"

    def call(x):
        received = tf.strings.reduce_join(tf.strings.as_string(tf.shape(x)[1:]), separator=",")
        checks = [tf.debugging.Assert(tf.strings.regex_full_match(received, expected), [
            f"The `{endpoint}` endpoint expects {signature}. Received a batch of shape",
            tf.shape(x)])]
        if spec.dtype.is_floating:
            with tf.control_dependencies(checks):  # after the shape: its reduction assumes it
                checks.append(tf.debugging.Assert(tf.reduce_all(tf.math.is_finite(x)), [
                    f"The `{endpoint}` endpoint received NaN or infinite values in x; expected "
                    "finite numbers."]))
        with tf.control_dependencies(checks):
            return fn(tf.identity(x))
    return call


def with_sampling(model, enabled, fn):
    """`fn` run under `mc_sampling(model, enabled)`, so every (re)trace sees those `mc` flags."""
    def call(x):
        with mc_sampling(model, enabled):
            return fn(x)
    return call


def mc_statistics(draws, from_logits=False):
    """Mean, stddev, predictive entropy and mutual information of `(B, T, C)` draws."""
    draws = ops.cast(draws, "float32")
    if from_logits:
        draws = ops.softmax(draws, axis=-1)
    mean = ops.mean(draws, axis=1)
    return {"mean": mean, "stddev": ops.std(draws, axis=1),
            "predictive_entropy": predictive_entropy(mean),
            "mutual_information": mutual_information(draws, axis=1)}
