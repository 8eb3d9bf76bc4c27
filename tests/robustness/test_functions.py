"""Hostile input for kerasbio's functions (stats, rsa, metrics, mc, export, data, mixup).

Each row: a call and its documented outcome, either `raises(type, fragment)` (a clear error
naming the problem) or a check function on the result. The folder's conftest gives every test
a timeout, so a hang fails instead of stalling the run.
"""

import numpy as np
import pytest

import keras
import tensorflow as tf

import kerasbio
from kerasbio import data, metrics, rsa, stats
from kerasbio.analysis import mixup

RNG = np.random.default_rng(0)
LABELS = np.array([0, 1, 2, 1, 0, 2])
PROBABILITIES = RNG.dirichlet(np.ones(3), size=6)
IMAGES = RNG.uniform(0, 1, (3, 8, 8, 3)).astype("float32")
UINT8_IMAGES = RNG.integers(0, 256, (3, 8, 8, 3)).astype("uint8")
FEATURES = RNG.normal(size=(5, 7))
NAN = float("nan")
INF = float("inf")


def raises(error, fragment):
    return ("raises", error, fragment)


def warns(fragment, check):
    return ("warns", UserWarning, fragment, check)


def with_nan(array, index=(0, 0)):
    array = np.array(array, dtype="float64")
    array[index] = np.nan
    return array


def is_uint8_image_batch(result):
    assert result.dtype == np.uint8 and result.shape == UINT8_IMAGES.shape
    assert result.max() > 1


def nan_only_in_row_and_column_zero(result):
    result = keras.ops.convert_to_numpy(result)
    assert np.isnan(result[0, 1:]).all() and np.isnan(result[1:, 0]).all()
    assert result[0, 0] == 0 and not np.isnan(result[1:, 1:]).any()


def is_nan(result):
    assert np.isnan(result)


def check_outcome(call, outcome):
    """A `raises(...)` outcome must be raised; a check must not fail (nor return False)."""
    if isinstance(outcome, tuple) and outcome[0] == "raises":
        _, error, fragment = outcome
        with pytest.raises(error, match=fragment):
            call()
    elif isinstance(outcome, tuple):
        _, warning, fragment, check = outcome
        with pytest.warns(warning, match=fragment):
            result = call()
        assert check(result) is not False
    else:
        assert outcome(call()) is not False


STATS = [
    pytest.param(lambda: stats.mcnemar(LABELS, with_nan(LABELS, 2), LABELS),
                 raises(ValueError, "finite"), id="mcnemar-nan-predictions"),
    pytest.param(lambda: stats.mcnemar(LABELS, LABELS[:4], LABELS),
                 raises(ValueError, "one prediction per example"), id="mcnemar-length"),
    pytest.param(lambda: stats.mcnemar(LABELS, np.zeros((6, 1)) + 3.0, LABELS),
                 raises(ValueError, "sigmoid"), id="mcnemar-binary-logits"),
    pytest.param(lambda: stats.mcnemar(LABELS, np.zeros((6, 2, 2)), LABELS),
                 raises(ValueError, "rank 1 or 2"), id="mcnemar-rank-3"),
    pytest.param(lambda: stats.mcnemar(np.array([]), np.array([]), np.array([])),
                 raises(ValueError, "non-empty"), id="mcnemar-empty"),
    pytest.param(lambda: stats.mcnemar(None, LABELS, LABELS),
                 raises(ValueError, "`y_true`"), id="mcnemar-none"),
    pytest.param(lambda: stats.mcnemar(LABELS + 0.5, LABELS, LABELS),
                 raises(ValueError, "integer class labels"), id="mcnemar-float-labels"),
    pytest.param(lambda: stats.mcnemar(LABELS, LABELS, LABELS, exact="yes"),
                 raises(ValueError, "`exact`"), id="mcnemar-exact-str"),
    pytest.param(lambda: stats.mcnemar(LABELS[:1], LABELS[:1], LABELS[:1]),
                 lambda result: result.pvalue == 1.0, id="mcnemar-size-1"),
    pytest.param(lambda: stats.mcnemar_table(LABELS, {"a": LABELS}),
                 raises(ValueError, "`predictions`"), id="table-one-model"),
    pytest.param(lambda: stats.mcnemar_table(LABELS, {"a": LABELS, "b": LABELS},
                                             significance=NAN),
                 raises(ValueError, "`significance`"), id="table-significance-nan"),
    pytest.param(lambda: stats.discordant_counts(LABELS, "abc", LABELS),
                 raises(ValueError, "`pred_a`"), id="discordant-str"),
]

