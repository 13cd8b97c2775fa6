"""Conversions between ROS message fields and plain numbers / NumPy arrays."""

from __future__ import annotations

import numpy as np
import transforms3d.quaternions as quaternions
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import Point, Pose, Quaternion
from numpy.typing import NDArray

_NANO = 1_000_000_000


def seconds_from_stamp(stamp: Time | Duration) -> float:
    """Seconds of a builtin_interfaces Time or Duration."""
    return stamp.sec + stamp.nanosec * 1e-9


def stamp_from_seconds(seconds: float) -> Time:
    """builtin_interfaces/Time for a non-negative number of seconds."""
    nanoseconds = round(seconds * _NANO)
    return Time(sec=nanoseconds // _NANO, nanosec=nanoseconds % _NANO)


def duration_from_seconds(seconds: float) -> Duration:
    """builtin_interfaces/Duration for a non-negative number of seconds."""
    nanoseconds = round(seconds * _NANO)
    return Duration(sec=nanoseconds // _NANO, nanosec=nanoseconds % _NANO)


def pose_from_matrix(transform: NDArray[np.float64]) -> Pose:
    """geometry_msgs/Pose of a 4x4 homogeneous transform."""
    w, x, y, z = quaternions.mat2quat(np.asarray(transform)[:3, :3])
    position = np.asarray(transform)[:3, 3]
    return Pose(
        position=Point(x=float(position[0]), y=float(position[1]), z=float(position[2])),
        orientation=Quaternion(x=float(x), y=float(y), z=float(z), w=float(w)),
    )


def matrix_from_pose(pose: Pose) -> NDArray[np.float64]:
    """4x4 homogeneous transform of a geometry_msgs/Pose (the quaternion is normalised)."""
    q = pose.orientation
    transform = np.eye(4)
    transform[:3, :3] = quaternions.quat2mat(
        np.array([q.w, q.x, q.y, q.z]) / np.linalg.norm([q.w, q.x, q.y, q.z])
    )
    transform[:3, 3] = [pose.position.x, pose.position.y, pose.position.z]
    return transform
