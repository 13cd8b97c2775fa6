"""Output drivers of the ensembling controller: one safe joint command per tick -> a real controller's topic.

Arm drivers (``driver.arm``):
- ``joint_trajectory``: ros2_controllers' joint_trajectory_controller, ``<ctrl>/joint_trajectory``. Each
  tick sends the next ``preview.points`` ensembled, limited commands (all joints, positions and
  velocities, so the controller interpolates with cubic splines), ``time_from_start`` = k * step
  (k = 1.., strictly increasing), header stamp 0 ("start now"). A new message replaces the running
  one; with ``interpolate_from_desired_state`` the controller continues from its own desired state, so
  the stream is smooth.
- ``forward_position``: forward_command_controller's ``<ctrl>/commands`` (std_msgs/Float64MultiArray)
  in the controller's joint order (``driver.forward_position_joints``, reordered by name; the single
  entry ``arm_joints``: the robot file's order).
- ``servo_pose`` / ``servo_twist``: MoveIt Servo's ``<servo>/pose_target_cmds`` (geometry_msgs/PoseStamped,
  the TCP pose by forward kinematics of the command) or ``<servo>/delta_twist_cmds``
  (geometry_msgs/TwistStamped, the TCP velocity J(q) qd of the command), in the robot base frame.

Gripper drivers (``driver.gripper``): ``trajectory`` (a one-joint JointTrajectory to
``<ctrl>/joint_trajectory``), ``forward`` (Float64MultiArray with one value to ``<ctrl>/commands``),
``gripper_command`` and ``parallel_gripper_command`` (control_msgs' actions, see
:mod:`vla_ros.ros.gripper_actions`) or ``none``. Each commands the robot file's gripper
``command_joint``: the chunk's normalised opening (1 open, 0 closed) is that share of the gripper's
widest opening, and the robot file's opening map gives the joint's position; a command is sent when the
opening changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from geometry_msgs.msg import PoseStamped, TwistStamped, Vector3
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import Float64MultiArray, Header
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from vla_ros.config import ConfigError
from vla_ros.control.controller import CommandPreview
from vla_ros.control.kinematics import ArmKinematics
from vla_ros.robot.settings import GripperSettings
from vla_ros.ros.gripper_actions import ACTION_DRIVERS, GripperActionDriver
from vla_ros.ros.messages import duration_from_seconds, pose_from_matrix

COMMAND_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
ARM_DRIVERS = ("joint_trajectory", "forward_position", "servo_pose", "servo_twist")
GRIPPER_DRIVERS = ("trajectory", "forward", *ACTION_DRIVERS, "none")
ROBOT_JOINT_ORDER = ("arm_joints",)
"""``driver.forward_position_joints`` meaning "the robot file's arm_joints, in that order"."""
OPENING_CHANGE = 1e-3
"""Smallest change of the normalised gripper opening that is sent again."""


class DriverConfigError(ConfigError):
    """The driver parameters do not fit the controlled joints or name an unknown driver."""


@dataclass(frozen=True)
class DriverSettings:
    """Section ``driver`` of the controller's parameters (see config/control.yaml)."""

    arm: str
    joint_trajectory_controller: str
    forward_position_controller: str
    forward_position_joints: tuple[str, ...]
    servo_node: str
    gripper: str
    gripper_trajectory_controller: str
    gripper_forward_controller: str
    gripper_motion_time: float
    gripper_resend_period: float
    gripper_action_server: str
    gripper_max_effort: float

    def __post_init__(self) -> None:
        if self.arm not in ARM_DRIVERS:
            raise DriverConfigError(f"driver.arm must be one of {list(ARM_DRIVERS)}, got {self.arm!r}")
        if self.gripper not in GRIPPER_DRIVERS:
            raise DriverConfigError(
                f"driver.gripper must be one of {list(GRIPPER_DRIVERS)}, got {self.gripper!r}"
            )
        if self.gripper_motion_time <= 0.0:
            raise DriverConfigError(f"driver.gripper_motion_time must be > 0, got {self.gripper_motion_time}")
        if self.gripper_resend_period <= 0.0:
            raise DriverConfigError(
                f"driver.gripper_resend_period must be > 0, got {self.gripper_resend_period}"
            )
        if not self.gripper_max_effort >= 0.0:
            raise DriverConfigError(f"driver.gripper_max_effort must be >= 0, got {self.gripper_max_effort}")


