"""Safety of joint commands: limiting, stale-input hold, latching e-stop, enable, workspace box.

:class:`CommandLimiter` turns any target sequence into commands that stay within the position,
velocity and acceleration limits at the tick period: the command follows the target's own motion
(an acceleration-limited finite difference) plus a correction toward the target no faster than the
speed from which it could still stop at the acceleration limit, and brakes before position limits.
A target that already respects the limits passes through unchanged; a jump is smoothed. A missing
target (hold) brakes to rest within the acceleration limits and then holds that position; it
never commands zeros and never jumps.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from vla_ros.control.errors import WorkspaceViolationError
from vla_ros.control.limits import JointLimits


def stopping_speed(distance: np.ndarray, acceleration: np.ndarray, period: float) -> np.ndarray:
    """Largest speed from which braking by ``acceleration * period`` per tick stops within ``distance``."""
    distance = np.maximum(distance, 0.0)
    return acceleration * (np.sqrt(0.25 * period**2 + 2.0 * distance / acceleration) - 0.5 * period)


class CommandLimiter:
    """Commanded joint state (positions, velocities) advanced one tick at a time within limits."""

    def __init__(self, limits: JointLimits, period: float) -> None:
        if period <= 0.0:
            raise ValueError(f"tick period must be > 0, got {period}")
        self.limits = limits
        self.period = period
        self.positions = np.zeros(len(limits.joint_names))
        self.velocities = np.zeros_like(self.positions)
        self._previous_target: np.ndarray | None = None
        self._target_velocity = np.zeros_like(self.positions)

    def reset(self, positions: np.ndarray) -> None:
        """Start from ``positions`` at rest (e.g. the measured state when actuation is enabled)."""
        self.positions = self.limits.clip(np.asarray(positions, dtype=float).copy())
        self.velocities = np.zeros_like(self.positions)
        self._previous_target = None
        self._target_velocity = np.zeros_like(self.positions)

    def copy(self) -> CommandLimiter:
        """An independent copy (to preview future commands without changing this one); shares the limits."""
        clone = copy.copy(self)
        clone.positions, clone.velocities = self.positions.copy(), self.velocities.copy()
        clone._target_velocity = self._target_velocity.copy()
        return clone

    def step(self, target: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Advance one tick toward ``target`` (None: brake and hold); returns (positions, velocities)."""
        limits, period = self.limits, self.period
        max_change = limits.acceleration * period
        if target is None:
            desired = np.zeros_like(self.velocities)
            self._previous_target = None
            self._target_velocity = np.zeros_like(self.velocities)
        else:
            target = limits.clip(np.asarray(target, dtype=float))
            if self._previous_target is not None:
                difference = (target - self._previous_target) / period
                self._target_velocity = np.clip(
                    np.clip(
                        difference, self._target_velocity - max_change, self._target_velocity + max_change
                    ),
                    -limits.velocity,
                    limits.velocity,
                )
            self._previous_target = target
            error = target - self.positions
            correction_bound = stopping_speed(np.abs(error), limits.acceleration, period)
            desired = self._target_velocity + np.clip(
                error / period - self._target_velocity, -correction_bound, correction_bound
            )
        desired = np.clip(desired, -limits.velocity, limits.velocity)
        desired = np.minimum(
            desired, stopping_speed(limits.upper - self.positions, limits.acceleration, period)
        )
        desired = np.maximum(
            desired, -stopping_speed(self.positions - limits.lower, limits.acceleration, period)
        )
        velocities = np.clip(desired, self.velocities - max_change, self.velocities + max_change)
        positions = limits.clip(self.positions + velocities * period)
        self.velocities = (positions - self.positions) / period
        self.positions = positions
        return positions.copy(), self.velocities.copy()


@dataclass(frozen=True)
class SafetyCommand:
    """One tick's output. ``publish`` is False while actuation is disabled."""

    positions: np.ndarray
    velocities: np.ndarray
    gripper: float | None
    status: str
    publish: bool


