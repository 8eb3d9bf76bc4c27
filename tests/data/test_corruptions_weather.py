"""CIFAR-10-C snow, frost, fog and spatter: each severity's parameters, measured on the images
(Hendrycks & Dietterich 2019, `make_cifar_c.py`), and frost's user-supplied pictures."""

import numpy as np
import pytest
from PIL import Image

from kerasbio.data import corrupt
from kerasbio.data._weather_corruptions import (
    FROST_ENV,
    MUD_COLOUR,
    MUD_CUTOFF,
    WATER_COLOUR,
    liquid_coverage,
    liquid_layer,
    plasma_fractal,
)
from kerasbio.data.corruptions import SEVERITIES

Z = 5.0
RNG = np.random.default_rng(4)
IMAGES = RNG.uniform(0, 1, (16, 32, 32, 3))
DARK = RNG.uniform(0, 0.1, (32, 32, 32, 3))


def mean_change(name, severity, images=IMAGES, **kwargs):
    return float(np.abs(corrupt(images, name, severity, seed=severity, **kwargs) - images).mean())


@pytest.mark.parametrize("severity", range(1, 6))
def test_fog_adds_a_unit_range_fractal_scaled_by_the_image_peak(severity):
    """`out = (x + s * haze) * peak / (peak + s)`: solved for `haze`, it must be the same in
    every channel, span exactly [0, 1] in each image, and the result never clips."""
    strength, _ = SEVERITIES["fog"][severity - 1]
    out = corrupt(IMAGES, "fog", severity, seed=0)
    peak = IMAGES.max(axis=(1, 2, 3), keepdims=True)
    haze = (out * (peak + strength) / peak - IMAGES) / strength
    np.testing.assert_allclose(haze, np.broadcast_to(haze[..., :1], haze.shape), atol=1e-9)
    np.testing.assert_allclose(haze.min(axis=(1, 2, 3)), 0, atol=1e-9)
    np.testing.assert_allclose(haze.max(axis=(1, 2, 3)), 1, atol=1e-9)


def test_plasma_is_rougher_with_a_smaller_decay():
    """Fog's decay falls from 3 to 1.75 with severity: fine detail keeps more of its noise."""
    def roughness(decay):
        maps = plasma_fractal(50, 32, decay, np.random.default_rng(0))
        assert maps.min() == 0 and maps.max() == 1
        return np.abs(np.diff(maps, axis=2)).mean()

    decays = sorted({decay for _, decay in SEVERITIES["fog"]})
    levels = [roughness(decay) for decay in decays]
    assert all(a > b for a, b in zip(levels, levels[1:])), levels


def test_fog_snow_and_spatter_grow_with_severity():
    """Spatter is water at severities 1-3 and mud at 4-5: each grows within its kind."""
    for name in ("fog", "snow"):
        changes = [mean_change(name, s) for s in range(1, 6)]
        assert all(a < b for a, b in zip(changes, changes[1:])), (name, changes)
    spatter = [mean_change("spatter", s, DARK) for s in range(1, 6)]
    assert spatter[0] < spatter[1] < spatter[2] and spatter[3] < spatter[4], spatter


@pytest.mark.parametrize("severity", range(1, 6))
def test_snow_brightens_towards_its_blend_and_streaks_vertically(severity):
    """On black images the flake-free pixels are exactly `(1 - blend) * 0.5`; flakes only add,
    and their motion blur at -135 to -45 degrees makes rows smoother than columns."""
    blend = SEVERITIES["snow"][severity - 1][-1]
    black = np.zeros((16, 32, 32, 3))
    out = corrupt(black, "snow", severity, seed=severity)
    assert out.min() == pytest.approx((1 - blend) * 0.5)
    assert np.mean(out > (1 - blend) * 0.5 + 1e-9) > 0.01
    vertical = np.abs(np.diff(out, axis=1)).mean()
    horizontal = np.abs(np.diff(out, axis=2)).mean()
    assert vertical < horizontal
    assert np.all(corrupt(IMAGES, "snow", severity, seed=0) >= IMAGES - 1e-12)


@pytest.mark.parametrize("severity", range(1, 6))
def test_liquid_coverage_matches_gaussian_theory(severity):
    """The smoothed liquid is Gaussian with stddev `stddev * ||G_sigma||_2`: the fraction above
    the threshold away from the borders is its upper tail (images as independent replicates)."""
    mean, stddev, sigma, threshold, _, _ = SEVERITIES["spatter"][severity - 1]
    liquid = liquid_layer((300, 32, 32), mean, stddev, sigma, np.random.default_rng(severity))
    covered = (liquid[:, 5:-5, 5:-5] > threshold).mean(axis=(1, 2))
    expected = liquid_coverage(mean, stddev, sigma, threshold)
    assert abs(covered.mean() - expected) < Z * covered.std() / np.sqrt(len(covered)) + 1e-4


