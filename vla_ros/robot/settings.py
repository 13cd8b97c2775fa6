"""The robot every node shares, parsed once: the ``robot`` section of a robot file
(``config/robots/<name>.yaml``, found by :func:`vla_ros.robot.urdf.robot_config_path`).

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
from numpy.typing import ArrayLike, NDArray

from vla_ros.config import ConfigError, check_names, check_range, from_dict, load_parameters
from vla_ros.data.geometry import pose_matrix, rpy_to_matrix
from vla_ros.robot.urdf import robot_config_path

SECTION = "robot"
# A continuous joint (a UR's wrist, no position limit) is used within one turn either way (rad): the
# kinematics, the controller's clamps and the simulator's motors treat it as a revolute joint there.
CONTINUOUS_RANGE = 2.0 * math.pi


class RobotConfigError(ConfigError):
    """The robot section is missing, or a value of it is invalid."""


@dataclass(frozen=True)
class GripperSettings:
    """A gripper driven through one joint: how its opening maps to that joint, and how the others follow.

    ``widths`` (m between the fingers, increasing) and ``positions`` (``command_joint``'s position at each
    width) are a piecewise-linear map, for linear fingers and linkages alike. Each of the robot's
    ``gripper_joints`` sits at its ``multipliers`` entry times the command joint's position (a URDF
    ``<mimic>``). ``max_speed``: how fast the opening may change (m/s); ``effort``: each gripper joint's
    force or torque limit (N or N m, as the joint is prismatic or revolute). ``finger_links`` touch what
    is grasped; the simulator gives them the friction coefficient ``finger_friction``.
    ``yaw_symmetry`` (rad): the gripper acts the same turned by this angle about the TCP z axis (a
    parallel gripper: pi); 0 when it has no such symmetry.
    """

    command_joint: str
    widths: tuple[float, ...]
    positions: tuple[float, ...]
    multipliers: tuple[float, ...]
    max_speed: float
    effort: float
    finger_links: tuple[str, ...]
    finger_friction: float
    yaw_symmetry: float

    def __post_init__(self) -> None:
        check_names("finger_links", self.finger_links)
        check_range("finger_friction", self.finger_friction, 0.0, low_open=True)
        turns = 2.0 * math.pi / self.yaw_symmetry if self.yaw_symmetry > 0.0 else 2.0
        if not (self.yaw_symmetry >= 0.0 and turns >= 2.0 - 1e-6 and abs(turns - round(turns)) < 1e-3):
            raise ValueError(
                f"yaw_symmetry must be 0 or 2 pi / n for an integer n >= 2 (pi: a parallel gripper), "
                f"got {self.yaw_symmetry}"
            )
        if len(self.widths) < 2 or len(self.widths) != len(self.positions):
            raise ValueError("widths and positions must have the same length, at least 2")
        if not all(math.isfinite(v) for v in (*self.widths, *self.positions, *self.multipliers)):
            raise ValueError("widths, positions and multipliers must be finite")
        if self.widths[0] < 0.0 or np.any(np.diff(self.widths) <= 0.0):
            raise ValueError(f"widths must be >= 0 and increasing, got {list(self.widths)}")
        steps = np.diff(self.positions)
        if not (np.all(steps > 0.0) or np.all(steps < 0.0)):
            raise ValueError(f"positions must be strictly monotonic in the width, got {list(self.positions)}")
        check_range("max_speed", self.max_speed, 0.0, low_open=True)
        check_range("effort", self.effort, 0.0, low_open=True)

    @property
    def max_width(self) -> float:
        """The widest opening (m)."""
        return self.widths[-1]

    def position(self, width: ArrayLike) -> Any:
        """``command_joint``'s position for an opening ``width`` (m; scalar or array), clipped to the
        map's range."""
        return np.interp(width, self.widths, self.positions)

    def equivalent_yaws(self) -> tuple[float, ...]:
        """The turns about the TCP z axis (rad) after which the gripper acts the same, 0 first."""
        count = round(2.0 * math.pi / self.yaw_symmetry) if self.yaw_symmetry > 0.0 else 1
        return tuple(index * self.yaw_symmetry for index in range(count))

    def opening_position(self, opening: float) -> float:
        """``command_joint``'s position for a normalised opening (1: widest, 0: closed; clipped)."""
        return float(self.position(min(max(opening, 0.0), 1.0) * self.max_width))

    def width(self, position: ArrayLike) -> Any:
        """The opening (m) at ``command_joint`` position(s), clipped to the map's range."""
        order = np.argsort(self.positions)
        return np.interp(position, np.take(self.positions, order), np.take(self.widths, order))


@dataclass(frozen=True)
class RobotSettings:
    """The arm and its gripper: URDF, base frame, joints, home pose, TCP, limits, and where the
    simulated workcell (table, camera, task area) lies in the base frame, for the arm's reach."""

    urdf_path: str
    xacro_arguments: str
    base_frame: str
    arm_joints: tuple[str, ...]
    gripper_joints: tuple[str, ...]
    home_positions: tuple[float, ...]
    tcp_parent_link: str
    tcp_offset_xyz: tuple[float, float, float]
    tcp_offset_rpy: tuple[float, float, float]
    acceleration_limits: tuple[float, ...]
    position_margin: float
    gripper: GripperSettings
    workcell_origin_xy: tuple[float, float]
    policy_checkpoint: str
    planner_model: str

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
        for value in self.workcell_origin_xy:
            check_range("workcell_origin_xy", value, -2.0, 2.0)
        check_range("position_margin", self.position_margin, 0.0, 0.5)
        if self.gripper.command_joint not in self.gripper_joints:
            raise ValueError(
                f"gripper.command_joint {self.gripper.command_joint!r} is not a gripper joint "
                f"({list(self.gripper_joints)})"
            )
        if len(self.gripper.multipliers) != len(self.gripper_joints):
            raise ValueError("gripper.multipliers must have one value per gripper joint")
        if self.gripper.multipliers[self.gripper_joints.index(self.gripper.command_joint)] != 1.0:
            raise ValueError("gripper.multipliers must be 1.0 for the command joint")

    def gripper_positions(self, width: float) -> NDArray[np.float64]:
        """Every gripper joint's position (``gripper_joints`` order) for an opening ``width`` (m)."""
        return self.gripper.position(width) * np.array(self.gripper.multipliers)

    @property
    def workcell_origin(self) -> NDArray[np.float64]:
        """The simulated workcell's frame in the base frame (4x4): moved by ``workcell_origin_xy``."""
        return pose_matrix((*self.workcell_origin_xy, 0.0), np.eye(3))

    @property
    def tcp_from_parent(self) -> NDArray[np.float64]:
        """The TCP frame in ``tcp_parent_link`` as a 4x4 transform."""
        return pose_matrix(self.tcp_offset_xyz, rpy_to_matrix(*self.tcp_offset_rpy))


def robot_settings(parameters: dict[str, Any], error: type[ConfigError] = RobotConfigError) -> RobotSettings:
    """The robot section of a node's nested parameters (as ``load_parameters`` returns them)."""
    if SECTION not in parameters:
        raise error(f"missing the '{SECTION}' section (a robot file, config/robots/<name>.yaml)")
    return from_dict(RobotSettings, parameters[SECTION], SECTION, error)


def load_robot_settings(robot: str) -> RobotSettings:
    """The robot section of ``robot``'s robot file (a name of config/robots/ or a file), for the tools."""
    return robot_settings(load_parameters(str(robot_config_path(robot)), "robot"))
