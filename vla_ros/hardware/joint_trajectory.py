"""joint_trajectory_controller semantics for the simulated arm and gripper.

What is emulated (ros2_controllers, Humble to Kilted):
- a trajectory must name every controlled joint exactly once (partial goals are not allowed);
- ``time_from_start`` strictly increasing, every point with a finite position per joint, and velocities
  either absent or one per joint;
- a header stamp of zero means "start now"; a trajectory whose last point lies in the past is rejected;
- a new trajectory replaces the running one; motion starts from the commanded state (position and
  velocity) at the moment it is accepted and reaches the first point at its time, as with the
  controller's ``interpolate_from_desired_state`` (the recommended setting for streaming);
- positions only -> linear interpolation; with velocities -> cubic Hermite interpolation;
- after the last point the last position is held.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


class TrajectoryRejectedError(ValueError):
    """A trajectory that the controller refuses, with the reason as the message."""


@dataclass(frozen=True)
class JointTrajectoryCommand:
    """A joint trajectory as received: joint names, absolute start time (0 = now), points.

    ``times`` are the points' ``time_from_start`` in seconds; ``positions`` and ``velocities`` have one
    row per point, one column per joint in ``joint_names`` order (``velocities`` may be None).
    """

    joint_names: tuple[str, ...]
    start_time: float
    times: NDArray[np.float64]
    positions: NDArray[np.float64]
    velocities: NDArray[np.float64] | None = None


@dataclass(frozen=True)
class _ActiveTrajectory:
    times: NDArray[np.float64]  # absolute, starting with the moment the command was accepted
    positions: NDArray[np.float64]
    velocities: NDArray[np.float64] | None


class JointTrajectoryFollower:
    """Holds the running trajectory of a set of joints and samples it in time."""

    def __init__(self, joint_names: Sequence[str], initial_positions: ArrayLike) -> None:
        self.joint_names = tuple(joint_names)
        self._hold = np.asarray(initial_positions, dtype=float).copy()
        if self._hold.shape != (len(self.joint_names),):
            raise ValueError(f"need {len(self.joint_names)} initial positions, got {self._hold.shape}")
        self._active: _ActiveTrajectory | None = None

    def accept(self, command: JointTrajectoryCommand, now: float) -> None:
        """Validate ``command`` and make it the running trajectory; raises TrajectoryRejectedError."""
        order = self._column_order(command.joint_names)
        times = np.asarray(command.times, dtype=float)
        positions = np.asarray(command.positions, dtype=float)
        count = len(self.joint_names)
        if times.ndim != 1 or times.size == 0:
            raise TrajectoryRejectedError("trajectory has no points")
        if positions.shape != (times.size, count):
            raise TrajectoryRejectedError(
                f"every point needs {count} positions: got an array of shape {positions.shape} "
                f"for {times.size} points"
            )
        if not (np.all(np.isfinite(times)) and np.all(np.isfinite(positions))):
            raise TrajectoryRejectedError("trajectory contains NaN or infinite times or positions")
        if times[0] < 0.0 or np.any(np.diff(times) <= 0.0):
            raise TrajectoryRejectedError(
                f"time_from_start must be >= 0 and strictly increasing, got {times.tolist()}"
            )
        velocities = None
        if command.velocities is not None and np.asarray(command.velocities).size:
            velocities = np.asarray(command.velocities, dtype=float)
            if velocities.shape != positions.shape or not np.all(np.isfinite(velocities)):
                raise TrajectoryRejectedError(
                    f"velocities must be finite and one per joint and point (shape {positions.shape}), "
                    f"got shape {velocities.shape}"
                )
            velocities = velocities[:, order]
        start = now if command.start_time == 0.0 else command.start_time
        if start + times[-1] < now:
            raise TrajectoryRejectedError(
                f"trajectory ends in the past: start {start:.3f} s + {times[-1]:.3f} s < now {now:.3f} s"
            )
        current, current_velocity = self.sample(now), self._velocity(now)
        absolute = start + times
        # Points already in the past are dropped, as the controller starts from the current state.
        keep = absolute > now
        absolute, positions = absolute[keep], positions[keep][:, order]
        if velocities is not None:
            velocities = np.vstack([current_velocity, velocities[keep]])
        self._active = _ActiveTrajectory(
            times=np.concatenate([[now], absolute]),
            positions=np.vstack([current, positions]),
            velocities=velocities,
        )

    def sample(self, t: float) -> NDArray[np.float64]:
        """The commanded positions at time ``t`` (held after the end, or when nothing was commanded)."""
        active = self._active
        if active is None:
            return self._hold.copy()
        times = active.times
        if t >= times[-1]:
            self._hold = active.positions[-1].copy()
            self._active = None
            return self._hold.copy()
        if t <= times[0]:
            return active.positions[0].copy()
        i = int(np.searchsorted(times, t, side="right")) - 1
        duration = times[i + 1] - times[i]
        s = (t - times[i]) / duration
        p0, p1 = active.positions[i], active.positions[i + 1]
        if active.velocities is None:
            return p0 + s * (p1 - p0)
        v0, v1 = active.velocities[i] * duration, active.velocities[i + 1] * duration
        h00, h10 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s
        h01, h11 = -2 * s**3 + 3 * s**2, s**3 - s**2
        return h00 * p0 + h10 * v0 + h01 * p1 + h11 * v1

    def _velocity(self, t: float, step: float = 1e-3) -> NDArray[np.float64]:
        """Velocity of the running command at ``t`` (finite difference; zero when holding)."""
        if self._active is None or t >= self._active.times[-1]:
            return np.zeros(len(self.joint_names))
        return (self._peek(t + step) - self._peek(t)) / step

    def _peek(self, t: float) -> NDArray[np.float64]:
        active = self._active
        return self.sample(min(t, np.nextafter(active.times[-1], -np.inf)))

    def hold(self, positions: ArrayLike) -> None:
        """Stop any running trajectory and hold ``positions`` (forward command or reset)."""
        positions = np.asarray(positions, dtype=float)
        if positions.shape != (len(self.joint_names),) or not np.all(np.isfinite(positions)):
            raise TrajectoryRejectedError(
                f"expected {len(self.joint_names)} finite positions for {list(self.joint_names)}, "
                f"got {positions.tolist()}"
            )
        self._active = None
        self._hold = positions.copy()

    @property
    def active(self) -> bool:
        """Whether a trajectory is running."""
        return self._active is not None

    def _column_order(self, names: Sequence[str]) -> list[int]:
        names = list(names)
        if len(set(names)) != len(names):
            raise TrajectoryRejectedError(f"joint names repeat: {names}")
        missing = [n for n in self.joint_names if n not in names]
        unknown = [n for n in names if n not in self.joint_names]
        if missing or unknown:
            raise TrajectoryRejectedError(
                f"trajectory must name exactly the joints {list(self.joint_names)}: "
                f"missing {missing}, unknown {unknown}"
            )
        return [names.index(n) for n in self.joint_names]
