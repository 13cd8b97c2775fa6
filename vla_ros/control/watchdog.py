"""Watchdogs on a steady clock: a signal that must come back within a timeout, a clock that must advance.

All times are seconds of a steady (monotonic) clock, never ROS time: a frozen ``/clock`` must not hide
its own failure, or the failures of what is measured against it.
"""

from __future__ import annotations


class Watchdog:
    """Expires when :meth:`feed` was not called within ``timeout`` (and before the first feed)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.last: float | None = None

    def feed(self, now: float) -> None:
        """The signal came at ``now``."""
        self.last = now

    def clear(self) -> None:
        """Forget the last signal (as before the first)."""
        self.last = None

    def expired(self, now: float) -> bool:
        """True when nothing came within ``timeout`` of ``now``, or nothing ever did."""
        return self.last is None or now - self.last > self.timeout


class ClockWatchdog:
    """Expires when a clock (e.g. ROS time under ``use_sim_time``) stops advancing for ``timeout``."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._reading: float | None = None
        self._advanced: float | None = None

    def observe(self, clock: float, now: float) -> None:
        """The watched clock read ``clock`` at steady time ``now``."""
        if self._reading is None or clock != self._reading:
            self._reading, self._advanced = clock, now

    def stalled(self, now: float) -> bool:
        """True when the clock has not advanced for longer than ``timeout`` (False before a reading)."""
        return self._advanced is not None and now - self._advanced > self.timeout
