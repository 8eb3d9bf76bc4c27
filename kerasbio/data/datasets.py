"""Data sets as the studies use them: TFDS images (MNIST, CIFAR-10/100, CIFAR-10-C) and digits.

`load` returns float32 images in [0, 1], channels last, with integer labels, either as NumPy
arrays or as a tf.data pipeline. `"digits"` (scikit-learn's bundled 8x8 digits) needs no
download and is the default for examples and tests. The TFDS sets are read only when they are
already prepared in `data_dir`: offline TFDS otherwise retries for minutes before failing.
"""

import os
import socket
import threading

import numpy as np
import tensorflow as tf

from kerasbio._core.validation import (
    invalid_argument,
    validate_array,
    validate_bool,
    validate_choice,
    validate_int,
    validate_range,
)
from kerasbio.data._checks import (
    class_labels,
    matching_examples,
    restore_images,
    seeded_rng,
    unit_images,
)

TFDS_NAMES = ("mnist", "cifar10", "cifar100")
CORRUPTED_PREFIX = "cifar10_corrupted/"
SPLITS = ("train", "validation", "test")
DEFAULT_VALIDATION = {"digits": 300, "mnist": 10000, "cifar10": 10000, "cifar100": 10000}
DIGITS_TEST_SIZE = 360
DIGITS_ORDER_SEED = 0
# Where TFDS downloads from (its GCS mirror); checked before a download, with this timeout.
DOWNLOAD_HOST = "storage.googleapis.com"
NETWORK_TIMEOUT_S = 3.0


def load(name="digits", split="train", data_dir=None, validation=None, shape=None, fit="resize",
         as_dataset=False, download=False):
    """Load a data set as float32 images in [0, 1] (channels last) and integer labels.

    Args:
        name: `"digits"` (scikit-learn's 8x8 digits, no download), `"mnist"`, `"cifar10"`,
            `"cifar100"`, or `"cifar10_corrupted/<corruption>_<severity>"` (CIFAR-10-C, test only).
        split: `"train"`, `"validation"` or `"test"`. The validation split is held out from the
            end of the training split (its last `validation` examples, in TFDS order), as the
            papers hold out 10,000 training images (McClure & Kriegeskorte 2016 for MNIST and
            CIFAR-100, Dutta 2019 for CIFAR-10); `"train"` is the rest. Digits come in a fixed
            shuffled order whose last 360 examples are the test split.
        data_dir: TFDS data directory (default: TFDS' own, `~/tensorflow_datasets` or
            `$TFDS_DATA_DIR`).
        validation: Number of held-out validation examples; default 10,000 for the TFDS sets
            and 300 for digits. `0` keeps the whole training split for `"train"`.
        shape: Optional `(height, width, channels)` to convert the images to (see `fit_images`).
        fit: `"resize"` (bilinear) or `"pad"` (zero padding around the centre), used with `shape`.
        as_dataset: If `True`, return an unbatched `tf.data.Dataset` of `(image, label)`.
        download: If `True`, let TFDS download and prepare a missing data set. Network access
            is checked first (a 3 s connection to TFDS' server; skipped behind an HTTPS proxy),
            so offline it fails at once instead of after minutes of retries.

    Returns:
        `(x, y)` NumPy arrays (`x` float32 of shape `(n, h, w, c)`, `y` int32), or a dataset.
    """
    if not isinstance(name, str):
        raise invalid_argument("name", "a data set name (str)", name)
    validate_choice("split", split, SPLITS)
    validate_choice("fit", fit, ("resize", "pad"))
    shape = None if shape is None else _validate_shape(shape)
    validate_bool("as_dataset", as_dataset)
    validate_bool("download", download)
    if validation is not None:
        validate_int("validation", validation, low=0)
    if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
        raise invalid_argument("data_dir", "a directory path or None", data_dir)
    if name == "digits":
        x, y = _digits_split(split, _validation_size(name, validation))
        dataset = tf.data.Dataset.from_tensor_slices((x, y))
    else:
        dataset = _tfds_split(name, split, data_dir, validation, download)
    dataset = dataset.map(lambda image, label: _prepare(image, label, shape, fit),
                          num_parallel_calls=tf.data.AUTOTUNE)
    if as_dataset:
        return dataset
    return _to_arrays(dataset)


