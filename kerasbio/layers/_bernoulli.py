"""Exact Bernoulli dropconnect masks from packed random bits: a per-example masked matmul that
never holds a weight copy per example of the batch, and per-example masked kernels (for
convolutions) that never hold a float mask.

A mask element keeps its weight (value `1 / (1 - rate)`) with probability `1 - rate`, else is 0.

- `rate = k / 2^m` with `m <= 8` (0.5, 0.25, 0.75, 0.125, 0.375, ..., any multiple of 1/256):
  the field width `w` is the smallest of 1, 2, 4, 8 with `rate 2^w` an integer; a `w`-bit field
  of a uniform random word is uniform on `0 .. 2^w - 1`, so `field >= rate 2^w` has probability
  exactly `1 - rate`, and disjoint fields are independent: one 32-bit Philox word gives `32 / w`
  masks (32 at rate 0.5). The matmul decodes each byte by a 256-row table lookup, the masked
  kernels by shifts and compares inside XLA (the same masks from the same words).
- Any other rate: a mask per 64-bit word of the counter-based SplitMix64 stream
  (`_sampling.counter_words`, computed where the mask is used, inside XLA), kept when its high
  32 bits are `>= ceil(rate 2^32)`; the keep probability is `1 - ceil(rate 2^32) / 2^32`,
  within `2^-32` of `1 - rate` (exact for `rate = k / 2^32`).
"""

import math

import numpy as np

import tensorflow as tf

from kerasbio.layers import _sampling

FIELD_WIDTHS = (1, 2, 4, 8)
CHUNK_ELEMENTS = 2 ** 19  # mask elements decoded at a time: 2 MiB of float32, cache-sized


def field_width(rate):
    """Bits per mask when `rate` is a multiple of `1 / 256` (`None` otherwise)."""
    for width in FIELD_WIDTHS:
        if (rate * 2 ** width).is_integer():
            return width
    return None


def masks_per_word(rate):
    width = field_width(rate)
    return 1 if width is None else 32 // width


