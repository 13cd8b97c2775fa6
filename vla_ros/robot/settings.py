"""The robot every node shares, parsed once: the ``robot`` section of ``config/robot.yaml``.

The simulator, the executor, the controller and the policy read the same file (as a ``/**`` section,
merged before their own parameter file) into :class:`RobotSettings`, so the simulated arm, the
kinematics and the gripper reading cannot disagree. Joint position and velocity limits come from the
URDF (see :mod:`vla_ros.control.kinematics`), acceleration limits from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vla_ros.config import ConfigError, check_names, check_range, from_dict
from vla_ros.data.geometry import pose_matrix, rpy_to_matrix

SECTION = "robot"


class RobotConfigError(ConfigError):
    """The robot section is missing, or a value of it is invalid."""


@dataclass(frozen=True)
class RobotSettings:
    """The arm and its gripper: URDF, base frame, joints, home pose, TCP and limits."""

    urdf_path: str
    base_frame: str
    arm_joints: tuple[str, ...]
    gripper_joints: tuple[str, ...]
    home_positions: tuple[float, ...]
    tcp_parent_link: str
    tcp_offset_xyz: tuple[float, float, float]
    tcp_offset_rpy: tuple[float, float, float]
    acceleration_limits: tuple[float, ...]
    position_margin: float

    def __post_init__(self) -> None:
        check_names("arm_joints", self.arm_joints)
        check_names("gripper_joints", self.gripper_joints)
        if set(self.arm_joints) & set(self.gripper_joints):
            raise ValueError("a joint cannot be both an arm and a gripper joint")
        if not self.base_frame or not self.tcp_parent_link:
            raise ValueError("base_frame and tcp_parent_link must name frames")
        for name in ("home_positions", "acceleration_limits"):
            values = getattr(self, name)
            if len(values) != len(self.arm_joints) or not all(math.isfinite(v) for v in values):
                raise ValueError(f"{name} must have one finite value per arm joint, got {list(values)}")
        if min(self.acceleration_limits) <= 0.0:
            raise ValueError(
                f"acceleration_limits must be > 0 for every joint, got {self.acceleration_limits}"
            )
        for value in (*self.tcp_offset_xyz, *self.tcp_offset_rpy):
            check_range("tcp offset", value)
        check_range("position_margin", self.position_margin, 0.0, 0.5)

    @property
    def tcp_from_parent(self) -> NDArray[np.float64]:
        """The TCP frame in ``tcp_parent_link`` as a 4x4 transform."""
        return pose_matrix(self.tcp_offset_xyz, rpy_to_matrix(*self.tcp_offset_rpy))


def robot_settings(parameters: dict[str, Any], error: type[ConfigError] = RobotConfigError) -> RobotSettings:
    """The robot section of a node's nested parameters (as ``load_parameters`` returns them)."""
    if SECTION not in parameters:
        raise error(f"missing the '{SECTION}' section (config/robot.yaml)")
    return from_dict(RobotSettings, parameters[SECTION], SECTION, error)
