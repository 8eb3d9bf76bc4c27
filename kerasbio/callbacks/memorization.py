"""Callbacks for random-label (memorization) experiments, Zhang et al. 2017 and Arpit et al. 2017.

`MemorizationMonitor` logs the model's metrics on the training examples with corrupted and with
clean labels (the memorization curves), `TimeToFit` records when training accuracy first
reaches a threshold (Zhang's "time to overfit"), and `RelabelEachEpoch` draws fresh random
labels every epoch (the control that cannot be memorized).
"""

import keras
import numpy as np
import tensorflow as tf

from kerasbio._core.validation import validate_bool, validate_int, validate_range


class MemorizationMonitor(keras.callbacks.Callback):
    """Logs the compiled metrics on the corrupted and the clean training examples each epoch.

    At each epoch end the model is evaluated (`model.evaluate`, inference mode) on the training
    examples whose labels were corrupted and on the others, each against its training label,
    and the results go into the epoch logs (so into `History` and the progress bar) as
    `corrupted_<metric>` and `clean_<metric>` (e.g. `corrupted_accuracy`, `clean_loss`), and
    on `validation_data` as `heldout_<metric>`. A subset without examples is skipped.

    Args:
        x: Training inputs.
        y: Training labels as used for training (the corrupted ones).
        corrupted_mask: Boolean array, `True` where the label was corrupted (e.g. `y != y_true`).
        validation_data: Optional `(x, y)` held-out data (e.g. the test set with true labels).
        batch_size: Batch size of the evaluations.
    """

    def __init__(self, x, y, corrupted_mask, validation_data=None, batch_size=256):
        super().__init__()
        if len(x) != len(y):
            raise ValueError(f"`x` and `y` must hold the same examples. Received: {len(x)} inputs "
                             f"and {len(y)} labels.")
        corrupted_mask = np.asarray(corrupted_mask, dtype=bool)
        if corrupted_mask.shape != (len(y),):
            raise ValueError(
                f"`corrupted_mask` must be a boolean array with one entry per example, shape "
                f"({len(y)},). Received: shape={corrupted_mask.shape}")
        self.subsets = {"corrupted": (x[corrupted_mask], y[corrupted_mask]),
                        "clean": (x[~corrupted_mask], y[~corrupted_mask])}
        if validation_data is not None:
            self.subsets["heldout"] = tuple(validation_data)
        self.batch_size = validate_int("batch_size", batch_size, low=1)

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for prefix, (x, y) in self.subsets.items():
            if len(y) == 0:
                continue
            results = self.model.evaluate(x, y, batch_size=self.batch_size, verbose=0,
                                          return_dict=True)
            logs.update({f"{prefix}_{name}": value for name, value in results.items()})


class TimeToFit(keras.callbacks.Callback):
    """Records when a training metric first reaches `threshold` (Zhang et al. 2017, Fig. 1b).

    At each epoch end, if `logs[monitor] >= threshold` for the first time, `epoch` (0-based
    epoch index) and `step` (number of training steps taken so far) are set; they stay `None`
    if it never happens. `monitor` may be a value another callback logs before this one, e.g.
    `"corrupted_accuracy"` of a `MemorizationMonitor` listed earlier.

    Args:
        threshold: Value to reach (default 1.0, i.e. perfect training accuracy).
        monitor: Name of the logged metric.
        stop: If `True`, stop training once the threshold is reached.
        verbose: If `True`, print a line when it is reached.
    """

    def __init__(self, threshold=1.0, monitor="accuracy", stop=False, verbose=False):
        super().__init__()
        self.threshold = validate_range("threshold", threshold)
        if not isinstance(monitor, str):
            raise ValueError(f"Invalid value received for argument `monitor`. Expected the name "
                             f"of a logged metric (str). Received: monitor={monitor!r}")
        self.monitor = monitor
        self.stop = validate_bool("stop", stop)
        self.verbose = validate_bool("verbose", verbose)
        self.epoch = None
        self.step = None
        self._steps = 0

    def on_train_begin(self, logs=None):
        self.epoch, self.step, self._steps = None, None, 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            raise ValueError(f"TimeToFit monitors {self.monitor!r}, which is not among the logged "
                             f"values {sorted(logs)}. Pass one of them as `monitor`.")
        if self.epoch is None and logs[self.monitor] >= self.threshold:
            self.epoch, self.step = epoch, self._steps
            if self.verbose:
                print(f"TimeToFit: {self.monitor} reached {self.threshold} at epoch {epoch + 1} "
                      f"(step {self._steps}).")
            if self.stop:
                self.model.stop_training = True


