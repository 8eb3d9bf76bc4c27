"""Random-label callbacks: logged values equal `model.evaluate`, time to fit, fresh labels each
epoch without retracing (Zhang et al. 2017)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasbio.callbacks import MemorizationMonitor, RelabelEachEpoch, TimeToFit
from kerasbio.data import load, randomize_labels


class CountTraces(keras.layers.Layer):
    """Identity layer counting how often its `call` is traced (graph) or run (eager)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.traces = 0

    def call(self, inputs):
        self.traces += 1
        return inputs


def small_model(input_shape=(8, 8, 1), units=64, learning_rate=0.01, counter=None):
    layers = [keras.Input(input_shape), keras.layers.Flatten()]
    if counter is not None:
        layers.append(counter)
    layers += [keras.layers.Dense(units, activation="relu"),
               keras.layers.Dense(10, activation="softmax")]
    model = keras.Sequential(layers)
    model.compile(keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


@pytest.fixture(scope="module")
def digits():
    x, y = load("digits", split="validation")
    x_test, y_test = load("digits", split="test")
    return x, y, x_test, y_test


def test_memorization_monitor_logs_equal_manual_evaluate(digits):
    keras.utils.set_random_seed(0)
    x, y, x_test, y_test = digits
    y_random = randomize_labels(y, 0.5, seed=0)
    corrupted = y_random != y
    model = small_model()
    monitor = MemorizationMonitor(x, y_random, corrupted, validation_data=(x_test, y_test))
    history = model.fit(x, y_random, epochs=3, batch_size=32, verbose=0, callbacks=[monitor])
    for key in ("corrupted_accuracy", "corrupted_loss", "clean_accuracy", "clean_loss",
                "heldout_accuracy", "heldout_loss"):
        assert len(history.history[key]) == 3
    subsets = {"corrupted": (x[corrupted], y_random[corrupted]),
               "clean": (x[~corrupted], y_random[~corrupted]), "heldout": (x_test, y_test)}
    for prefix, (xs, ys) in subsets.items():
        manual = model.evaluate(xs, ys, batch_size=64, verbose=0, return_dict=True)
        predicted = model.predict(xs, verbose=0).argmax(-1)
        assert history.history[f"{prefix}_accuracy"][-1] == pytest.approx(manual["accuracy"])
        assert history.history[f"{prefix}_accuracy"][-1] == pytest.approx((predicted == ys).mean())
        assert history.history[f"{prefix}_loss"][-1] == pytest.approx(manual["loss"], rel=1e-5)
    assert history.history["clean_accuracy"][-1] > history.history["corrupted_accuracy"][-1]


def test_memorization_monitor_checks_the_mask(digits):
    x, y, _, _ = digits
    with pytest.raises(ValueError, match="corrupted_mask"):
        MemorizationMonitor(x, y, np.ones(3, bool))


@pytest.mark.parametrize("stop", [False, True])
def test_time_to_fit_records_first_epoch_reaching_threshold(stop):
    keras.utils.set_random_seed(1)
    x = np.random.default_rng(0).uniform(0, 1, (64, 8, 8, 1)).astype(np.float32)
    y = np.random.default_rng(1).integers(0, 10, 64)  # random labels: pure memorization
    timer = TimeToFit(threshold=0.9, stop=stop)
    history = small_model(units=256, learning_rate=0.01).fit(
        x, y, epochs=20, batch_size=16, verbose=0, callbacks=[timer])
    accuracy = np.array(history.history["accuracy"])
    first = int(np.argmax(accuracy >= 0.9))
    assert accuracy[first] >= 0.9 and np.all(accuracy[:first] < 0.9)
    assert timer.epoch == first
    assert timer.step == (first + 1) * 4  # 64 examples in batches of 16
    assert len(history.history["accuracy"]) == (first + 1 if stop else 20)


def test_time_to_fit_names_missing_metric():
    x = np.zeros((8, 8, 8, 1), np.float32)
    with pytest.raises(ValueError, match="corrupted_accuracy"):
        small_model().fit(x, np.zeros(8), epochs=1, verbose=0,
                          callbacks=[TimeToFit(monitor="corrupted_accuracy")])


def test_relabel_draws_uniform_seeded_labels():
    relabel = RelabelEachEpoch(20_000, n_classes=10, seed=3)
    first = relabel.labels.numpy()
    counts = np.bincount(first, minlength=10)
    assert np.all(np.abs(counts - 2000) < 5 * np.sqrt(20_000 * 0.09))
    relabel.relabel()
    assert (relabel.labels.numpy() != first).mean() == pytest.approx(0.9, abs=0.02)
    np.testing.assert_array_equal(RelabelEachEpoch(20_000, 10, seed=3).labels.numpy(), first)
    with pytest.raises(ValueError, match="`n_classes`"):
        RelabelEachEpoch(10, n_classes=1)


def _identity_images(n):
    """Images whose pixels all equal the example index, to recover it from a batch."""
    return np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None, None], (n, 8, 8, 1))


@pytest.mark.parametrize("source", ["array", "dataset", "pairs"])
def test_relabel_dataset_serves_current_labels(source):
    n = 50
    x = _identity_images(n)
    relabel = RelabelEachEpoch(n, n_classes=10, seed=0)
    inputs = {"array": x, "dataset": tf.data.Dataset.from_tensor_slices(x),
              "pairs": tf.data.Dataset.from_tensor_slices((x, np.zeros(n)))}[source]
    dataset = relabel.dataset(inputs, batch_size=16, shuffle=True, seed=0)
    for _ in range(2):
        seen_index, seen_label = [], []
        for images, labels in dataset:
            seen_index.append(images.numpy()[:, 0, 0, 0].astype(int))
            seen_label.append(labels.numpy())
        index, labels = np.concatenate(seen_index), np.concatenate(seen_label)
        assert sorted(index) == list(range(n))
        np.testing.assert_array_equal(labels, relabel.labels.numpy()[index])
        relabel.relabel()  # the same pipeline serves the new labels on its next pass


def test_relabel_dataset_rejects_wrong_sizes():
    relabel = RelabelEachEpoch(50, n_classes=10)
    with pytest.raises(ValueError, match="n_examples=50"):
        relabel.dataset(np.zeros((40, 8, 8, 1), np.float32))
    with pytest.raises(ValueError, match="n_examples=50"):
        relabel.dataset(tf.data.Dataset.from_tensor_slices(np.zeros((40, 8, 8, 1), np.float32)))


@pytest.mark.parametrize("source", ["array", "dataset"])
def test_relabel_each_epoch_in_fit_without_retracing(digits, source):
    x, _, _, _ = digits
    n = len(x)
    counter = CountTraces()
    model = small_model(counter=counter)
    relabel = RelabelEachEpoch(n, n_classes=10, seed=0)
    traces, labels = [], []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: (
        traces.append(counter.traces), labels.append(relabel.labels.numpy().copy())))
    inputs = x if source == "array" else tf.data.Dataset.from_tensor_slices(x)
    model.fit(relabel.dataset(inputs, batch_size=64), epochs=4, verbose=0, shuffle=False,
              callbacks=[relabel, record])
    assert traces[1:] == traces[:1] * 3  # no new trace after the first epoch
    for before, after in zip(labels, labels[1:]):
        assert (before != after).mean() > 0.75  # fresh labels every epoch (expected 0.9)
