"""CIFAR-10-C corruptions: Hendrycks' definitions and 32x32 severities, monotone in severity."""

import math

import numpy as np
import pytest
from PIL import Image

from kerasbio.data import corrupt, corruptions, load
from kerasbio.data.corruptions import SEVERITIES, defocus_kernel

Z = 5.0
# Their distance to the clean image grows with severity on white noise; the other new ones'
# severities are tested in test_corruptions_geometric.py and test_corruptions_weather.py.
DISTANCE_MONOTONE = ("gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise",
                     "gaussian_blur", "defocus_blur", "zoom_blur", "contrast", "brightness",
                     "jpeg_compression", "pixelate", "snow", "fog")


@pytest.fixture(scope="module")
def images():
    """32x32 colour mosaics of 4x4 sharp 8x8 digits, each with a random ink and paper colour."""
    x, _ = load("digits", split="train")
    rng = np.random.default_rng(0)
    ink = rng.uniform(0.3, 1.0, (len(x), 1, 1, 3))
    paper = rng.uniform(0.0, 0.4, (len(x), 1, 1, 3))
    tiles = (paper + (ink - paper) * x)[:16 * 32].reshape(32, 4, 4, 8, 8, 3)
    return tiles.transpose(0, 1, 3, 2, 4, 5).reshape(32, 32, 32, 3).astype(np.float32)


def distance(a, b):
    return float(np.mean((a.astype(np.float64) - b) ** 2))


@pytest.fixture(scope="module")
def frost_dir(tmp_path_factory):
    """A made-up frost picture: 200x240 pale noise (40x48 once shrunk by 0.2)."""
    directory = tmp_path_factory.mktemp("frost")
    pixels = np.random.default_rng(2).integers(150, 256, (200, 240, 3)).astype(np.uint8)
    Image.fromarray(pixels).save(directory / "frost1.png")
    return str(directory)


@pytest.mark.parametrize("name", DISTANCE_MONOTONE)
def test_distance_to_clean_image_grows_with_severity(name):
    """On white-noise images, which have content at every spatial frequency: pixelate's distance
    is not monotone on smooth images (box resizing by 0.75 can lose less than by 0.85)."""
    images = np.random.default_rng(1).uniform(0, 1, (32, 32, 32, 3)).astype(np.float32)
    distances = [distance(corrupt(images, name, s, seed=0), images) for s in range(1, 6)]
    assert distances[0] > 0
    assert all(a < b for a, b in zip(distances, distances[1:])), distances


def test_saturate_desaturates_at_1_2_and_oversaturates_at_3_to_5(images):
    def saturation(x):
        return float(np.mean(x.max(-1) - x.min(-1)))  # chroma, grows with HSV saturation

    clean = saturation(images)
    levels = [saturation(corrupt(images, "saturate", s)) for s in range(1, 6)]
    assert levels[1] < levels[0] < clean < levels[2] < levels[3] < levels[4]


@pytest.mark.parametrize("name", corruptions())
def test_shape_dtype_range_and_seed(images, frost_dir, name):
    out = corrupt(images, name, 3, seed=1, frost_dir=frost_dir)
    assert out.shape == images.shape and out.dtype == images.dtype
    assert out.min() >= 0 and out.max() <= 1
    np.testing.assert_array_equal(out, corrupt(images, name, 3, seed=1, frost_dir=frost_dir))
    assert corrupt(images[0], name, 3, seed=1, frost_dir=frost_dir).shape == images[0].shape


def test_names_are_tfds_cifar10_corrupted_configs():
    from tensorflow_datasets.image_classification.cifar10_corrupted import Cifar10Corrupted

    configs = {config.name for config in Cifar10Corrupted.BUILDER_CONFIGS}
    assert {f"{name}_{s}" for name in corruptions() for s in range(1, 6)} <= configs


def test_noise_corruptions_have_hendrycks_moments():
    grey = np.full((200, 32, 32, 3), 0.5, np.float32)
    n = grey.size
    for std, severity in zip(SEVERITIES["gaussian_noise"], range(1, 6)):
        noise = corrupt(grey, "gaussian_noise", severity, seed=severity) - 0.5
        assert abs(noise.std() - std) < Z * std / math.sqrt(2 * n)
        speckle = corrupt(grey, "speckle_noise", severity, seed=severity) - 0.5
        std = SEVERITIES["speckle_noise"][severity - 1] * 0.5
        assert abs(speckle.std() - std) < Z * std / math.sqrt(2 * n)
    photons = SEVERITIES["shot_noise"][4]
    shot = corrupt(grey, "shot_noise", 5, seed=0).astype(np.float64)
    assert abs(shot.mean() - 0.5) < Z * math.sqrt(0.5 / photons / n)
    assert abs(shot.var() - 0.5 / photons) < Z * 0.5 / photons * math.sqrt(2 / n)
    impulse = corrupt(grey, "impulse_noise", 5, seed=0)
    amount = SEVERITIES["impulse_noise"][4]
    for value in (0.0, 1.0):
        assert abs((impulse == value).mean() - amount / 2) < Z * math.sqrt(amount / 2 / n)


