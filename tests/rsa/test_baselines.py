import keras
import numpy as np
import pytest

from kerasbio.callbacks import DeepSupervisionDecay
from kerasbio.rsa.baselines import DeepSupervision, train_hints, transfer_weights


def data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6, 6, 1)).astype("float32")
    return x, (x[:, :3].mean(axis=(1, 2, 3)) > 0).astype("int32")


def cnn(name, classes=2, channels=4, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((6, 6, 1)), keras.layers.Conv2D(channels, 3, activation="relu", name="conv"),
        keras.layers.Flatten(name="flat"), keras.layers.Dense(8, activation="relu", name="fc"),
        keras.layers.Dense(classes, activation="softmax", name="out")], name=name)


def test_deep_supervision_loss_is_task_plus_alpha_times_auxiliary_losses():
    x, y = data()
    student = cnn("student")
    model = DeepSupervision(student, ["conv", "fc"], classes=2, alpha=0.3)
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    logs = model.fit(x, y, epochs=1, batch_size=64, verbose=0).history
    student.compile(loss="sparse_categorical_crossentropy")
    task = student.evaluate(x, y, batch_size=64, verbose=0)
    expected = task + 0.3 * (logs["aux_conv"][0] + logs["aux_fc"][0])
    assert logs["loss"][0] == pytest.approx(expected, rel=1e-5)
    assert 0 <= logs["accuracy"][0] <= 1
    assert model.predict(x[:5], verbose=0).shape == (5, 2)


def test_deep_supervision_trains_heads_and_follows_its_decay():
    x, y = data()
    model = DeepSupervision(cnn("student"), ["conv"], classes=2, alpha=1.0)
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    before = model.heads[0].get_weights()[0].copy()
    history = model.fit(x, y, epochs=3, batch_size=64, verbose=0,
                        callbacks=[DeepSupervisionDecay(1.0, epochs=3)]).history
    assert not np.allclose(before, model.heads[0].get_weights()[0])
    np.testing.assert_allclose(history["alpha"], [1.0, 0.1, 0.1 * 0.1 * (1 - 1 / 3)], rtol=1e-6)


def test_hints_train_the_student_layer_to_predict_the_teacher():
    x, _ = data()
    teacher, student = cnn("teacher", channels=6, seed=1), cnn("student", seed=2)
    teacher_weights = [w.copy() for w in teacher.get_weights()]
    conv_before = student.get_layer("conv").get_weights()[0].copy()
    history = train_hints(student, teacher, "conv", "conv", x, epochs=8, batch_size=32,
                          optimizer=keras.optimizers.Adam(0.01), verbose=0).history
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert not np.allclose(conv_before, student.get_layer("conv").get_weights()[0])
    for before, after in zip(teacher_weights, teacher.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_transfer_weights_copies_matching_layers_and_keeps_a_new_readout():
    teacher, student = cnn("teacher", classes=2, seed=1), cnn("student", classes=5, seed=2)
    assert transfer_weights(teacher, student) == ["conv", "fc"]
    np.testing.assert_array_equal(student.get_layer("fc").get_weights()[0],
                                  teacher.get_layer("fc").get_weights()[0])
    assert student.get_layer("out").get_weights()[0].shape == (8, 5)


def test_deep_supervision_rejects_bad_arguments():
    with pytest.raises(ValueError, match="`layers`"):
        DeepSupervision(cnn("student"), [], classes=2)
    with pytest.raises(ValueError, match="`classes`"):
        DeepSupervision(cnn("student"), ["conv"], classes=1)


def test_deep_supervision_round_trips_through_a_keras_file(tmp_path):
    x, _ = data(n=8)
    model = DeepSupervision(cnn("student"), ["conv"], classes=2, alpha=0.25)
    model.save(tmp_path / "ds.keras")
    reloaded = keras.models.load_model(tmp_path / "ds.keras")
    assert float(reloaded.alpha.numpy()) == 0.25 and reloaded.layer_names == ["conv"]
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))
    np.testing.assert_array_equal(reloaded.heads[0].get_weights()[0],
                                  model.heads[0].get_weights()[0])
