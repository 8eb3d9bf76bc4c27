import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasbio.rsa import RDL, compare, rdm
from kerasbio.rsa.rdl import rdl_loss, sample_pairs, upper_pairs

N, FEATURES = 512, 10


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, FEATURES)).astype("float32")
    return x, (x[:, 5] + x[:, 6] > 0).astype("int32")


def dense_net(name, width=16, seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((FEATURES,))
    hidden = keras.layers.Dense(width, activation="tanh", name="hidden")(inputs)
    outputs = keras.layers.Dense(2, activation="softmax", name="out")(hidden)
    return keras.Model(inputs, outputs, name=name)


def fixed_teacher():
    """A teacher whose hidden RDM only reflects the first two inputs (unlike the labels)."""
    teacher = dense_net("teacher", width=24, seed=1)
    kernel = np.zeros((FEATURES, 24), "float32")
    kernel[:2] = 2 * np.random.default_rng(1).normal(size=(2, 24))
    teacher.get_layer("hidden").set_weights([kernel, np.zeros(24, "float32")])
    return teacher


def hidden_rdm(model, x):
    features = keras.Model(model.input, model.get_layer("hidden").output)(x)
    return rdm(features, "mse")


def train(model, x, y, epochs=5):
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                  jit_compile=True)
    return model.fit(x, y, epochs=epochs, batch_size=64, verbose=0,
                     validation_data=(x[:64], y[:64]) if not isinstance(x, dict) else None)


def test_full_pair_gradient_equals_eq3():
    rng = np.random.default_rng(0)
    n, k = 7, 5
    f = tf.Variable(rng.normal(size=(n, k)))
    target = rdm(rng.normal(size=(n, 3)), "sqeuclidean").numpy()
    for metric, scale in [("sqeuclidean", 1.0), ("mse", 1.0 / k)]:
        with tf.GradientTape() as tape:
            student = rdm(f, metric)
            loss = rdl_loss(student, target, upper_pairs(n, "float64"))
        gradient = tape.gradient(loss, f).numpy()
        # Eq. 3: 8 / (n (n - 1)) sum_{j != i} (RDM_ij - T_ij)(f_i - f_j), times d RDM / d |.|^2.
        errors = student.numpy() - target
        differences = f.numpy()[:, None, :] - f.numpy()[None, :, :]
        expected = 8 / (n * (n - 1)) * scale * np.sum(errors[:, :, None] * differences, axis=1)
        np.testing.assert_allclose(gradient, expected, rtol=1e-10, atol=1e-12)


def test_sampled_pairs_are_an_exact_count_of_distinct_upper_pairs():
    seed = keras.random.SeedGenerator(3)
    masks = np.stack([sample_pairs(20, 19.0, seed).numpy() for _ in range(400)])
    assert np.all(masks.sum(axis=(1, 2)) == 19)
    assert np.all(masks * (1 - np.triu(np.ones((20, 20)), 1)) == 0)
    assert np.sum(sample_pairs(1, 1.0, seed).numpy()) == 0  # a batch of one has no pair
    frequency = masks.mean(axis=0)[np.triu_indices(20, 1)]  # each pair: p = 0.1
    standard_error = np.sqrt(0.1 * 0.9 / 400)
    assert np.all(np.abs(frequency - 0.1) < 5 * standard_error)


def test_pair_subset_loss_is_unbiased_and_only_sampled_inputs_get_gradient():
    rng = np.random.default_rng(1)
    n = 20
    f = tf.Variable(rng.normal(size=(n, 4)).astype("float32"))
    target = rdm(rng.normal(size=(n, 4)), "mse")
    full = float(rdl_loss(rdm(f, "mse"), target, upper_pairs(n)))
    seed = keras.random.SeedGenerator(0)
    draw = tf.function(lambda: rdl_loss(rdm(f, "mse"), target, sample_pairs(n, 10.0, seed)))
    draws = np.array([float(draw()) for _ in range(1000)])
    assert abs(draws.mean() - full) < 5 * draws.std() / np.sqrt(len(draws))
    mask = sample_pairs(n, 5.0, seed)
    with tf.GradientTape() as tape:
        loss = rdl_loss(rdm(f, "mse"), target, mask)
    gradient_norms = np.linalg.norm(tape.gradient(loss, f).numpy(), axis=1)
    sampled = (mask.numpy() + mask.numpy().T).sum(axis=1) > 0
    # Zero up to float32 round-off (the RDM is computed from centred features).
    assert np.all(gradient_norms[~sampled] < 1e-5 * gradient_norms[sampled].min())