RSA = [
    pytest.param(lambda: rsa.rdm(with_nan(FEATURES)), nan_only_in_row_and_column_zero,
                 id="rdm-nan-features"),
    pytest.param(lambda: rsa.rdm(with_nan(FEATURES) * 0 + np.r_[INF, np.ones(6)][None]),
                 lambda result: np.isnan(keras.ops.convert_to_numpy(result)[0, 1]),
                 id="rdm-inf-features"),
    pytest.param(lambda: rsa.rdm(np.vstack([np.ones(7), FEATURES[1:]]), "correlation"),
                 nan_only_in_row_and_column_zero, id="rdm-constant-row-correlation"),
    pytest.param(lambda: rsa.rdm(np.vstack([np.zeros(7), FEATURES[1:]]), "cosine"),
                 nan_only_in_row_and_column_zero, id="rdm-zero-row-cosine"),
    pytest.param(lambda: rsa.rdm(FEATURES, "manhattan"), raises(ValueError, "`metric`"),
                 id="rdm-bad-metric"),
    pytest.param(lambda: rsa.rdm(FEATURES, batch_dims=1.5), raises(ValueError, "`batch_dims`"),
                 id="rdm-batch-dims-float"),
    pytest.param(lambda: rsa.rdm(np.array(["a", "b"])), raises(ValueError, "`features`"),
                 id="rdm-strings"),
    pytest.param(lambda: rsa.rdm(np.arange(3.0)),
                 lambda result: np.array_equal(keras.ops.convert_to_numpy(result),
                                               np.abs(np.subtract.outer(range(3), range(3)))),
                 id="rdm-rank-1-scalar-features"),
    pytest.param(lambda: rsa.rdm(np.float64(2.0)), raises(ValueError, "rank"),
                 id="rdm-scalar"),
    pytest.param(lambda: rsa.rdm(FEATURES[:1]),
                 lambda result: np.array_equal(keras.ops.convert_to_numpy(result), [[0.0]]),
                 id="rdm-one-input"),
    pytest.param(lambda: rsa.rdm(np.zeros((0, 4))),
                 lambda result: keras.ops.convert_to_numpy(result).shape == (0, 0),
                 id="rdm-no-inputs"),
    pytest.param(lambda: rsa.rdm(UINT8_IMAGES),
                 lambda result: keras.ops.convert_to_numpy(result).shape == (3, 3),
                 id="rdm-uint8"),
    pytest.param(lambda: rsa.compare(np.ones((3, 4)), np.ones((3, 4))),
                 raises(ValueError, "form='triangles'"), id="compare-non-square"),
    pytest.param(lambda: rsa.compare(np.ones(6), np.ones(10)),
                 raises(ValueError, "different numbers of pairs"), id="compare-sizes"),
    pytest.param(lambda: rsa.compare(np.r_[1.0, INF, 2.0], np.r_[1.0, 2.0, 3.0]),
                 raises(ValueError, "inf"), id="compare-inf"),
    pytest.param(lambda: rsa.compare(np.r_[1.0, NAN, 2.0, 3.0], np.r_[1.0, 2.0, 3.0, 5.0]),
                 lambda result: abs(result - np.corrcoef([1, 2, 3], [1, 3, 5])[0, 1]) < 1e-12,
                 id="compare-nan-cell-left-out"),
    pytest.param(lambda: rsa.compare(np.full(6, 2.0), np.arange(6.0)), is_nan,
                 id="compare-constant-pearson"),
    pytest.param(lambda: rsa.compare(np.ones(6), np.ones(6), form="vectors"),
                 raises(ValueError, "`form`"), id="compare-bad-form"),
    pytest.param(lambda: rsa.compare(None, np.ones(6)), raises(ValueError, "`rdm_a`"),
                 id="compare-none"),
    pytest.param(lambda: rsa.compare(np.ones((2, 2, 2, 2)), np.ones(1)),
                 raises(ValueError, "rank 1 or 2 or 3"), id="compare-rank-4"),
    pytest.param(lambda: rsa.upper_triangle(np.ones((3, 4))), raises(ValueError, "square"),
                 id="upper-triangle-non-square"),
    pytest.param(lambda: rsa.mds(RNG.uniform(size=(3, 4, 4)), n_components=5),
                 raises(ValueError, "`n_components`"), id="mds-too-many-components"),
    pytest.param(lambda: rsa.mds(np.ones((4, 4))), raises(ValueError, "`rdms`"),
                 id="mds-single-rdm"),
    pytest.param(lambda: rsa.classical_mds(np.array([[0.0, 1.0], [2.0, 0.0]])),
                 raises(ValueError, "symmetric"), id="classical-mds-asymmetric"),
    pytest.param(lambda: rsa.classical_mds(with_nan(np.zeros((3, 3)))),
                 raises(ValueError, "finite"), id="classical-mds-nan"),
]

