"""Structured dropout (Dutta ch. 4) on scikit-learn's digits: CorrDrop against DropBlock and others.

Trains the same small CNN with no dropout, SpatialDropout2D, SimilarMapDropout (the thesis'
SpatialDropoutMod), DropBlock2D, CorrDrop and DropBlockRandom (`CorrDrop(selection="random")`)
after both convolutions, the rates ramped from 0 by `RateSchedule` over the first half of
training (Ghiasi et al.). Reports clean test accuracy and the mean accuracy over the CIFAR-10-C
corruptions (severity 5) that apply to grey images, as the thesis' Tables 4.1-4.5, averaged over
`--repeats` runs (error bars: +-1 sd); writes `results.csv`, `summary.md` and `accuracy.png` to the output directory.
Usage: python examples/corrdrop_digits.py [--out DIR] [--epochs 30] [--rate 0.15] [--repeats 2]
"""

import argparse
import pathlib

import keras
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

import kerasbio
from kerasbio.data import corrupt, corruptions, load

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


def plot(curves, table, repeats, path):
    """Validation curves, and clean vs corrupted test accuracy with +-1 sd over the repeats."""
    figure = Figure(figsize=(12, 4.5))
    left, right = figure.subplots(1, 2)
    for name, curve in curves.items():
        left.plot(np.arange(1, len(curve) + 1), curve, label=name)
    left.set(xlabel="epoch", ylabel="validation accuracy", ylim=(0, 1),
             title=f"training on digits (mean of {repeats} runs)")
    left.legend(fontsize=8, loc="lower right")
    positions = np.arange(len(table))
    for offset, column, label in [(-0.2, "test accuracy", "clean test"),
                                  (0.2, "corruption accuracy", f"corrupted (mean of "
                                                               f"{len(GREY_CORRUPTIONS)})")]:
        right.bar(positions + offset, table[column], 0.4, yerr=table[f"{column} sd"], capsize=3,
                  label=label)
    right.set_xticks(positions, table["variant"], rotation=30, ha="right")
    right.set(ylabel="accuracy", ylim=(0, 1),
              title=f"digits test set, CIFAR-10-C-style corruptions at severity {SEVERITY}")
    right.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.32), ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/corrdrop_digits", help="output directory")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--rate", type=float, default=0.15)
    parser.add_argument("--repeats", type=int, default=3, help="runs per variant (error bars)")
    args = parser.parse_args()
    output = pathlib.Path(args.out)
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
        scores = pd.DataFrame([score for _, score in runs])
        per_run_corrupted = scores[GREY_CORRUPTIONS].mean(axis=1)
        rows.append({"variant": name, "test accuracy": scores["test accuracy"].mean(),
                     "test accuracy sd": scores["test accuracy"].std(ddof=1),
                     "corruption accuracy": per_run_corrupted.mean(),
                     "corruption accuracy sd": per_run_corrupted.std(ddof=1),
                     **scores.mean()})
    table = pd.DataFrame(rows).round(4)
    table.to_csv(output / "results.csv", index=False)
    summary = table[["variant", "test accuracy", "corruption accuracy"]].to_string(index=False)
    (output / "summary.md").write_text(
        f"# Structured dropout on digits\n\nrate {args.rate} (ramped), block {BLOCK}, "
        f"{args.epochs} epochs, mean of {args.repeats} runs; corruption accuracy: mean over "
        f"{len(GREY_CORRUPTIONS)} CIFAR-10-C corruptions at severity {SEVERITY}.\n\n"
        f"```\n{summary}\n```\n")
    plot(curves, table, args.repeats, output / "accuracy.png")
    print(summary)
    print(f"results in {output}/")


if __name__ == "__main__":
    main()
