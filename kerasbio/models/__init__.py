"""The papers' networks, one function per architecture, named after its source.

Every function returns a built functional `keras.Model` and takes `input_shape`, `num_classes`,
`activation`, `noise` (a layer inserted after every hidden activation) and `width` (a multiplier
of every hidden layer's size). `ZOO` maps each name to its function.
"""

from kerasbio.models.dutta import all_cnn_c, vgg11
from kerasbio.models.mcclure import mcclure_cifar_cnn, mcclure_imagenet_cnn, mcclure_mnist_cnn
from kerasbio.models.rdl import nin, rdl_mnist_cnn
from kerasbio.models.zhang import small_alexnet, small_inception

ZOO = {model.__name__: model for model in (
    small_alexnet, small_inception, mcclure_mnist_cnn, mcclure_cifar_cnn, mcclure_imagenet_cnn,
    rdl_mnist_cnn, nin, all_cnn_c, vgg11)}

__all__ = ["ZOO", "all_cnn_c", "mcclure_cifar_cnn", "mcclure_imagenet_cnn", "mcclure_mnist_cnn",
           "nin", "rdl_mnist_cnn", "small_alexnet", "small_inception", "vgg11"]
