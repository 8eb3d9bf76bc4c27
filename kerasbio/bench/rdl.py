"""`kerasbio bench rdl`: the cost of an RDL training step, and RDMs against rsatoolbox."""

import keras
import numpy as np

from kerasbio.bench._timing import Row, compare_alternately, random_batch, train_step
from kerasbio.models import rdl_mnist_cnn
from kerasbio.rsa import RDL, rdm

BATCH, SHAPE, CLASSES = 100, (28, 28, 1), 10
RDL_LAYERS = ("pool1", "pool2", "act_fc1")


def mnist_cnn(name):
    """The CNN of McClure & Kriegeskorte 2016, Table 1."""
    model = rdl_mnist_cnn(SHAPE, CLASSES)
    model.name = name
    return model


def training_rows(rounds):
    x, y = random_batch(BATCH, SHAPE, CLASSES)
    teacher = mnist_cnn("teacher")
    rdl_step = train_step(RDL(mnist_cnn("student"), teacher, layers={n: n for n in RDL_LAYERS},
                              pair_fraction=0.05, seed=0), x, y, "sgd")
    student_step = train_step(mnist_cnn("student"), x, y, "sgd")

    def student_step_and_teacher_forward():
        student_step()
        teacher.predict_on_batch(x)

    yield Row("rdl: RDL step (3 layers, teacher fwd) vs student step",
              *compare_alternately(rdl_step, student_step, rounds=rounds))
    yield Row("rdl: RDL step vs student step + teacher forward",
              *compare_alternately(rdl_step, student_step_and_teacher_forward, rounds=rounds))


def rsatoolbox_row(rounds):
    import rsatoolbox

    x = np.random.default_rng(0).normal(size=(1000, 10000)).astype("float32")
    dataset = rsatoolbox.data.Dataset(x)
    ours = compare_alternately(lambda: keras.ops.convert_to_numpy(rdm(x, "correlation")),
                               lambda: rsatoolbox.rdm.calc_rdm(dataset, method="correlation"),
                               rounds=rounds, repeats=1)
    return Row("rdl: rdm correlation 1000x10000 vs rsatoolbox.calc_rdm", *ours)


def run(quick=False):
    rounds = 2 if quick else 5
    yield from training_rows(rounds)
    try:
        import rsatoolbox  # noqa: F401
    except ImportError:
        print("rdl: rsatoolbox is not installed (pip install 'kerasbio[rsa]'); RDM row skipped")
        return
    yield rsatoolbox_row(rounds)