class RelabelEachEpoch(keras.callbacks.Callback):
    """Fresh uniform random labels at every epoch: random labels that cannot be memorized.

    The labels live in a `tf.Variable` (`labels`) that the input pipeline made by `dataset`
    looks up by example index, so redrawing them at the start of each epoch changes what
    `model.fit` sees without retracing the dataset or the train function (Keras opens a new
    iterator over the dataset after `on_epoch_begin`). Pass the callback and its dataset to `fit`:

        relabel = RelabelEachEpoch(len(x), n_classes=10, seed=0)
        model.fit(relabel.dataset(x, batch_size=128), epochs=20, callbacks=[relabel],
                  shuffle=False)  # the pipeline shuffles; Keras warns on shuffle=True

    Args:
        n_examples: Number of training examples.
        n_classes: Number of classes; labels are uniform in `0 .. n_classes - 1`.
        seed: Optional integer seed of the label draws.
    """

    def __init__(self, n_examples, n_classes, seed=None):
        super().__init__()
        self.n_examples = validate_int("n_examples", n_examples, low=1)
        self.n_classes = validate_int("n_classes", n_classes, low=2)
        if seed is not None:
            validate_int("seed", seed, low=0)
        self._rng = np.random.default_rng(seed)
        self.labels = tf.Variable(tf.zeros([self.n_examples], tf.int32), trainable=False,
                                  name="random_labels")
        self.relabel()

    def relabel(self):
        """Draw new labels for every example."""
        self.labels.assign(self._rng.integers(0, self.n_classes, self.n_examples, dtype=np.int32))

    def on_epoch_begin(self, epoch, logs=None):
        self.relabel()

    def dataset(self, x, batch_size=32, shuffle=True, seed=None):
        """A batched `tf.data` pipeline of `(x[i], labels[i])`, reading the current labels.

        Args:
            x: Inputs, an array with `n_examples` rows, or a finite `tf.data.Dataset` of inputs
                (or of `(input, label)` pairs, whose labels are ignored) in a fixed order.
            batch_size: Batch size.
            shuffle: Reshuffle the examples every epoch (for a dataset input, through a
                buffer holding all `n_examples` inputs).
            seed: Optional shuffling seed.
        """
        if isinstance(x, tf.data.Dataset):
            return self._from_dataset(x, batch_size, shuffle, seed)
        if len(x) != self.n_examples:
            raise ValueError(f"`x` has {len(x)} examples but the labels were drawn for "
                             f"n_examples={self.n_examples}.")
        inputs = tf.constant(x)
        indices = tf.data.Dataset.range(self.n_examples)
        if shuffle:
            indices = indices.shuffle(self.n_examples, seed=seed, reshuffle_each_iteration=True)
        return indices.batch(batch_size).map(
            lambda index: (tf.gather(inputs, index), tf.gather(self.labels, index)),
            num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    def _from_dataset(self, dataset, batch_size, shuffle, seed):
        def with_label(index, element):
            image = element[0] if isinstance(element, tuple) else element
            return image, tf.gather(self.labels, index)

        size = int(dataset.cardinality())
        if size >= 0 and size != self.n_examples:
            raise ValueError(f"The dataset has {size} elements but the labels were drawn for "
                             f"n_examples={self.n_examples}. Pass an unbatched dataset with one "
                             f"element per example.")
        dataset = dataset.enumerate().map(with_label, num_parallel_calls=tf.data.AUTOTUNE)
        if shuffle:
            dataset = dataset.shuffle(self.n_examples, seed=seed, reshuffle_each_iteration=True)
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