def fit_images(images, shape, fit="resize"):
    """Convert images (`(h, w, c)` or `(n, h, w, c)`) to `shape = (height, width, channels)`.

    Channels: grey to RGB repeats the channel, RGB to grey takes the luminance. Size:
    `"resize"` interpolates bilinearly (with antialiasing when shrinking); `"pad"` centres the
    image on a black canvas (e.g. 8x8 digits in a 28x28 frame, like MNIST's padded digits).
    Float images in [0, 1] give float32; uint8 images give uint8 (rounded).
    """
    validate_choice("fit", fit, ("resize", "pad"))
    shape = _validate_shape(shape)
    images, dtype = unit_images("images", images)
    fitted = _fit_tensor(tf.convert_to_tensor(images, tf.float32), shape, fit).numpy()
    return restore_images(fitted, np.float32 if dtype != np.uint8 else dtype)


def _validate_shape(shape):
    """`(height, width, channels)`: positive integers, 1 or 3 channels; returned as a tuple."""
    expected = "a (height, width, channels) tuple of positive integers with 1 or 3 channels"
    if not isinstance(shape, (tuple, list)) or len(shape) != 3:
        raise invalid_argument("shape", expected, shape)
    try:
        height, width, channels = (validate_int("shape", size, low=1) for size in shape)
    except ValueError:
        raise invalid_argument("shape", expected, shape) from None
    if channels not in (1, 3):
        raise invalid_argument("shape", expected, shape)
    return height, width, channels


