"""`kerasbio bench noise`: training steps of a small CNN with kerasbio noise layers (time, and
peak memory in a fresh process)."""

import keras

import kerasbio
from kerasbio.bench._memory import peak_rss_mib
from kerasbio.bench._timing import Row, compare_alternately, random_batch, train_step
from kerasbio.models import mcclure_mnist_cnn

BATCH, SHAPE, CLASSES = 64, (28, 28, 1), 10


def small_cnn(make_noise):
    """McClure's MNIST CNN (Table 3.2) with a `make_noise()` layer after every hidden ReLU."""
    return mcclure_mnist_cnn(SHAPE, CLASSES, noise=make_noise)


NOISE_LAYERS = {
    "GaussianNoise": lambda: kerasbio.layers.GaussianNoise(0.5),
    "FanoGaussianNoise": lambda: kerasbio.layers.FanoGaussianNoise(1.0),
    "PoissonNoise straight-through": lambda: kerasbio.layers.PoissonNoise(),
    "PoissonNoise gumbel-softmax K=30":
        lambda: kerasbio.layers.PoissonNoise(gradient="gumbel_softmax", max_count=30),
}
MEMORY_STEPS = 3


def train_steps(noise, steps=MEMORY_STEPS):
    """`steps` training steps of the small CNN with `NOISE_LAYERS[noise]` (a memory child)."""
    x, y = random_batch(BATCH, SHAPE, CLASSES)
    step = train_step(small_cnn(NOISE_LAYERS[noise]), x, y)
    for _ in range(steps):
        step()


def peak_memory_mib(noise):
    """Peak RSS of a fresh process running `train_steps(noise)`."""
    return peak_rss_mib(f"from kerasbio.bench import noise; noise.train_steps({noise!r})")


def run(quick=False):
    x, y = random_batch(BATCH, SHAPE, CLASSES)
    rounds = 2 if quick else 5
    ours = train_step(small_cnn(NOISE_LAYERS["GaussianNoise"]), x, y)
    reference = train_step(small_cnn(lambda: keras.layers.GaussianNoise(0.5)), x, y)
    yield Row("noise: GaussianNoise step vs keras.layers.GaussianNoise",
              *compare_alternately(ours, reference, rounds=rounds))
    for label in ["FanoGaussianNoise", "PoissonNoise straight-through",
                  "PoissonNoise gumbel-softmax K=30"]:
        step = train_step(small_cnn(NOISE_LAYERS[label]), x, y)
        yield Row(f"noise: {label} step vs GaussianNoise",
                  *compare_alternately(step, ours, rounds=rounds))
    gaussian_mib = peak_memory_mib("GaussianNoise")
    for label in ["PoissonNoise straight-through", "PoissonNoise gumbel-softmax K=30"]:
        yield Row(f"noise: {label} vs GaussianNoise, peak RSS of {MEMORY_STEPS} training steps",
                  peak_memory_mib(label), gaussian_mib, unit="MiB")
