"""kerasbio callbacks: hyperparameter schedules and memorization tools."""

from kerasbio.callbacks.alpha import AlphaDecay, DeepSupervisionDecay
from kerasbio.callbacks.memorization import MemorizationMonitor, RelabelEachEpoch, TimeToFit
from kerasbio.callbacks.rates import RateSchedule
from kerasbio.callbacks.schedule import Schedule

__all__ = [
    "AlphaDecay",
    "DeepSupervisionDecay",
    "MemorizationMonitor",
    "RateSchedule",
    "RelabelEachEpoch",
    "Schedule",
    "TimeToFit",
]
