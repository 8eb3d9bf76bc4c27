"""What this machine's TensorFlow build can run, for skipping tests that need it."""

import numpy as np

import keras


def channels_first_conv_runs():
    """TensorFlow's CPU kernels implement NCHW convolutions only in some builds."""
    try:
        keras.layers.Conv2D(1, 1, data_format="channels_first")(np.ones((1, 1, 2, 2), "float32"))
    except Exception:  # noqa: BLE001 - UnimplementedError or NotFoundError, by build
        return False
    return True