@dataclass(frozen=True)
class ArmCommand:
    """One tick's command: positions and velocities (controlled joint order), and future commands."""

    positions: np.ndarray
    velocities: np.ndarray
    preview: CommandPreview | None


def _topic(namespace: str, name: str) -> str:
    return f"{namespace.rstrip('/')}/{name}"


def trajectory_topic(controller: str) -> str:
    """The command topic of a joint_trajectory_controller."""
    return _topic(controller, "joint_trajectory")


def joint_trajectory_message(joint_names: Sequence[str], preview: CommandPreview) -> JointTrajectory:
    """A JointTrajectory of the preview: all joints, stamp 0 (start now), increasing time_from_start."""
    message = JointTrajectory(joint_names=list(joint_names))
    message.points = [
        JointTrajectoryPoint(
            positions=positions.tolist(),
            velocities=velocities.tolist(),
            time_from_start=duration_from_seconds(float(time)),
        )
        for time, positions, velocities in zip(
            preview.times_from_now, preview.positions, preview.velocities, strict=True
        )
    ]
    return message


def controller_order(joint_names: Sequence[str], controller_joints: Sequence[str]) -> list[int]:
    """Column index in ``joint_names`` of each of ``controller_joints``; raises DriverConfigError."""
    missing = [name for name in joint_names if name not in controller_joints]
    unknown = [name for name in controller_joints if name not in joint_names]
    if missing or unknown or len(set(controller_joints)) != len(controller_joints):
        raise DriverConfigError(
            f"driver.forward_position_joints {list(controller_joints)} must name each controlled joint "
            f"{list(joint_names)} once: missing {missing}, unknown {unknown}"
        )
    return [list(joint_names).index(name) for name in controller_joints]


class JointTrajectoryDriver:
    """Streams the preview horizon to joint_trajectory_controller."""

    needs_preview = True

    def __init__(self, node: Node, controller: str, joint_names: Sequence[str]) -> None:
        self.joint_names = tuple(joint_names)
        self.topic = trajectory_topic(controller)
        self._publisher = node.create_publisher(JointTrajectory, self.topic, COMMAND_QOS)

    def send(self, command: ArmCommand, header: Header) -> None:
        """Publish the tick's preview (the header is not used: stamp 0 means start now)."""
        assert command.preview is not None
        self._publisher.publish(joint_trajectory_message(self.joint_names, command.preview))


class ForwardPositionDriver:
    """Sends the tick's positions to forward_position_controller in its joint order."""

    needs_preview = False

    def __init__(
        self, node: Node, controller: str, joint_names: Sequence[str], controller_joints: Sequence[str]
    ) -> None:
        self._order = controller_order(joint_names, controller_joints)
        self.topic = _topic(controller, "commands")
        self._publisher = node.create_publisher(Float64MultiArray, self.topic, COMMAND_QOS)

    def send(self, command: ArmCommand, header: Header) -> None:
        """Publish the positions, reordered."""
        self._publisher.publish(Float64MultiArray(data=command.positions[self._order].tolist()))


class ServoPoseDriver:
    """Sends the TCP pose of the command to MoveIt Servo."""

    needs_preview = False

    def __init__(self, node: Node, servo_node: str, kinematics: ArmKinematics) -> None:
        self._kinematics = kinematics
        self.topic = _topic(servo_node, "pose_target_cmds")
        self._publisher = node.create_publisher(PoseStamped, self.topic, COMMAND_QOS)

    def send(self, command: ArmCommand, header: Header) -> None:
        """Publish FK(positions) in the base frame."""
        pose = self._kinematics.forward(command.positions)
        self._publisher.publish(PoseStamped(header=header, pose=pose_from_matrix(pose.to_matrix())))


