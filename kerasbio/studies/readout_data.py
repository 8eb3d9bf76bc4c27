"""Human confidence data of the read-out study, and the synthetic stand-in of its quick mode.

Eberhardt et al. (2016) showed five non-overlapping sets of 300 ImageNet images (150 animal,
150 non-animal) to 50 participants each and scored every image by the fraction of correct
animal/non-animal answers (McClure 2018, 4.2.3). `load_confidence` reads such data from a CSV
with the columns `image`, `set`, `label` and `confidence` (see README, Studies);
`synthetic_confidence` makes the same table for the bundled digits, from simulated observers.
"""

import os

import numpy as np
import pandas as pd

COLUMNS = ("image", "set", "label", "confidence")
SETS = 5
OBSERVERS = 50
OBSERVER_NOISE = 0.4
OBSERVER_SEED = 0


def load_confidence(path, sets=SETS):
    """Read and check a human-confidence CSV: one row per image.

    Columns: `image` (an integer index into the data set's test split, or an image file path,
    relative to the CSV's folder or absolute), `set` (the image set, e.g. 1-5), `label` (the
    class the read-outs learn; integers, or names coded in sorted order) and `confidence` (the
    fraction of observers who classified the image correctly, in [0, 1]).

    Args:
        path: The CSV file.
        sets: The number of image sets expected (leave-one-set-out cross-validation).

    Returns:
        A `pandas.DataFrame` with the four columns (`label` as integer codes, `set` as given)
        and the attribute `attrs["classes"]` listing the label names in code order.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"The confidence file {path!r} does not exist.")
    table = pd.read_csv(path, skipinitialspace=True)
    where = f"The confidence file {path!r}"
    missing = [name for name in COLUMNS if name not in table.columns]
    if missing:
        raise ValueError(f"{where} lacks the column(s) {missing}; expected the columns "
                         f"{list(COLUMNS)}. Found: {list(table.columns)}")
    table = table[list(COLUMNS)]
    if table.empty:
        raise ValueError(f"{where} holds no rows.")
    empty = table.isna().any(axis=1)
    if empty.any():
        rows = (np.flatnonzero(empty) + 2).tolist()[:5]  # file lines: header is line 1
        raise ValueError(f"{where} has empty or NaN values on line(s) {rows}; every image needs "
                         f"an image, a set, a label and a confidence.")
    table["confidence"] = _confidence_values(table["confidence"], where)
    _check_images(table["image"], where)
    _check_sets(table, sets, where)
    codes, classes = pd.factorize(table["label"], sort=True)
    if len(classes) < 2:
        raise ValueError(f"{where} has a single label ({classes[0]!r}); the read-outs need at "
                         f"least two classes.")
    table["label"] = codes.astype("int64")
    table.attrs["classes"] = [str(name) for name in classes]
    table.attrs["directory"] = os.path.dirname(os.path.abspath(path))
    return table.reset_index(drop=True)


def _confidence_values(values, where):
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() | ~np.isfinite(numbers) | (numbers < 0) | (numbers > 1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{where}: `confidence` must be a number in [0, 1] (the fraction of "
                         f"correct answers); line {first + 2} holds {values.iloc[first]!r}.")
    return numbers.astype("float64")


def _check_images(images, where):
    repeated = images[images.duplicated()]
    if len(repeated):
        raise ValueError(f"{where} lists the image {repeated.iloc[0]!r} more than once.")


def _check_sets(table, sets, where):
    counts = table.groupby("set").size()
    if len(counts) != sets:
        raise ValueError(f"{where} has {len(counts)} image set(s) {sorted(counts.index)}; "
                         f"expected {sets} (Eberhardt et al. 2016: five sets of 300 images).")
    for name, part in table.groupby("set"):
        if len(part) < 3 or part["confidence"].nunique() < 2:
            raise ValueError(f"{where}: set {name!r} needs at least 3 images whose confidence "
                             f"varies, for a correlation; it has {len(part)} image(s) and "
                             f"{part['confidence'].nunique()} distinct confidence value(s).")


def confidence_images(table, shape, test_images=None):
    """The images of a confidence table as float32 `(n, *shape)` in [0, 1].

    Integer `image` entries index `test_images` (the data set's test split); others are file
    paths, read with `keras.utils.load_img` and resized to `shape`.
    """
    ids = pd.to_numeric(table["image"], errors="coerce")
    if ids.notna().all() and (ids == ids.round()).all():
        if test_images is None:
            raise ValueError("The confidence table indexes images by number, but no test "
                             "split was given to index.")
        ids = ids.astype("int64").to_numpy()
        if ids.min() < 0 or ids.max() >= len(test_images):
            raise ValueError(f"Image numbers must index the test split (0 to "
                             f"{len(test_images) - 1}); received {ids.min()} to {ids.max()}.")
        return np.asarray(test_images[ids], "float32")
    return np.stack([_image_file(table.attrs.get("directory", "."), str(name), shape)
                     for name in table["image"]])


def _image_file(directory, name, shape):
    import keras

    path = name if os.path.isabs(name) else os.path.join(directory, name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"The image {name!r} of the confidence file is not at {path!r}.")
    image = keras.utils.load_img(path, color_mode="rgb" if shape[-1] == 3 else "grayscale",
                                 target_size=tuple(shape[:2]))
    return keras.utils.img_to_array(image, dtype="float32") / 255.0


def synthetic_confidence(x_reference, y_reference, x, y, sets=SETS, observers=OBSERVERS,
                         noise=OBSERVER_NOISE, seed=OBSERVER_SEED):
    """A stand-in for human confidence: the fraction of simulated observers who are right.

    Each of `observers` observers sees the image with white Gaussian pixel noise (std `noise`,
    a fresh draw per observer and image; like a brief, masked presentation) and answers the
    class whose template, the mean image of that class in `(x_reference, y_reference)`, is
    nearest (Euclidean): the ideal observer for known templates in white noise. An image's
    confidence is the fraction of correct answers, as Eberhardt et al. (2016) scored their 50
    participants. Images are dealt into `sets` sets round-robin within each class. Everything is
    deterministic given `seed`.

    Returns:
        A `pandas.DataFrame` in the CSV's form: `image` (the index into `x`), `set` (1 to
        `sets`), `label`, `confidence`.
    """
    classes = np.unique(y_reference)
    templates = np.stack([x_reference[y_reference == k].reshape(-1, x[0].size).mean(0)
                          for k in classes])
    flat = np.asarray(x, "float64").reshape(len(x), -1)
    rng = np.random.default_rng(seed)
    correct = np.zeros(len(x))
    for _ in range(observers):
        seen = flat + rng.normal(0.0, noise, flat.shape)
        # |seen - template|^2 without the |seen|^2 term, which is the same for every class.
        distances = np.sum(templates ** 2, axis=1) - 2.0 * seen @ templates.T
        correct += classes[np.argmin(distances, axis=1)] == y
    order = np.argsort(y, kind="stable")
    assigned = np.empty(len(x), "int64")
    assigned[order] = np.arange(len(x)) % sets + 1
    return pd.DataFrame({"image": np.arange(len(x)), "set": assigned,
                         "label": np.asarray(y, "int64"), "confidence": correct / observers})
