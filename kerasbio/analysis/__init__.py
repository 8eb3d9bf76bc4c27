"""Correlation structure of trained networks and the mixup utilities it compares (Dutta ch. 3)."""

from kerasbio.analysis.correlations import (
    SmoothedCorrelation,
    correlation_summary,
    plot_smoothed_correlation,
    smooth_correlation,
    target_unit_correlations,
    unit_correlations,
)
from kerasbio.analysis.mixup import ManifoldMixup, mixup

__all__ = [
    "ManifoldMixup",
    "SmoothedCorrelation",
    "correlation_summary",
    "mixup",
    "plot_smoothed_correlation",
    "smooth_correlation",
    "target_unit_correlations",
    "unit_correlations",
]