ACTIVE = "active"
DISABLED = "disabled"
ESTOP = "estop"
IDLE = "idle"
STALE = "stale"
NO_TARGET = "no_target"
HOLDS = frozenset({STALE, NO_TARGET})
"""The holds that interrupt motion while input is expected (a slow or dead upstream), unlike IDLE
(no input since the last stop: an episode ended, an e-stop reset, nothing sent yet)."""


class SafetyFilter:
    """Limits every command and decides when to hold.

    Holds (brake, then keep position) on a latched e-stop (ESTOP), without input since the last stop
    (IDLE), when the last input is older than ``stale_timeout`` (STALE: a deadman for a dead upstream)
    and when no live chunk covers now or the target is not finite (NO_TARGET); publishes nothing while
    disabled. ``enable`` and ``initialize`` start from the measured positions.
    """

    def __init__(self, limits: JointLimits, period: float, stale_timeout: float, enabled: bool) -> None:
        self.limiter = CommandLimiter(limits, period)
        self.stale_timeout = stale_timeout
        self.enabled = enabled
        self.initialized = False
        self.estop_reason: str | None = None
        self.gripper: float | None = None

    @property
    def estopped(self) -> bool:
        """True while the e-stop is latched."""
        return self.estop_reason is not None

    def initialize(self, measured_positions: np.ndarray) -> None:
        """Start commanding from the measured positions, at rest."""
        self.limiter.reset(measured_positions)
        self.initialized = True

    def enable(self, measured_positions: np.ndarray) -> None:
        """Enable actuation, starting from the measured positions."""
        self.initialize(measured_positions)
        self.enabled = True

    def disable(self) -> None:
        """Disable actuation (nothing is published until enabled again)."""
        self.enabled = False

    def trigger_estop(self, reason: str) -> None:
        """Latch the e-stop (the first reason is kept) until :meth:`reset_estop`."""
        if self.estop_reason is None:
            self.estop_reason = reason or "e-stop"

    def reset_estop(self) -> None:
        """Clear the e-stop latch."""
        self.estop_reason = None

    def step(
        self, now: float, target: np.ndarray | None, gripper: float | None, last_input_time: float | None
    ) -> SafetyCommand | None:
        """One tick: the limited command for ``target``, or a hold; None before :meth:`initialize`."""
        if not self.initialized:
            return None
        if not self.enabled:
            return SafetyCommand(
                self.limiter.positions.copy(),
                np.zeros_like(self.limiter.positions),
                self.gripper,
                DISABLED,
                False,
            )
        status = ACTIVE
        if self.estopped:
            status = ESTOP
        elif last_input_time is None:
            status = IDLE
        elif now - last_input_time > self.stale_timeout:
            status = STALE
        elif target is None or not np.all(np.isfinite(target)):
            status = NO_TARGET
        positions, velocities = self.limiter.step(target if status == ACTIVE else None)
        if status == ACTIVE and gripper is not None:
            self.gripper = min(max(float(gripper), 0.0), 1.0)
        return SafetyCommand(positions, velocities, self.gripper, status, True)


@dataclass(frozen=True)
class WorkspaceBox:
    """Axis-aligned box in the base frame (m) that Cartesian targets must lie in."""

    lower: np.ndarray
    upper: np.ndarray

    def contains(self, position: np.ndarray) -> bool:
        """True when ``position`` lies inside the box (boundary included)."""
        position = np.asarray(position, dtype=float)
        return bool(np.all(position >= self.lower) and np.all(position <= self.upper))

    def check(self, position: np.ndarray, what: str) -> None:
        """Raise :class:`WorkspaceViolationError` when ``position`` is outside the box."""
        if not self.contains(position):
            raise WorkspaceViolationError(
                f"{what} at {np.round(np.asarray(position, dtype=float), 4).tolist()} m is outside the "
                f"workspace box {np.asarray(self.lower).tolist()} .. {np.asarray(self.upper).tolist()}"
            )
