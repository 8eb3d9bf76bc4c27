"""`kerasbio bench noise`: training steps of a small CNN with kerasbio noise layers."""

import keras

import kerasbio
from kerasbio.bench._timing import Row, compare_alternately, random_batch, train_step
from kerasbio.models import mcclure_mnist_cnn

BATCH, SHAPE, CLASSES = 64, (28, 28, 1), 10


def small_cnn(make_noise):
    """McClure's MNIST CNN (Table 3.2) with a `make_noise()` layer after every hidden ReLU."""
    return mcclure_mnist_cnn(SHAPE, CLASSES, noise=make_noise)


def run(quick=False):
    x, y = random_batch(BATCH, SHAPE, CLASSES)
    rounds = 2 if quick else 5
    ours = train_step(small_cnn(lambda: kerasbio.layers.GaussianNoise(0.5)), x, y)
    reference = train_step(small_cnn(lambda: keras.layers.GaussianNoise(0.5)), x, y)
    yield Row("noise: GaussianNoise step vs keras.layers.GaussianNoise",
              *compare_alternately(ours, reference, rounds=rounds))
    for label, make_noise in [
            ("FanoGaussianNoise", lambda: kerasbio.layers.FanoGaussianNoise(1.0)),
            ("PoissonNoise straight-through", lambda: kerasbio.layers.PoissonNoise()),
            ("PoissonNoise gumbel-softmax K=30",
             lambda: kerasbio.layers.PoissonNoise(gradient="gumbel_softmax", max_count=30))]:
        yield Row(f"noise: {label} step vs GaussianNoise",
                  *compare_alternately(train_step(small_cnn(make_noise), x, y), ours, rounds=rounds))
