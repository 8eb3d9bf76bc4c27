"""Structured dropout (Dutta ch. 4) on scikit-learn's digits: CorrDrop against DropBlock and others.

Trains the same small CNN with no dropout, SpatialDropout2D, SimilarMapDropout (the thesis'
SpatialDropoutMod), DropBlock2D, CorrDrop and DropBlockRandom (`CorrDrop(selection="random")`)
after both convolutions, the rates ramped from 0 by `RateSchedule` over the first half of
training (Ghiasi et al.). Reports clean test accuracy and the mean accuracy over the CIFAR-10-C
corruptions (severity 5) that apply to grey images, as the thesis' Tables 4.1-4.5, averaged over
`--repeats` runs; writes `results.csv`, `summary.md` and `accuracy.png` to the output directory.
Usage: python examples/corrdrop_digits.py [OUTPUT_DIR] [--epochs 30] [--rate 0.15] [--repeats 2]
"""

import argparse
import pathlib

import keras
import matplotlib
import numpy as np
import pandas as pd

import kerasbio
from kerasbio.data import corrupt, corruptions, load

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SHAPE, BLOCK, SEVERITY = (16, 16, 1), 3, 5
GREY_CORRUPTIONS = [name for name in corruptions() if name != "saturate"]


def variants(rate):
    """Name -> function turning a Conv2D into the layers that replace it."""
    layers = kerasbio.layers
    return {
        "none": lambda conv: [conv],
        "SpatialDropout2D": lambda conv: [conv, layers.SpatialDropout2D(rate)],
        "SimilarMapDropout": lambda conv: [layers.SimilarMapDropout(conv, rate)],
        "DropBlock2D": lambda conv: [conv, layers.DropBlock2D(rate, BLOCK)],
        "CorrDrop": lambda conv: [layers.CorrDrop(conv, rate, BLOCK)],
        "DropBlockRandom": lambda conv: [layers.CorrDrop(conv, rate, BLOCK, selection="random")],
    }


def cnn(with_dropout):
    """Conv(32, 3) -> dropout -> pool -> Conv(64, 3) -> dropout -> pool -> Dense(10)."""
    stack = [keras.Input(SHAPE)]
    for filters in (32, 64):
        stack += with_dropout(keras.layers.Conv2D(filters, 3, padding="same", activation="relu"))
        stack.append(keras.layers.MaxPooling2D())
    stack += [keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    model = keras.Sequential(stack)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def accuracy(model, x, y):
    return float(np.mean(model.predict(x, verbose=0).argmax(-1) == y))


def train_and_score(with_dropout, data, corrupted, epochs):
    """Trains one network; returns its validation accuracy curve and its test scores."""
    (x_train, y_train), validation, (x_test, y_test) = data
    model = cnn(with_dropout)
    has_rate = any(isinstance(getattr(layer, "rate", None), float) for layer in model.layers)
    schedule = [kerasbio.callbacks.RateSchedule(epochs=max(1, epochs // 2))] if has_rate else []
    history = model.fit(x_train, y_train, validation_data=validation, epochs=epochs,
                        batch_size=32, verbose=0, callbacks=schedule)
    scores = {"test accuracy": accuracy(model, x_test, y_test)}
    scores.update({name: accuracy(model, images, y_test) for name, images in corrupted.items()})
    return history.history["val_accuracy"], scores


def plot(curves, table, path):
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name, curve in curves.items():
        left.plot(np.arange(1, len(curve) + 1), curve, label=name)
    left.set(xlabel="epoch", ylabel="validation accuracy", title="training (mean over repeats)")
    left.legend()
    positions = np.arange(len(table))
    right.bar(positions - 0.2, table["test accuracy"], 0.4, label="clean test")
    right.bar(positions + 0.2, table["corruption accuracy"], 0.4, label="corrupted (mean)")
    right.set_xticks(positions, table["variant"], rotation=30, ha="right")
    right.set(ylabel="accuracy", ylim=(0.5, 1.0), title=f"test, CIFAR-10-C severity {SEVERITY}")
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default="results/corrdrop_digits")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--rate", type=float, default=0.15)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    output = pathlib.Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    data = [load("digits", split, shape=SHAPE, fit="pad")
            for split in ("train", "validation", "test")]
    corrupted = {name: corrupt(data[2][0], name, SEVERITY, seed=0) for name in GREY_CORRUPTIONS}
    rows, curves = [], {}
    for name, with_dropout in variants(args.rate).items():
        runs = []
        for repeat in range(args.repeats):
            print(f"training: {name}, run {repeat + 1}/{args.repeats}")
            keras.utils.set_random_seed(repeat)
            runs.append(train_and_score(with_dropout, data, corrupted, args.epochs))
        curves[name] = np.mean([curve for curve, _ in runs], axis=0)
        scores = pd.DataFrame([score for _, score in runs]).mean()
        rows.append({"variant": name, "test accuracy": scores["test accuracy"],
                     "corruption accuracy": scores[GREY_CORRUPTIONS].mean(), **scores})
    table = pd.DataFrame(rows).round(4)
    table.to_csv(output / "results.csv", index=False)
    summary = table[["variant", "test accuracy", "corruption accuracy"]].to_string(index=False)
    (output / "summary.md").write_text(
        f"# Structured dropout on digits\n\nrate {args.rate} (ramped), block {BLOCK}, "
        f"{args.epochs} epochs, mean of {args.repeats} runs; corruption accuracy: mean over "
        f"{len(GREY_CORRUPTIONS)} CIFAR-10-C corruptions at severity {SEVERITY}.\n\n"
        f"```\n{summary}\n```\n")
    plot(curves, table, output / "accuracy.png")
    print(summary)
    print(f"results in {output}/")


if __name__ == "__main__":
    main()
