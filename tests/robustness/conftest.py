"""Hostile input for the whole public API: every case states its expected outcome.

Each case is a `pytest.param` of a table: the call, and either the error it must raise (type and
a message fragment naming the problem) or a check of its documented result. Every test here runs
under a short `pytest.mark.timeout`, so a hang fails the suite instead of stalling CI.
"""

import pytest

HOSTILE_TIMEOUT_S = 60


def pytest_collection_modifyitems(items):
    for item in items:
        if "robustness" in str(item.fspath) and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(HOSTILE_TIMEOUT_S))
