"""The RDL study: representational distance learning against transfer baselines
(McClure & Kriegeskorte 2016, section 3, Tables 1-5, Figs. 2-6).

A student network learns its task six ways ("conditions"): alone (baseline); the teacher
itself (trained on other data); fine-tuning (initialised with the teacher's weights); deep
supervision (linear softmax read-outs after both pooling layers, alpha decayed as Lee et al.
2014); FitNets hints (pool2 pre-trained to predict the teacher's pool2); and RDL (auxiliary RDM
losses after both pooling layers and the fully connected layer, alpha decayed linearly, a
random subset of pairs per mini-batch). Each trial stores its per-image test predictions (for
the exact McNemar tables) and RDMs of its layers on fixed test images (for Figs. 3, 4 and 6)
in `<out>/search/artefacts/`, beside the teachers (one per seed, trained once).

Protocols (`--dataset`):
- `mnist` (full default): Table 1's CNN, SGD with momentum 0.9, batch 100, 500 pairs per
  batch. The paper's teacher learned 120,000 InfiMNIST images, which are not at hand: here the
  teacher learns the first half of MNIST's 50,000 training images, the students the second
  half (disjoint images, same classes); the paper's numbers are kept as reference only.
- `cifar100`: Table 4's NiN; teacher on CIFAR-10, students on CIFAR-100; global contrast
  normalization, random flips, batch 128, 406 pairs per batch (2.5% of 128^2), learning rate
  halved every 25 epochs.
- `digits` (quick): Table 1's CNN at half width on the bundled digits resized to 28x28; the
  teacher learns digits 0-4, the students digits 5-9 from few images each (the rest is the
  test set), as `examples/rdl_digits.py`.
Our choices where the paper is silent: learning rates, epochs, the alphas, hint epochs.

Brain targets: `targets=FILE.npz` (see `load_targets`) trains RDL toward fixed RDMs over a
stimulus set instead of a teacher; the conditions are then baseline, deep supervision and RDL,
all trained on the stimuli.
"""

import os

import keras
import keras_tuner
import numpy as np

import kerasbio
from kerasbio.studies.base import Settings, Study, StudyHyperModel, check_finite_history
from kerasbio.studies.rdl_data import transfer_data

CONDITIONS = ("baseline", "teacher", "finetuning", "deep_supervision", "hints", "rdl")
TARGET_CONDITIONS = ("baseline", "deep_supervision", "rdl")
RDM_METRIC = "euclidean"  # the RDMs shown and compared (Fig. 3); RDL itself uses "mse"
EVAL_BATCH = 500

MNIST_NET = {"model": "rdl_mnist_cnn", "rdl_layers": ["pool1", "pool2", "act_fc1"],
             "supervised_layers": ["pool1", "pool2"], "hint_layer": "pool2"}
SCHEDULE = {"halve_every": None, "flips": False, "supervision_alpha": 0.3, "seeds": 3}
PROTOCOLS = {
    "mnist": {**MNIST_NET, **SCHEDULE, "shape": None, "width": 1.0, "epochs": 50,
              "teacher_epochs": 50, "hint_epochs": 10, "batch_size": 100, "test_every": 1,
              "learning_rate": 0.01, "pairs": 500, "alpha": 1.0},
    "cifar100": {**SCHEDULE, "model": "nin", "rdl_layers": ["pool1", "pool2", "act_mlpconv3_1"],
                 "supervised_layers": ["pool1", "pool2"], "hint_layer": "pool2", "shape": None,
                 "width": 1.0, "epochs": 150, "teacher_epochs": 150, "hint_epochs": 10,
                 "batch_size": 128, "test_every": 5, "learning_rate": 0.05, "halve_every": 25,
                 "flips": True, "pairs": 406, "alpha": 1.0},
    # Small batches: more RDL steps on the 50 training images (44% of a batch's 45 pairs).
    "digits": {**MNIST_NET, **SCHEDULE, "shape": [28, 28, 1], "width": 0.5, "epochs": 40,
               "teacher_epochs": 10, "hint_epochs": 10, "batch_size": 10, "test_every": 10,
               "learning_rate": 0.01, "pairs": 20, "alpha": 1.0, "per_class": 10},
}