def test_contrast_and_brightness_formulas(images):
    means = images.mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(corrupt(images, "contrast", 5), (images - means) * 0.15 + means,
                               atol=1e-5)
    dark = images * 0.6  # HSV value + 0.3 stays below 1: the brightest channel rises by 0.3
    np.testing.assert_allclose(corrupt(dark, "brightness", 5).max(-1), dark.max(-1) + 0.3,
                               atol=1e-5)


def test_defocus_kernels():
    for radius, alias_blur in SEVERITIES["defocus_blur"]:
        assert defocus_kernel(radius, alias_blur).sum() == pytest.approx(1.0)
    box = np.zeros((17, 17))
    box[7:10, 7:10] = 1 / 9  # radius 1.5 covers the 3x3 square; alias blur 0.1 barely spreads it
    np.testing.assert_allclose(defocus_kernel(1.5, 0.1), box, atol=1e-9)
    taps = np.exp(-np.arange(-1, 2) ** 2 / (2 * 0.4 ** 2))
    taps /= taps.sum()
    np.testing.assert_allclose(defocus_kernel(0.3, 0.4)[7:10, 7:10], np.outer(taps, taps))


def test_zoom_blur_spreads_a_central_disk_outwards():
    flat = np.full((2, 32, 32, 3), 0.4, np.float32)
    np.testing.assert_allclose(corrupt(flat, "zoom_blur", 5), flat, atol=1e-6)
    radius = np.hypot(*np.meshgrid(np.arange(32) - 15.5, np.arange(32) - 15.5))
    disk = np.repeat((radius <= 6.0)[None, :, :, None], 3, axis=-1).astype(np.float32)
    blurred = corrupt(disk, "zoom_blur", 5)[0, ..., 0]  # zooms up to 1.25: radius 6 -> 7.5
    ring = (radius > 6.5) & (radius < 7.0)
    assert blurred[ring].mean() > 0.2  # beyond the original disk
    assert blurred[radius > 10].max() == 0  # 7.5 plus interpolation and the crop's offset
    assert blurred[radius < 4].min() == pytest.approx(1.0)


def test_pixelate_matches_pillow_box_resize(images):
    expected = np.empty_like(images)
    for i, image in enumerate(images[:4]):
        for c in range(3):
            small = Image.fromarray(image[..., c]).resize((20, 20), Image.Resampling.BOX)
            expected[i, ..., c] = np.asarray(small.resize((32, 32), Image.Resampling.BOX))
    np.testing.assert_allclose(corrupt(images[:4], "pixelate", 5), expected[:4], atol=1e-5)


@pytest.mark.parametrize("name, skimage_reference", [
    ("gaussian_blur", lambda x: __import__("skimage.filters").filters.gaussian(
        x, sigma=1.0, channel_axis=-1)),
    ("saturate", lambda x: _hsv_reference(x, 1, lambda s: s * 2.5 + 0.2)),
    ("brightness", lambda x: _hsv_reference(x, 2, lambda v: v + 0.3)),
])
def test_matches_scikit_image_reference(images, name, skimage_reference):
    pytest.importorskip("skimage")
    expected = np.stack([np.clip(skimage_reference(image.astype(np.float64)), 0, 1)
                         for image in images[:4]])
    np.testing.assert_allclose(corrupt(images[:4], name, 5), expected, atol=1e-5)


def _hsv_reference(image, channel, change):
    from skimage.color import hsv2rgb, rgb2hsv

    hsv = rgb2hsv(image)
    hsv[..., channel] = np.clip(change(hsv[..., channel]), 0, 1)
    return hsv2rgb(hsv)


def test_grey_images_work_except_for_saturate(images, frost_dir):
    grey = images[..., :1]
    for name in corruptions():
        if name == "saturate":
            with pytest.raises(ValueError, match="RGB"):
                corrupt(grey, name, 1)
        else:
            assert corrupt(grey, name, 2, seed=0, frost_dir=frost_dir).shape == grey.shape


def test_invalid_name_and_severity(images):
    with pytest.raises(ValueError, match="`name`"):
        corrupt(images, "rain", 1)
    with pytest.raises(ValueError, match="`severity`"):
        corrupt(images, "contrast", 6)


@pytest.mark.parametrize("name", ["gaussian_noise", "impulse_noise", "contrast", "pixelate"])
def test_uint8_images_are_corrupted_in_0_to_255(name):
    """Issue 10: `corrupt` on uint8 images returned values in {0, 1}."""
    pixels = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3)).astype(np.uint8)
    result = corrupt(pixels, name, 3, seed=0)
    expected = np.round(corrupt(pixels / 255.0, name, 3, seed=0) * 255)
    assert result.dtype == np.uint8
    np.testing.assert_array_equal(result, expected)
    assert result.max() > 1
