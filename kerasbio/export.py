"""SavedModel export with a Monte Carlo serving signature (TF-Hub / TF Serving style)."""

import keras
from keras import ops

import tensorflow as tf

from kerasbio._core.validation import validate_range
from kerasbio.mc import mc_sampling, sampling_model
from kerasbio.metrics import entropy, information_gain


def export_saved_model(model, path, samples=10, from_logits=False, verbose=True):
    """Write `model` as a SavedModel with a deterministic and an MC endpoint.

    Endpoints (also serving signatures) of the reloaded object
    `served = tf.saved_model.load(path)`:
    - `served.serve(x)`: one pass with every kerasbio layer at its expectation (`mc` off),
      the `serving_default` signature.
    - `served.mc_predict(x)`: `samples` stochastic passes per example (every kerasbio layer
      sampling, BatchNorm at its moving statistics), returning a dict with the MC predictive
      distribution `mean = (1/T) sum_t p_t`, `std`, the predictive `entropy` H[mean] and the
      `mutual_information` H[mean] - mean_t H[p_t] (McClure 2018, Eq. 3.3 and ch. 4). The
      deterministic layers before the first stochastic one run once per example, as in
      `kerasbio.mc_predict`.

    The `mc` flags of the model are restored afterwards.

    Args:
        model: Built single-input, single-output Keras model (probabilities, or logits with
            `from_logits=True`).
        path: Directory to write.
        samples: Positive int, MC samples `T` of `mc_predict`.
        from_logits: Apply a softmax to each sample before the statistics.
        verbose: Print the endpoints written.
    """
    samples = int(validate_range("samples", samples, low=1))
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError("export_saved_model needs a model with one input and one output; this "
                         f"one has {len(model.inputs)} inputs and {len(model.outputs)} outputs.")
    spec = tf.TensorSpec((None, *model.inputs[0].shape[1:]), model.inputs[0].dtype, name="x")
    sampler = sampling_model(model, samples)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", with_sampling(model, False, lambda x: model(x, training=False)),
                         [spec])
    archive.add_endpoint("mc_predict", with_sampling(
        model, True, lambda x: mc_statistics(sampler(x, training=False), from_logits)), [spec])
    archive.write_out(str(path), verbose=verbose)


def with_sampling(model, enabled, fn):
    """`fn` run under `mc_sampling(model, enabled)`, so every (re)trace sees those `mc` flags."""
    def call(x):
        with mc_sampling(model, enabled):
            return fn(x)
    return call


def mc_statistics(draws, from_logits=False):
    """Mean, std, predictive entropy and mutual information of `(B, T, C)` sampled outputs."""
    draws = ops.cast(draws, "float32")
    if from_logits:
        draws = ops.softmax(draws, axis=-1)
    mean = ops.mean(draws, axis=1)
    return {"mean": mean, "std": ops.std(draws, axis=1), "entropy": entropy(mean),
            "mutual_information": information_gain(draws, axis=1)}