def byte_table(rate, dtype):
    """`(256, 8 / w)`: the scaled keep masks of the `w`-bit fields of every byte, low bits first."""
    width = field_width(rate)
    fields = (np.arange(256)[:, None] >> (width * np.arange(8 // width))) & (2 ** width - 1)
    keep = fields >= round(rate * 2 ** width)
    return tf.constant(keep / (1.0 - rate), dtype)


def draw_words(masks, rate, seed):
    """Random uint32 words for `masks` packed masks each (`rate` a multiple of 1/256): shape
    `(..., ceil(masks / masks_per_word))`. `masks` is a tensor shape whose last entry counts the
    masks of one row.
    """
    per_word = masks_per_word(rate)
    words = tf.concat([masks[:-1], [(masks[-1] + per_word - 1) // per_word]], 0)
    return _sampling.random_words(words, tf.cast(seed, tf.int32), 0)


def decode(words, rate, length, dtype):
    """Scaled keep masks from packed `words` (`(..., n)` uint32): shape `(..., length)`."""
    byte_indices = tf.cast(tf.bitcast(words, tf.uint8), tf.int32)  # (..., n, 4)
    masks = tf.gather(byte_table(rate, dtype), byte_indices)  # (..., n, 4, 8 / w)
    shape = tf.shape(words)
    masks = tf.reshape(masks, tf.concat([shape[:-1], [-1]], 0))
    return masks[..., :length]


@tf.function(jit_compile=True, autograph=False)
def counter_masks(key, first, length, rate, dtype):
    """Scaled keep masks `first .. first + length - 1` of the stream `key`, any `rate`: mask `e`
    keeps when the high 32 bits of `counter_words(key, e)` are `>= ceil(rate 2^32)`."""
    threshold = min(math.ceil(rate * 2 ** 32), 2 ** 32 - 1)
    counters = first + tf.range(tf.cast(length, tf.int64), dtype=tf.int64)
    high = tf.bitwise.right_shift(_sampling.counter_words(key, counters),
                                  tf.constant(32, tf.uint64))
    keep = high >= tf.constant(threshold, tf.uint64)
    return tf.where(keep, tf.constant(1.0 / (1.0 - rate), dtype), tf.zeros([], dtype))


def masked_kernels(kernel, batch, rate, seed):
    """`V o M_b` for `batch` examples `b`, `M_b` fresh scaled keep masks: `(batch, *V.shape)`.

    The masks stay packed words (`batch x ceil(size / masks_per_word)` uint32, 1/32 of float
    masks at rate 0.5), or, off the 1/256 grid, the counter stream's key. The product and its
    gradient `dV = sum_b M_b o dK_b` decode them by shifts and compares (or hash the counters)
    inside fused XLA loops, so no float mask is ever stored.

    Args:
        kernel: float32 tensor `V` of static shape.
        batch: int or scalar int tensor.
        rate: Python float in `[0, 1)`.
        seed: int32 tensor of shape `(2,)`.
    """
    size = int(np.prod(kernel.shape))
    if field_width(rate) is None:
        words = (_sampling.counter_key(seed), tf.cast(batch, tf.int64))
    else:
        words = draw_words(tf.stack([tf.cast(batch, tf.int32), size]), rate, seed)

    @tf.custom_gradient
    def product(kernel):
        flat = tf.reshape(tf.stop_gradient(kernel), [size])
        kernels = _scaled_by_masks(words, flat, rate, size)

        def gradient(upstream):
            upstream = tf.reshape(upstream, [-1, size])
            return tf.reshape(_masked_sum(words, upstream, rate, size), kernel.shape)

        return tf.reshape(kernels, [-1, *kernel.shape]), gradient

    return product(kernel)


@tf.function(jit_compile=True, reduce_retracing=True, autograph=False)
def _scaled_by_masks(words, kernel, rate, size):
    return _decoded(words, rate, size) * kernel


@tf.function(jit_compile=True, reduce_retracing=True, autograph=False)
def _masked_sum(words, upstream, rate, size):
    return tf.reduce_sum(_decoded(words, rate, size) * upstream, axis=0)


def _decoded(words, rate, size):
    """The scaled keep masks `(batch, size)` of packed `words` (`(batch, n)`), fields by shifts;
    off the 1/256 grid, `words` is the counter stream's `(key, batch)`."""
    width = field_width(rate)
    if width is None:
        key, batch = words
        masks = counter_masks(key, tf.constant(0, tf.int64), batch * size, rate, tf.float32)
        return tf.reshape(masks, [-1, size])
    shifts = tf.constant(np.arange(0, 32, width), tf.uint32)
    fields = tf.bitwise.bitwise_and(tf.bitwise.right_shift(words[..., None], shifts),
                                    tf.constant(2 ** width - 1, tf.uint32))
    keep = tf.reshape(fields >= tf.constant(round(rate * 2 ** width), tf.uint32),
                      [tf.shape(words)[0], -1])
    return tf.where(keep[:, :size], np.float32(1.0 / (1.0 - rate)), np.float32(0.0))


def dropconnect_matmul(inputs, kernel, rate, seed):
    """`x_b (V o M_b)` for every row `b` of 2-D `inputs`, `M_b` fresh scaled keep masks.

    The masks are drawn once as packed words (`batch x in x out / masks_per_word` words); the
    product and its gradients decode them a few examples at a time (`CHUNK_ELEMENTS`), so no
    `(batch, in, out)` tensor exists. Gradients: `dx_b = (M_b o V) g_b`,
    `dV = sum_b M_b o (x_b g_b^T)`.
    """
    masks = ChunkedMasks(tf.shape(inputs)[0], kernel.shape, rate, seed)

    @tf.custom_gradient
    def product(inputs, kernel):
        inputs, kernel = tf.stop_gradient(inputs), tf.stop_gradient(kernel)
        return (masks.product(inputs, kernel),
                lambda upstream: masks.gradients(inputs, kernel, upstream))

    return product(inputs, kernel)


class ChunkedMasks:
    """The masks of `batch` kernels (packed words, or the counter stream off the 1/256 grid),
    decoded and used `chunk` examples at a time."""

    def __init__(self, batch, kernel_shape, rate, seed):
        self.batch, self.rate = batch, rate
        self.units_in, self.units_out = kernel_shape
        self.chunk = max(1, CHUNK_ELEMENTS // (self.units_in * self.units_out))
        self.count = -(-batch // self.chunk)
        if field_width(rate) is None:
            self.key = _sampling.counter_key(seed)
        else:
            self.words = self.chunks(draw_words(
                tf.stack([batch, self.units_in * self.units_out]), rate, seed))

    def chunks(self, tensor):
        """`tensor` padded along the batch to whole chunks: `(chunks, chunk, ...)`."""
        padding = [[0, (-self.batch) % self.chunk]] + [[0, 0]] * (len(tensor.shape) - 1)
        padded = tf.pad(tensor, padding)
        return tf.reshape(padded, tf.concat([[-1, self.chunk], tf.shape(tensor)[1:]], 0))

    def unchunk(self, tensor, units):
        return tf.reshape(tensor, (-1, units))[:self.batch]

    def masks(self, index, dtype):
        """The scaled masks of chunk `index`: `(chunk, in, out)`."""
        size = self.units_in * self.units_out
        if field_width(self.rate) is None:
            first = tf.cast(index * self.chunk, tf.int64) * size
            masks = counter_masks(self.key, first, self.chunk * size, self.rate, dtype)
        else:
            masks = decode(self.words[index], self.rate, size, dtype)
        return tf.reshape(masks, (-1, self.units_in, self.units_out))

    def product(self, inputs, kernel):
        input_chunks = self.chunks(inputs)

        def step(index, outputs):
            masked = self.masks(index, kernel.dtype) * kernel
            return index + 1, outputs.write(
                index, tf.einsum("ci,cio->co", input_chunks[index], masked))

        _, outputs = tf.while_loop(lambda index, _: index < self.count, step,
                                   (0, tf.TensorArray(inputs.dtype, self.count)))
        return self.unchunk(outputs.stack(), self.units_out)

    def gradients(self, inputs, kernel, upstream):
        input_chunks, upstream_chunks = self.chunks(inputs), self.chunks(upstream)

        def step(index, input_gradients, kernel_gradient):
            masked = self.masks(index, kernel.dtype) * upstream_chunks[index][:, None, :]
            kernel_gradient += tf.reduce_sum(masked * input_chunks[index][:, :, None], 0)
            input_gradient = tf.reduce_sum(masked * kernel, -1)
            return index + 1, input_gradients.write(index, input_gradient), kernel_gradient

        _, input_gradients, kernel_gradient = tf.while_loop(
            lambda index, *_: index < self.count, step,
            (0, tf.TensorArray(inputs.dtype, self.count), tf.zeros_like(kernel)))
        return self.unchunk(input_gradients.stack(), self.units_in), kernel_gradient