@pytest.mark.parametrize("severity", [1, 2, 3])
def test_water_adds_pale_turquoise_up_to_its_strength_on_the_drops(severity):
    mean, stddev, sigma, threshold, strength, _ = SEVERITIES["spatter"][severity - 1]
    out = corrupt(DARK, "spatter", severity, seed=severity)
    added = out - DARK
    weight = added[..., 0] / WATER_COLOUR[0]
    np.testing.assert_allclose(added, weight[..., None] * np.array(WATER_COLOUR), atol=1e-12)
    wet = weight > 0
    images_with_drops = wet.any(axis=(1, 2))
    assert images_with_drops.mean() > 0.5
    np.testing.assert_allclose(weight.max(axis=(1, 2))[images_with_drops], strength)
    coverage = wet.mean()  # inside the drops only: at most the liquid's coverage
    assert 0 < coverage < liquid_coverage(mean, stddev, sigma, threshold) * 1.5


@pytest.mark.parametrize("severity", [4, 5])
def test_mud_paints_brown_with_opacity_at_least_its_cutoff(severity):
    mean, stddev, sigma, threshold, _, _ = SEVERITIES["spatter"][severity - 1]
    out = corrupt(IMAGES, "spatter", severity, seed=severity)
    brown = np.array(MUD_COLOUR)
    opacity = (IMAGES - out) / (IMAGES - brown)  # out = x (1 - m) + m brown, per channel
    muddy = np.abs(out - IMAGES).max(axis=-1) > 0
    np.testing.assert_allclose(opacity[muddy], np.broadcast_to(
        opacity[muddy][:, :1], opacity[muddy].shape), atol=1e-9)
    assert opacity[muddy].min() >= MUD_CUTOFF - 1e-9 and opacity[muddy].max() <= 1 + 1e-9
    assert 0 < muddy.mean() < liquid_coverage(mean, stddev, sigma, threshold) * 1.5


@pytest.fixture
def frost_dir(tmp_path):
    """One made-up frost picture of one colour, 200x240 pixels (40x48 once shrunk by 0.2)."""
    Image.fromarray(np.full((200, 240, 3), (200, 220, 250), np.uint8)).save(tmp_path / "a.png")
    return tmp_path


@pytest.mark.parametrize("severity", range(1, 6))
def test_frost_blends_the_image_with_the_picture(frost_dir, severity):
    image_weight, frost_weight = SEVERITIES["frost"][severity - 1]
    colour = np.array([200, 220, 250]) / 255
    out = corrupt(IMAGES, "frost", severity, seed=0, frost_dir=str(frost_dir))
    expected = np.clip(image_weight * IMAGES + frost_weight * colour, 0, 1)
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_frost_crops_random_windows_of_the_pictures(tmp_path):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (200, 200, 3)).astype(np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((180, 170, 3), np.uint8)).save(tmp_path / "b.jpg")
    grey = np.full((20, 32, 32, 3), 0.5)
    out = corrupt(grey, "frost", 5, seed=1, frost_dir=str(tmp_path))
    from_b = np.all(out == 0.75 * 0.5, axis=(1, 2, 3))
    assert 0 < from_b.sum() < 20  # both pictures are drawn
    assert len({out[k].tobytes() for k in np.flatnonzero(~from_b)}) == (~from_b).sum()


def test_frost_reads_the_environment_variable(frost_dir, monkeypatch):
    monkeypatch.setenv(FROST_ENV, str(frost_dir))
    np.testing.assert_array_equal(corrupt(IMAGES, "frost", 2, seed=0),
                                  corrupt(IMAGES, "frost", 2, seed=0, frost_dir=str(frost_dir)))


def test_frost_without_pictures_says_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.delenv(FROST_ENV, raising=False)
    with pytest.raises(ValueError, match=f"frost_dir.*{FROST_ENV}|does not ship"):
        corrupt(IMAGES, "frost", 1)
    with pytest.raises(ValueError, match="does not exist"):
        corrupt(IMAGES, "frost", 1, frost_dir=str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="holds no .png or .jpg"):
        corrupt(IMAGES, "frost", 1, frost_dir=str(tmp_path))
    Image.fromarray(np.zeros((100, 100, 3), np.uint8)).save(tmp_path / "small.png")
    with pytest.raises(ValueError, match="too small.*at least 160x160"):
        corrupt(IMAGES, "frost", 1, frost_dir=str(tmp_path))
    with pytest.raises(ValueError, match="`frost_dir`"):
        corrupt(IMAGES, "frost", 1, frost_dir=3)


@pytest.mark.parametrize("name", ["frosted_glass_blur", "motion_blur", "snow", "frost", "fog",
                                  "spatter", "elastic"])
def test_uint8_round_trip_and_seed(frost_dir, name):
    pixels = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3)).astype(np.uint8)
    result = corrupt(pixels, name, 4, seed=7, frost_dir=str(frost_dir))
    expected = np.round(corrupt(pixels / 255.0, name, 4, seed=7, frost_dir=str(frost_dir)) * 255)
    assert result.dtype == np.uint8
    np.testing.assert_array_equal(result, expected)
    np.testing.assert_array_equal(result, corrupt(pixels, name, 4, seed=7,
                                                  frost_dir=str(frost_dir)))
    if name != "frost":  # one constant picture: no randomness left
        assert not np.array_equal(result, corrupt(pixels, name, 4, seed=8,
                                                  frost_dir=str(frost_dir)))


def test_colour_corruptions_refuse_two_channel_images():
    with pytest.raises(ValueError, match="grey .* or RGB"):
        corrupt(IMAGES[..., :2], "spatter", 4, seed=0)
    with pytest.raises(ValueError, match="grey .* or RGB"):
        corrupt(IMAGES[..., :2], "snow", 1, seed=0)
