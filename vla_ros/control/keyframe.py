"""Keyframe-reached detection: TCP pose within tolerance and every joint settled."""

from __future__ import annotations

import math

import numpy as np

from vla_ros.control.pose import Pose
from vla_ros.control.settings import KeyframeTolerance


class KeyframeReachedDetector:
    """Latches ``reached`` once the measured TCP pose is close to the target and the arm is still.

    ``not_before`` delays the decision (e.g. until the gripper has had time to close).
    """

    def __init__(self, tolerance: KeyframeTolerance) -> None:
        self.tolerance = tolerance
        self.target: Pose | None = None
        self.not_before = -math.inf
        self.reached = False
        self.position_error = math.inf
        self.orientation_error = math.inf

    def set_target(self, target: Pose, not_before: float = -math.inf) -> None:
        """Watch a new target; clears the latch."""
        self.target = target
        self.not_before = not_before
        self.reached = False
        self.position_error = self.orientation_error = math.inf

    def update(self, now: float, tcp_pose: Pose, joint_velocities: np.ndarray) -> bool:
        """Check the measured state; returns True from the first time the keyframe is reached."""
        if self.target is None or self.reached:
            return self.reached
        self.position_error, self.orientation_error = tcp_pose.error_to(self.target)
        settled = bool(np.all(np.abs(joint_velocities) <= self.tolerance.joint_velocity_tolerance))
        self.reached = (
            now >= self.not_before
            and settled
            and self.position_error <= self.tolerance.position_tolerance
            and self.orientation_error <= self.tolerance.orientation_tolerance
        )
        return self.reached
