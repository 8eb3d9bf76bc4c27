"""`kerasbio bench memorization`: the random-label control and vectorized image manipulations.

Rows: an epoch of `fit` on `RelabelEachEpoch`'s pipeline (fresh labels read from a variable)
against `fit` on arrays with fixed labels; `corrupt(..., "pixelate")` (separable matrices)
against Pillow's BOX resize image by image and channel by channel, as `make_cifar_c.py` does;
`uniform_noise` on a batch against a loop over images (Geirhos' code handles one image).
"""

import keras
import numpy as np
from PIL import Image

import kerasbio
from kerasbio.bench._timing import Row, compare_alternately

N_TRAIN, N_IMAGES, SHAPE, CLASSES, BATCH = 4096, 500, (28, 28, 1), 10, 128


def small_model():
    model = keras.Sequential([
        keras.Input(SHAPE), keras.layers.Conv2D(16, 3, activation="relu"),
        keras.layers.MaxPooling2D(), keras.layers.Flatten(),
        keras.layers.Dense(CLASSES, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def relabel_epoch(x):
    relabel = kerasbio.callbacks.RelabelEachEpoch(len(x), CLASSES, seed=0)
    dataset, model = relabel.dataset(x, batch_size=BATCH, seed=0), small_model()
    return lambda: model.fit(dataset, epochs=1, verbose=0, shuffle=False, callbacks=[relabel])


def array_epoch(x, y):
    model = small_model()
    return lambda: model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)


def pixelate_per_image(images, factor=0.65):
    """Hendrycks' loop: Pillow BOX down and up, one image (here: one float channel) at a time."""
    height, width = images.shape[1:3]
    small = (int(width * factor), int(height * factor))
    out = np.empty_like(images)
    for i, image in enumerate(images):
        for c in range(images.shape[-1]):
            picture = Image.fromarray(image[..., c]).resize(small, Image.Resampling.BOX)
            out[i, ..., c] = np.asarray(picture.resize((width, height), Image.Resampling.BOX))
    return out


def run(quick=False):
    rng = np.random.default_rng(0)
    rounds = 2 if quick else 5
    x = rng.uniform(size=(N_TRAIN, *SHAPE)).astype("float32")
    y = rng.integers(0, CLASSES, N_TRAIN)
    yield Row("memorization: RelabelEachEpoch fit epoch vs fit on arrays",
              *compare_alternately(relabel_epoch(x), array_epoch(x, y), rounds=rounds, repeats=3))
    images = rng.uniform(size=(N_IMAGES, 32, 32, 3)).astype("float32")
    yield Row(f"corruptions: pixelate {N_IMAGES} 32x32x3 vs Pillow per image",
              *compare_alternately(lambda: kerasbio.data.corrupt(images, "pixelate", 5),
                                   lambda: pixelate_per_image(images), rounds=rounds))
    yield Row(f"manipulations: uniform_noise {N_IMAGES} images vs per-image loop",
              *compare_alternately(
                  lambda: kerasbio.data.uniform_noise(images, 0.3, seed=0),
                  lambda: [kerasbio.data.uniform_noise(image, 0.3, seed=0) for image in images],
                  rounds=rounds))
