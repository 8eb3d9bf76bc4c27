"""Data of the RDL study: teacher and student sets per protocol, the RDM image sets, and the
brain-targets file (`kerasbio study rdl --targets FILE.npz`)."""

import collections

import numpy as np

import kerasbio
from kerasbio._core.validation import validate_array

SHOWN_PER_CLASS = 10  # Fig. 3: 10 test images of each of (at most) 10 classes
SHOWN_CLASSES = 10
BOOTSTRAP_SAMPLES = 20  # Figs. 4 and 6: 20 samples of 100 test images
BOOTSTRAP_SIZE = 100
RDM_SEED = 0
DIGITS_SPLIT_SEED = 0
DIGITS_TEACHER_CLASSES = (0, 1, 2, 3, 4)
DIGITS_TEACHER_TEST = 0.2
RDM_PREFIX = "rdm_"

TransferData = collections.namedtuple("TransferData", [
    "teacher_train", "teacher_test", "student_train", "student_test", "teacher_classes",
    "student_classes", "shared_task", "targets", "shown", "samples"])


def transfer_data(settings):
    """The `TransferData` of a run: the protocol's sets (with `settings.extra["targets"]`, the
    stimuli of the targets file as the student's training set), and the RDM image sets."""
    load = {"data_dir": settings.data_dir}
    if settings.dataset == "digits":
        sets = _digits_sets(settings.extra["per_class"], settings.extra["shape"])
    elif settings.dataset == "mnist":
        sets = _mnist_sets(load)
    else:
        sets = _cifar_sets(load)
    teacher_train, teacher_test, student_train, student_test, shared = sets
    targets = None
    if settings.extra.get("targets"):
        targets = load_targets(settings.extra["targets"], student_test[0].shape[1:],
                               int(student_test[1].max()) + 1)
        student_train = (targets["images"], targets["labels"])
        targets = targets["rdms"]
    shown, samples = rdm_image_sets(*student_test)
    return TransferData(teacher_train, teacher_test, student_train, student_test,
                        int(teacher_train[1].max()) + 1, int(student_test[1].max()) + 1, shared,
                        targets, shown, samples)


def _digits_sets(per_class, shape):
    """Teacher: digits 0-4 (80% train, 20% test). Students: `per_class` images of each of 5-9
    (relabelled 0-4) for training, all the other 5-9 images for testing."""
    parts = [kerasbio.data.load("digits", split, validation=0, shape=tuple(shape))
             for split in ("train", "test")]
    x, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    (x_teacher, y_teacher), (x_student, y_student) = kerasbio.data.class_disjoint_split(
        x, y, DIGITS_TEACHER_CLASSES)
    rng = np.random.default_rng(DIGITS_SPLIT_SEED)
    cut = int(round(len(x_teacher) * (1 - DIGITS_TEACHER_TEST)))
    train = np.concatenate([rng.choice(np.flatnonzero(y_student == label), per_class,
                                       replace=False) for label in np.unique(y_student)])
    test = np.setdiff1d(np.arange(len(y_student)), train)
    return ((x_teacher[:cut], y_teacher[:cut]), (x_teacher[cut:], y_teacher[cut:]),
            (x_student[train], y_student[train]), (x_student[test], y_student[test]), False)


def _mnist_sets(load):
    """Teacher: the first half of the 50,000 training images; students: the second half; both
    tested on MNIST's test set (same task)."""
    x, y = kerasbio.data.load("mnist", "train", **load)
    test = kerasbio.data.load("mnist", "test", **load)
    half = len(x) // 2
    return (x[:half], y[:half]), test, (x[half:], y[half:]), test, True


def _cifar_sets(load):
    """Teacher: CIFAR-10; students: CIFAR-100; global contrast normalization."""
    def normalized(name, split):
        x, y = kerasbio.data.load(name, split, **load)
        return kerasbio.data.global_contrast_normalize(x), y

    return (normalized("cifar10", "train"), normalized("cifar10", "test"),
            normalized("cifar100", "train"), normalized("cifar100", "test"), False)


