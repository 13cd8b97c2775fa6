"""Real-time scheduling for the control loop's thread (Linux SCHED_FIFO), as ros2_control does.

On a shared machine a sleeping loop wakes late whenever other processes hold the cores; a SCHED_FIFO
thread preempts them. It needs CAP_SYS_NICE or an ``rtprio`` limit (``ulimit -r``) and a Linux kernel.
"""

from __future__ import annotations

import os

from vla_ros.control.errors import ControlError


class RealtimeUnavailableError(ControlError):
    """Real-time scheduling could not be set (not Linux, or not permitted)."""


def set_realtime_priority(priority: int) -> None:
    """Run the calling thread under SCHED_FIFO at ``priority`` (1..99); raises when that is refused."""
    if not 1 <= priority <= 99:
        raise ValueError(f"SCHED_FIFO priority must be in 1..99, got {priority}")
    if not hasattr(os, "sched_setscheduler"):
        raise RealtimeUnavailableError("SCHED_FIFO is not available on this platform")
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except OSError as error:
        raise RealtimeUnavailableError(
            f"cannot set SCHED_FIFO priority {priority}: {error.strerror} (needs CAP_SYS_NICE or an rtprio "
            "limit, e.g. 'ulimit -r 99' or /etc/security/limits.conf)"
        ) from error


def set_normal_scheduling() -> None:
    """Return the calling thread to the default time-sharing scheduler."""
    if hasattr(os, "sched_setscheduler"):
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