METRICS = [
    pytest.param(lambda: metrics.expected_calibration_error(LABELS, np.log(PROBABILITIES)),
                 raises(ValueError, "softmax"), id="ece-logits"),
    pytest.param(lambda: metrics.expected_calibration_error(LABELS, with_nan(PROBABILITIES)),
                 raises(ValueError, "NaN"), id="ece-nan"),
    pytest.param(lambda: metrics.expected_calibration_error(LABELS[:5], PROBABILITIES),
                 raises(ValueError, "same examples"), id="ece-length"),
    pytest.param(lambda: metrics.expected_calibration_error(LABELS, PROBABILITIES, bins=2.5),
                 raises(ValueError, "`bins`"), id="ece-bins-float"),
    pytest.param(lambda: metrics.expected_calibration_error(LABELS, PROBABILITIES, bins=0),
                 raises(ValueError, "`bins`"), id="ece-bins-zero"),
    pytest.param(lambda: metrics.expected_calibration_error(
        np.eye(3)[LABELS], PROBABILITIES),
        lambda result: result == metrics.expected_calibration_error(LABELS, PROBABILITIES),
        id="ece-one-hot"),
    pytest.param(lambda: metrics.calibration_mse(LABELS, PROBABILITIES[:, :1] * 0 + 2),
                 raises(ValueError, "softmax"), id="calibration-mse-binary-out-of-range"),
    pytest.param(lambda: metrics.calibration_curve(LABELS, PROBABILITIES, kind="x"),
                 raises(ValueError, "`kind`"), id="curve-kind"),
    pytest.param(lambda: metrics.negative_log_likelihood(LABELS, PROBABILITIES.astype(int)),
                 raises(ValueError, "sums over the classes"), id="nll-int-probabilities"),
    pytest.param(lambda: metrics.negative_log_likelihood(LABELS + 3, PROBABILITIES),
                 raises(ValueError, "class indices"), id="nll-label-range"),
    pytest.param(lambda: metrics.negative_log_likelihood(
        np.array([1]), np.array([[1.0, 0.0]], "float32")),
        lambda result: abs(result + np.log(np.finfo("float32").eps)) < 1e-5,
        id="nll-size-1-clipped-at-float32-eps"),
    pytest.param(lambda: metrics.brier_score(LABELS, np.zeros((0, 3))),
                 raises(ValueError, "non-empty"), id="brier-empty"),
    pytest.param(lambda: metrics.brier_score(LABELS, PROBABILITIES[None]),
                 raises(ValueError, "rank 2"), id="brier-rank-3"),
    pytest.param(lambda: metrics.predictive_entropy(np.array([[0.5, 0.7]])),
                 raises(ValueError, "sums"), id="entropy-not-normalised"),
    pytest.param(lambda: metrics.predictive_entropy(np.array([[1.0]])),
                 raises(ValueError, "at least 2 classes"), id="entropy-one-unit"),
    pytest.param(lambda: metrics.mutual_information(np.full((2, 3, 2), NAN)),
                 raises(ValueError, "NaN"), id="mi-nan"),
    pytest.param(lambda: metrics.ExpectedCalibrationError(bins=True),
                 raises(ValueError, "`bins`"), id="ece-metric-bins-bool"),
]

