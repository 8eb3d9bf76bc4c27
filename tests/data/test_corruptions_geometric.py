"""CIFAR-10-C frosted glass blur, motion blur and elastic: the effect of each severity's
parameters, measured on the images (Hendrycks & Dietterich 2019, `make_cifar_c.py`)."""

import numpy as np
import pytest
from scipy import ndimage

from kerasbio.data import corrupt, load
from kerasbio.data._geometric_corruptions import (
    ELASTIC_TRUNCATE,
    MOTION_BLUR_ANGLES,
    copy_neighbours,
    elastic_field,
)
from kerasbio.data._image_filters import motion_blur_kernel
from kerasbio.data.corruptions import SEVERITIES

Z = 5.0
NEW = ("frosted_glass_blur", "motion_blur", "snow", "frost", "fog", "spatter", "elastic")
RNG_IMAGES = np.random.default_rng(3).uniform(0, 1, (16, 32, 32, 3))


def mean_change(name, severity, images=RNG_IMAGES, seed=0):
    return float(np.abs(corrupt(images, name, severity, seed=seed) - images).mean())


def roughness(images):
    """Mean absolute difference between horizontally neighbouring pixels."""
    return float(np.abs(np.diff(images, axis=2)).mean())


@pytest.mark.parametrize("radius, sigma", SEVERITIES["motion_blur"])
def test_motion_blur_kernel_is_a_normalised_half_gaussian_line(radius, sigma):
    for angle in (-45.0, -10.0, 0.0, 30.0, 90.0):
        rows, cols, weights = motion_blur_kernel(radius, sigma, angle)
        steps = np.arange(2 * radius + 1)
        assert len(weights) == 2 * radius + 1 and weights.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(weights[1:] / weights[:-1],
                                   np.exp(-(2 * steps[1:] - 1) / (2 * sigma ** 2)))
        theta = np.deg2rad(angle)  # tap i lies on the line, rounded to the nearest pixel
        assert np.all(np.abs(rows - steps * np.sin(theta)) <= 0.5)
        assert np.all(np.abs(cols - steps * np.cos(theta)) <= 0.5)


def test_motion_blur_streaks_a_point_along_an_angle_within_45_degrees():
    """A point spreads backwards along the kernel: its centroid moves by `-sum_i w_i o_i`, the
    taps `o_i` of some angle in [-45, 45] degrees (searched on a 0.05-degree grid)."""
    point = np.zeros((16, 32, 32, 1))
    point[:, 16, 16] = 1.0
    rows, cols = np.indices((32, 32)) - 16
    grid = np.arange(MOTION_BLUR_ANGLES[0], MOTION_BLUR_ANGLES[1] + 1e-9, 0.05)
    for severity, (radius, sigma) in enumerate(SEVERITIES["motion_blur"], start=1):
        streaks = corrupt(point, "motion_blur", severity, seed=severity)[..., 0]
        np.testing.assert_allclose(streaks.sum(axis=(1, 2)), 1.0)  # no mass leaves the image
        centroids = np.stack([(streaks * rows).sum(axis=(1, 2)),
                              (streaks * cols).sum(axis=(1, 2))], axis=1)
        kernels = [motion_blur_kernel(radius, sigma, angle) for angle in grid]
        shifts = np.array([[-(w @ r), -(w @ c)] for r, c, w in kernels])
        distance = np.abs(centroids[:, None] - shifts[None]).max(axis=-1)
        assert np.all(distance.min(axis=1) < 1e-9)
        found = grid[distance.argmin(axis=1)]
        assert found.std() > 15  # an angle drawn per image


def test_motion_blur_grows_with_severity_except_3_to_4():
    """Severities 3 and 4 share sigma 2 and differ only in the radius, whose extra taps lie
    beyond 3 sigma: Hendrycks' parameters make them nearly the same blur."""
    changes = [mean_change("motion_blur", s) for s in range(1, 6)]
    assert changes[0] < changes[1] < changes[2] < changes[4]
    assert changes[2] <= changes[3] < changes[2] * 1.01 < changes[4]


