"""`Schedule`: sets an attribute of chosen layers from any function of the epoch (or step).

Rates and weights are Python floats (kerasbio's layers) or `keras.Variable`s (e.g. the RDL
model's `alpha`). A variable is assigned, and the compiled graph reads it. A float is read
when the train function is traced, so after setting a changed float the schedule rebuilds
the compiled functions (one retrace per change, XLA included), which is why a float schedule
is best set per epoch.
"""

import math
import numbers

import keras
from keras import ops

from kerasbio._core.keras_internals import find_layer, flatten_layers, reset_compiled_functions
from kerasbio._core.validation import invalid_argument, validate_choice


def schedulable(value):
    """Whether `value` is something a schedule can set: a variable or a real number."""
    if isinstance(value, keras.Variable):
        return True
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def current_value(layer, name):
    """`layer.<name>` now, as a Python float."""
    value = getattr(layer, name)
    if isinstance(value, keras.Variable):
        return float(ops.convert_to_numpy(value))
    return float(value)


def set_value(layer, name, value):
    """Set `layer.<name>` to `value`; `True` if a float changed (so a retrace is needed)."""
    attribute = getattr(layer, name)
    if isinstance(attribute, keras.Variable):
        attribute.assign(value)
        return False
    if float(attribute) == value:
        return False
    setattr(layer, name, value)
    return True


class Schedule(keras.callbacks.Callback):
    """Sets `attribute` of target layers to `schedule(t)` before each epoch (or step).

    `t` is the epoch (or global step) index from 0. A `keras.Variable` attribute is assigned;
    a float attribute is set and, when its value changed, `fit`'s compiled functions are
    rebuilt, so the new value is used (also with `jit_compile=True`). The value in force is
    written to the epoch logs (and so to `History`) under the attribute's name.

    Usage: `Schedule("stddev", lambda epoch: 0.5 * 0.9 ** epoch)` decays the `stddev` of every
    `GaussianNoise` layer of the model.

    Args:
        attribute: Name of the attribute to set (e.g. `"rate"`, `"alpha"`, `"stddev"`), or a
            tuple of names (every one a layer has is set).
        schedule: Callable of `t` returning a finite float.
        layers: Layers or layer names to schedule; `None` means every layer of the model (the
            model itself included, nested layers too) that has the attribute as a float or
            variable.
        per: `"epoch"` or `"step"`. Per step, each change of a float attribute retraces.
    """

    def __init__(self, attribute, schedule, layers=None, per="epoch"):
        super().__init__()
        self.attributes = (attribute,) if isinstance(attribute, str) else attribute
        if (not isinstance(self.attributes, (tuple, list)) or not self.attributes
                or not all(isinstance(name, str) for name in self.attributes)):
            raise invalid_argument("attribute", "a name (str) or a tuple of names", attribute)
        self.attributes = tuple(self.attributes)
        if not callable(schedule):
            raise invalid_argument("schedule", "a callable of the epoch (or step)", schedule)
        self.schedule = schedule
        self.layers = layers
        self.per = validate_choice("per", per, ("epoch", "step"))
        self.current = None
        self._step = 0

    @property
    def log_name(self):
        return self.attributes[0]

    def targets(self):
        """`(layer, attribute)` pairs this schedule sets, in model order."""
        if self.layers is None:
            layers = flatten_layers(self.model)
        else:
            layers = [find_layer(self.model, layer) if isinstance(layer, str) else layer
                      for layer in self.layers]
        pairs = []
        for layer in layers:
            found = [(layer, name) for name in self.attributes
                     if schedulable(getattr(layer, name, None))]
            if not found and self.layers is not None:
                raise ValueError(f"Layer '{layer.name}' has no float or variable attribute "
                                 f"{' or '.join(self.attributes)} to schedule.")
            pairs.extend(found)
        if not pairs:
            raise ValueError(f"No layer of the model has a float or variable attribute "
                             f"{' or '.join(self.attributes)} to schedule.")
        return pairs

    def values(self, t):
        """The value of every target at epoch or step `t` (the same for all, here)."""
        return [self.checked(self.schedule(t))] * len(self.targets())

    def checked(self, value):
        """`value` as a float; a `ValueError` if the schedule returned NaN, inf or a non-number."""
        if not schedulable(value) or not math.isfinite(float(value)):
            raise ValueError(f"The schedule of `{self.log_name}` returned {value!r}; expected a "
                             "finite float.")
        return float(value)

    def apply(self, t):
        values = self.values(t)
        changed = [set_value(layer, name, value)
                   for (layer, name), value in zip(self.targets(), values)]
        if any(changed):
            self.retrace()
        self.current = values[0]

    def retrace(self):
        """Rebuild the compiled functions, so that they read the new float values."""
        reset_compiled_functions(self.model)
        self.model.make_train_function(force=True)

    def on_epoch_begin(self, epoch, logs=None):
        if self.per == "epoch":
            self.apply(epoch)

    def on_train_batch_begin(self, batch, logs=None):
        if self.per == "step":
            self.apply(self._step)
            self._step += 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self.current is not None:
            logs[self.log_name] = self.current
