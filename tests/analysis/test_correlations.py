"""Correlation analysis (Dutta ch. 3) and the mixup utilities."""

import importlib

import numpy as np
import pytest

import keras

from kerasbio import analysis
from kerasbio.layers import correlation_structure as corr

SIZE, MAPS = 4, 3
PLANTED = {"a": 0.6, "b": 0.15, "c": 0.1, "tau": 1.0}


def planted_model():
    """Input -> 1x1 Conv2D with an invertible kernel whose maps have similarities 0.8, 0, -0.36."""
    kernel = np.array([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [-0.6, 0.8, 0.0]]).T
    kernel[2, 2] = 0.5  # map 2 gets a third component, so the kernel is invertible
    conv = keras.layers.Conv2D(MAPS, 1, use_bias=False, name="planted")
    model = keras.Sequential([keras.Input((SIZE, SIZE, 3)), conv])
    conv.kernel.assign(kernel.reshape(1, 1, 3, MAPS).astype("float32"))
    return model, conv, kernel


def planted_pool(model, conv, kernel, size, seed=0):
    """Inputs whose activations at `conv` are N(0, C) with C the planted Eq. 2.14 matrix."""
    target = analysis.target_unit_correlations(conv, **PLANTED).astype("float64")
    assert np.linalg.eigvalsh(target).min() > 0
    rng = np.random.default_rng(seed)
    activity = rng.standard_normal((size, len(target))) @ np.linalg.cholesky(target).T
    inputs = activity.reshape(size, SIZE * SIZE, MAPS) @ np.linalg.inv(kernel)
    return inputs.reshape(size, SIZE, SIZE, 3).astype("float32"), target


def test_unit_correlations_and_smoothing_recover_a_planted_structure(tmp_path):
    model, conv, kernel = planted_model()
    pool, target = planted_pool(model, conv, kernel, 20000)
    images = np.zeros((100, SIZE, SIZE, 3), "float32")
    sigma = analysis.unit_correlations(model, "planted", images, pool, samples=100,
                                       batch_size=64, verbose=False)
    off_diagonal = ~np.eye(len(target), dtype=bool)
    error = np.abs(sigma - target)[off_diagonal]
    # 64 observations with mixing weights 1..0 count as 5/9 * 64 = 35.6 (sum w^2)^2 / sum w^4;
    # the pool's own sampling error adds 1 / len(pool)
    standard_error = np.sqrt(1 / (5 / 9 * 64) / 100 + 1 / len(pool))
    assert error.max() < 5 * standard_error and error.mean() < standard_error
    similarity = keras.ops.convert_to_numpy(corr.kernel_similarity(conv.kernel))
    observed_k = np.unique(np.round(similarity[off_diagonal[:MAPS, :MAPS]], 6))
    observed_d = np.array([0.0, 1.0, np.sqrt(2.0), 2.0, 3.0])
    smoothed = analysis.smooth_correlation(sigma, conv, bandwidth=(0.01, 0.001),
                                           distances=observed_d, similarities=observed_k,
                                           path=tmp_path / "g.png")
    expected = corr.target_correlation(observed_d[:, None], observed_k[None], **PLANTED)
    np.testing.assert_allclose(smoothed.values, expected, atol=0.03)
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"


def test_smoothing_the_target_gives_eq_2_14_and_the_summary():
    model, conv, _ = planted_model()
    target = analysis.target_unit_correlations(conv, **PLANTED)
    smoothed = analysis.smooth_correlation(target, conv, bandwidth=(0.01, 0.001),
                                           distances=[1.0, 2.0], similarities=[1.0])
    np.testing.assert_allclose(smoothed.values[:, 0],
                               corr.target_correlation(np.array([1.0, 2.0]), 1.0, **PLANTED),
                               rtol=1e-5)
    off_diagonal = target[~np.eye(len(target), dtype=bool)]
    assert smoothed.summary == pytest.approx({
        "max": off_diagonal.max(), "min": off_diagonal.min(), "mean": off_diagonal.mean(),
        "std": off_diagonal.std()}, rel=1e-5)
    wide = analysis.smooth_correlation(target, conv, bandwidth=100.0, grid_size=5)
    np.testing.assert_allclose(wide.values, off_diagonal.mean(), rtol=1e-3)