class RDLHyperModel(StudyHyperModel):
    """Builds a student (or the teacher) for a condition; `fit` trains it as the condition says
    and measures it. With a `trial_directory` (set by the study tuner) the teachers and each
    trial's predictions and RDMs are kept beside the trials, in `artefacts/`; an exact McNemar
    test against every condition of the same seed that ran before goes into the metrics."""

    def __init__(self, settings, space):
        super().__init__(settings, space)
        self.protocol = settings.extra
        self.trial_directory = None
        self._teachers = {}
        self._teacher_rdms = (None, None)

    def prepare(self):
        data = self.data()
        if data.targets is not None:
            layers = {layer.name for layer in self.network(data.student_classes).layers}
            unknown = sorted(set(data.targets) - layers)
            if unknown:
                raise ValueError(
                    f"The targets file names layers the {self.protocol['model']} network lacks: "
                    f"{unknown}. Name the keys rdm_<layer> after its layers, e.g. "
                    f"{['rdm_' + name for name in self.protocol['rdl_layers']]}.")

    def load_data(self):
        """The `TransferData` of the settings."""
        return transfer_data(self.settings)

    def network(self, num_classes):
        from kerasbio import models

        return models.ZOO[self.protocol["model"]](
            self.data().student_test[0].shape[1:], num_classes, width=self.protocol["width"])

    def build_model(self, hp):
        data = self.data()
        teacher = self.values(hp)["condition"] == "teacher"
        return self.network(data.teacher_classes if teacher else data.student_classes)

    def train_and_measure(self, hp, model, callbacks, verbose):
        cell = self.values(hp)
        seed, condition = int(cell["seed"]), cell["condition"]
        teacher = None if self.data().targets is not None else self.teacher(seed, verbose)
        if condition == "teacher":
            model = teacher
        else:
            keras.utils.set_random_seed(seed + 1)
            history = self.train_student(condition, model, teacher, seed, callbacks, verbose)
            check_finite_history(history, self.protocol["epochs"])
        return self.measure(model, teacher, condition, seed)

    def teacher(self, seed, verbose=0):
        """The teacher of `seed`: trained on the teacher's data once, then reloaded."""
        if seed in self._teachers:
            return self._teachers[seed]
        path = self.artefact(f"teacher_seed{seed}.keras")
        if path and os.path.exists(path):
            teacher = keras.saving.load_model(path)
        else:
            keras.utils.set_random_seed(seed)
            teacher = self.network(self.data().teacher_classes)
            fit(teacher, self.data().teacher_train, self.protocol,
                self.protocol["teacher_epochs"], seed, verbose=verbose)
            if path:
                teacher.save(path)
        self._teachers = {seed: teacher}
        return teacher

    def artefact(self, name):
        """Path of a stored artefact (`None` without a trial directory)."""
        if self.trial_directory is None:
            return None
        directory = artefact_directory(os.path.dirname(self.trial_directory))
        os.makedirs(directory, exist_ok=True)
        return os.path.join(directory, name)

    def train_student(self, condition, student, teacher, seed, callbacks, verbose):
        """Train `student` on the student's data as `condition` says; return the History."""
        from kerasbio.rsa import RDL, baselines

        protocol, data = self.protocol, self.data()
        epochs, train = protocol["epochs"], data.student_train
        if condition == "finetuning":
            baselines.transfer_weights(teacher, student)
        if condition == "hints":
            baselines.train_hints(student, teacher, protocol["hint_layer"], protocol["hint_layer"],
                                  train[0], epochs=protocol["hint_epochs"],
                                  batch_size=protocol["batch_size"],
                                  optimizer=optimizer(protocol, len(train[0])), verbose=verbose)
        model, schedule = student, []
        if condition == "deep_supervision":
            alpha = protocol["supervision_alpha"]
            model = baselines.DeepSupervision(student, protocol["supervised_layers"],
                                              data.student_classes, alpha=alpha)
            schedule = [kerasbio.callbacks.DeepSupervisionDecay(alpha, epochs)]
        if condition == "rdl":
            alpha = protocol["alpha"]
            sources = ({"targets": data.targets} if data.targets is not None else
                       {"teacher": teacher,
                        "layers": {name: name for name in protocol["rdl_layers"]}})
            model = RDL(student, alpha=alpha, pairs=protocol["pairs"], seed=seed, **sources)
            schedule = [kerasbio.callbacks.AlphaDecay(alpha, epochs)]
        indexed = condition == "rdl" and data.targets is not None
        return fit(model, train, protocol, epochs, seed, [*callbacks, *schedule], verbose,
                   validation=None if indexed else data.student_test, indexed=indexed)

    def measure(self, model, teacher, condition, seed):
        """Test error (on the student's task; the teacher's own task where they differ),
        correlations of its RDMs with the reference's, and McNemar counts."""
        data = self.data()
        own_task = condition == "teacher" and not data.shared_task
        x_test, y_test = data.teacher_test if own_task else data.student_test
        predicted = predict(model, x_test).argmax(-1)
        metrics = {"test_error": float(np.mean(predicted != y_test))}
        rdms = self.store_rdms(model, condition, seed)
        metrics.update(self.reference_correlations(model, teacher, rdms))
        if not own_task:
            metrics.update(self.mcnemar_counts(condition, seed, predicted))
        return metrics

    def store_rdms(self, model, condition, seed):
        """The trial's RDMs (upper triangles) of the study's layers, `shown_<layer>` on the
        Fig. 3 images and `sample_<layer>` on the 20 samples; stored as artefacts, with the
        pixel and label RDMs of the same images (once per run)."""
        data = self.data()
        layers = [*self.protocol["rdl_layers"], "softmax"]
        rdms = image_set_rdms(lambda images, _: layer_rdms(model, layers, images), data)
        path = self.artefact(f"{condition}_seed{seed}_rdms.npz")
        if path:
            np.savez_compressed(path, **rdms)
            inputs = self.artefact(INPUT_RDMS)
            if not os.path.exists(inputs):
                np.savez_compressed(inputs, **image_set_rdms(input_rdms, data),
                                    shown_classes=data.shown[1])
        return rdms

    def reference_correlations(self, model, teacher, rdms):
        """`rdm_r_<layer>`: Pearson correlation of the trial's RDM with the teacher's (mean over
        the 20 test-image samples) or with the target RDM (on the stimuli)."""
        from kerasbio import rsa

        if self.data().targets is None:
            layers = [layer[len(SAMPLES):] for layer in rdms if layer.startswith(SAMPLES)]
            reference = self.teacher_rdms(teacher, layers)
            return {f"rdm_r_{layer}": mean_correlation(rdms[SAMPLES + layer], reference[layer])
                    for layer in layers if layer in reference}
        targets = self.data().targets
        own = layer_rdms(model, list(targets), [self.data().student_train[0]], metric="mse")
        return {f"rdm_r_{layer}": rsa.compare(own[layer][0], rsa.upper_triangle(target))
                for layer, target in targets.items()}

    def teacher_rdms(self, teacher, layers):
        """The teacher's RDMs on the test-image samples (computed once per teacher)."""
        if self._teacher_rdms[0] is not teacher:
            self._teacher_rdms = (teacher, layer_rdms(teacher, layers, self.data().samples[0]))
        return self._teacher_rdms[1]

    def mcnemar_counts(self, condition, seed, predicted):
        """Store this trial's test predictions; for every condition of the same seed whose
        predictions are stored, `right_only_vs_<c>` (examples only this trial classifies
        correctly) and `wrong_only_vs_<c>` (only the other does): the exact McNemar test's
        discordant counts (`kerasbio.stats.mcnemar_from_counts`)."""
        from kerasbio import stats

        path = self.artefact(f"{condition}_seed{seed}_predictions.npy")
        if path is None:
            return {}
        np.save(path, predicted.astype("int32"))
        y_test, metrics = self.data().student_test[1], {}
        for other in CONDITIONS:
            other_path = self.artefact(f"{other}_seed{seed}_predictions.npy")
            if other != condition and os.path.exists(other_path):
                right, wrong = stats.discordant_counts(y_test, predicted, np.load(other_path))
                metrics |= {f"right_only_vs_{other}": right, f"wrong_only_vs_{other}": wrong}
        return metrics


