"""The quick capacity study shows the paper's effect (slow: 8 trainings of 20 epochs)."""

import pytest

from kerasbio.studies import get_study, run_study
from kerasbio.studies.results import mean_sd

STUDY = get_study("capacity")


@pytest.mark.slow
def test_noise_stops_memorizing_gaussian_pixels_while_digits_are_still_learned(tmp_path):
    settings = STUDY.settings(quick=True, experiments=(1,))
    cells = [cell for cell in STUDY.cells(settings)
             if not cell["bottleneck"] and cell["data"] in ("structured", "gaussian_pixels")
             and cell["noise_std"] in (0.0, 0.6)]
    assert len(cells) == 8
    results = run_study(STUDY, settings, str(tmp_path), cells=cells, echo=lambda line: None)
    summary = mean_sd(results, ["data", "noise_std"], ["train_accuracy_fit"]).set_index(
        ["data", "noise_std"])["train_accuracy_fit"]
    # Observed (2 seeds): without noise both reach 1.0; at std 0.6 digits ~0.9 and Gaussian
    # pixels ~0.13 (chance 0.1).
    assert summary[("structured", 0.0)] >= 0.95
    assert summary[("gaussian_pixels", 0.0)] >= 0.95
    assert summary[("gaussian_pixels", 0.6)] <= 0.2
    assert summary[("structured", 0.6)] >= 0.8
