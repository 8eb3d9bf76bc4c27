"""Image manipulations against their definitions (Geirhos et al. 2018, McClure 2018, Dutta 2019)."""

import math

import numpy as np
import pytest

from kerasbio.data import manipulations as m

Z = 5.0  # tolerance in standard errors


@pytest.fixture
def images():
    """Colour images strictly inside (0, 1), so that only the noise can produce 0 or 1."""
    return np.random.default_rng(0).uniform(0.2, 0.8, (64, 16, 16, 3)).astype(np.float32)


def within(estimate, expected, standard_error):
    return abs(estimate - expected) < Z * standard_error


def test_reduce_contrast_formula(images):
    np.testing.assert_allclose(m.reduce_contrast(images, 0.3), 0.35 + 0.3 * images, atol=1e-6)


def test_to_grayscale_luminance_on_every_channel(images):
    grey = m.to_grayscale(images)
    expected = 0.2125 * images[..., 0] + 0.7154 * images[..., 1] + 0.0721 * images[..., 2]
    for channel in range(3):
        np.testing.assert_allclose(grey[..., channel], expected, atol=1e-6)


@pytest.mark.parametrize("grayscale", [True, False])
def test_salt_and_pepper_sets_half_p_white_and_half_p_black(images, grayscale):
    p = 0.3
    out = m.salt_and_pepper(images, p, grayscale=grayscale, seed=1)
    units = out[..., 0] if grayscale else out  # grey noise: one draw per pixel
    n = units.size
    standard_error = math.sqrt(p / 2 * (1 - p / 2) / n)
    assert within((units == 1).mean(), p / 2, standard_error)
    assert within((units == 0).mean(), p / 2, standard_error)
    untouched = (units > 0) & (units < 1)
    base = m.reduce_contrast(m.to_grayscale(images) if grayscale else images, 0.3)
    base = base[..., 0] if grayscale else base
    np.testing.assert_allclose(units[untouched], base[untouched], atol=1e-6)
    if grayscale:
        assert np.all(out == out[..., :1])


def test_uniform_noise_within_width_before_clipping(images):
    width = 0.1  # with full contrast, images in [0.2, 0.8] never reach the clipping bounds
    out = m.uniform_noise(images, width, contrast=1.0, grayscale=True, seed=2)
    noise = (out - m.to_grayscale(images))[..., 0]
    assert noise.min() >= -width - 1e-6 and noise.max() <= width + 1e-6
    variance = width ** 2 / 3
    assert within(noise.mean(), 0.0, math.sqrt(variance / noise.size))
    assert within(noise.var(), variance, variance * math.sqrt(0.8 / noise.size))
    assert np.all(out == out[..., :1])


def test_uniform_noise_is_clipped_to_unit_range(images):
    out = m.uniform_noise(images, 0.5, contrast=0.3, grayscale=False, seed=3)
    assert out.min() == 0.0 and out.max() == 1.0  # wide noise hits both bounds
    assert not np.all(out == out[..., :1])  # colour noise differs between channels


def test_gaussian_noise_moments_and_clip(images):
    std = 0.5
    noise = m.gaussian_noise(images, std, seed=4).astype(np.float64) - images
    assert within(noise.mean(), 0.0, std / math.sqrt(noise.size))
    assert within(noise.var(), std ** 2, std ** 2 * math.sqrt(2 / noise.size))
    clipped = m.gaussian_noise(images, std, seed=4, clip=True)
    assert clipped.min() == 0.0 and clipped.max() == 1.0


@pytest.mark.parametrize("manipulate", [
    lambda x, seed: m.gaussian_noise(x, 0.2, seed=seed),
    lambda x, seed: m.uniform_noise(x, 0.2, seed=seed),
    lambda x, seed: m.salt_and_pepper(x, 0.2, seed=seed),
])
def test_shape_dtype_and_seeds(images, manipulate):
    out = manipulate(images, 5)
    assert out.shape == images.shape and out.dtype == images.dtype
    np.testing.assert_array_equal(out, manipulate(images, 5))
    assert not np.array_equal(out, manipulate(images, 6))
    single = manipulate(images[0], 5)
    assert single.shape == images[0].shape


def test_occlusion_geometry_on_32x32():
    ones = np.ones((2, 32, 32, 3), np.float32)
    hidden = {kind: m.occlude(ones, kind, fill=0.0)[0, :, :, 0] == 0 for kind in m.OCCLUSIONS}
    central = np.zeros((32, 32), bool)
    central[8:24, 8:24] = True
    np.testing.assert_array_equal(hidden["central"], central)
    cells = (np.arange(32)[:, None] // 4 + np.arange(32)[None, :] // 4) % 2 == 0
    np.testing.assert_array_equal(hidden["checkerboard"], cells)
    bars = np.repeat((np.arange(32) // 4) % 2 == 0, 32).reshape(32, 32)
    np.testing.assert_array_equal(hidden["horizontal_bars"], bars)
    np.testing.assert_array_equal(hidden["vertical_bars"], bars.T)
    half = np.zeros((32, 32), bool)
    half[16:] = True
    np.testing.assert_array_equal(hidden["horizontal_half"], half)
    np.testing.assert_array_equal(hidden["vertical_half"], half.T)
    for kind in m.OCCLUSIONS:
        assert hidden[kind].mean() == (0.25 if kind == "central" else 0.5)


def test_occlusion_keeps_the_rest_and_uses_fill(images):
    out = m.occlude(images, "vertical_half", fill=0.5)
    assert out.dtype == images.dtype
    np.testing.assert_array_equal(out[:, :, :8], images[:, :, :8])
    assert np.all(out[:, :, 8:] == 0.5)


@pytest.mark.parametrize("call, argument", [
    (lambda x: m.salt_and_pepper(x, 1.5), "p"),
    (lambda x: m.uniform_noise(x, -0.1), "width"),
    (lambda x: m.uniform_noise(x, 0.1, contrast=2.0), "contrast"),
    (lambda x: m.gaussian_noise(x, -1.0), "stddev"),
    (lambda x: m.occlude(x, "diagonal"), "kind"),
])
def test_invalid_arguments_name_the_argument(images, call, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        call(images)


@pytest.mark.parametrize("call", [
    lambda x: m.salt_and_pepper(x, 0.2, seed=1),
    lambda x: m.uniform_noise(x, 0.2, seed=1),
    lambda x: m.gaussian_noise(x, 0.1, seed=1, clip=True),
    lambda x: m.reduce_contrast(x, 0.3),
    lambda x: m.to_grayscale(x),
    lambda x: m.occlude(x, "central", fill=0.5),
])
def test_uint8_images_come_back_as_uint8_in_0_to_255(call):
    """Issue 10: uint8 images gave values in {0, 1} or all zeros."""
    pixels = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3)).astype(np.uint8)
    result = call(pixels)
    expected = np.clip(np.round(call(pixels / 255.0) * 255), 0, 255)
    assert result.dtype == np.uint8 and result.shape == pixels.shape
    np.testing.assert_array_equal(result, expected)
    assert result.max() > 1


def test_other_integer_images_and_out_of_range_floats_are_refused():
    with pytest.raises(ValueError, match="uint8 images in 0-255"):
        m.salt_and_pepper(np.ones((2, 4, 4, 1), dtype=np.int64), 0.1)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        m.uniform_noise(np.full((2, 4, 4, 1), 255.0), 0.1)