def test_copy_neighbours_moves_each_pixel_at_most_max_delta_up_or_left_per_pass():
    n, size = 50, 32
    index = np.broadcast_to(np.arange(size * size, dtype=np.float64).reshape(1, size, size, 1),
                            (n, size, size, 1))
    rng = np.random.default_rng(0)
    once = copy_neighbours(index, 1, rng)
    twice = copy_neighbours(once, 1, rng)
    for passes, shuffled in ((1, once), (2, twice)):
        source_rows, source_cols = np.divmod(shuffled[..., 0].astype(int), size)
        d_rows, d_cols = source_rows - np.arange(size)[:, None], source_cols - np.arange(size)
        assert d_rows.min() == -passes and d_rows.max() == 0
        assert d_cols.min() == -passes and d_cols.max() == 0
    # One pass: each visited pixel (rows, cols 2-31) copies one of its 4 up-left neighbours
    # (itself included) with probability 1/4; the first two rows and columns are untouched.
    moved = once[:, 2:, 2:] != index[:, 2:, 2:]
    assert abs(moved.mean() - 0.75) < Z * np.sqrt(0.75 * 0.25 / moved.size)
    np.testing.assert_array_equal(once[:, :2], index[:, :2])
    np.testing.assert_array_equal(once[:, :, :2], index[:, :, :2])


def test_frosted_glass_blur_severities():
    """Severities 1-3 shuffle once, 4-5 twice, with blur sigmas 0.05, 0.25, 0.4, 0.25, 0.4:
    two passes change the image more than one at the same sigma, and a larger sigma leaves
    it smoother (the change itself need not grow: blurring undoes some of the shuffle)."""
    change = {s: mean_change("frosted_glass_blur", s) for s in range(1, 6)}
    assert change[4] > change[2] and change[5] > change[3]
    rough = {s: roughness(corrupt(RNG_IMAGES, "frosted_glass_blur", s, seed=0))
             for s in range(1, 6)}
    assert rough[1] > rough[2] > rough[3] and rough[4] > rough[5]


@pytest.mark.parametrize("severity", range(1, 6))
def test_frosted_glass_blur_displaces_up_left_by_at_most_its_passes(severity):
    """On ramp images the Gaussian blurs keep positions (a symmetric kernel preserves linear
    ramps) and average the copied pixels' displacements: each interior pixel shows where it was
    sampled, within `passes * max_delta` pixels up and left of itself, never down or right."""
    _, max_delta, passes = SEVERITIES["frosted_glass_blur"][severity - 1]
    out = corrupt(ramp_images(20), "frosted_glass_blur", severity, seed=severity)
    source_rows, source_cols = sampled_positions(out)
    rows, cols = np.indices((32, 32))
    inner = (slice(None), slice(4, 28), slice(4, 28))
    for shift in (source_rows - rows, source_cols - cols):
        assert shift[inner].max() <= 1e-9
        assert -passes * max_delta - 1e-9 <= shift[inner].min() < -0.5 * passes * max_delta
        assert abs(shift[inner].mean() + 0.5 * passes * max_delta) < 0.05  # dy, dx in {-1, 0}


def elastic_theory_rms(alpha, sigma):
    """Stddev of `alpha * G_sigma * U(-1, 1)` away from borders: `alpha ||G||_2 / sqrt(3)`."""
    impulse = np.zeros((1, 1, 41, 41))
    impulse[..., 20, 20] = 1.0
    kernel = ndimage.gaussian_filter(impulse, (0, 0, sigma, sigma), truncate=ELASTIC_TRUNCATE)
    return alpha * np.sqrt(np.sum(kernel ** 2) / 3)


@pytest.mark.parametrize("severity", [2, 3, 5])
def test_elastic_field_stddev_matches_its_parameters(severity):
    alpha, sigma, _ = (value * 32 for value in SEVERITIES["elastic"][severity - 1])
    field = elastic_field(300, (32, 32), alpha, sigma, np.random.default_rng(severity))
    margin = int(np.ceil(ELASTIC_TRUNCATE * sigma)) if sigma < 5 else 12
    inner = field[:, :, margin:32 - margin, margin:32 - margin] ** 2
    per_image = inner.mean(axis=(0, 2, 3))
    expected = elastic_theory_rms(alpha, sigma) ** 2
    assert abs(per_image.mean() - expected) < Z * per_image.std() / np.sqrt(len(per_image))


