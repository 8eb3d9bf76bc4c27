"""Train a small CNN with kerasbio noise layers on scikit-learn's bundled digits.

Prints test accuracy of the deterministic pass (noise replaced by its expectation) and of the
Monte Carlo average over noisy passes (`mc=True`), for Gaussian, Fano-Gaussian and Poisson noise,
and writes the table to `results.csv` in the output directory.
Usage: python examples/noise_digits.py [--out DIR] [--epochs 15] [--samples 20]
"""

import argparse
import pathlib

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

import kerasbio

NOISE_LAYERS = {
    "none": lambda: keras.layers.Identity(),
    "GaussianNoise(0.2)": lambda: kerasbio.layers.GaussianNoise(0.2),
    "FanoGaussianNoise(1.0)": lambda: kerasbio.layers.FanoGaussianNoise(1.0),
    "PoissonNoise(gain=4)": lambda: kerasbio.layers.PoissonNoise(gain=4.0),
}


def cnn(make_noise):
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"), make_noise(),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu"), make_noise(),
        keras.layers.MaxPooling2D(), keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10, activation="softmax")])


def mc_accuracy(model, x, y, samples):
    """Accuracy of the MC predictive distribution, the mean over `samples` noisy passes."""
    prediction = kerasbio.mc_predict(model, x, samples=samples, verbose=0)
    return float(np.mean(prediction.mean.argmax(-1) == y))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/noise_digits", help="output directory")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    output = pathlib.Path(args.out)
    output.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)
    tf.get_logger().setLevel("ERROR")  # one MC sampling graph per model is traced on purpose
    x_train, y_train = kerasbio.data.load("digits", split="train", validation=0)
    x_test, y_test = kerasbio.data.load("digits", split="test")
    print(f"digits: {len(x_train)} train, {len(x_test)} test images (8x8)")
    print(f"{'noise':<24} {'test acc (expectation)':>23} {'test acc (MC, T=%d)' % args.samples:>20}")
    rows = []
    for name, make_noise in NOISE_LAYERS.items():
        model = cnn(make_noise)
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x_train, y_train, epochs=args.epochs, batch_size=32, verbose=0)
        deterministic = model.evaluate(x_test, y_test, verbose=0)[1]
        mc = mc_accuracy(model, x_test, y_test, args.samples) if name != "none" else np.nan
        rows.append({"noise": name, "test accuracy (expectation)": deterministic,
                     f"test accuracy (MC, T={args.samples})": mc})
        print(f"{name:<24} {deterministic:>23.4f} {mc:>20.4f}")
    pd.DataFrame(rows).to_csv(output / "results.csv", index=False)
    print(f"table in {output}/results.csv")


if __name__ == "__main__":
    main()
