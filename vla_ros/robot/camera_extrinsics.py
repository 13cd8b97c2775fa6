"""The camera's extrinsics on a real robot: its optical frame's pose in the robot base frame.

The keyframe policy reads the camera pose from a latched geometry_msgs/PoseStamped topic; the simulator
publishes it, and on a real robot the camera_extrinsics node does, from one of two sources
(``config/camera_extrinsics.yaml``):

- ``parameters``: a hand-eye calibration result written into the parameter file (translation in metres,
  quaternion x, y, z, w), also published as a static transform;
- ``tf``: a transform someone else already publishes (e.g. easy_handeye's, chained with
  realsense2_camera's own frames), looked up from the base frame to the camera's optical frame.

The optical frame follows REP 103: z forward, x right, y down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import transforms3d.quaternions as quaternions
from numpy.typing import NDArray

from vla_ros.config import ConfigError, from_dict

SOURCES = ("parameters", "tf")
# A calibration's quaternion, written with six decimals, is unit to about 1e-6; further off is a typo.
UNIT_QUATERNION_TOLERANCE = 1e-3


class CameraExtrinsicsError(ConfigError):
    """The camera extrinsics are missing or invalid."""


@dataclass(frozen=True)
class CameraExtrinsicsSettings:
    """The camera_extrinsics node's section of config/camera_extrinsics.yaml (frames: robot.base_frame)."""

    source: str
    pose_topic: str
    camera_frame: str
    translation: tuple[float, float, float]
    rotation_xyzw: tuple[float, float, float, float]
    publish_tf: bool
    tf_lookup_period: float

    def __post_init__(self) -> None:
        # ValueError: from_dict turns it into a CameraExtrinsicsError naming the section.
        if self.source not in SOURCES:
            raise ValueError(
                f"source must be one of {list(SOURCES)}, got {self.source!r}: 'parameters' with translation "
                "and rotation_xyzw from your hand-eye calibration, or 'tf' to read a transform already on "
                "TF (docs/real_robot.md)"
            )
        if not self.pose_topic.strip():
            raise ValueError("pose_topic is empty")
        if not self.camera_frame.strip():
            raise ValueError("camera_frame is empty: name the camera's colour optical frame")
        if not all(math.isfinite(value) for value in (*self.translation, *self.rotation_xyzw)):
            raise ValueError(
                f"translation {self.translation} and rotation_xyzw {self.rotation_xyzw} must be finite"
            )
        norm = math.sqrt(sum(value * value for value in self.rotation_xyzw))
        if abs(norm - 1.0) > UNIT_QUATERNION_TOLERANCE:
            raise ValueError(
                f"rotation_xyzw {list(self.rotation_xyzw)} is not a unit quaternion (norm {norm:.6f}); "
                "the order is x, y, z, w"
            )
        if self.source == "tf" and self.publish_tf:
            raise ValueError("publish_tf must be false with source 'tf': the transform is already on TF")
        if self.tf_lookup_period <= 0.0:
            raise ValueError(f"tf_lookup_period must be > 0 s, got {self.tf_lookup_period}")


def camera_extrinsics_settings(parameters: dict) -> CameraExtrinsicsSettings:
    """Validated settings from the node's nested parameters (without the ``robot`` section)."""
    return from_dict(CameraExtrinsicsSettings, parameters, "camera_extrinsics", CameraExtrinsicsError)


def check_frames(base_frame: str, settings: CameraExtrinsicsSettings) -> None:
    """The camera's pose is taken in ``base_frame``: it must not be empty nor the camera frame."""
    if not base_frame.strip():
        raise CameraExtrinsicsError("the robot base frame (robot.base_frame) is empty")
    if base_frame == settings.camera_frame:
        raise CameraExtrinsicsError(f"camera_frame is the robot base frame {base_frame!r}")


def base_from_camera(base_frame: str, settings: CameraExtrinsicsSettings) -> NDArray[np.float64]:
    """The calibrated pose (4x4) of the camera frame in ``base_frame``; the quaternion is normalised."""
    check_frames(base_frame, settings)
    x, y, z, w = settings.rotation_xyzw
    transform = np.eye(4)
    transform[:3, :3] = quaternions.quat2mat(np.array([w, x, y, z]) / np.linalg.norm([w, x, y, z]))
    transform[:3, 3] = settings.translation
    return transform