SHOWN, SAMPLES = "shown_", "sample_"
ARTEFACTS = "artefacts"
INPUT_RDMS = "inputs_rdms.npz"


def artefact_directory(project):
    """Where a run's teachers, predictions and RDMs are kept: `<out>/search/artefacts`."""
    return os.path.join(project, ARTEFACTS)


def image_set_rdms(compute, data):
    """`{shown_<name>: (m1,), sample_<name>: (samples, m2)}` from `compute(images, labels)`
    (`(sets, n, ...)` and `(sets, n)`), a function returning `{name: (sets, m)}` triangles."""
    shown = {SHOWN + name: value[0] for name, value in
             compute(data.shown[0][None], data.shown[1][None]).items()}
    return shown | {SAMPLES + name: value for name, value in compute(*data.samples).items()}


def optimizer(protocol, train_size):
    """SGD with momentum 0.9; the learning rate halved every `halve_every` epochs if set."""
    rate = protocol["learning_rate"]
    if protocol["halve_every"]:
        steps = -(-train_size // protocol["batch_size"]) * protocol["halve_every"]
        rate = keras.optimizers.schedules.ExponentialDecay(rate, steps, 0.5, staircase=True)
    return keras.optimizers.SGD(rate, momentum=0.9)


def fit(model, train, protocol, epochs, seed, callbacks=(), verbose=0, validation=None,
        indexed=False):
    """Compile (cross-entropy, SGD) and train `model` on `train`; `indexed` feeds
    `{"x": images, "index": stimulus ids}` (RDL toward fixed RDMs)."""
    model.compile(optimizer(protocol, len(train[0])), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    dataset = batches(train, protocol, seed, indexed)
    if validation is not None:
        validation = (validation[0], validation[1]) if not indexed else None
    return model.fit(dataset, epochs=epochs, callbacks=list(callbacks), verbose=verbose,
                     validation_data=validation, validation_batch_size=EVAL_BATCH,
                     validation_freq=protocol["test_every"])


def batches(train, protocol, seed, indexed=False):
    """Shuffled mini-batches, randomly flipped left-right when the protocol says so."""
    import tensorflow as tf

    x, y = train
    dataset = tf.data.Dataset.from_tensor_slices((x, y, np.arange(len(x), dtype="int32")))
    dataset = dataset.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    if protocol["flips"]:
        dataset = dataset.map(lambda image, label, index: (
            tf.image.random_flip_left_right(image), label, index))
    dataset = dataset.map(lambda image, label, index: (
        {"x": image, "index": index} if indexed else image, label))
    return dataset.batch(protocol["batch_size"]).prefetch(2)


def predict(model, x):
    """Class probabilities at inference, in batches."""
    return np.concatenate([keras.ops.convert_to_numpy(model(x[start:start + EVAL_BATCH],
                                                            training=False))
                           for start in range(0, len(x), EVAL_BATCH)])


def layer_rdms(model, layers, image_sets, metric=RDM_METRIC):
    """`{layer: (sets, m)}` upper triangles of the RDMs of `layers` of `model` on each image
    set (an `(sets, n, ...)` array); the layers `model` lacks are left out."""
    from kerasbio import rsa

    present = [layer for layer in layers if layer in {lay.name for lay in model.layers}]
    image_sets = np.asarray(image_sets)
    sets, size = image_sets.shape[:2]
    flat = image_sets.reshape(sets * size, *image_sets.shape[2:])
    outputs = _features(model, present, flat)
    return {layer: rsa.upper_triangle(rsa.rdm(output.reshape(sets, size, -1), metric,
                                              batch_dims=1)).astype("float32")
            for layer, output in zip(present, outputs)}


def _features(model, layers, images):
    """The outputs of `layers` of `model` on `images` at inference, in batches (numpy)."""
    from kerasbio.rsa.rdl import feature_model

    features = feature_model(model, layers, "model")
    parts = [keras.tree.flatten(features(images[start:start + EVAL_BATCH], training=False))
             for start in range(0, len(images), EVAL_BATCH)]
    return [np.concatenate([keras.ops.convert_to_numpy(part[i]) for part in parts])
            for i in range(len(layers))]


def input_rdms(image_sets, label_sets):
    """`{"pixels": ..., "labels": ...}` upper triangles of the pixel RDMs and of the label RDMs
    (0 within a class, 1 between: the paper's "target" RDM) of each image set."""
    from kerasbio import rsa

    pixels = [rsa.upper_triangle(rsa.rdm(images, RDM_METRIC)) for images in image_sets]
    labels = [rsa.upper_triangle(labels[:, None] != labels[None, :]) for labels in label_sets]
    return {"pixels": np.asarray(pixels, "float32"), "labels": np.asarray(labels, "float32")}


def mean_correlation(rdms, reference):
    """Mean Pearson correlation of matching RDMs (upper triangles, one per image set)."""
    from kerasbio import rsa

    return float(np.nanmean([rsa.compare(a, b) for a, b in zip(rdms, reference)]))


class RDLStudy(Study):
    name = "rdl"
    title = "RDL study: representational distance learning vs transfer baselines"
    paper = ("McClure & Kriegeskorte (2016), Representational distance learning for deep "
             "neural networks, Front. Comput. Neurosci. (Tables 1-5, Figs. 2-6).")
    objective = keras_tuner.Objective("test_error", "min")
    experiments = {1: "teacher-to-student transfer: test errors, exact McNemar tables, RDMs and "
                      "their MDS (MNIST: Tables 1-3, Figs. 2-4; --dataset cifar100: Tables 3-5, "
                      "Figs. 5-6)"}
    progress_metrics = ("test_error",)
    axes = ("experiment", "condition", "seed")
    report_module = "kerasbio.studies.rdl_report"

    def settings(self, quick=False, experiments=None, dataset=None, data_dir=None, epochs=None,
                 seeds=None, targets=None):
        dataset = dataset or ("digits" if quick else "mnist")
        if dataset not in PROTOCOLS:
            raise ValueError(f"The rdl study runs on {sorted(PROTOCOLS)}. Received: "
                             f"dataset={dataset!r}")
        protocol = dict(PROTOCOLS[dataset])
        protocol["epochs"] = epochs or protocol["epochs"]
        protocol["targets"] = None if targets is None else os.path.abspath(targets)
        return Settings(study=self.name, quick=quick, experiments=(1,), dataset=dataset,
                        data_dir=data_dir, epochs=protocol["epochs"],
                        seeds=seeds or protocol["seeds"], batch_size=protocol["batch_size"],
                        extra=protocol)

    def conditions(self, settings):
        return TARGET_CONDITIONS if settings.extra.get("targets") else CONDITIONS

    def cells(self, settings):
        """Seeds outermost, the teacher first: each seed's teacher is trained once."""
        return [{"experiment": 1, "condition": condition, "seed": seed}
                for seed in range(settings.seeds) for condition in self.conditions(settings)]

    def hypermodel(self, settings):
        space = {"experiment": [1], "condition": list(self.conditions(settings)),
                 "seed": list(range(settings.seeds))}
        return RDLHyperModel(settings, space)

    def figures(self, settings, results, histories, directory):
        from kerasbio.studies import rdl_report

        return rdl_report.figures(settings, results, histories, directory)


STUDY = RDLStudy()