def test_rdl_pulls_the_student_toward_the_teacher_and_logs_each_layer():
    x, y = data()
    teacher = fixed_teacher()
    teacher_weights = [w.copy() for w in teacher.get_weights()]
    x_test = data(seed=1)[0][:200]
    target = hidden_rdm(teacher, x_test)
    correlations = {}
    for alpha in (0.0, 10.0):
        student = dense_net("student", seed=2)
        model = RDL(student, teacher, layers={"hidden": "hidden", "out": "out"}, alpha=alpha,
                    pair_fraction=0.2, seed=0)
        history = train(model, x, y).history
        correlations[alpha] = compare(hidden_rdm(student, x_test), target)
    assert {"rdl_hidden", "rdl_out", "val_rdl_hidden", "val_rdl_out"} <= set(history)
    assert history["rdl_hidden"][-1] < history["rdl_hidden"][0]
    assert correlations[10.0] > correlations[0.0] + 0.3
    for before, after in zip(teacher_weights, teacher.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_target_mode_pulls_the_student_toward_a_fixed_rdm():
    x, y = data()
    target = hidden_rdm(fixed_teacher(), x).numpy()
    inputs = {"x": x, "index": np.arange(N)}
    correlations = {}
    for alpha in (0.0, 10.0):
        student = dense_net("student", seed=2)
        train(RDL(student, targets={"hidden": target}, alpha=alpha, pair_fraction=0.2, seed=0),
              inputs, y)
        correlations[alpha] = compare(hidden_rdm(student, x[:200]), target[:200, :200])
    assert correlations[10.0] > correlations[0.0] + 0.3


def test_student_and_wrapper_round_trip_through_keras_files(tmp_path):
    x, y = data()
    student = dense_net("student", seed=2)
    model = RDL(student, fixed_teacher(), layers={"hidden": "hidden"}, alpha=0.5, seed=0)
    train(model, x, y, epochs=1)
    student.save(tmp_path / "student.keras")
    reloaded = keras.models.load_model(tmp_path / "student.keras")
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), student.predict(x, verbose=0))
    model.save(tmp_path / "rdl.keras")
    wrapper = keras.models.load_model(tmp_path / "rdl.keras")
    assert isinstance(wrapper, RDL) and float(wrapper.alpha.numpy()) == 0.5
    np.testing.assert_array_equal(wrapper.student.predict(x, verbose=0),
                                  student.predict(x, verbose=0))
    assert not wrapper.teacher.trainable


@pytest.mark.parametrize("kwargs, match", [
    ({"layers": {"hidden": "hidden"}}, "exactly one"),
    ({"teacher": "T", "layers": {}}, "`layers`"),
    ({"teacher": "T", "layers": {"hidden": "hidden"}, "pair_fraction": 0.0}, "`pair_fraction`"),
    ({"teacher": "T", "layers": {"hidden": "hidden"}, "pairs": 0}, "`pairs`"),
    ({"teacher": "T", "layers": {"hidden": "hidden"}, "metric": "l1"}, "`metric`"),
    ({"teacher": "T", "layers": {"hidden": "hidden"}, "alpha": -1.0}, "`alpha`"),
    ({"targets": {"hidden": np.zeros((3, 4))}}, "square"),
])
def test_invalid_arguments_raise(kwargs, match):
    if kwargs.get("teacher") == "T":
        kwargs["teacher"] = fixed_teacher()
    with pytest.raises(ValueError, match=match):
        RDL(dense_net("student"), **kwargs)


def test_target_mode_requires_dict_inputs_and_student_must_be_functional():
    x, _ = data()
    model = RDL(dense_net("student"), targets={"hidden": np.zeros((N, N))})
    with pytest.raises(ValueError, match="'index'"):
        model(x[:8])

    class Subclassed(keras.Model):
        def call(self, inputs):
            return inputs

    with pytest.raises(ValueError, match="functional or Sequential"):
        RDL(Subclassed(), targets={"hidden": np.zeros((N, N))})


@pytest.mark.parametrize("setting", ["mirrored", "mixed_float16"])
def test_rdl_trains_under_mirrored_strategy_and_mixed_precision(setting, mirrored_strategy):
    x, y = data()
    policy = keras.mixed_precision.global_policy()
    strategy = mirrored_strategy if setting == "mirrored" else tf.distribute.get_strategy()
    try:
        if setting == "mixed_float16":
            keras.mixed_precision.set_global_policy("mixed_float16")
        with strategy.scope():
            model = RDL(dense_net("student"), dense_net("teacher", seed=1),
                        layers={"hidden": "hidden"}, pair_fraction=0.2, seed=0)
            model.compile("adam", "sparse_categorical_crossentropy")
        history = model.fit(x, y, epochs=2, batch_size=64, verbose=0).history
    finally:
        keras.mixed_precision.set_global_policy(policy)
    assert np.all(np.isfinite(history["loss"])) and history["rdl_hidden"][0] > 0
