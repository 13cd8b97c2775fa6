"""Rigid transforms as 4x4 homogeneous matrices; quaternions are (x, y, z, w) as in PyBullet and ROS."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def rpy_to_matrix(roll: float, pitch: float, yaw: float) -> NDArray[np.float64]:
    """Rotation matrix of URDF fixed-axis roll-pitch-yaw: ``Rz(yaw) @ Ry(pitch) @ Rx(roll)``."""
    cr, sr = np.cos(roll), np.sin(roll)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cy, sy = np.cos(yaw), np.sin(yaw)
    return np.array(
        [
            [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
            [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
            [-sp, cp * sr, cp * cr],
        ]
    )


def quaternion_to_matrix(quaternion: ArrayLike) -> NDArray[np.float64]:
    """Rotation matrix of a unit quaternion (x, y, z, w)."""
    x, y, z, w = np.asarray(quaternion, dtype=float) / np.linalg.norm(quaternion)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def matrix_to_quaternion(rotation: ArrayLike) -> NDArray[np.float64]:
    """Unit quaternion (x, y, z, w) with w >= 0 of a rotation matrix."""
    m = np.asarray(rotation, dtype=float)
    trace = np.trace(m)
    if trace > 0.0:
        s = 2.0 * np.sqrt(trace + 1.0)
        q = np.array([(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s])
    else:
        i = int(np.argmax(np.diag(m)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(1.0 + m[i, i] - m[j, j] - m[k, k])
        q = np.empty(4)
        q[i] = 0.25 * s
        q[j] = (m[j, i] + m[i, j]) / s
        q[k] = (m[k, i] + m[i, k]) / s
        q[3] = (m[k, j] - m[j, k]) / s
    q /= np.linalg.norm(q)
    return q if q[3] >= 0.0 else -q


def pose_matrix(position: ArrayLike, rotation: ArrayLike | None = None) -> NDArray[np.float64]:
    """4x4 transform from a position and a 3x3 rotation matrix or an (x, y, z, w) quaternion."""
    transform = np.eye(4)
    transform[:3, 3] = np.asarray(position, dtype=float)
    if rotation is not None:
        rotation = np.asarray(rotation, dtype=float)
        transform[:3, :3] = quaternion_to_matrix(rotation) if rotation.shape == (4,) else rotation
    return transform


def invert(transform: ArrayLike) -> NDArray[np.float64]:
    """Inverse of a rigid 4x4 transform."""
    t = np.asarray(transform, dtype=float)
    inverse = np.eye(4)
    inverse[:3, :3] = t[:3, :3].T
    inverse[:3, 3] = -t[:3, :3].T @ t[:3, 3]
    return inverse


def transform_points(transform: ArrayLike, points: ArrayLike) -> NDArray[np.float64]:
    """Apply a 4x4 transform to points of shape (..., 3)."""
    t = np.asarray(transform, dtype=float)
    return np.asarray(points, dtype=float) @ t[:3, :3].T + t[:3, 3]


def pose_to_vector(transform: ArrayLike) -> NDArray[np.float64]:
    """A transform as (x, y, z, qx, qy, qz, qw)."""
    t = np.asarray(transform, dtype=float)
    return np.concatenate([t[:3, 3], matrix_to_quaternion(t[:3, :3])])


def yaw_of(rotation: ArrayLike) -> float:
    """Heading of a rotation's x axis in the horizontal plane."""
    r = np.asarray(rotation, dtype=float)
    return float(np.arctan2(r[1, 0], r[0, 0]))


def quaternion_yaw(quaternion: ArrayLike) -> float:
    """Heading of the x axis of a rotation given as an (x, y, z, w) quaternion."""
    return yaw_of(quaternion_to_matrix(quaternion))


def wrap_angle(angle: float) -> float:
    """Angle wrapped to [-pi, pi)."""
    return float((angle + np.pi) % (2.0 * np.pi) - np.pi)
