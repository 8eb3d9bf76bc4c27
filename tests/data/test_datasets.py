"""`kerasbio.data.load` (digits and TFDS through `tfds.testing.mock_data`, never downloading) and
the preprocessing helpers."""

import time
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from kerasbio.data import (
    class_disjoint_split,
    class_subset,
    corruptions,
    fit_images,
    global_contrast_normalize,
    load,
    standardize_channels,
)


def test_digits_splits_are_disjoint_float_images_in_unit_range():
    splits = {split: load("digits", split=split) for split in ("train", "validation", "test")}
    assert [len(splits[s][1]) for s in ("train", "validation", "test")] == [1137, 300, 360]
    for x, y in splits.values():
        assert x.dtype == np.float32 and x.shape[1:] == (8, 8, 1)
        assert x.min() == 0.0 and x.max() == 1.0
        assert y.dtype == np.int32 and set(np.unique(y)) == set(range(10))
    rows = [x.reshape(len(x), -1) for x, _ in splits.values()]
    everything = np.unique(np.concatenate(rows), axis=0)
    assert len(everything) >= sum(len(r) for r in rows) - 20  # a few duplicate digits exist
    full_train, _ = load("digits", validation=0)
    np.testing.assert_array_equal(full_train, np.concatenate([splits["train"][0],
                                                              splits["validation"][0]]))


def test_digits_padded_and_resized():
    x, _ = load("digits", split="test")
    padded, _ = load("digits", split="test", shape=(28, 28, 1), fit="pad")
    np.testing.assert_array_equal(padded[:, 10:18, 10:18], x)
    assert padded.sum() == pytest.approx(x.sum(), rel=1e-6)
    rgb, _ = load("digits", split="test", shape=(32, 32, 3))
    assert rgb.shape == (360, 32, 32, 3) and rgb.min() >= 0 and rgb.max() <= 1
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])
    np.testing.assert_allclose(rgb.mean(axis=(1, 2, 3)), x.mean(axis=(1, 2, 3)), atol=0.02)
    direct = fit_images(x, (28, 28, 1), fit="pad")
    assert isinstance(direct, np.ndarray)
    np.testing.assert_array_equal(direct, padded)
    with pytest.raises(ValueError, match="fit='resize'"):
        fit_images(rgb, (16, 16, 3), fit="pad")


def test_digits_as_dataset_matches_arrays():
    dataset = load("digits", split="test", shape=(16, 16, 3), as_dataset=True)
    assert dataset.element_spec[0].shape == (16, 16, 3)
    assert dataset.element_spec[0].dtype == tf.float32
    x, y = load("digits", split="test", shape=(16, 16, 3))
    first_x, first_y = next(iter(dataset))
    np.testing.assert_allclose(first_x.numpy(), x[0])
    assert int(first_y) == y[0]


@pytest.fixture
def mocked_tfds():
    """TFDS returns random examples in memory; the data count as prepared."""
    with tfds.testing.mock_data(num_examples=30), \
            mock.patch.object(tfds.core.DatasetBuilder, "is_prepared", return_value=True):
        yield


def test_tfds_mnist_through_mock_data(mocked_tfds, tmp_path):
    x, y = load("mnist", split="train", data_dir=str(tmp_path), validation=10)
    assert x.shape == (20, 28, 28, 1) and x.dtype == np.float32
    assert 0 <= x.min() and x.max() <= 1 and x.max() > 0.9  # scaled from uint8, not clipped
    assert y.dtype == np.int32 and 0 <= y.min() and y.max() <= 9
    x_val, _ = load("mnist", split="validation", data_dir=str(tmp_path), validation=10)
    full, _ = load("mnist", split="train", data_dir=str(tmp_path), validation=0)
    np.testing.assert_array_equal(np.concatenate([x, x_val]), full)  # the last 10 are held out
    x_test, _ = load("mnist", split="test", data_dir=str(tmp_path), shape=(32, 32, 3))
    assert x_test.shape == (30, 32, 32, 3)


def test_tfds_cifar10_corrupted_through_mock_data(mocked_tfds, tmp_path):
    dataset = load("cifar10_corrupted/gaussian_noise_5", split="test", data_dir=str(tmp_path),
                   as_dataset=True)
    images, labels = next(iter(dataset.batch(30)))
    assert images.shape == (30, 32, 32, 3) and images.dtype == tf.float32
    assert labels.dtype == tf.int32
    with pytest.raises(ValueError, match="only has a test split"):
        load("cifar10_corrupted/gaussian_noise_5", split="train", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="`validation`"):
        load("mnist", split="train", data_dir=str(tmp_path), validation=30)


@pytest.mark.parametrize("name", ["mnist", "cifar10_corrupted/contrast_3",
                                  "cifar10_corrupted/frosted_glass_blur_5"])