def _fit_tensor(images, shape, fit):
    """`fit_images` on a float32 tensor, also inside a tf.data map."""
    height, width, channels = shape
    if images.shape[-1] != channels:
        images = _convert_channels(images, images.shape[-1], channels)
    if fit == "pad":
        old_height, old_width = images.shape[-3], images.shape[-2]
        if old_height > height or old_width > width:
            raise ValueError(
                f"Cannot pad images of size {old_height}x{old_width} to the smaller size "
                f"{height}x{width}. Use fit='resize' instead.")
        return tf.image.pad_to_bounding_box(images, (height - old_height) // 2,
                                            (width - old_width) // 2, height, width)
    return tf.clip_by_value(tf.image.resize(images, (height, width), antialias=True), 0.0, 1.0)


def _convert_channels(images, old, new):
    if (old, new) == (1, 3):
        return tf.image.grayscale_to_rgb(images)
    if (old, new) == (3, 1):
        return tf.image.rgb_to_grayscale(images)
    raise ValueError(f"Cannot convert images with {old} channels to {new} channels; "
                     f"use 1 (grey) or 3 (RGB).")


def _prepare(image, label, shape, fit):
    if image.dtype == tf.uint8:
        image = tf.cast(image, tf.float32) / 255.0
    if shape is not None:
        image = _fit_tensor(image, shape, fit)
    return image, tf.cast(label, tf.int32)


def _to_arrays(dataset):
    xs, ys = [], []
    for x, y in dataset.batch(4096).as_numpy_iterator():
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


def _validation_size(name, validation):
    if validation is None:
        return DEFAULT_VALIDATION.get(name, 0)
    return validate_int("validation", validation, low=0)


def _digits_split(split, validation):
    """Digits in a fixed shuffled order: the last 360 are the test split (20%)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(DIGITS_ORDER_SEED).permutation(len(digits.target))
    x = (digits.images[order] / 16.0).astype(np.float32)[..., None]
    y = digits.target[order].astype(np.int32)
    n_train = len(y) - DIGITS_TEST_SIZE
    if split == "test":
        return x[n_train:], y[n_train:]
    _check_validation_size("digits", validation, n_train, split)
    if split == "validation":
        return x[n_train - validation:n_train], y[n_train - validation:n_train]
    return x[:n_train - validation], y[:n_train - validation]


def _check_validation_size(name, validation, n_train, split):
    if split == "validation" and validation == 0:
        raise ValueError("split='validation' needs validation > 0 held-out examples. "
                         "Received: validation=0")
    if validation >= n_train:
        raise ValueError(
            f"Invalid value received for argument `validation`. Expected fewer than the "
            f"{n_train} training examples of {name!r}. Received: validation={validation}")


def _tfds_split(name, split, data_dir, validation, download):
    builder = tfds_builder(name, data_dir, download)
    if name.startswith(CORRUPTED_PREFIX):
        if split != "test":
            raise ValueError(f"{name!r} (CIFAR-10-C) only has a test split. "
                             f"Received: split={split!r}")
        return builder.as_dataset(split="test", as_supervised=True, shuffle_files=False)
    tfds_split = "test" if split == "test" else "train"
    dataset = builder.as_dataset(split=tfds_split, as_supervised=True, shuffle_files=False)
    if split == "test":
        return dataset
    validation = _validation_size(name, validation)
    n_train = int(dataset.cardinality())
    _check_validation_size(name, validation, n_train, split)
    if split == "validation":
        return dataset.skip(n_train - validation)
    return dataset.take(n_train - validation)


def tfds_builder(name, data_dir=None, download=False):
    """The TFDS builder of `name`, failing at once with instructions if its data are missing.

    Without `download`, this never touches the network: a data set that is not prepared in
    `data_dir` raises a `FileNotFoundError` saying where TFDS looked and how to place the files.
    With `download`, an unreachable network raises a `ConnectionError` within seconds.
    """
    import tensorflow_datasets as tfds

    _check_name(name)
    builder = tfds.builder(name, data_dir=data_dir)
    if not builder.is_prepared():
        if not download:
            raise FileNotFoundError(_missing_message(name, builder))
        if not _behind_proxy() and not network_reachable(DOWNLOAD_HOST):
            raise ConnectionError(
                f"Cannot download {name!r}: the TFDS server {DOWNLOAD_HOST} is not reachable "
                f"(no network?). " + _missing_message(name, builder))
        builder.download_and_prepare()
    return builder


def network_reachable(host, port=443, timeout=NETWORK_TIMEOUT_S):
    """Whether a TCP connection to `host:port` opens within about `timeout` seconds (name
    resolution included: it runs in a thread that is abandoned when it takes too long)."""
    outcome = []

    def connect():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(True)
        except OSError:
            outcome.append(False)

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    return bool(outcome and outcome[0])


def _behind_proxy():
    return any(os.environ.get(key) for key in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY"))


def _check_name(name):
    if name in TFDS_NAMES or name.startswith(CORRUPTED_PREFIX):
        return
    raise ValueError(
        f"Invalid value received for argument `name`. Expected 'digits', "
        f"{', '.join(repr(n) for n in TFDS_NAMES)} or 'cifar10_corrupted/<corruption>_<severity>'"
        f" (e.g. 'cifar10_corrupted/gaussian_noise_3'). Received: name={name!r}")


def _missing_message(name, builder):
    root = os.path.dirname(os.path.dirname(builder.data_dir.rstrip("/")))
    if "/" in name:
        root = os.path.dirname(root)
    return (
        f"The data set {name!r} is not prepared in the TFDS data directory {root!r} "
        f"(looked for {builder.data_dir!r}); kerasbio does not download by default. "
        f"To place it by hand: on a machine with network access run `tfds build {name} "
        f"--data_dir DIR` (or `kerasbio.data.load({name!r}, data_dir=DIR, download=True)`), "
        f"then copy DIR/{builder.data_dir[len(root) + 1:]} to {builder.data_dir!r}. "
        f"Or pass `data_dir=` a directory that already holds it, `download=True` where the "
        f"network is reachable, or use name='digits', which needs no download.")


def standardize_channels(x, reference=None):
    """Per-channel standardization `(x - mean_c) / stddev_c`, statistics from `reference`.

    Compute the statistics on the training images and pass them as `reference` when
    standardizing validation or test images (default: `x` itself). Any numeric images (uint8
    too); returns float32.
    """
    x = validate_array("x", x, min_ndim=2)
    mean, stddev = channel_statistics(x if reference is None else reference)
    if mean.shape != x.shape[-1:]:
        raise ValueError(f"`reference` has {mean.shape[0]} channels and `x` {x.shape[-1]}.")
    return ((x - mean) / np.maximum(stddev, 1e-8)).astype(np.float32)


def channel_statistics(x):
    """Per-channel mean and standard deviation (float64) over all images and pixels of `x`."""
    x = validate_array("x", x, min_ndim=2)
    axes = tuple(range(x.ndim - 1))
    return x.mean(axis=axes, dtype=np.float64), x.std(axis=axes, dtype=np.float64)


def global_contrast_normalize(x, scale=1.0, bias=0.0, epsilon=1e-8):
    """Global contrast normalization per image (Goodfellow et al. 2013), as the RDL CIFAR data.

    `x' = scale * (x - mean(x)) / max(epsilon, sqrt(bias + mean((x - mean(x))^2)))`, with the
    means over all pixels and channels of each image (McClure & Kriegeskorte 2016, section 3.2).
    """
    validate_range("scale", scale)
    validate_range("bias", bias, low=0)
    validate_range("epsilon", epsilon, low=0, low_open=True)
    x = validate_array("x", x, min_ndim=2).astype(np.float64)
    axes = tuple(range(1, x.ndim))
    centred = x - x.mean(axis=axes, keepdims=True)
    norm = np.sqrt(bias + (centred ** 2).mean(axis=axes, keepdims=True))
    return (scale * centred / np.maximum(norm, epsilon)).astype(np.float32)


def class_subset(x, y, n_classes=None, examples_per_class=None, seed=None):
    """The examples of classes `0 .. n_classes - 1`, `examples_per_class` random ones of each.

    Tsvetkov et al. 2020, Experiment 2 (classes 10 to 2, 1000 to 10 examples per class). The
    result is ordered by class; shuffle it (or let `fit` shuffle) before training.
    """
    y = class_labels("y", y)
    x = validate_array("x", x, min_ndim=1)
    matching_examples(x, y)
    n_classes = int(y.max()) + 1 if n_classes is None else validate_int("n_classes", n_classes,
                                                                         low=1)
    if examples_per_class is not None:
        validate_int("examples_per_class", examples_per_class, low=1)
    rng = seeded_rng(seed)
    chosen = []
    for label in range(n_classes):
        members = np.flatnonzero(y == label)
        if examples_per_class is not None:
            if len(members) < examples_per_class:
                raise ValueError(
                    f"Class {label} has only {len(members)} examples; cannot take "
                    f"examples_per_class={examples_per_class}. Use a smaller value.")
            members = np.sort(rng.choice(members, examples_per_class, replace=False))
        chosen.append(members)
    chosen = np.concatenate(chosen)
    return x[chosen], y[chosen]


def class_disjoint_split(x, y, classes, relabel=True):
    """Split into the examples of `classes` and those of all other classes (no shared class).

    For teacher/student transfer on disjoint label sets. With `relabel`, each part's labels
    are renumbered `0 .. k - 1` in increasing order of the original labels.

    Returns:
        `((x_in, y_in), (x_out, y_out))`.
    """
    y = class_labels("y", y)
    x = validate_array("x", x, min_ndim=1)
    matching_examples(x, y)
    classes = class_labels("classes", list(classes) if isinstance(classes, (set, range))
                           else classes)
    validate_bool("relabel", relabel)
    inside = np.isin(y, classes)
    parts = []
    for mask in (inside, ~inside):
        labels = y[mask]
        if relabel:
            labels = np.searchsorted(np.unique(labels), labels).astype(y.dtype)
        parts.append((x[mask], labels))
    return tuple(parts)
