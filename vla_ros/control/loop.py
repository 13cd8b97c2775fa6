"""A fixed-rate loop's schedule and timing statistics (ROS-free; the controller node and the controller
benchmark run their loops on them)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

import numpy as np


class FixedRateSchedule:
    """Absolute deadlines ``start + k * period``: a late tick does not shift the later deadlines (no
    drift); a loop more than a whole period behind skips the missed deadlines (counted) instead of
    running them back to back. ``period`` may change between ticks (a runtime parameter)."""

    def __init__(self, period: float, start: float) -> None:
        self.period = period
        self.deadline = start + period
        self.skipped = 0

    def advance(self, done: float) -> None:
        """The tick due at :attr:`deadline` finished at ``done``: move to the next deadline not yet past."""
        self.deadline += self.period
        if done > self.deadline:
            missed = int((done - self.deadline) / self.period) + 1
            self.skipped += missed
            self.deadline += missed * self.period


def percentiles(values: Iterable[float], scale: float = 1.0) -> dict[str, float]:
    """p50, p99 and max of ``values`` times ``scale`` (empty for no values), JSON-ready."""
    array = np.asarray(list(values), dtype=float) * scale
    if array.size == 0:
        return {}
    return {
        "p50": float(np.percentile(array, 50)),
        "p99": float(np.percentile(array, 99)),
        "max": float(array.max()),
    }


class LoopTiming:
    """Period error, lateness and tick cost of the last ``window`` ticks of a fixed-rate loop."""

    def __init__(self, window: int) -> None:
        self.ticks = 0
        self._previous_wake: float | None = None
        self._period_error: deque[float] = deque(maxlen=window)
        self._lateness: deque[float] = deque(maxlen=window)
        self._cost: deque[float] = deque(maxlen=window)

    def record(self, deadline: float, wake: float, done: float, period: float) -> None:
        """One tick that was due at ``deadline``, woke at ``wake`` and finished at ``done`` (s), in a loop
        of ``period`` (s)."""
        if self._previous_wake is not None:
            self._period_error.append(abs(wake - self._previous_wake - period))
        self._previous_wake = wake
        self._lateness.append(wake - deadline)
        self._cost.append(done - wake)
        self.ticks += 1

    def report(self, skipped_deadlines: int) -> dict[str, Any]:
        """Statistics in ms (cost in us), JSON-ready."""
        return {
            "ticks": self.ticks,
            "skipped_deadlines": skipped_deadlines,
            "window": len(self._lateness),
            "period_error_ms": percentiles(self._period_error, 1e3),
            "lateness_ms": percentiles(self._lateness, 1e3),
            "tick_cost_us": percentiles(self._cost, 1e6),
        }
