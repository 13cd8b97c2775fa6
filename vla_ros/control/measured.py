"""The measured joint state, merged by name from any number of sources, with its age.

Every sample names its joints (publishers order, or leave out, joints as they like: an arm driver and
a gripper driver may each publish their own); each wanted joint keeps its latest position, velocity
and receipt time. A sample with mismatched lengths, repeated names, or a non-finite value for a wanted
joint is refused whole with the reason; the state is complete only when every wanted joint was
measured within ``timeout`` (else the measurement is stale and nothing may start from it).
:class:`MeasuredGripper` reads the gripper's width the same way, from its command joint.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vla_ros.robot.settings import GripperSettings


class JointStateError(ValueError):
    """A joint state sample that cannot be used, and why."""


class MeasuredJoints:
    """Latest position, velocity and receipt time (s, steady clock) of each wanted joint."""

    def __init__(self, joints: Sequence[str], timeout: float) -> None:
        self.joints = tuple(joints)
        self.timeout = timeout
        self._column = {name: index for index, name in enumerate(self.joints)}
        self.positions = np.full(len(self.joints), np.nan)
        self.velocities = np.zeros(len(self.joints))
        self.received = np.full(len(self.joints), -np.inf)

    def update(
        self, names: Sequence[str], positions: Sequence[float], velocities: Sequence[float], now: float
    ) -> None:
        """Take one sample received at ``now``; velocities may be empty (then zero). Raises
        :class:`JointStateError` saying what is wrong (the state is then unchanged)."""
        names = list(names)
        if len(positions) != len(names) or len(velocities) not in (0, len(names)):
            raise JointStateError(
                f"{len(positions)} positions and {len(velocities)} velocities for {len(names)} joint names"
            )
        if len(set(names)) != len(names):
            raise JointStateError(f"joint names repeat in {names}")
        pairs = [(self._column[name], index) for index, name in enumerate(names) if name in self._column]
        if not pairs:
            raise JointStateError(f"none of the joints {list(self.joints)} in {names}")
        columns, rows = (np.array(values) for values in zip(*pairs, strict=True))
        new_positions = np.asarray(positions, dtype=float)[rows]
        new_velocities = np.asarray(velocities, dtype=float)[rows] if len(velocities) else np.zeros(len(rows))
        if not (np.all(np.isfinite(new_positions)) and np.all(np.isfinite(new_velocities))):
            bad = [
                names[row]
                for row, q, v in zip(rows, new_positions, new_velocities, strict=True)
                if not (np.isfinite(q) and np.isfinite(v))
            ]
            raise JointStateError(f"non-finite position or velocity for {bad}")
        self.positions[columns] = new_positions
        self.velocities[columns] = new_velocities
        self.received[columns] = now

    def age(self, now: float) -> float:
        """Seconds since the least recently measured joint (inf while one never was)."""
        return float(now - np.min(self.received))

    def stale_joints(self, now: float) -> list[str]:
        """The wanted joints not measured within ``timeout``."""
        return [name for name, t in zip(self.joints, self.received, strict=True) if now - t > self.timeout]

    def state(self, now: float) -> tuple[np.ndarray, np.ndarray] | None:
        """(positions, velocities) when every joint was measured within ``timeout``, else None."""
        if self.age(now) > self.timeout:
            return None
        return self.positions.copy(), self.velocities.copy()


class MeasuredGripper:
    """The gripper's measured width, from its command joint through the robot file's map."""

    def __init__(self, gripper: GripperSettings, timeout: float) -> None:
        self.gripper = gripper
        self._joint = MeasuredJoints([gripper.command_joint], timeout)

    def update(
        self, names: Sequence[str], positions: Sequence[float], velocities: Sequence[float], now: float
    ) -> None:
        """Take one joint state sample; raises :class:`JointStateError` when it names no gripper joint
        or cannot be read (an arm-only publisher's samples do that)."""
        self._joint.update(names, positions, velocities, now)

    def width(self, now: float) -> float | None:
        """The measured width (m); None while the command joint has no recent measurement."""
        state = self._joint.state(now)
        return None if state is None else float(self.gripper.width(state[0][0]))

    def opening(self, now: float) -> float | None:
        """The measured width as a share of the widest opening (1: fully open); None while unmeasured."""
        width = self.width(now)
        return None if width is None else width / self.gripper.max_width
