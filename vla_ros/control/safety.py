"""Safety of joint commands: limiting, the hold / e-stop / fault / enable state machine, workspace box.

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
    """One tick's output. ``publish`` is False while actuation is disabled and at rest."""

    positions: np.ndarray
    velocities: np.ndarray
    gripper: float | None
    status: str
    publish: bool


ACTIVE = "active"
DISABLED = "disabled"
DISABLING = "disabling"
ESTOP = "estop"
FAULT = "fault"
IDLE = "idle"
STALE = "stale"
NO_TARGET = "no_target"
STALE_JOINT_STATES = "stale_joint_states"
CLOCK_STALLED = "clock_stalled"
DEADMAN = "deadman"
HOLDS = frozenset({STALE, NO_TARGET, STALE_JOINT_STATES, CLOCK_STALLED, DEADMAN})
"""The holds that interrupt motion while input is expected (a slow or dead upstream, a lost measurement,
clock or deadman), unlike IDLE (no input since the last stop: an episode ended, nothing sent yet)."""
LATCHED = frozenset({ESTOP, FAULT})
"""States that only ``reset`` (then ``enable``) leaves."""

OK, WARN, ERROR = 0, 1, 2

ENABLE_POSITION_TOLERANCE = 1e-3
"""How far (rad or m) a measured position may lie outside the command limits for enabling."""


def severity(status: str) -> int:
    """OK, WARN (a hold: the robot waits for something) or ERROR (latched: a person must act)."""
    if status in LATCHED:
        return ERROR
    return WARN if status in HOLDS else OK


class SafetyFilter:
    """Limits every command and decides when to hold: the controller's state machine.

    States, by precedence: FAULT and ESTOP (latched: brake, hold; :meth:`reset` leaves them for
    DISABLED), DISABLING (``disable`` during motion: brake, then DISABLED: nothing published), the hold
    the caller reports (a watchdog: stale joint states, stalled clock, deadman, IDLE, STALE), NO_TARGET
    (nothing covers now, or not finite) and ACTIVE. Every hold brakes within the limits and keeps the
    position. Only :meth:`enable` starts actuation, from a measured state it checks; every resume from a
    hold at rest starts again from the measured state (re-anchoring: a hand-moved arm never jumps back).
    """

    def __init__(self, limits: JointLimits, period: float, enabled: bool, rest_speed: float) -> None:
        self.limiter = CommandLimiter(limits, period)
        self.enabled = enabled
        self.rest_speed = rest_speed
        self.initialized = False
        self.estop_reason: str | None = None
        self.fault_reason: str | None = None
        self.gripper: float | None = None
        self.status = DISABLED

    @property
    def estopped(self) -> bool:
        """True while the e-stop is latched."""
        return self.estop_reason is not None

    @property
    def latched(self) -> bool:
        """True while an e-stop or a fault is latched."""
        return self.estop_reason is not None or self.fault_reason is not None

    @property
    def at_rest(self) -> bool:
        """True when the command is not moving."""
        return not np.any(self.limiter.velocities)

    def initialize(self, measured_positions: np.ndarray) -> None:
        """Start commanding from the measured positions, at rest."""
        self.limiter.reset(measured_positions)
        self.initialized = True

    def enable_refusal(self, positions: np.ndarray | None, velocities: np.ndarray | None) -> str | None:
        """Why actuation may not start from this measured state (None: it may); None arrays: no
        recent measurement."""
        limits = self.limiter.limits
        if self.latched:
            return f"{'e-stop' if self.estopped else 'fault'} latched: call ~/reset_estop first"
        if positions is None or velocities is None:
            return "no recent joint state of every controlled joint"
        if not (np.all(np.isfinite(positions)) and np.all(np.isfinite(velocities))):
            return "the measured joint state is not finite"
        outside = [
            name
            for name, q, lo, hi in zip(limits.joint_names, positions, limits.lower, limits.upper, strict=True)
            if not lo - ENABLE_POSITION_TOLERANCE <= q <= hi + ENABLE_POSITION_TOLERANCE
        ]
        if outside:
            return f"measured positions of {outside} are outside the command limits"
        if np.max(np.abs(velocities)) > self.rest_speed:
            return (
                f"the arm is moving ({np.max(np.abs(velocities)):.3f} > {self.rest_speed:g} /s): "
                "enable from standstill"
            )
        if not self.at_rest:
            return "still braking"
        return None

    def enable(self, positions: np.ndarray | None, velocities: np.ndarray | None) -> str | None:
        """Enable actuation from the measured state; the refusal reason (nothing changes) or None."""
        refusal = self.enable_refusal(positions, velocities)
        if refusal is None:
            assert positions is not None
            self.initialize(positions)
            self.enabled = True
        return refusal

    def disable(self) -> None:
        """Disable actuation: brake within the limits, then publish nothing until enabled again."""
        self.enabled = False

    def trigger_estop(self, reason: str) -> None:
        """Latch the e-stop (the first reason is kept) until :meth:`reset`."""
        if self.estop_reason is None:
            self.estop_reason = reason or "e-stop"

    def trigger_fault(self, reason: str) -> None:
        """Latch a fault (the first reason is kept) until :meth:`reset`."""
        if self.fault_reason is None:
            self.fault_reason = reason or "fault"

    def reset(self) -> None:
        """Clear the e-stop and fault latches; actuation stays disabled until :meth:`enable`."""
        self.estop_reason = self.fault_reason = None
        self.enabled = False

    def _status(self, target: np.ndarray | None, hold: str | None) -> str:
        if self.fault_reason is not None:
            return FAULT
        if self.estopped:
            return ESTOP
        if not self.enabled:
            return DISABLED if self.at_rest else DISABLING
        if hold is not None:
            return hold
        if target is None or not np.all(np.isfinite(target)):
            return NO_TARGET
        return ACTIVE

    def step(
        self,
        target: np.ndarray | None,
        gripper: float | None,
        hold: str | None,
        measured_positions: np.ndarray | None,
        elapsed: float,
    ) -> SafetyCommand | None:
        """One tick, ``elapsed`` s after the last: the limited command for ``target``, or a brake toward a
        hold; None before :meth:`initialize`. ``hold``: the caller's reason to hold (a watchdog), or None.
        ``measured_positions`` (recent, or None) are where a resume at rest starts from. When no time
        has passed (a simulated clock between two of its steps) the command stays and is not published."""
        if not self.initialized:
            return None
        status = self._status(target, hold)
        if elapsed <= 0.0:
            return SafetyCommand(
                self.limiter.positions.copy(), self.limiter.velocities.copy(), self.gripper, status, False
            )
        self.limiter.period = elapsed
        resuming = status == ACTIVE and self.status != ACTIVE
        self.status = status
        if status == DISABLED:
            return SafetyCommand(
                self.limiter.positions.copy(),
                np.zeros_like(self.limiter.positions),
                self.gripper,
                status,
                False,
            )
        if resuming and self.at_rest and measured_positions is not None:
            self.limiter.reset(measured_positions)
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