DATA = [
    pytest.param(lambda: data.salt_and_pepper(UINT8_IMAGES, 0.2, seed=0), is_uint8_image_batch,
                 id="salt-and-pepper-uint8"),
    pytest.param(lambda: data.uniform_noise(UINT8_IMAGES, 0.2, seed=0), is_uint8_image_batch,
                 id="uniform-noise-uint8"),
    pytest.param(lambda: data.gaussian_noise(UINT8_IMAGES, 0.1, seed=0), is_uint8_image_batch,
                 id="gaussian-noise-uint8"),
    pytest.param(lambda: data.occlude(UINT8_IMAGES, "central", fill=1.0), is_uint8_image_batch,
                 id="occlude-uint8"),
    pytest.param(lambda: data.fit_images(UINT8_IMAGES, (4, 4, 3)),
                 lambda result: result.dtype == np.uint8 and result.max() > 1,
                 id="fit-images-uint8"),
    pytest.param(lambda: data.salt_and_pepper(with_nan(IMAGES, (0, 0, 0, 0)), 0.1),
                 raises(ValueError, "finite"), id="salt-and-pepper-nan"),
    pytest.param(lambda: data.salt_and_pepper(IMAGES, NAN), raises(ValueError, "`p`"),
                 id="salt-and-pepper-p-nan"),
    pytest.param(lambda: data.gaussian_noise(IMAGES, INF), raises(ValueError, "`stddev`"),
                 id="gaussian-noise-inf"),
    pytest.param(lambda: data.gaussian_noise(IMAGES * 255, 0.1),
                 raises(ValueError, r"in \[0, 1\]"), id="gaussian-noise-0-255-floats"),
    pytest.param(lambda: data.uniform_noise(IMAGES.astype("int32"), 0.1),
                 raises(ValueError, "uint8"), id="uniform-noise-int32"),
    pytest.param(lambda: data.uniform_noise(IMAGES[0, 0], 0.1), raises(ValueError, "rank 3 or 4"),
                 id="uniform-noise-rank-2"),
    pytest.param(lambda: data.uniform_noise(IMAGES[..., :2], 0.1),
                 raises(ValueError, "channels"), id="uniform-noise-2-channels"),
    pytest.param(lambda: data.uniform_noise(IMAGES[:0], 0.1), raises(ValueError, "non-empty"),
                 id="uniform-noise-empty"),
    pytest.param(lambda: data.uniform_noise(IMAGES[:1], 0.1, seed=0).shape,
                 lambda shape: shape == (1, 8, 8, 3), id="uniform-noise-size-1"),
    pytest.param(lambda: data.uniform_noise(None, 0.1), raises(ValueError, "`x`"),
                 id="uniform-noise-none"),
    pytest.param(lambda: data.reduce_contrast(IMAGES, "0.5"), raises(ValueError, "`contrast`"),
                 id="reduce-contrast-str"),
    pytest.param(lambda: data.corrupt(IMAGES, "gaussian_noise", 2.5),
                 raises(ValueError, "`severity`"), id="corrupt-severity-float"),
    pytest.param(lambda: data.corrupt(IMAGES, "gaussian_noise", True),
                 raises(ValueError, "`severity`"), id="corrupt-severity-bool"),
    pytest.param(lambda: data.corrupt(IMAGES, "rain", 1), raises(ValueError, "`name`"),
                 id="corrupt-unknown"),
    *[pytest.param(lambda name=name: data.corrupt(UINT8_IMAGES, name, 5, seed=0),
                   is_uint8_image_batch, id=f"corrupt-{name}-uint8")
      for name in data.corruptions() if name != "frost"],  # frost: its picture rows below
    pytest.param(lambda: data.corrupt(with_nan(IMAGES, (0, 0, 0, 0)), "fog", 1),
                 raises(ValueError, "finite"), id="corrupt-fog-nan"),
    pytest.param(lambda: data.corrupt(IMAGES[:0], "motion_blur", 1),
                 raises(ValueError, "non-empty"), id="corrupt-motion-blur-empty"),
    pytest.param(lambda: data.corrupt(IMAGES, "frost", 1, frost_dir="/no/such/frost/dir"),
                 raises(ValueError, "frost directory .* does not exist"),
                 id="corrupt-frost-missing-dir"),
    pytest.param(lambda: data.corrupt(IMAGES, "frost", 1, frost_dir=1.5),
                 raises(ValueError, "`frost_dir`"), id="corrupt-frost-dir-float"),
    pytest.param(lambda: data.corrupt(IMAGES[:, :2, :2], "elastic", 3),
                 raises(ValueError, "at least 3x3"), id="corrupt-elastic-2x2"),
    pytest.param(lambda: data.corrupt(IMAGES[..., :2], "spatter", 1),
                 raises(ValueError, "grey .* or RGB"), id="corrupt-spatter-2-channels"),
    pytest.param(lambda: data.corrupt(IMAGES[:, :1, :1], "fog", 5, seed=0).shape,
                 lambda shape: shape == (3, 1, 1, 3), id="corrupt-fog-1x1"),
    pytest.param(lambda: data.corrupt(IMAGES[:, :1, :1], "frosted_glass_blur", 5, seed=0).shape,
                 lambda shape: shape == (3, 1, 1, 3), id="corrupt-glass-1x1"),
    pytest.param(lambda: data.occlude(IMAGES, "central", fill=NAN), raises(ValueError, "`fill`"),
                 id="occlude-fill-nan"),
    pytest.param(lambda: data.occlusion_mask(8.5, 8, "central"), raises(ValueError, "`height`"),
                 id="occlusion-mask-float"),
    pytest.param(lambda: data.load("digits", validation=0.1),
                 raises(ValueError, "`validation`"), id="load-validation-float"),
    pytest.param(lambda: data.load("digits", shape=(28, 28)), raises(ValueError, "`shape`"),
                 id="load-shape-rank-2"),
    pytest.param(lambda: data.load(None), raises(ValueError, "`name`"), id="load-name-none"),
    pytest.param(lambda: data.load("imagenet"), raises(ValueError, "`name`"),
                 id="load-unknown-name"),
    pytest.param(lambda: data.load("digits", download="false"),
                 raises(ValueError, "`download`"), id="load-download-str"),
    pytest.param(lambda: data.fit_images(IMAGES, (4, 4, 3), fit="crop"),
                 raises(ValueError, "`fit`"), id="fit-images-bad-fit"),
    pytest.param(lambda: data.standardize_channels(with_nan(IMAGES, (0, 0, 0, 0))),
                 raises(ValueError, "finite"), id="standardize-nan"),
    pytest.param(lambda: data.global_contrast_normalize(IMAGES, epsilon=0.0),
                 raises(ValueError, "`epsilon`"), id="gcn-epsilon-zero"),
    pytest.param(lambda: data.class_subset(IMAGES, np.array([0, 1, 1.5])),
                 raises(ValueError, "integer class labels"), id="class-subset-float-labels"),
    pytest.param(lambda: data.class_subset(IMAGES, np.array([0, 1])),
                 raises(ValueError, "same examples"), id="class-subset-length"),
    pytest.param(lambda: data.class_subset(IMAGES, np.array([0, 1, 1]), examples_per_class=0),
                 raises(ValueError, "`examples_per_class`"), id="class-subset-zero"),
    pytest.param(lambda: data.class_disjoint_split(IMAGES, np.array([0, 1, 2]), [0],
                                                   relabel="no"),
                 raises(ValueError, "`relabel`"), id="disjoint-relabel-str"),
    pytest.param(lambda: data.randomize_labels(LABELS, fraction=NAN),
                 raises(ValueError, "`fraction`"), id="randomize-fraction-nan"),
    pytest.param(lambda: data.randomize_labels(LABELS, seed=1.5), raises(ValueError, "`seed`"),
                 id="randomize-seed-float"),
    pytest.param(lambda: data.permute_labels(-LABELS - 1), raises(ValueError, "non-negative"),
                 id="permute-negative-labels"),
    pytest.param(lambda: data.gaussian_pixels(UINT8_IMAGES, n=2, seed=0),
                 lambda result: result.dtype == np.uint8 and result.shape == (2, 8, 8, 3),
                 id="gaussian-pixels-uint8"),
    pytest.param(lambda: data.gaussian_pixels(IMAGES, n=0), raises(ValueError, "`n`"),
                 id="gaussian-pixels-zero"),
    pytest.param(lambda: data.shuffled_pixels(UINT8_IMAGES, seed=0),
                 lambda result: result.dtype == np.uint8 and np.array_equal(
                     np.sort(result.ravel()), np.sort(UINT8_IMAGES.ravel())),
                 id="shuffled-pixels-uint8"),
    pytest.param(lambda: data.random_pixels(IMAGES[0]), raises(ValueError, "rank 4"),
                 id="random-pixels-rank-3"),
]