def rdm_image_sets(x, y):
    """The images whose RDMs every trial stores: `shown`, 10 per class of the first 10
    classes ordered by class (Fig. 3), and `samples`, 20 random sets of 100 images (Figs. 4
    and 6; fewer images when the test set is smaller). Fixed by `RDM_SEED`."""
    rng = np.random.default_rng(RDM_SEED)
    shown = np.concatenate([rng.choice(np.flatnonzero(y == label),
                                       min(SHOWN_PER_CLASS, int(np.sum(y == label))),
                                       replace=False)
                            for label in np.unique(y)[:SHOWN_CLASSES]])
    size = min(BOOTSTRAP_SIZE, len(x))
    samples = np.stack([rng.choice(len(x), size, replace=False)
                        for _ in range(BOOTSTRAP_SAMPLES)])
    return (x[shown], y[shown]), (x[samples], y[samples])


def load_targets(path, image_shape, classes):
    """Read and check a brain-targets file for RDL toward fixed RDMs.

    Format (`numpy.savez`): `images`, float `(N, height, width, channels)` in [0, 1], the
    stimuli in the order of the RDMs' rows (they become the students' training set, with the
    data set's image shape); `labels`, int `(N,)`, their classes (`0 .. classes - 1`); and one
    `rdm_<layer>` per student layer to constrain (e.g. `rdm_pool2`, `rdm_act_fc1`), a symmetric
    `(N, N)` RDM with a zero diagonal and non-negative entries, NaN for missing cells. RDL
    matches the student's `"mse"` RDM (squared distance / features) to it.

    Returns:
        `{"images", "labels", "rdms": {layer: (N, N) float32}}`.
    """
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"Cannot read the targets file {path!r} as a .npz archive "
                         f"({error}).") from None
    with archive:
        contents = {key: archive[key] for key in archive.files}
    missing = [key for key in ("images", "labels") if key not in contents]
    rdms = {key[len(RDM_PREFIX):]: value for key, value in contents.items()
            if key.startswith(RDM_PREFIX)}
    if missing or not rdms:
        raise ValueError(
            f"The targets file {path!r} must hold `images`, `labels` and at least one "
            f"`rdm_<layer>` array. Missing: {missing + ([] if rdms else ['rdm_<layer>'])}; "
            f"found: {sorted(contents)}")
    images = _checked_images(contents["images"], image_shape, path)
    labels = _checked_labels(contents["labels"], len(images), classes, path)
    return {"images": images, "labels": labels,
            "rdms": {layer: _checked_rdm(rdm, len(images), layer, path)
                     for layer, rdm in rdms.items()}}


def _checked_images(images, image_shape, path):
    images = validate_array("images", images, min_ndim=4).astype("float32")
    if images.shape[1:] != tuple(image_shape):
        raise ValueError(f"The targets file {path!r}: `images` must have shape (N, "
                         f"{', '.join(str(n) for n in image_shape)}) for this data set. "
                         f"Received: {images.shape}")
    if images.min() < 0 or images.max() > 1:
        raise ValueError(f"The targets file {path!r}: `images` must lie in [0, 1]. Received "
                         f"values from {images.min():.3g} to {images.max():.3g}")
    return images


def _checked_labels(labels, count, classes, path):
    labels = validate_array("labels", labels, ndim=1)
    if len(labels) != count or np.any(labels != np.round(labels)) or labels.min() < 0 or \
            labels.max() >= classes:
        raise ValueError(f"The targets file {path!r}: `labels` must hold {count} integer "
                         f"classes in 0..{classes - 1}. Received shape {labels.shape}, values "
                         f"{np.unique(labels)[:5]}...")
    return labels.astype("int32")


def _checked_rdm(rdm, count, layer, path):
    rdm = validate_array(f"rdm_{layer}", rdm, ndim=2, allow_nonfinite=True).astype("float32")
    where = f"The targets file {path!r}: `rdm_{layer}`"
    if rdm.shape != (count, count):
        raise ValueError(f"{where} must be ({count}, {count}), one row per image. Received: "
                         f"{rdm.shape}")
    if np.any(np.isinf(rdm)):
        raise ValueError(f"{where} holds inf values; use NaN for missing cells.")
    present = ~np.isnan(rdm)
    if np.any(rdm[present] < 0) or np.any(np.diagonal(rdm)[present.diagonal()] != 0):
        raise ValueError(f"{where} must be non-negative with a zero diagonal.")
    if not np.allclose(np.where(present, rdm, 0), np.where(present, rdm, 0).T, equal_nan=True) \
            or not np.array_equal(present, present.T):
        raise ValueError(f"{where} must be symmetric.")
    return rdm