class ServoTwistDriver:
    """Sends the TCP velocity of the command to MoveIt Servo."""

    needs_preview = False

    def __init__(self, node: Node, servo_node: str, kinematics: ArmKinematics) -> None:
        self._kinematics = kinematics
        self.topic = _topic(servo_node, "delta_twist_cmds")
        self._publisher = node.create_publisher(TwistStamped, self.topic, COMMAND_QOS)

    def send(self, command: ArmCommand, header: Header) -> None:
        """Publish J(q) qd (linear m/s, angular rad/s) in the base frame."""
        linear, angular = self._kinematics.tcp_velocity(command.positions, command.velocities)
        message = TwistStamped(header=header)
        message.twist.linear = Vector3(x=float(linear[0]), y=float(linear[1]), z=float(linear[2]))
        message.twist.angular = Vector3(x=float(angular[0]), y=float(angular[1]), z=float(angular[2]))
        self._publisher.publish(message)


ArmDriver = JointTrajectoryDriver | ForwardPositionDriver | ServoPoseDriver | ServoTwistDriver


def make_arm_driver(node: Node, settings: DriverSettings, kinematics: ArmKinematics) -> ArmDriver:
    """The arm driver ``settings.arm`` names, publishing on ``node``."""
    if settings.arm == "joint_trajectory":
        return JointTrajectoryDriver(node, settings.joint_trajectory_controller, kinematics.joint_names)
    if settings.arm == "forward_position":
        return ForwardPositionDriver(
            node,
            settings.forward_position_controller,
            kinematics.joint_names,
            (
                kinematics.joint_names
                if settings.forward_position_joints == ROBOT_JOINT_ORDER
                else settings.forward_position_joints
            ),
        )
    if settings.arm == "servo_pose":
        return ServoPoseDriver(node, settings.servo_node, kinematics)
    return ServoTwistDriver(node, settings.servo_node, kinematics)


class GripperDriver:
    """Commands the gripper joint through its own controller when the normalised opening changes, and
    again every ``gripper_resend_period`` while it does not (the gripper may have been moved by
    something else, e.g. a simulator reset that opened it, and a command sent once would not fix it)."""

    def __init__(self, node: Node, settings: DriverSettings, gripper: GripperSettings) -> None:
        self.settings = settings
        self.gripper = gripper
        self._last_opening: float | None = None
        self._last_sent = float("-inf")
        if settings.gripper == "trajectory":
            self.topic = trajectory_topic(settings.gripper_trajectory_controller)
            self._publisher = node.create_publisher(JointTrajectory, self.topic, COMMAND_QOS)
        else:
            self.topic = _topic(settings.gripper_forward_controller, "commands")
            self._publisher = node.create_publisher(Float64MultiArray, self.topic, COMMAND_QOS)

    def joint_position(self, opening: float) -> float:
        """The command joint's position for a normalised opening (clipped to [0, 1])."""
        return self.gripper.opening_position(opening)

    def send(self, opening: float, now: float) -> bool:
        """Command ``opening`` (at ``now``, monotonic seconds) unless it equals the last one sent less than
        ``gripper_resend_period`` ago; returns whether it was sent."""
        unchanged = self._last_opening is not None and abs(opening - self._last_opening) < OPENING_CHANGE
        if unchanged and now - self._last_sent < self.settings.gripper_resend_period:
            return False
        position = self.joint_position(opening)
        if self.settings.gripper == "trajectory":
            message = JointTrajectory(joint_names=[self.gripper.command_joint])
            message.points = [
                JointTrajectoryPoint(
                    positions=[position],
                    time_from_start=duration_from_seconds(self.settings.gripper_motion_time),
                )
            ]
            self._publisher.publish(message)
        else:
            self._publisher.publish(Float64MultiArray(data=[position]))
        self._last_opening, self._last_sent = opening, now
        return True


def make_gripper_driver(
    node: Node, settings: DriverSettings, gripper: GripperSettings
) -> GripperDriver | GripperActionDriver | None:
    """The driver of the robot's ``gripper``, or None when ``driver.gripper`` is ``none``."""
    if settings.gripper == "none":
        return None
    if settings.gripper in ACTION_DRIVERS:
        return GripperActionDriver(
            node,
            settings.gripper,
            settings.gripper_action_server,
            settings.gripper_max_effort,
            settings.gripper_resend_period,
            gripper,
        )
    return GripperDriver(node, settings, gripper)
