"""A rigid pose (position + unit quaternion, ROS order x, y, z, w) and its conversions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pinocchio as pin

from vla_ros.control.errors import InvalidPoseError


@dataclass(frozen=True)
class Pose:
    """Position (m) and orientation (unit quaternion x, y, z, w, as geometry_msgs/Pose)."""

    position: np.ndarray
    quaternion: np.ndarray

    def __post_init__(self) -> None:
        position = np.asarray(self.position, dtype=float).reshape(-1)
        quaternion = np.asarray(self.quaternion, dtype=float).reshape(-1)
        if position.shape != (3,) or quaternion.shape != (4,):
            raise InvalidPoseError(
                f"a pose needs 3 position and 4 quaternion values, got {position.size} and {quaternion.size}"
            )
        norm = float(np.linalg.norm(quaternion))
        if not (np.all(np.isfinite(position)) and np.isfinite(norm)) or norm < 1e-6:
            raise InvalidPoseError(f"pose is not finite or its quaternion is zero: {position}, {quaternion}")
        object.__setattr__(self, "position", position)
        object.__setattr__(self, "quaternion", quaternion / norm)

    @classmethod
    def from_se3(cls, transform: pin.SE3) -> Pose:
        """Build from a Pinocchio SE3."""
        xyzquat = pin.SE3ToXYZQUAT(transform)
        return cls(xyzquat[:3], xyzquat[3:])

    @classmethod
    def from_matrix(cls, matrix: np.ndarray) -> Pose:
        """Build from a 4x4 homogeneous transform."""
        matrix = np.asarray(matrix, dtype=float)
        if matrix.shape != (4, 4) or not np.all(np.isfinite(matrix)):
            raise InvalidPoseError(f"expected a finite 4x4 transform, got shape {matrix.shape}")
        rotation = matrix[:3, :3]
        if not np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-6):
            raise InvalidPoseError("the 3x3 block of the transform is not a rotation")
        return cls.from_se3(pin.SE3(rotation, matrix[:3, 3]))

    def to_se3(self) -> pin.SE3:
        """Convert to a Pinocchio SE3."""
        return pin.XYZQUATToSE3(np.concatenate([self.position, self.quaternion]))

    def to_matrix(self) -> np.ndarray:
        """Convert to a 4x4 homogeneous transform."""
        return self.to_se3().homogeneous

    def offset_along_z(self, distance: float) -> Pose:
        """This pose moved ``distance`` metres along its own z axis (negative: backwards)."""
        transform = self.to_se3()
        return Pose(transform.translation + distance * transform.rotation[:, 2], self.quaternion)

    def error_to(self, other: Pose) -> tuple[float, float]:
        """Return (position distance in m, rotation angle in rad) between this pose and ``other``."""
        a, b = self.to_se3(), other.to_se3()
        angle = float(np.linalg.norm(pin.log3(a.rotation.T @ b.rotation)))
        return float(np.linalg.norm(a.translation - b.translation)), angle