MIXUP = [
    pytest.param(lambda: mixup(IMAGES, np.eye(3), alpha=NAN), raises(ValueError, "`alpha`"),
                 id="mixup-alpha-nan"),
    pytest.param(lambda: mixup(IMAGES, np.eye(2)), raises(ValueError, "same size"),
                 id="mixup-batch-mismatch"),
    pytest.param(lambda: mixup(IMAGES, np.eye(3), seed=2.5), raises(ValueError, "`seed`"),
                 id="mixup-seed-float"),
    pytest.param(lambda: mixup(UINT8_IMAGES, np.eye(3), seed=0)[0],
                 lambda result: keras.backend.is_float_dtype(result.dtype),
                 id="mixup-uint8-cast-to-float"),
    pytest.param(lambda: mixup(IMAGES[:1], np.eye(3)[:1], seed=0)[0],
                 lambda result: np.allclose(keras.ops.convert_to_numpy(result), IMAGES[:1]),
                 id="mixup-size-1-is-identity"),
]


@pytest.mark.parametrize("call, outcome", STATS + RSA + METRICS + DATA + MIXUP)
def test_function(call, outcome):
    check_outcome(call, outcome)


def sampling_classifier(units=3, activation="softmax"):
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((4,)), kerasbio.layers.BernoulliDropout(0.5),
                             keras.layers.Dense(units, activation=activation)])


