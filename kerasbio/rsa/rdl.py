"""Representational distance learning (RDL), McClure & Kriegeskorte 2016, section 2.2.

The task loss of a student network is complemented, at chosen layers m, by the mean squared
difference between the student's RDM over the inputs of a mini-batch and a target RDM T_m
(Eq. 2), estimated per step from a random subset of the input pairs (Eq. 4), weighted by alpha
(Eq. 5). The target comes from a frozen teacher network (any architecture) or from a fixed
(N, N) RDM over a stimulus set, e.g. measured brain responses.
"""

import keras
import numpy as np
from keras import ops

from kerasbio._core.validation import validate_choice, validate_int, validate_range
from kerasbio._core.seeds import ReplicaSeedGenerator
from kerasbio.rsa.rdm import METRICS, rdm

TARGET_INPUT_KEYS = ("x", "index")


def feature_model(model, layer_names, argument, with_outputs=False):
    """A functional model from `model`'s inputs to the outputs of `layer_names` (+ its outputs)."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise ValueError(
            f"`{argument}` must be a built functional or Sequential model (made from a "
            f"`keras.Input`), so that its internal layers can be read. Received: {model!r}")
    inputs = inputs[0] if len(inputs) == 1 else model.input
    outputs = [model.get_layer(name).output for name in layer_names]
    if with_outputs:
        outputs += list(model.outputs)
    return keras.Model(inputs, outputs, name=f"{model.name}_features")


def upper_pairs(n, dtype="float32"):
    """(n, n) mask of the pairs i < j."""
    return ops.triu(ops.ones((n, n), dtype=dtype), k=1)


def sample_pairs(n, count, seed):
    """(n, n) mask of `count` pairs i < j drawn uniformly without replacement (Eq. 4's P).

    Each pair gets a uniform score (non-pairs score 2); the `count` lowest-ranked are kept.
    """
    upper = upper_pairs(n)
    scores = ops.where(upper > 0, keras.random.uniform((n, n), seed=seed), 2.0)
    ranks = ops.argsort(ops.argsort(ops.reshape(scores, (-1,))))
    chosen = ops.reshape(ops.cast(ops.cast(ranks, "float32") < count, "float32"), (n, n))
    return chosen * upper


def rdl_loss(student_rdm, target_rdm, mask):
    """E_aux (Eq. 2) over the pairs in `mask`: the mean of (RDM_ij - T_ij)^2 over those pairs.

    With all pairs i < j this is Eq. 2; with a uniform random subset P it is an unbiased
    estimate of it (Eq. 4). Missing target cells (NaN, e.g. in a brain RDM) are left out.
    """
    target_rdm = ops.cast(target_rdm, student_rdm.dtype)
    present = ops.logical_not(ops.isnan(target_rdm))
    mask = mask * ops.cast(present, mask.dtype)
    squared = ops.square(student_rdm - ops.where(present, target_rdm, student_rdm))
    return ops.sum(squared * mask) / ops.maximum(ops.sum(mask), 1.0)


@keras.saving.register_keras_serializable(package="kerasbio")
class RDL(keras.Model):
    """A student trained with representational distance learning auxiliary losses.

    For each chosen student layer m the loss gains `alpha * E_aux`, with (Eq. 2)
    `E_aux = 2 / (n (n - 1)) sum_{i<j} (RDM(X; f_m)_ij - T_m,ij)^2` over the n inputs of the
    batch. While training, the sum runs over a random subset P of the pairs (Eq. 4), drawn
    anew each step, and is divided by |P|: an unbiased estimate of E_aux; inputs in no sampled
    pair get no RDL gradient. (The gradient is that of this estimate; the paper's Eq. 4 states
    an approximation normalised per input instead.) Evaluation uses all pairs.

    Teacher mode: `RDL(student, teacher, layers={"student_layer": "teacher_layer"})`; the
    teacher is frozen (`trainable=False`) and runs with `training=False` on the same inputs.

    Target mode: `RDL(student, targets={"student_layer": brain_rdm})` with a fixed `(N, N)` RDM
    over N stimuli (computed with the same `metric`). Inputs are then a dict carrying the
    stimulus index of each example, and the loss uses the sub-RDM of the batch's indices:

    ```python
    model = RDL(student, targets={"fc": brain_rdm}, alpha=0.5)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit({"x": images, "index": np.arange(len(images))}, labels, epochs=10,
              callbacks=[kerasbio.callbacks.AlphaDecay(0.5, epochs=10)])
    model.student.save("student.keras")  # the trained student alone
    ```

    The logs hold `rdl_<student_layer>`, the unweighted E_aux of each layer.

    Args:
        student: Built functional or Sequential model; trained in place (`.student`).
        teacher: Frozen reference model taking the same inputs (teacher mode).
        layers: Dict mapping student layer names to teacher layer names (teacher mode).
        targets: Dict mapping student layer names to `(N, N)` target RDMs (target mode);
            NaN cells are missing and left out of the loss.
        alpha: Float >= 0, initial weight of the RDL losses; the non-trainable variable
            `.alpha`, set per epoch by `kerasbio.callbacks.AlphaDecay`.
        pair_fraction: Float in (0, 1], fraction of the n (n - 1) / 2 pairs used per step
            (the paper: 0.05 on MNIST, 0.025 on CIFAR-100).
        pairs: Optional int > 0, a fixed number of pairs per step (overrides `pair_fraction`).
        metric: RDM distance (`kerasbio.rsa.rdm`); the paper's choice is `"mse"`.
        seed: Optional integer seed of the pair sampling.

    Call arguments:
        inputs: The student's inputs (teacher mode) or `{"x": inputs, "index": int ids}`.
        training: Python bool; samples pairs when `True`.
    """

    def __init__(self, student, teacher=None, layers=None, targets=None, alpha=1.0,
                 pair_fraction=0.05, pairs=None, metric="mse", seed=None, **kwargs):
        super().__init__(**kwargs)
        if (teacher is None) == (targets is None):
            raise ValueError(
                "RDL needs exactly one source of target RDMs: a `teacher` with `layers` "
                "(teacher mode) or `targets` (target mode).")
        validate_choice("metric", metric, METRICS)
        validate_range("alpha", alpha, low=0)
        validate_range("pair_fraction", pair_fraction, low=0, high=1, low_open=True)
        if pairs is not None:
            validate_int("pairs", pairs, low=1)
        if seed is not None:
            validate_int("seed", seed, low=0)
        self.student = student
        self.teacher = teacher
        self.layer_pairs = self._validate_layers(layers, teacher)
        self.target_rdms = self._validate_targets(targets)
        self.student_layer_names = list(self.layer_pairs or self.target_rdms)
        self.student_features = feature_model(
            student, self.student_layer_names, "student", with_outputs=True)
        if teacher is not None:
            teacher.trainable = False
            self.teacher_features = feature_model(
                teacher, list(self.layer_pairs.values()), "teacher")
        self.alpha = keras.Variable(float(alpha), trainable=False, dtype="float32", name="alpha")
        self.pair_fraction = float(pair_fraction)
        self.pairs = None if pairs is None else int(pairs)
        self.metric = metric
        self.seed = seed
        self.seed_generator = ReplicaSeedGenerator(seed)
        self.rdl_trackers = [keras.metrics.Mean(name=f"rdl_{name}")
                             for name in self.student_layer_names]
        self.built = True

    @staticmethod
    def _validate_layers(layers, teacher):
        if teacher is None:
            if layers:
                raise ValueError("`layers` maps student to teacher layers; it needs a `teacher`.")
            return None
        if not isinstance(layers, dict) or not layers:
            raise ValueError(
                "Invalid value received for argument `layers`. Expected a non-empty dict "
                "{'student_layer': 'teacher_layer', ...}. Received: layers={layers!r}")
        return dict(layers)

    @staticmethod
    def _validate_targets(targets):
        if targets is None:
            return None
        if not isinstance(targets, dict) or not targets:
            raise ValueError(
                "Invalid value received for argument `targets`. Expected a non-empty dict "
                f"{{'student_layer': (N, N) RDM}}. Received: targets={targets!r}")
        arrays = {name: np.asarray(ops.convert_to_numpy(value), dtype="float32")
                  for name, value in targets.items()}
        for name, array in arrays.items():
            if array.ndim != 2 or array.shape[0] != array.shape[1]:
                raise ValueError(
                    f"Invalid value received for argument `targets`. The target RDM of "
                    f"{name!r} must be square (N, N). Received shape {array.shape}.")
            if np.any(np.isinf(array)):
                raise ValueError(
                    f"Invalid value received for argument `targets`. The target RDM of "
                    f"{name!r} holds inf values; use NaN for missing cells.")
        return arrays

    def _split_inputs(self, inputs):
        """Teacher mode: (inputs, None). Target mode: (inputs["x"], int32 inputs["index"])."""
        if self.target_rdms is None:
            return inputs, None
        if not isinstance(inputs, dict) or set(inputs) != set(TARGET_INPUT_KEYS):
            raise ValueError(
                "In target mode, RDL inputs must be a dict {'x': inputs, 'index': stimulus ids "
                "(int, rows of the target RDMs)}. Received: "
                f"{sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__}")
        return inputs["x"], ops.cast(inputs["index"], "int32")

    def _target_rdms(self, x, index):
        if self.target_rdms is None:
            features = keras.tree.flatten(self.teacher_features(x, training=False))
            return [rdm(feature, self.metric) for feature in features]
        return [ops.take(ops.take(ops.convert_to_tensor(self.target_rdms[name]), index, axis=0),
                         index, axis=1)
                for name in self.student_layer_names]

    def pair_mask(self, n, training=False):
        """(n, n) mask of the pairs used: all pairs i < j, or when training a random subset P."""
        if not training or (self.pairs is None and self.pair_fraction >= 1.0):
            return upper_pairs(n)
        total = ops.cast(n * (n - 1) // 2, "float32")
        if self.pairs is None:
            count = ops.maximum(ops.round(self.pair_fraction * total), 1.0)
        else:
            count = ops.minimum(float(self.pairs), total)
        return sample_pairs(n, count, self.seed_generator)

    def call(self, inputs, training=None):
        x, index = self._split_inputs(inputs)
        outputs = keras.tree.flatten(self.student_features(x, training=training))
        count = len(self.student_layer_names)
        features, student_outputs = outputs[:count], outputs[count:]
        mask = self.pair_mask(ops.shape(features[0])[0], training=bool(training))
        for feature, target, tracker in zip(features, self._target_rdms(x, index),
                                            self.rdl_trackers):
            loss = rdl_loss(rdm(feature, self.metric), target, mask)
            tracker.update_state(loss)
            self.add_loss(ops.cast(self.alpha, loss.dtype) * loss)
        return student_outputs[0] if len(student_outputs) == 1 else student_outputs

    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        return {
            "name": self.name, "student": serialize(self.student),
            "teacher": None if self.teacher is None else serialize(self.teacher),
            "layers": self.layer_pairs,
            "targets": None if self.target_rdms is None else {
                name: array.tolist() for name, array in self.target_rdms.items()},
            "alpha": float(ops.convert_to_numpy(self.alpha)), "pair_fraction": self.pair_fraction,
            "pairs": self.pairs, "metric": self.metric, "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("student", "teacher"):
            if config[key] is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
