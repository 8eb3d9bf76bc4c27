"""The transfer-learning baselines RDL is compared with (McClure & Kriegeskorte 2016, section 3).

Deep supervision (Lee et al. 2014): linear softmax classifiers after chosen layers, their loss
weighted by a decaying alpha. FitNets hints (Romero et al. 2014): a student layer is first
trained so that a linear (or 1x1-convolution) regressor predicts a teacher layer. Fine-tuning
(Yosinski et al. 2014): the student starts from the teacher's weights.
"""

import keras
import numpy as np
from keras import ops

from kerasbio._core.validation import validate_range
from kerasbio.rsa.rdl import feature_model


@keras.saving.register_keras_serializable(package="kerasbio")
class DeepSupervision(keras.Model):
    """A student with auxiliary linear softmax classifiers after chosen layers (Lee et al. 2014).

    The training loss is the compiled task loss plus `alpha * sum_m L_aux,m`, with `L_aux,m` the
    loss of the classifier on layer m; the logs hold each `aux_<layer>`. Decay alpha with
    `kerasbio.callbacks.DeepSupervisionDecay` (`alpha_{t+1} = alpha_t 0.1 (1 - t / t_max)`).
    Predictions and evaluation use the student's output only.

    Args:
        student: Built functional or Sequential single-output model (trained in place).
        layers: Names of the student layers followed by a classifier.
        classes: Number of classes of the auxiliary classifiers.
        alpha: Float >= 0, initial weight of the auxiliary losses (variable `.alpha`).
        aux_loss: Loss of the auxiliary classifiers, for the labels given to `fit`.

    Call arguments:
        inputs: The student's inputs.
        training: Python bool; when `True` the call also returns the auxiliary predictions.
    """

    def __init__(self, student, layers, classes, alpha=1.0,
                 aux_loss="sparse_categorical_crossentropy", **kwargs):
        super().__init__(**kwargs)
        if not layers:
            raise ValueError("Invalid value received for argument `layers`. Expected the names "
                             f"of one or more student layers. Received: layers={layers!r}")
        validate_range("classes", classes, low=2)
        validate_range("alpha", alpha, low=0)
        self.student = student
        self.layer_names = list(layers)
        self.classes = int(classes)
        self.aux_loss = aux_loss
        self.aux_loss_fn = keras.losses.get(aux_loss)
        self.student_features = feature_model(student, self.layer_names, "student",
                                              with_outputs=True)
        self.heads = [self._classifier(name) for name in self.layer_names]
        self.alpha = keras.Variable(float(alpha), trainable=False, dtype="float32", name="alpha")
        self.aux_trackers = [keras.metrics.Mean(name=f"aux_{name}") for name in self.layer_names]
        self.built = True

    def _classifier(self, layer_name):
        shape = self.student.get_layer(layer_name).output.shape[1:]
        return keras.Sequential([
            keras.Input(shape), keras.layers.Flatten(),
            keras.layers.Dense(self.classes, activation="softmax")],
            name=f"{layer_name}_classifier")

    def call(self, inputs, training=None):
        outputs = keras.tree.flatten(self.student_features(inputs, training=training))
        features, output = outputs[:-1], outputs[-1]
        if not training:
            return output
        return output, [head(feature) for head, feature in zip(self.heads, features)]

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        output, auxiliary = y_pred if isinstance(y_pred, tuple) else (y_pred, [])
        loss = super().compute_loss(x, y, output, sample_weight, training)
        for prediction, tracker in zip(auxiliary, self.aux_trackers):
            aux = ops.mean(self.aux_loss_fn(y, prediction))
            tracker.update_state(aux)
            loss = loss + ops.cast(self.alpha, aux.dtype) * aux
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        output = y_pred[0] if isinstance(y_pred, tuple) else y_pred
        return super().compute_metrics(x, y, output, sample_weight)

    def get_config(self):
        return {"name": self.name, "student": keras.saving.serialize_keras_object(self.student),
                "layers": self.layer_names, "classes": self.classes,
                "alpha": float(ops.convert_to_numpy(self.alpha)), "aux_loss": self.aux_loss}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["student"] = keras.saving.deserialize_keras_object(config["student"])
        return cls(**config)


def hint_regressor(student_shape, teacher_shape):
    """FitNets regressor: 1x1 convolution when both are maps of the same size, else linear."""
    student_shape, teacher_shape = tuple(student_shape), tuple(teacher_shape)
    if len(student_shape) == 3 and len(teacher_shape) == 3 and (
            student_shape[:2] == teacher_shape[:2]):
        layers = [keras.layers.Conv2D(teacher_shape[-1], 1)]
    else:
        layers = [keras.layers.Flatten(), keras.layers.Dense(int(np.prod(teacher_shape))),
                  keras.layers.Reshape(teacher_shape)]
    return keras.Sequential([keras.Input(student_shape), *layers], name="hint_regressor")


def train_hints(student, teacher, student_layer, teacher_layer, x, epochs=5, batch_size=100,
                optimizer="adam", verbose="auto"):
    """FitNets stage 1 (Romero et al. 2014): train the student up to `student_layer`, with a
    regressor, to predict the frozen teacher's `teacher_layer` activations (mean squared error).

    The student's layers are updated in place; train it on the task afterwards.

    Args:
        student, teacher: Built functional or Sequential models taking the same inputs.
        student_layer, teacher_layer: Layer names (the "guided" and the "hint" layer).
        x: Training inputs (array).
        epochs, batch_size, optimizer, verbose: As in `Model.fit`.

    Returns:
        The `History` of the hint training (its `loss` is the hint regression error).
    """
    hints = feature_model(teacher, [teacher_layer], "teacher").predict(
        x, batch_size=batch_size, verbose=0)
    guided = feature_model(student, [student_layer], "student")
    guided_output = guided.outputs[0]
    regressor = hint_regressor(guided_output.shape[1:], hints.shape[1:])
    model = keras.Model(guided.input, regressor(guided_output), name="hint_training")
    model.compile(optimizer, "mse")
    return model.fit(x, hints, epochs=epochs, batch_size=batch_size, verbose=verbose)


def transfer_weights(teacher, student):
    """Fine-tuning initialisation: copy the teacher's weights into the student, layer by layer.

    The layers that own weights are paired in order; a pair is copied when all weight shapes
    match (so a readout with a different number of classes keeps its fresh initialisation).

    Returns:
        The names of the student layers that received the teacher's weights.
    """
    copied = []
    weighted = [[layer for layer in model.layers if layer.weights] for model in (teacher, student)]
    for source, destination in zip(*weighted):
        weights = source.get_weights()
        if [w.shape for w in weights] == [tuple(w.shape) for w in destination.weights]:
            destination.set_weights(weights)
            copied.append(destination.name)
    return copied