X = RNG.normal(size=(5, 4)).astype("float32")


def mean_and_stddev_only(result):
    assert result.predictive_entropy is None and result.mutual_information is None
    assert np.all(np.isfinite(result.mean)) and np.all(result.stddev >= 0)


MC = [
    pytest.param(lambda m: kerasbio.mc_predict(m, with_nan(X), verbose=0),
                 raises(ValueError, "finite"), id="mc-nan-input"),
    pytest.param(lambda m: kerasbio.mc_predict(m, X[:0], verbose=0),
                 raises(ValueError, "non-empty"), id="mc-empty"),
    pytest.param(lambda m: kerasbio.mc_predict(m, None, verbose=0), raises(ValueError, "`x`"),
                 id="mc-none"),
    pytest.param(lambda m: kerasbio.mc_predict(m, X, samples=2.7, verbose=0),
                 raises(ValueError, "`samples`"), id="mc-samples-float"),
    pytest.param(lambda m: kerasbio.mc_predict(m, X, samples=0, verbose=0),
                 raises(ValueError, "`samples`"), id="mc-samples-zero"),
    pytest.param(lambda m: kerasbio.mc_predict(m, X, batch_size=0, verbose=0),
                 raises(ValueError, "`batch_size`"), id="mc-batch-size-zero"),
    pytest.param(lambda m: kerasbio.mc_predict(m, X, max_batch=NAN, verbose=0),
                 raises(ValueError, "`max_batch`"), id="mc-max-batch-nan"),
    pytest.param(lambda m: kerasbio.mc_predict(m, X, from_logits="true", verbose=0),
                 raises(ValueError, "`from_logits`"), id="mc-from-logits-str"),
    pytest.param(lambda m: kerasbio.mc_predict(m, X, verbose=3),
                 raises(ValueError, "`verbose`"), id="mc-verbose-3"),
    pytest.param(lambda m: kerasbio.mc_predict(m, X[:1], samples=1, verbose=0),
                 lambda result: result.mean.shape == (1, 3) and np.all(result.stddev == 0),
                 id="mc-size-1-one-draw"),
    pytest.param(lambda m: kerasbio.mc_predict("model", X, verbose=0),
                 raises(ValueError, "`model`"), id="mc-model-str"),
    pytest.param(lambda m: kerasbio.mc_predict(sampling_classifier(1, None), X, verbose=0),
                 warns("not probabilities", mean_and_stddev_only), id="mc-regression-output"),
    pytest.param(lambda m: kerasbio.mc_predict(sampling_classifier(1, None), X,
                                               from_logits=True, verbose=0),
                 raises(ValueError, "2 or more units"), id="mc-one-unit-logits"),
    pytest.param(lambda m: kerasbio.mc_predict(sampling_classifier(3, None), X, verbose=0),
                 warns("not probabilities", mean_and_stddev_only),
                 id="mc-logits-without-from-logits"),
    pytest.param(lambda m: kerasbio.mc_predict(m, tf.data.Dataset.from_tensor_slices(X).batch(2),
                                               verbose=0),
                 lambda result: result.mean.shape == (5, 3), id="mc-dataset"),
    pytest.param(lambda m: kerasbio.mc_predict(m, tf.data.Dataset.from_tensor_slices(X).take(0)
                                               .batch(2), verbose=0),
                 raises(ValueError, "at least one example"), id="mc-empty-dataset"),
    pytest.param(lambda m: kerasbio.mc_predict(m, (X[i:i + 1] for i in range(5)), verbose=0),
                 lambda result: result.mean.shape == (5, 3), id="mc-generator"),
    pytest.param(lambda m: kerasbio.mc_predict(m, X.astype("uint8"), verbose=0),
                 lambda result: result.mean.shape == (5, 3), id="mc-uint8-input"),
    pytest.param(lambda m: kerasbio.mc_sampling(m, enabled="false").__enter__(),
                 raises(ValueError, "`enabled`"), id="mc-sampling-enabled-str"),
    pytest.param(lambda m: kerasbio.mc_sampling(None).__enter__(),
                 raises(ValueError, "`model`"), id="mc-sampling-none"),
]


