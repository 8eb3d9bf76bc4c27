"""Base class for callbacks that set a variable hyperparameter of chosen layers on a schedule."""

import keras

from kerasbio._core.keras_internals import find_layer, flatten_layers


class VariableSchedule(keras.callbacks.Callback):
    """Assigns `value(t)` to the `attribute` variable of target layers before each epoch or step.

    Subclasses implement `value(t)`, with `t` the epoch (or global step) index from 0. Because the
    attribute is a `keras.Variable`, the new value is used without retracing the train function.
    The value in force is also written to the epoch logs (and so to `History`) as `attribute`.

    Args:
        attribute: Name of the variable attribute to set (e.g. `"rate"`, `"alpha"`).
        layers: Layers or layer names to schedule; `None` means every layer of the model (the
            model itself included, nested layers too) that has the attribute.
        per: `"epoch"` or `"step"`.
    """

    def __init__(self, attribute, layers=None, per="epoch"):
        super().__init__()
        if per not in ("epoch", "step"):
            raise ValueError(
                f"Invalid value received for argument `per`. Expected 'epoch' or 'step'. "
                f"Received: per={per!r}")
        self.attribute = attribute
        self.layers = layers
        self.per = per
        self.current = None
        self._step = 0

    def value(self, t):
        raise NotImplementedError

    def targets(self):
        """The layers whose `attribute` this schedule sets."""
        if self.layers is None:
            found = [layer for layer in flatten_layers(self.model)
                     if isinstance(getattr(layer, self.attribute, None), keras.Variable)]
        else:
            found = [layer if not isinstance(layer, str) else find_layer(self.model, layer)
                     for layer in self.layers]
        if not found:
            raise ValueError(f"No layer of the model has a variable `{self.attribute}` to schedule.")
        return found

    def _assign(self, t):
        self.current = float(self.value(t))
        for layer in self.targets():
            getattr(layer, self.attribute).assign(self.current)

    def on_epoch_begin(self, epoch, logs=None):
        if self.per == "epoch":
            self._assign(epoch)

    def on_train_batch_begin(self, batch, logs=None):
        if self.per == "step":
            self._assign(self._step)
            self._step += 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self.current is not None:
            logs[self.attribute] = self.current
