"""The one wrapper pattern of kerasbio: a `keras.layers.Wrapper` around a convolution whose output
the stochastic layer then transforms (correlated noise, similarity dropout).

The wrapped layer needs a 4-D kernel `(height, width, in_channels, maps)` whose last axis indexes
its output feature maps (Conv2D and its relatives); anything else is refused at build with a
message naming the layer. Keras' `Wrapper` serialises the inner layer, so `get_config` and
`from_config` need nothing more.
"""

import keras

from kerasbio._core.validation import invalid_argument
from kerasbio.layers._stochastic import StochasticLayer, as_floating


class ConvolutionWrapper(StochasticLayer, keras.layers.Wrapper):
    """Base of the wrappers: runs the wrapped layer, then `sample` or `expectation` on its output.

    After `build`, `self.maps` is the number of output maps and `self.output_size` the output's
    `(height, width)`; `self.data_format` is the wrapped layer's. The wrapper does not
    autocast, so the kernel is read in float32 under mixed precision (the wrapped layer still
    computes in its own dtype).
    """

    def __init__(self, layer, mc=False, seed=None, **kwargs):
        if not isinstance(layer, keras.layers.Layer):
            raise invalid_argument("layer", "a Keras layer with a 4-D kernel, such as Conv2D",
                                   layer)
        super().__init__(layer=layer, mc=mc, seed=seed, **kwargs)
        self.data_format = getattr(layer, "data_format", "channels_last")
        self.autocast = False
        self.input_spec = keras.layers.InputSpec(ndim=4)
        self.maps = None
        self.output_size = None

    def build(self, input_shape):
        super().build(input_shape)
        kernel = getattr(self.layer, "kernel", None)
        output_shape = self.layer.compute_output_shape(input_shape)
        channels_axis = -1 if self.data_format == "channels_last" else 1
        if (kernel is None or len(kernel.shape) != 4 or len(output_shape) != 4
                or kernel.shape[-1] != output_shape[channels_axis]):
            raise ValueError(
                f"Invalid value received for argument `layer`. {type(self).__name__} needs a "
                "layer with a 4-D kernel (height, width, in_channels, maps) whose last axis "
                "indexes its output feature maps, such as Conv2D (not DepthwiseConv2D). "
                f"Received: layer={self.layer.name} ({type(self.layer).__name__}, kernel shape "
                f"{None if kernel is None else tuple(kernel.shape)}, output shape {output_shape})")
        self.maps = int(kernel.shape[-1])
        rows = (1, 2) if self.data_format == "channels_last" else (2, 3)
        self.output_size = tuple(output_shape[axis] for axis in rows)

    def call(self, inputs, training=False):
        outputs = self.layer(as_floating(inputs, self.layer.compute_dtype), training=training)
        return super().call(outputs, training=training)

    def expectation(self, outputs):
        return outputs

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)
