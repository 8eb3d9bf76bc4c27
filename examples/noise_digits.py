"""Train a small CNN with kerasbio noise layers on scikit-learn's bundled digits.

Prints test accuracy of the deterministic pass (noise replaced by its expectation) and of the
Monte Carlo average over noisy passes (`mc=True`), for Gaussian, Fano-Gaussian and Poisson noise.
Usage: python examples/noise_digits.py [--epochs 15] [--samples 20]
"""

import argparse

import keras
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import kerasbio

NOISE_LAYERS = {
    "none": lambda: keras.layers.Identity(),
    "GaussianNoise(0.5)": lambda: kerasbio.layers.GaussianNoise(0.5),
    "FanoGaussianNoise(1.0)": lambda: kerasbio.layers.FanoGaussianNoise(1.0),
    "PoissonNoise(gain=4)": lambda: kerasbio.layers.PoissonNoise(gain=4.0),
}


def digits(seed=0):
    """Digits as (n, 8, 8, 1) float32 in [0, 1], split 75/25."""
    data = load_digits()
    x = (data.images / 16.0).astype("float32")[..., None]
    return train_test_split(x, data.target, test_size=0.25, random_state=seed, stratify=data.target)


def cnn(make_noise):
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"), make_noise(),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu"), make_noise(),
        keras.layers.MaxPooling2D(), keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10, activation="softmax")])


def mc_accuracy(model, x, y, samples):
    """Accuracy of the mean of `samples` noisy predictive distributions (noise on at inference)."""
    for layer in model.layers:
        if hasattr(layer, "mc"):
            layer.mc = True
    mean = np.mean([model.predict(x, verbose=0) for _ in range(samples)], axis=0)
    return float(np.mean(mean.argmax(-1) == y))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    x_train, x_test, y_train, y_test = digits()
    print(f"digits: {len(x_train)} train, {len(x_test)} test images (8x8)")
    print(f"{'noise':<24} {'test acc (expectation)':>23} {'test acc (MC, T=%d)' % args.samples:>20}")
    for name, make_noise in NOISE_LAYERS.items():
        model = cnn(make_noise)
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x_train, y_train, epochs=args.epochs, batch_size=32, verbose=0)
        deterministic = model.evaluate(x_test, y_test, verbose=0)[1]
        mc = f"{mc_accuracy(model, x_test, y_test, args.samples):.4f}" if name != "none" else "-"
        print(f"{name:<24} {deterministic:>23.4f} {mc:>20}")


if __name__ == "__main__":
    main()
