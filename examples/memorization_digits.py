"""A small CNN memorizes random labels on scikit-learn's digits (Zhang et al. 2017).

Half of the training labels are replaced by random classes. `MemorizationMonitor` logs the
accuracy on the corrupted and on the clean examples each epoch (clean ones are learned first,
corrupted ones memorized later) and `TimeToFit` reports when training accuracy first reaches 100%.
A control run with `RelabelEachEpoch` (fresh random labels every epoch) cannot memorize.
Writes history.csv, memorization.png and manipulations.png (every kerasbio.data manipulation).
Usage: python examples/memorization_digits.py [--out DIR] [--epochs 100] [--fraction 0.5]
"""

import argparse
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

import kerasbio
from kerasbio.data.plots import manipulation_grid


def cnn():
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(), keras.layers.Flatten(),
        keras.layers.Dense(512, activation="relu"), keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def train_on_corrupted_labels(x, y, test, fraction, epochs, seed):
    """Fit on labels of which `fraction` are randomized; returns the history and the timers."""
    y_random = kerasbio.data.randomize_labels(y, fraction, seed=seed)
    corrupted = y_random != y
    print(f"{corrupted.sum()} of {len(y)} training labels corrupted.")
    timers = {"accuracy": kerasbio.callbacks.TimeToFit(1.0, "accuracy", verbose=True),
              "corrupted_accuracy": kerasbio.callbacks.TimeToFit(1.0, "corrupted_accuracy",
                                                                 verbose=True)}
    monitor = kerasbio.callbacks.MemorizationMonitor(x, y_random, corrupted, validation_data=test)
    history = cnn().fit(x, y_random, epochs=epochs, batch_size=64, verbose=2,
                        callbacks=[monitor, *timers.values()])
    return pd.DataFrame(history.history), timers


def train_on_fresh_labels(x, epochs, seed):
    """The control: new random labels every epoch, which cannot be memorized."""
    relabel = kerasbio.callbacks.RelabelEachEpoch(len(x), n_classes=10, seed=seed)
    history = cnn().fit(relabel.dataset(x, batch_size=64, seed=seed), epochs=epochs, verbose=0,
                        shuffle=False, callbacks=[relabel])  # the pipeline shuffles itself
    return np.array(history.history["accuracy"])


def plot_curves(history, control, path):
    figure = Figure(figsize=(6, 4))
    axis = figure.subplots()
    epochs = np.arange(1, len(history) + 1)
    for key, label in [("accuracy", "training (all labels)"),
                       ("clean_accuracy", "training, clean labels"),
                       ("corrupted_accuracy", "training, corrupted labels"),
                       ("heldout_accuracy", "test, true labels")]:
        axis.plot(epochs, history[key], label=label)
    axis.plot(epochs, control, "--", color="grey", label="fresh random labels each epoch")
    axis.set_xlabel("epoch")
    axis.set_ylabel("accuracy")
    axis.set_ylim(0, 1.02)
    axis.legend(fontsize=8, loc="lower right", bbox_to_anchor=(1, 0.15))
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/memorization_digits", help="output directory")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--fraction", type=float, default=0.5, help="fraction of labels redrawn")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    output = Path(args.out)
    output.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(args.seed)

    x, y = kerasbio.data.load("digits", validation=0)
    test = kerasbio.data.load("digits", split="test")
    history, timers = train_on_corrupted_labels(x, y, test, args.fraction, args.epochs, args.seed)
    control = train_on_fresh_labels(x, args.epochs, args.seed)
    history["fresh_labels_accuracy"] = control
    history.index.name = "epoch"
    history.to_csv(output / "history.csv")
    plot_curves(history, control, output / "memorization.png")
    image, _ = kerasbio.data.load("digits", split="test", shape=(32, 32, 3))
    manipulation_grid(image[0], output / "manipulations.png", seed=args.seed)

    last = history.iloc[-1]
    print(f"\nAfter {args.epochs} epochs: training accuracy {last['accuracy']:.3f}, "
          f"clean {last['clean_accuracy']:.3f}, corrupted {last['corrupted_accuracy']:.3f}, "
          f"test {last['heldout_accuracy']:.3f}; fresh labels each epoch {control[-1]:.3f}.")
    for monitor, timer in timers.items():
        reached = (f"epoch {timer.epoch + 1} (step {timer.step})" if timer.epoch is not None
                   else "not reached")
        print(f"Time to fit ({monitor} = 1.0): {reached}")
    print(f"Wrote {output / 'history.csv'}, {output / 'memorization.png'} and "
          f"{output / 'manipulations.png'}")


if __name__ == "__main__":
    main()
