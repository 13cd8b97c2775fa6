"""The temporal-ensembling controller's core: chunks in, one safe joint command per tick out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vla_ros.control.chunk import ActionChunkData
from vla_ros.control.ensembler import TemporalEnsembler
from vla_ros.control.limits import JointLimits
from vla_ros.control.measured import MeasuredJoints
from vla_ros.control.safety import (
    ACTIVE,
    CLOCK_STALLED,
    DEADMAN,
    IDLE,
    STALE,
    STALE_JOINT_STATES,
    SafetyCommand,
    SafetyFilter,
)
from vla_ros.control.settings import ControllerSettings
from vla_ros.control.watchdog import ClockWatchdog, Watchdog

MAX_TICK_PERIODS = 4.0
"""The most ROS time one tick may account for, in tick periods (a longer gap: the clock jumped)."""


@dataclass(frozen=True)
class CommandPreview:
    """Future commands (e.g. for joint_trajectory_controller): times after now (s), N x J arrays."""

    times_from_now: np.ndarray
    positions: np.ndarray
    velocities: np.ndarray


class EnsemblingController:
    """Blends live chunks by time (:class:`TemporalEnsembler`) and limits the result (:class:`SafetyFilter`).

    The node calls :meth:`add_chunk`, :meth:`observe_joint_state` and :meth:`heartbeat` from its
    subscriptions, :meth:`tick` from its fixed-rate loop and :meth:`preview` when streaming a horizon.
    ``steady`` times (s) come from a monotonic clock and drive every watchdog; ``now`` is the ROS time
    chunks are stamped in. Holds, by precedence: the ROS clock stalled (``clock_timeout``), joint states
    stale (``joint_state_timeout``), deadman heartbeat missing (when ``heartbeat_timeout`` > 0), no chunk
    since the last stop (IDLE), no chunk for ``stale_timeout`` (STALE).
    """

    def __init__(self, limits: JointLimits, settings: ControllerSettings) -> None:
        self.limits = limits
        self.ensembler = TemporalEnsembler(limits.joint_names, settings.ensembling.m)
        self.safety = SafetyFilter(
            limits, settings.period, settings.safety.enabled_at_start, settings.safety.rest_speed
        )
        self.measured = MeasuredJoints(limits.joint_names, settings.safety.joint_state_timeout)
        self.chunks_watchdog = Watchdog(settings.safety.stale_timeout)
        self.deadman = Watchdog(settings.safety.heartbeat_timeout)
        self.clock = ClockWatchdog(settings.safety.clock_timeout)
        self._last_tick: tuple[float, float] | None = None  # (ROS, steady) time of the last step
        self.apply(settings)

    def apply(self, settings: ControllerSettings) -> None:
        """Take new settings (at start and when parameters change at run time)."""
        safety = settings.safety
        self.settings = settings
        self.ensembler.m = settings.ensembling.m
        self.safety.limiter.limits = self.limits.scaled(safety.velocity_scale, safety.acceleration_scale)
        self.safety.limiter.period = settings.period
        self.safety.rest_speed = safety.rest_speed
        self.measured.timeout = safety.joint_state_timeout
        self.chunks_watchdog.timeout = safety.stale_timeout
        self.deadman.timeout = safety.heartbeat_timeout
        self.clock.timeout = safety.clock_timeout

    @property
    def joint_names(self) -> tuple[str, ...]:
        """The controlled joints, in command order."""
        return self.ensembler.joint_names

    # ------------------------------------------------------------------ inputs
    def add_chunk(self, chunk: ActionChunkData, steady: float) -> bool:
        """Accept a chunk received at ``steady``; False (dropped) while an e-stop or fault is latched.

        Raises :class:`~vla_ros.control.errors.JointNamesError` when its joints differ.
        """
        if self.safety.latched:
            return False
        self.ensembler.add(chunk)
        self.chunks_watchdog.feed(steady)
        return True

    def observe_joint_state(
        self, names: Sequence[str], positions: Sequence[float], velocities: Sequence[float], steady: float
    ) -> None:
        """A measured joint state sample (raises :class:`~vla_ros.control.measured.JointStateError`);
        commanding starts from the first complete measurement."""
        self.measured.update(names, positions, velocities, steady)
        state = self.measured.state(steady)
        if state is not None and not self.safety.initialized:
            self.safety.initialize(state[0])

    def heartbeat(self, alive: bool, steady: float) -> None:
        """A deadman heartbeat: ``alive`` False (a released enabling switch) holds at once."""
        if alive:
            self.deadman.feed(steady)
        else:
            self.deadman.clear()

    # ------------------------------------------------------------------ commands
    def enable(self, steady: float) -> str | None:
        """Enable actuation from the recent measured state; the refusal reason, or None."""
        state = self.measured.state(steady)
        return self.safety.enable(*(state if state is not None else (None, None)))

    def trigger_estop(self, reason: str) -> None:
        """Latch the e-stop and forget every live chunk (nothing old resumes after the reset)."""
        self.safety.trigger_estop(reason)
        self.stop()

    def trigger_fault(self, reason: str) -> None:
        """Latch a fault (brake and hold) and forget every live chunk."""
        self.safety.trigger_fault(reason)
        self.stop()

    def stop(self) -> None:
        """Forget every live chunk (an episode ended): brake within the limits and hold (IDLE)."""
        self.ensembler.clear()
        self.chunks_watchdog.clear()

    def reset(self) -> None:
        """Clear the e-stop and fault latches; actuation stays off until :meth:`enable`."""
        self.safety.reset()

    # ------------------------------------------------------------------ ticks
    def _hold_reason(self, steady: float, measured: tuple[np.ndarray, np.ndarray] | None) -> str | None:
        """The watchdog that holds the arm now (``measured``: the recent measured state), or None."""
        if self.clock.stalled(steady):
            return CLOCK_STALLED
        if measured is None:
            return STALE_JOINT_STATES
        if self.settings.safety.heartbeat_timeout > 0.0 and self.deadman.expired(steady):
            return DEADMAN
        if self.chunks_watchdog.last is None:
            return IDLE
        if self.chunks_watchdog.expired(steady):
            return STALE
        return None

    def tick(self, now: float, steady: float) -> SafetyCommand | None:
        """The command for the tick at ROS time ``now``; None until the first complete joint state.

        The limits apply over the ROS time elapsed since the last tick (as ros2_control passes each
        update its measured period), so they hold in the commands' own time also under a simulated
        clock running slower or faster than the wall; a jump of the clock counts as at most
        MAX_TICK_PERIODS periods. While the clock is stalled the arm brakes on the steady clock."""
        self.clock.observe(now, steady)
        measured = self.measured.state(steady)
        hold = self._hold_reason(steady, measured)
        if self._last_tick is None:
            elapsed = self.settings.period
        elif hold == CLOCK_STALLED:
            elapsed = steady - self._last_tick[1]
        else:
            elapsed = now - self._last_tick[0]
            if elapsed < 0.0:  # the clock went back (a restarted simulator): a fresh start
                elapsed = self.settings.period
        if elapsed > 0.0:
            self._last_tick = (now, steady)
        elapsed = min(elapsed, MAX_TICK_PERIODS * self.settings.period)
        action = self.ensembler.sample(now)
        return self.safety.step(
            None if action is None else action.positions,
            None if action is None else action.gripper,
            hold,
            None if measured is None else measured[0],
            elapsed,
        )

    def preview(self, now: float, count: int, step: float) -> CommandPreview:
        """``count`` future commands at ``now + k * step`` (k = 1..count), limited like real ticks.

        Continues from the current commanded state on a copy of the limiter (stepping at ``step``);
        times no chunk covers, or any state but ACTIVE, brake and hold. Call it after :meth:`tick`.
        """
        limiter = self.safety.limiter.copy()
        limiter.period = step
        times = step * np.arange(1, count + 1)
        actions = self.ensembler.horizon(now + times) if self.safety.status == ACTIVE else []
        positions, velocities = [], []
        for index in range(count):
            q, qd = limiter.step(actions[index].positions if index < len(actions) else None)
            positions.append(q)
            velocities.append(qd)
        return CommandPreview(times, np.array(positions), np.array(velocities))
