"""Test set-up: quiet TensorFlow, two logical CPU devices for MirroredStrategy tests."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def mirrored_strategy():
    """One MirroredStrategy over the two logical CPUs for the whole session.

    Separate strategies in one process reuse collective instance keys, so a second strategy's
    all-reduce can meet the first one's (a shape-mismatch abort that poisons every later
    collective in the process).
    """
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
