"""kerasbio callbacks: hyperparameter schedules and memorization tools."""

from kerasbio.callbacks._schedule import VariableSchedule
from kerasbio.callbacks.alpha import AlphaDecay, DeepSupervisionDecay
from kerasbio.callbacks.memorization import MemorizationMonitor, RelabelEachEpoch, TimeToFit
from kerasbio.callbacks.rates import RateSchedule

__all__ = [
    "AlphaDecay",
    "DeepSupervisionDecay",
    "MemorizationMonitor",
    "RateSchedule",
    "RelabelEachEpoch",
    "TimeToFit",
    "VariableSchedule",
]
