"""The papers' networks, one function per architecture, named after its source.

Every function returns a built functional `keras.Model` whose last layer, `softmax`, gives the
class probabilities, and takes these common arguments:

    input_shape: `(height, width, channels)`. Each network also builds on small images (the 8x8
        digits): a "valid" convolution or pooling window larger than its map gets "same"
        padding there (each function's docstring says where that happens).
    num_classes: Number of output classes (>= 2).
    activation: The hidden non-linearity, a Keras activation such as "relu" or "sigmoid".
    noise: None, a zero-argument callable returning a new Keras layer on every call, or a layer
        config as `keras.layers.serialize(layer)` returns it (deserialized afresh for every
        insertion). The layer is inserted after every hidden activation, named
        `noise_<layer>`: "added to the output of the activation function of every
        convolutional or fully-connected layer, except for the output layer" (Tsvetkov et al.
        2020, Methods).
    width: Multiplier of every hidden layer's filter or unit count (rounded, at least 1), for
        quick runs; the output layer keeps `num_classes`.

Layer names are stable: `conv1`, `pool1`, `fc1`, `logits`, ...; a hidden layer's non-linearity
is `act_<layer>`, its batch normalization `bn_<layer>`. `ZOO` maps each name to its function.
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
