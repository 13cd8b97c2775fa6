"""The arm's kinematics for a node: from its ``robot_description`` parameter, else from the config."""

from __future__ import annotations

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node

from vla_ros.control.kinematics import ArmKinematics
from vla_ros.robot.settings import RobotSettings


def declare_robot_kinematics(node: Node, robot: RobotSettings) -> ArmKinematics:
    """Declare ``robot_description`` (URDF XML, as robot_state_publisher takes) and build the kinematics.

    An empty description uses ``robot.urdf_path`` of the robot file.
    """
    description = node.declare_parameter(
        "robot_description",
        "",
        ParameterDescriptor(description="URDF XML; empty: robot.urdf_path of the robot file"),
    ).value
    return ArmKinematics.from_settings(robot, description or None)
