"""kerasbio data: data sets, unstructured data, image manipulations and CIFAR-10-C corruptions."""

from kerasbio.data.corruptions import corrupt, corruptions
from kerasbio.data.datasets import (
    channel_statistics,
    class_disjoint_split,
    class_subset,
    fit_images,
    global_contrast_normalize,
    load,
    standardize_channels,
    tfds_builder,
)
from kerasbio.data.manipulations import (
    OCCLUSIONS,
    gaussian_noise,
    occlude,
    occlusion_mask,
    reduce_contrast,
    salt_and_pepper,
    to_grayscale,
    uniform_noise,
)
from kerasbio.data.unstructured import (
    gaussian_pixels,
    permute_labels,
    random_pixels,
    randomize_labels,
    shuffled_pixels,
)

__all__ = [
    "OCCLUSIONS",
    "channel_statistics",
    "class_disjoint_split",
    "class_subset",
    "corrupt",
    "corruptions",
    "fit_images",
    "gaussian_noise",
    "gaussian_pixels",
    "global_contrast_normalize",
    "load",
    "occlude",
    "occlusion_mask",
    "permute_labels",
    "random_pixels",
    "randomize_labels",
    "reduce_contrast",
    "salt_and_pepper",
    "shuffled_pixels",
    "standardize_channels",
    "tfds_builder",
    "to_grayscale",
    "uniform_noise",
]