def ramp_images(n, size=32):
    """Channels 0 and 1 encode each pixel's row and column linearly (bilinear resampling
    keeps them exact), channel 2 is constant."""
    rows, cols = np.indices((size, size)) / (size - 1)
    return np.broadcast_to(np.stack([0.2 + 0.6 * rows, 0.2 + 0.6 * cols,
                                     np.full((size, size), 0.5)], -1), (n, size, size, 3))


def sampled_positions(warped, size=32):
    return (warped[..., 0] - 0.2) / 0.6 * (size - 1), (warped[..., 1] - 0.2) / 0.6 * (size - 1)


def affine_fit(rows, cols, values):
    """Least-squares affine functions of (row, col) to each image of `values` `(n, h, w)`:
    coefficients `(n, 3)` and residuals `(n, h * w)`."""
    design = np.stack([rows.ravel(), cols.ravel(), np.ones(rows.size)], axis=1)
    targets = values.reshape(len(values), -1).T
    coefficients = np.linalg.lstsq(design, targets, rcond=None)[0]
    return coefficients.T, (targets - design @ coefficients).T


def test_elastic_displacements_match_the_parameters():
    """Read off where each output pixel was sampled (ramp images, central 12x12 pixels, whose
    samples stay inside the image): the affine part moves the control points' centroid by the
    mean of three U(-a, a) offsets (stddev a / 3); what an affine fit leaves is the elastic
    field: none at severity 1, growing with severity, and at severity 5 (correlation length
    ~1 pixel, little of it absorbed by the fit) of stddev `alpha ||G_sigma||_2 / sqrt(3)`."""
    n, inner = 60, slice(10, 22)
    rows, cols = np.indices((32, 32))
    rows, cols = rows[inner, inner], cols[inner, inner]
    centroid = np.array([58 / 3, 38 / 3, 1.0])  # of the anchors (26, 26), (26, 6), (6, 6)
    residual_rms = []
    for severity, (alpha, sigma, affine) in enumerate(SEVERITIES["elastic"], start=1):
        out = corrupt(ramp_images(n), "elastic", severity, seed=severity)
        source_rows, source_cols = sampled_positions(out[:, inner, inner])
        row_fit, row_rest = affine_fit(rows, cols, source_rows - rows)
        col_fit, col_rest = affine_fit(rows, cols, source_cols - cols)
        shifts = np.concatenate([row_fit @ centroid, col_fit @ centroid])
        np.testing.assert_allclose(np.std(shifts), affine * 32 / 3, rtol=0.2)
        residual_rms.append(np.sqrt(np.mean(np.square([row_rest, col_rest]))))
    assert residual_rms[0] < 1e-9
    assert all(a < b for a, b in zip(residual_rms, residual_rms[1:])), residual_rms
    alpha, sigma, _ = SEVERITIES["elastic"][4]
    np.testing.assert_allclose(residual_rms[4], elastic_theory_rms(alpha * 32, sigma * 32),
                               rtol=0.2)


def test_elastic_refuses_images_smaller_than_3_pixels():
    with pytest.raises(ValueError, match="at least 3x3"):
        corrupt(np.zeros((1, 2, 2, 3)), "elastic", 1)


def test_8x8_digits_take_the_new_corruptions_at_every_severity(tmp_path):
    from PIL import Image

    Image.fromarray(np.full((160, 160, 3), 200, np.uint8)).save(tmp_path / "frost.png")
    digits, _ = load("digits", split="test")
    digits = np.repeat(digits[:4], 3, axis=-1)
    for name in NEW:
        for severity in range(1, 6):
            out = corrupt(digits, name, severity, seed=0, frost_dir=str(tmp_path))
            assert out.shape == digits.shape and 0 <= out.min() and out.max() <= 1
            assert not np.array_equal(out, digits), (name, severity)
