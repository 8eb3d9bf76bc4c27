"""kerasbio callbacks: hyperparameter schedules and memorization tools."""

from kerasbio.callbacks._schedule import VariableSchedule

__all__ = ["VariableSchedule"]