def test_missing_tfds_data_fails_fast_with_instructions(tmp_path, name):
    data_dir = str(tmp_path / "empty")
    with mock.patch.object(tfds.core.DatasetBuilder, "download_and_prepare",
                           side_effect=AssertionError("must not download")):
        start = time.perf_counter()
        with pytest.raises(FileNotFoundError) as error:
            load(name, data_dir=data_dir, split="test")
        # No network wait: a download attempt would take minutes, not seconds.
        assert time.perf_counter() - start < 10.0
    message = str(error.value)
    assert repr(name) in message and data_dir in message and "tfds build" in message
    assert "digits" in message


def test_every_cifar10_c_corruption_is_a_tfds_config_with_the_missing_data_error(tmp_path):
    for corruption in corruptions():
        name = f"cifar10_corrupted/{corruption}_1"
        with pytest.raises(FileNotFoundError, match="tfds build"):
            load(name, data_dir=str(tmp_path), split="test")


def test_unknown_name_and_split():
    with pytest.raises(ValueError, match="`name`"):
        load("imagenet")
    with pytest.raises(ValueError, match="`split`"):
        load("digits", split="val")


def test_standardize_channels_uses_reference_statistics():
    rng = np.random.default_rng(0)
    train = rng.normal([0.2, 0.5, 0.8], [0.1, 0.2, 0.3], (200, 4, 4, 3))
    standardized = standardize_channels(train)
    np.testing.assert_allclose(standardized.mean(axis=(0, 1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(standardized.std(axis=(0, 1, 2)), 1, atol=1e-5)
    test = train[:10] + 1.0
    np.testing.assert_allclose(standardize_channels(test, reference=train),
                               standardized[:10] + 1.0 / train.std(axis=(0, 1, 2)), atol=1e-4)


def test_global_contrast_normalization_per_image():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (20, 8, 8, 3)) * rng.uniform(0.1, 2, (20, 1, 1, 1))
    normalized = global_contrast_normalize(x, scale=55.0)
    np.testing.assert_allclose(normalized.mean(axis=(1, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(np.sqrt((normalized ** 2).mean(axis=(1, 2, 3))), 55.0, rtol=1e-5)
    np.testing.assert_allclose(global_contrast_normalize(3 * x + 2), global_contrast_normalize(x),
                               atol=1e-5)


def test_class_subset_takes_classes_and_examples_per_class():
    y = np.repeat(np.arange(10), 50)
    x = np.arange(500)[:, None]
    xs, ys = class_subset(x, y, n_classes=3, examples_per_class=20, seed=0)
    np.testing.assert_array_equal(np.bincount(ys), [20, 20, 20])
    np.testing.assert_array_equal(y[xs[:, 0]], ys)
    assert len(np.unique(xs)) == 60
    again, _ = class_subset(x, y, n_classes=3, examples_per_class=20, seed=0)
    np.testing.assert_array_equal(again, xs)
    with pytest.raises(ValueError, match="examples_per_class"):
        class_subset(x, y, n_classes=2, examples_per_class=51)


def test_class_disjoint_split_shares_no_class():
    y = np.repeat(np.arange(10), 5)
    x = np.arange(50)[:, None]
    (x_in, y_in), (x_out, y_out) = class_disjoint_split(x, y, classes=[2, 7, 9])
    assert set(y[x_in[:, 0]]) == {2, 7, 9} and set(y[x_out[:, 0]]) == set(range(10)) - {2, 7, 9}
    np.testing.assert_array_equal(np.unique(y_in), [0, 1, 2])
    np.testing.assert_array_equal(np.unique(y_out), np.arange(7))
    np.testing.assert_array_equal(y_in, np.searchsorted([2, 7, 9], y[x_in[:, 0]]))
    (_, kept), _ = class_disjoint_split(x, y, classes=[2, 7, 9], relabel=False)
    np.testing.assert_array_equal(kept, y[x_in[:, 0]])


@pytest.mark.parametrize("kwargs, argument", [
    ({"shape": (28, 28)}, "shape"), ({"shape": (28, 28, 2)}, "shape"),
    ({"shape": (28.0, 28, 1)}, "shape"), ({"validation": 0.1}, "validation"),
    ({"validation": -1}, "validation"), ({"as_dataset": "yes"}, "as_dataset"),
])
def test_load_validates_its_arguments_up_front(kwargs, argument):
    """Issue 10: `shape=(28, 28)` failed inside a tf.data trace; `validation=0.1` meant 0."""
    with pytest.raises(ValueError, match=f"`{argument}`"):
        load("digits", **kwargs)


def test_download_without_network_fails_within_seconds(tmp_path, monkeypatch):
    """Issue 10: offline, `download=True` took 204 s to fail."""
    from kerasbio.data import datasets

    monkeypatch.setattr(datasets, "network_reachable", lambda host: False)
    for key in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(key, raising=False)
    start = time.perf_counter()
    with pytest.raises(ConnectionError, match="not reachable"):
        load("mnist", data_dir=str(tmp_path), download=True)
    assert time.perf_counter() - start < 10


def test_an_unresolvable_host_is_unreachable_within_the_timeout():
    from kerasbio.data.datasets import network_reachable

    start = time.perf_counter()
    assert not network_reachable("kerasbio-offline-check.invalid", timeout=1.0)
    assert time.perf_counter() - start < 3