def test_pearson_correlation_marks_constant_units():
    rng = np.random.default_rng(0)
    constant = np.float32(0.3) + rng.normal(size=50).astype("float32") * 1e-8  # rounding noise
    observations = np.column_stack([rng.normal(size=50), constant, rng.normal(size=50)])
    correlation = analysis.correlations.pearson_correlation(observations)
    assert np.all(np.isnan(correlation[1])) and np.all(np.isnan(correlation[:, 1]))
    np.testing.assert_allclose(correlation[np.ix_([0, 2], [0, 2])],
                               np.corrcoef(observations[:, [0, 2]], rowvar=False))


def test_mixup_mixes_inputs_and_labels_with_one_beta_weight():
    labels = np.eye(4, dtype="float32")[np.arange(32) % 4]
    weights = []
    for seed in range(200):
        mixed_x, mixed_y = analysis.mixup(labels, labels, alpha=0.4, seed=seed)
        mixed_x, mixed_y = keras.ops.convert_to_numpy(mixed_x), keras.ops.convert_to_numpy(mixed_y)
        np.testing.assert_allclose(mixed_x, mixed_y)
        np.testing.assert_allclose(mixed_y.sum(1), 1.0, rtol=1e-6)
        weights.append(np.sort(mixed_y, axis=1)[:, -1].min())
    weights = np.array(weights)  # max(lambda, 1 - lambda) of a Beta(0.4, 0.4) lambda
    expected_mean = 0.5 + 0.5 * np.mean(np.abs(2 * np.random.default_rng(0).beta(
        0.4, 0.4, 200000) - 1))
    assert abs(weights.mean() - expected_mean) < 5 * weights.std() / np.sqrt(len(weights))


def small_network(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu"),
                             keras.layers.Dense(2, activation="softmax")])


def test_manifold_mixup_mixes_the_hidden_activations():
    network = small_network()
    trainer = analysis.ManifoldMixup(network, mix_layers=(0, 1))
    x = np.random.default_rng(0).normal(size=(6, 2)).astype("float32")
    partner = np.array([3, 4, 5, 0, 1, 2])
    hidden = network.layers[0](x)
    expected = network.layers[1](0.3 * hidden + 0.7 * keras.ops.take(hidden, partner, axis=0))
    np.testing.assert_allclose(trainer.mixed_forward(x, 0.3, partner, 1), expected, rtol=1e-5)
    np.testing.assert_allclose(trainer.mixed_forward(x, 0.3, partner, 0),
                               network(0.3 * x + 0.7 * x[partner]), rtol=1e-5)


def test_manifold_mixup_trains_the_wrapped_network():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(512, 2)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int32")
    network = small_network(1)
    before = network.get_weights()
    trainer = analysis.ManifoldMixup(network, mix_layers=(0, 1), alpha=2.0, seed=0)
    trainer.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    trainer.fit(x, y, epochs=15, batch_size=64, verbose=0)
    assert not np.allclose(before[0], network.get_weights()[0])
    accuracy = np.mean(network.predict(x, verbose=0).argmax(1) == y)
    assert accuracy > 0.95


def test_manifold_mixup_validates_its_arguments():
    with pytest.raises(ValueError, match="`mix_layers`"):
        analysis.ManifoldMixup(small_network(), mix_layers=(5,))
    with pytest.raises(ValueError, match="`network`"):
        analysis.ManifoldMixup(keras.layers.Dense(2))
    with pytest.raises(ValueError, match="`alpha`"):
        analysis.mixup(np.ones((2, 2)), np.ones((2, 2)), alpha=0.0)


def test_mixup_with_an_integer_seed_draws_anew_each_call_and_repeats_across_runs(monkeypatch):
    """Issue 10: `mixup(x, y, seed=0)` gave every batch the same lambda and permutation."""
    mixup_module = importlib.import_module("kerasbio.analysis.mixup")
    x = np.arange(16, dtype="float32").reshape(16, 1)
    y = np.eye(16, dtype="float32")
    monkeypatch.setattr(mixup_module, "_SEED_GENERATORS", {})
    first = [keras.ops.convert_to_numpy(analysis.mixup(x, y, seed=123)[0]) for _ in range(3)]
    assert not np.allclose(first[0], first[1]) and not np.allclose(first[1], first[2])
    monkeypatch.setattr(mixup_module, "_SEED_GENERATORS", {})  # a new run
    again = [keras.ops.convert_to_numpy(analysis.mixup(x, y, seed=123)[0]) for _ in range(3)]
    np.testing.assert_array_equal(np.stack(first), np.stack(again))
