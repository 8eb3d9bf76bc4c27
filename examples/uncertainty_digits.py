"""MC dropout, dropconnect and spike-and-slab dropout on digits (McClure 2018, ch. 3).

Trains the thesis' MNIST CNN (Table 3.2: Conv 5x5x32 - pool - Conv 5x5x64 - pool - FC 500 -
softmax; `--width` scales the feature counts) on scikit-learn's 8x8 digits padded to 28x28,
once per variational distribution, and prints the test error and McClure's calibration MSE
without MC (the layers' expectation, "MC training only") and with MC sampling (T samples,
"MC training and testing"; the same for MAP), on clean test images and with added Gaussian
image noise (Fig. 3.5).
Writes results.csv and calibration.png to the output directory.
Usage: python examples/uncertainty_digits.py [--epochs 12] [--samples 10] [--out DIR]
"""

import argparse
import csv
import pathlib

import keras
import numpy as np
import tensorflow as tf

import kerasbio
from kerasbio import metrics
from kerasbio.models import mcclure_mnist_cnn

RATE, SLAB_RATE = 0.4, 0.2  # drop probabilities (Fig. 3.2: p = 0.4, spike-and-slab p_dc = 0.2)


METHODS = {  # name: the `variational` argument of kerasbio.models.mcclure_mnist_cnn
    "MAP": None, "Bernoulli dropconnect": "bernoulli_dropconnect",
    "Gaussian dropconnect": "gaussian_dropconnect", "Bernoulli dropout": "bernoulli_dropout",
    "Gaussian dropout": "gaussian_dropout", "Spike-and-slab dropout": "spike_and_slab"}


def mnist_cnn(method, width):
    """Table 3.2; dropconnect samples every weight, dropout follows each hidden conv/FC layer
    before its non-linearity (thesis 3.3.2); spike-and-slab drops the inputs of every weight
    layer but the first (the image)."""
    return mcclure_mnist_cnn((28, 28, 1), 10, width=width, variational=METHODS[method],
                             rate=RATE, dropconnect_rate=SLAB_RATE)


def scores(y, probabilities):
    """(test error %, calibration MSE, class-wise calibration curve)."""
    return (100 * np.mean(probabilities.argmax(-1) != y), metrics.calibration_mse(y, probabilities),
            metrics.calibration_curve(y, probabilities, kind="all_classes"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--width", type=float, default=0.5, help="feature-count scale")
    parser.add_argument("--noise", type=float, default=0.5, help="test image noise St.D")
    parser.add_argument("--out", default="results/uncertainty_digits")
    args = parser.parse_args()
    tf.get_logger().setLevel("ERROR")  # one predict graph per model: no retracing notices
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    x_train, y_train = kerasbio.data.load("digits", "train", validation=0, shape=(28, 28, 1),
                                          fit="pad")
    x_test, y_test = kerasbio.data.load("digits", "test", shape=(28, 28, 1), fit="pad")
    test_sets = {0.0: x_test, args.noise: kerasbio.data.gaussian_noise(x_test, args.noise, seed=0)}
    print(f"digits padded to 28x28: {len(x_train)} train, {len(x_test)} test; "
          f"T={args.samples} MC samples")
    print(f"{'method':<24} {'noise':>5} {'error %':>8} {'MC error %':>11} "
          f"{'cal. MSE':>9} {'MC cal. MSE':>12}")
    rows, curves = [], {}
    for method in METHODS:
        keras.utils.set_random_seed(0)
        model = mnist_cnn(method, args.width)
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x_train, y_train, epochs=args.epochs, batch_size=32, verbose=0)
        for std, x in test_sets.items():
            error, mse, curve = scores(y_test, model.predict(x, verbose=0))
            mc_error, mc_mse, mc_curve = (error, mse, curve) if method == "MAP" else scores(
                y_test, kerasbio.mc_predict(model, x, samples=args.samples, verbose=0).mean)
            print(f"{method:<24} {std:>5.1f} {error:>8.2f} {mc_error:>11.2f} {mse:>9.4f} "
                  f"{mc_mse:>12.4f}")
            rows.append([method, std, error, mc_error, mse, mc_mse])
            if std > 0:
                curves[method if method == "MAP" else f"MC {method}"] = mc_curve
    with open(out / "results.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([["method", "noise_std", "error_pct", "mc_error_pct",
                                       "calibration_mse", "mc_calibration_mse"], *rows])
    metrics.plot_calibration(curves, out / "calibration.png",
                             title=f"MC calibration, test noise St.D {args.noise}")
    print(f"wrote {out / 'results.csv'} and {out / 'calibration.png'}")


if __name__ == "__main__":
    main()
