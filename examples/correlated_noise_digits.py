"""Correlated noise (Dutta ch. 2) and the correlation analysis (ch. 3) on scikit-learn's digits.

Trains the same small CNN four ways: plain, with correlated Gaussian or Poisson noise on its
first convolution (`kerasbio.layers.CorrelatedNoise`), and with manifold mixup. Prints clean and
centrally occluded test accuracy, then estimates each network's first-layer unit correlations
under mixup (`unit_correlations`, Eq. 3.2), smooths them over distance and kernel similarity
(`smooth_correlation`, Eq. 3.6) on one grid of distance and kernel similarity, and writes the
contour plots side by side on one colour scale (`correlations.png`) and a Table 3.2 style
summary of the unit correlations (`summary.csv`, `summary.md`) to the output directory. (On the zero-padded digits, units whose
receptive field holds a single stroke pixel are exactly (anti)correlated, hence max/min of +-1.)
Usage: python examples/correlated_noise_digits.py [--out DIR] [--epochs 20] [--images 30]
"""

import argparse
import pathlib

import keras
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import kerasbio
from kerasbio import analysis

SIZE = 16
GRID = 41
LEVELS = np.linspace(-0.2, 1.0, 13)  # one colour scale for every panel


def digits(seed=0):
    """Digits zero-padded to (n, 16, 16, 1) float32 in [0, 1], split 75/25."""
    data = load_digits()
    images = np.pad(data.images / 16.0, ((0, 0), (4, 4), (4, 4))).astype("float32")[..., None]
    return train_test_split(images, data.target, test_size=0.25, random_state=seed,
                            stratify=data.target)


def occlude(images, size=3):
    """Central occlusion (Dutta 2.4.3): a `size` x `size` square set to 0."""
    start = (SIZE - size) // 2
    occluded = images.copy()
    occluded[:, start:start + size, start:start + size] = 0.0
    return occluded


def cnn(first):
    return keras.Sequential([
        keras.Input((SIZE, SIZE, 1)), first, keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])


def first_conv():
    return keras.layers.Conv2D(16, 3, activation="relu", name="conv1")


def train(name, x, y, epochs):
    """A compiled and trained network; returns (network, first layer)."""
    if name == "correlated gaussian":
        first = kerasbio.layers.CorrelatedNoise(first_conv(), a=0.225, scale="fano", fano=0.5)
    elif name == "correlated poisson":
        first = kerasbio.layers.CorrelatedNoise(first_conv(), distribution="poisson")
    else:
        first = first_conv()
    network = cnn(first)
    trainer = analysis.ManifoldMixup(network, mix_layers=(0, 1, 2)) if (
        name == "manifold mixup") else network
    trainer.compile("adam", "sparse_categorical_crossentropy")
    trainer.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    return network, first


def accuracy(network, x, y):
    return float(np.mean(network.predict(x, verbose=0).argmax(-1) == y))


def markdown(table):
    """A pandas table as a markdown table."""
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join("" if pd.isna(v) else str(v) for v in row) + " |"
              for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def correlation_columns(summary):
    """Table 3.2's statistics of the off-diagonal unit correlations, named as such."""
    return {f"{statistic} correlation": value for statistic, value in summary.items()}


def plot_panels(smoothed, path):
    """One contour panel per network: same distance and similarity axes, same colour levels."""
    figure = Figure(figsize=(4.2 * len(smoothed), 3.8))
    for ax, (name, result) in zip(figure.subplots(1, len(smoothed)), smoothed.items()):
        analysis.plot_smoothed_correlation(result, title=f"layer 1: {name}", ax=ax,
                                           levels=LEVELS)
    figure.suptitle("Kernel-smoothed unit correlation g(d, k) (Eq. 3.6) on digits; "
                    "white: no unit pairs there")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/correlated_noise_digits", help="output directory")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--images", type=int, default=30, help="S of Eq. 3.2")
    args = parser.parse_args()
    output = pathlib.Path(args.out)
    output.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)
    x_train, x_test, y_train, y_test = digits()
    conv = first_conv()
    conv.build((None, SIZE, SIZE, 1))
    height = width = SIZE - 2
    distances = np.linspace(0.0, np.hypot(height - 1, width - 1), GRID)
    similarities = np.linspace(-1.0, 1.0, GRID)
    rows, smoothed = [], {}
    for name in ("plain", "correlated gaussian", "correlated poisson", "manifold mixup"):
        print(f"training: {name}")
        network, first = train(name, x_train, y_train, args.epochs)
        sigma = analysis.unit_correlations(network, first, x_test, x_test, samples=args.images,
                                           batch_size=32, min_fraction=0.5)
        smoothed[name] = analysis.smooth_correlation(sigma, first, distances=distances,
                                                     similarities=similarities)
        rows.append({"network": name, "test accuracy": accuracy(network, x_test, y_test),
                     "occluded accuracy": accuracy(network, occlude(x_test), y_test),
                     **correlation_columns(smoothed[name].summary)})
    target = "linear exponential (Eq. 2.14)"
    smoothed[target] = analysis.smooth_correlation(
        analysis.target_unit_correlations(first), first, distances=distances,
        similarities=similarities)
    rows.append({"network": target, **correlation_columns(smoothed[target].summary)})
    plot_panels(smoothed, output / "correlations.png")
    table = pd.DataFrame(rows).round(3)
    table.to_csv(output / "summary.csv", index=False)
    (output / "summary.md").write_text(markdown(table))
    print(table.to_string(index=False))
    print(f"figures and tables in {output}/")


if __name__ == "__main__":
    main()
