"""Representational distance learning on scikit-learn's digits (McClure & Kriegeskorte 2016).

A teacher CNN learns digits 0-4; a student CNN learns digits 5-9 from few examples, alone
(baseline) and with RDL pulling its pooling and FC RDMs toward the teacher's on the same
images; deep supervision, FitNets hints and fine-tuning from the teacher are the other
baselines of the paper. Prints the students' test errors and the McNemar table, and saves
RDM and MDS figures.

    python examples/rdl_digits.py [output_dir] [--per-class 15] [--epochs 60]
"""

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import kerasbio  # noqa: E402
from kerasbio import rsa  # noqa: E402
from kerasbio.rsa import baselines, plots  # noqa: E402

LAYERS = ("pool1", "pool2", "fc")  # RDL after both pooling layers and the FC layer (sec. 3.1)


def cnn(name, seed):
    """The paper's MNIST CNN (Table 1), scaled to 8x8 digits."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
        keras.layers.MaxPooling2D(2, name="pool1"),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
        keras.layers.MaxPooling2D(2, name="pool2"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(64, activation="relu", name="fc"),
        keras.layers.Dropout(0.5, name="dropout"),
        keras.layers.Dense(5, activation="softmax", name="out")], name=name)


def load_splits(per_class, seed=0):
    """Teacher: all digits 0-4. Student: `per_class` training images of each of 5-9, rest test."""
    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    y = digits.target
    rng = np.random.default_rng(seed)
    teacher = y < 5
    student_train = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in range(5, 10)])
    student_test = np.setdiff1d(np.flatnonzero(~teacher), student_train)
    return ((x[teacher], y[teacher]), (x[student_train], y[student_train] - 5),
            (x[student_test], y[student_test] - 5))


def fit(model, x, y, epochs, callbacks=()):
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, batch_size=25, epochs=epochs, verbose=0, callbacks=list(callbacks))
    return model


def train_students(teacher, train, epochs, alpha):
    """The students of the paper's comparison, each trained on the same few images."""
    x, y = train
    students = {"baseline": fit(cnn("baseline", 1), x, y, epochs)}
    rdl_student = cnn("rdl", 1)
    fit(rsa.RDL(rdl_student, teacher, layers={name: name for name in LAYERS}, alpha=alpha,
                pair_fraction=0.2, seed=0),
        x, y, epochs, callbacks=[kerasbio.callbacks.AlphaDecay(alpha, epochs)])
    students["RDL"] = rdl_student
    fit(baselines.DeepSupervision(supervised := cnn("deep_supervision", 1), ["pool1", "pool2"],
                                  classes=5, alpha=0.3),
        x, y, epochs, callbacks=[kerasbio.callbacks.DeepSupervisionDecay(0.3, epochs)])
    students["deep supervision"] = supervised
    hinted = cnn("hints", 1)
    baselines.train_hints(hinted, teacher, "pool2", "pool2", x, epochs=epochs // 2,
                          batch_size=25, verbose=0)
    students["hints"] = fit(hinted, x, y, epochs)
    finetuned = cnn("finetuning", 1)
    baselines.transfer_weights(teacher, finetuned)
    students["finetuning"] = fit(finetuned, x, y, epochs)
    return students


def rdm_extractor(model, layers=LAYERS):
    """A function from images to the Euclidean RDMs of `layers` of `model`."""
    features = keras.Model(model.inputs[0], [model.get_layer(n).output for n in layers])
    return lambda x: [rsa.rdm(f, "euclidean").numpy() for f in features(x, training=False)]


def save_figures(output, teacher, students, test, seed=0):
    """RDMs of 10 test images per class (paper's Fig. 3) and an MDS map of RDMs (Fig. 4)."""
    x, y = test
    rng = np.random.default_rng(seed)
    shown = np.concatenate([rng.choice(np.flatnonzero(y == c), 10, replace=False)
                            for c in range(5)])
    models = {"teacher": teacher, "baseline": students["baseline"], "RDL": students["RDL"]}
    extractors = {name: rdm_extractor(model) for name, model in models.items()}
    for name, extract in extractors.items():
        plots.plot_rdm(extract(x[shown])[-1], labels=y[shown] + 5,
                       title=f"{name}: FC layer RDM (euclidean)", path=output / f"rdm_{name}.png")
    plots.plot_rdm(rsa.rdm(x[shown], "euclidean"), labels=y[shown] + 5, title="pixels RDM",
                   path=output / "rdm_pixels.png")
    samples = []  # 20 bootstrap samples of 100 test images, as the paper's Fig. 4
    for _ in range(20):
        subset = rng.choice(len(x), 100, replace=False)
        rdms = [rsa.rdm(x[subset], "euclidean").numpy()]
        for extract in extractors.values():
            rdms += extract(x[subset])
        samples.append(rdms)
    names = ["pixels"] + [f"{m} {layer}" for m in models for layer in LAYERS]
    groups = ["pixels"] + [m for m in models for _ in LAYERS]
    plots.plot_mds(rsa.mds(np.array(samples)), names, groups=groups,
                   title="MDS of RDMs (correlation distance)", path=output / "mds.png")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/rdl_digits", help="output directory")
    parser.add_argument("--per-class", type=int, default=15, help="student training images")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--alpha", type=float, default=1.0, help="initial RDL weight")
    args = parser.parse_args()
    output = Path(args.out)
    output.mkdir(parents=True, exist_ok=True)

    teacher_data, train, test = load_splits(args.per_class)
    print(f"teacher: {len(teacher_data[0])} images of 0-4; student: {len(train[0])} training, "
          f"{len(test[0])} test images of 5-9")
    teacher = fit(cnn("teacher", 0), *teacher_data, epochs=30)
    students = train_students(teacher, train, args.epochs, args.alpha)
    predictions = {name: model.predict(test[0], verbose=0).argmax(-1)
                   for name, model in students.items()}
    for name, predicted in predictions.items():
        print(f"student error, {name:>16}: {100 * np.mean(predicted != test[1]):5.1f} %")
    result = kerasbio.stats.mcnemar(test[1], predictions["baseline"], predictions["RDL"])
    print(f"McNemar exact test, baseline vs RDL: p = {result.pvalue:.3g}")
    print(kerasbio.stats.mcnemar_table(test[1], predictions).to_string())
    save_figures(output, teacher, students, test)
    print(f"figures saved in {output}/")


if __name__ == "__main__":
    main()
