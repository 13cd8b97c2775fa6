"""ActionChunkData: the ROS-free twin of ``vla_ros/msg/ActionChunk`` with validation.

Action i of a chunk is meant for time ``t0 + i * dt``; values between samples are interpolated
linearly by time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vla_ros.control.errors import InvalidChunkError, JointNamesError


@dataclass(frozen=True)
class ChunkSample:
    """One chunk's action at a time: positions (J), velocities (J) or None, gripper or None."""

    positions: np.ndarray
    velocities: np.ndarray | None
    gripper: float | None


@dataclass(frozen=True)
class ActionChunkData:
    """H timed joint-space actions for J named joints.

    ``positions`` and ``velocities`` are H x J (velocities may be None), ``gripper`` holds H
    normalised openings (1 open, 0 closed) or None when the chunk does not command the gripper.
    Construction validates shapes, finiteness, ``dt > 0``, unique names and gripper range, and raises
    :class:`InvalidChunkError` saying what is wrong.
    """

    joint_names: tuple[str, ...]
    t0: float
    dt: float
    positions: np.ndarray
    velocities: np.ndarray | None = None
    gripper: np.ndarray | None = None
    chunk_id: int = 0
    source: str = ""

    def __post_init__(self) -> None:
        names = tuple(self.joint_names)
        label = f"chunk {self.chunk_id} from '{self.source}'"
        if not names or len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
            raise JointNamesError(f"{label}: joint names must be unique non-empty strings, got {list(names)}")
        if not (np.isfinite(self.t0) and np.isfinite(self.dt)) or self.dt <= 0.0:
            raise InvalidChunkError(
                f"{label}: needs a finite stamp and dt > 0, got t0={self.t0}, dt={self.dt}"
            )
        positions = np.array(self.positions, dtype=float)
        if positions.ndim != 2 or positions.shape[1] != len(names) or positions.shape[0] < 1:
            raise InvalidChunkError(
                f"{label}: positions must be H x {len(names)} with H >= 1, got shape {positions.shape}"
            )
        if not np.all(np.isfinite(positions)):
            raise InvalidChunkError(f"{label}: positions contain NaN or infinity")
        velocities = None
        if self.velocities is not None:
            velocities = np.array(self.velocities, dtype=float)
            if velocities.shape != positions.shape or not np.all(np.isfinite(velocities)):
                raise InvalidChunkError(
                    f"{label}: velocities must be finite with shape {positions.shape}, got {velocities.shape}"
                )
        gripper = None
        if self.gripper is not None:
            gripper = np.array(self.gripper, dtype=float).reshape(-1)
            if gripper.shape != (positions.shape[0],) or not np.all(np.isfinite(gripper)):
                raise InvalidChunkError(
                    f"{label}: gripper must be {positions.shape[0]} finite values, got shape {gripper.shape}"
                )
            if np.any(gripper < 0.0) or np.any(gripper > 1.0):
                raise InvalidChunkError(f"{label}: gripper openings must lie in [0, 1]")
        for array in (positions, velocities, gripper):
            if array is not None:
                array.setflags(write=False)
        object.__setattr__(self, "joint_names", names)
        object.__setattr__(self, "t0", float(self.t0))
        object.__setattr__(self, "dt", float(self.dt))
        object.__setattr__(self, "positions", positions)
        object.__setattr__(self, "velocities", velocities)
        object.__setattr__(self, "gripper", gripper)

    @classmethod
    def from_flat(
        cls,
        joint_names: Sequence[str],
        t0: float,
        dt: float,
        positions: Sequence[float],
        velocities: Sequence[float],
        gripper: Sequence[float],
        chunk_id: int,
        source: str,
        horizon: int | None = None,
    ) -> ActionChunkData:
        """Build from the message layout: row-major H*J arrays, empty velocities/gripper for none."""
        joints = len(joint_names)
        flat = np.asarray(positions, dtype=float)
        if joints == 0 or flat.size % joints or (horizon is not None and flat.size != horizon * joints):
            raise InvalidChunkError(
                f"chunk {chunk_id} from '{source}': {flat.size} position values do not "
                f"make {horizon if horizon is not None else 'H'} rows of {joints} joints"
            )
        rows = flat.size // joints
        velocity_values = np.asarray(velocities, dtype=float)
        if velocity_values.size and velocity_values.size != flat.size:
            raise InvalidChunkError(
                f"chunk {chunk_id} from '{source}': {velocity_values.size} velocity values, "
                f"expected {flat.size} or none"
            )
        return cls(
            tuple(joint_names),
            t0,
            dt,
            flat.reshape(rows, joints),
            velocity_values.reshape(rows, joints) if velocity_values.size else None,
            np.asarray(gripper, dtype=float) if len(gripper) else None,
            chunk_id,
            source,
        )

    @property
    def horizon(self) -> int:
        """Number of actions H."""
        return self.positions.shape[0]

    @property
    def end_time(self) -> float:
        """Time of the last action."""
        return self.t0 + (self.horizon - 1) * self.dt

    def times(self) -> np.ndarray:
        """Times of the H actions."""
        return self.t0 + self.dt * np.arange(self.horizon)

    def covers(self, t: float) -> bool:
        """True when ``t`` lies within [t0, end_time]."""
        return self.t0 <= t <= self.end_time

    def reordered(self, joint_names: Sequence[str]) -> ActionChunkData:
        """This chunk with its columns in the order of ``joint_names`` (same set of names).

        Raises :class:`JointNamesError` naming the missing and unexpected joints otherwise.
        """
        target = tuple(joint_names)
        if target == self.joint_names:
            return self
        missing = [n for n in target if n not in self.joint_names]
        unexpected = [n for n in self.joint_names if n not in target]
        if missing or unexpected or len(target) != len(self.joint_names):
            raise JointNamesError(
                f"chunk {self.chunk_id} from '{self.source}': joint names do not match the "
                f"controlled joints: missing {missing}, unexpected {unexpected}"
            )
        order = [self.joint_names.index(n) for n in target]
        return ActionChunkData(
            target,
            self.t0,
            self.dt,
            self.positions[:, order],
            None if self.velocities is None else self.velocities[:, order],
            self.gripper,
            self.chunk_id,
            self.source,
        )

    def sample(self, t: float) -> ChunkSample:
        """The action at time ``t`` (clamped to the chunk's span), linear in time between samples."""
        position = min(max((t - self.t0) / self.dt, 0.0), self.horizon - 1.0)
        index = min(int(position), self.horizon - 2) if self.horizon > 1 else 0
        fraction = position - index if self.horizon > 1 else 0.0
        upper = index + 1 if self.horizon > 1 else 0

        def blend(values: np.ndarray) -> np.ndarray:
            return values[index] + fraction * (values[upper] - values[index])

        return ChunkSample(
            blend(self.positions),
            None if self.velocities is None else blend(self.velocities),
            None if self.gripper is None else float(blend(self.gripper)),
        )