@pytest.mark.parametrize("call, outcome", MC)
def test_mc(call, outcome):
    check_outcome(lambda: call(sampling_classifier()), outcome)


@pytest.mark.parametrize("kwargs, outcome", [
    pytest.param({"samples": 2.7}, raises(ValueError, "`samples`"), id="export-samples-float"),
    pytest.param({"samples": NAN}, raises(ValueError, "`samples`"), id="export-samples-nan"),
    pytest.param({"from_logits": None}, raises(ValueError, "`from_logits`"),
                 id="export-from-logits-none"),
    pytest.param({"input_signature": "x"}, raises(ValueError, "`input_signature`"),
                 id="export-signature-str"),
    pytest.param({"model": None}, raises(ValueError, "`model`"), id="export-model-none"),
])
def test_export(tmp_path, kwargs, outcome):
    arguments = {"model": sampling_classifier(), "path": tmp_path / "served", "verbose": False,
                 **kwargs}
    check_outcome(lambda: kerasbio.export_saved_model(**arguments), outcome)


def student():
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(3, name="hidden")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(hidden))


@pytest.mark.parametrize("kwargs, outcome", [
    pytest.param({"alpha": NAN}, raises(ValueError, "`alpha`"), id="rdl-alpha-nan"),
    pytest.param({"pair_fraction": 0.0}, raises(ValueError, "`pair_fraction`"),
                 id="rdl-pair-fraction-zero"),
    pytest.param({"pairs": 2.5}, raises(ValueError, "`pairs`"), id="rdl-pairs-float"),
    pytest.param({"seed": "1"}, raises(ValueError, "`seed`"), id="rdl-seed-str"),
    pytest.param({"metric": "l1"}, raises(ValueError, "`metric`"), id="rdl-metric"),
    pytest.param({"targets": {"hidden": np.ones((3, 4))}}, raises(ValueError, "square"),
                 id="rdl-target-not-square"),
    pytest.param({"targets": {"hidden": np.full((3, 3), INF)}}, raises(ValueError, "inf"),
                 id="rdl-target-inf"),
    pytest.param({"targets": None}, raises(ValueError, "exactly one source"),
                 id="rdl-no-target"),
])
def test_rdl_constructor(kwargs, outcome):
    arguments = {"targets": {"hidden": np.ones((3, 3)) - np.eye(3)}, **kwargs}
    check_outcome(lambda: rsa.RDL(student(), **arguments), outcome)


def test_rdl_leaves_missing_target_cells_out_of_the_loss():
    target = np.array([[0.0, 1.0, NAN], [1.0, 0.0, 2.0], [NAN, 2.0, 0.0]])
    student_rdm = keras.ops.convert_to_tensor(np.array([[0, 3.0, 9], [3, 0, 2], [9, 2, 0]]))
    mask = keras.ops.triu(keras.ops.ones((3, 3), dtype="float64"), k=1)
    loss = rsa.rdl.rdl_loss(student_rdm, target, mask)
    assert float(loss) == pytest.approx(((3.0 - 1.0) ** 2 + 0.0) / 2)
