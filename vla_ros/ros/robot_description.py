"""The arm's kinematics for a node, from one source of the robot description, as ros2_control and MoveIt
take it: the ``robot_description`` parameter (URDF XML) when set; else the topic named by
``robot_description_topic`` (std_msgs/String, latched, as robot_state_publisher publishes it); else the
robot file's ``urdf_path`` (a URDF or xacro file)."""

from __future__ import annotations

import time
from typing import Any

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from std_msgs.msg import String

from vla_ros.control.errors import RobotModelError
from vla_ros.control.kinematics import ArmKinematics
from vla_ros.robot.settings import RobotSettings
from vla_ros.robot.urdf import DESCRIPTION_TOPIC_PARAMETER
from vla_ros.ros.qos import LATCHED


def wait_for_robot_description(node: Node, topic: str, timeout_s: float) -> str:
    """The first URDF published on ``topic`` (latched: one published before the node started counts).

    Called while the node is built, before it is spun: only this subscription's callback can run.
    Raises :class:`RobotModelError` when none (or an empty one) arrives within ``timeout_s`` (wall).
    """
    received: list[str] = []
    subscription = node.create_subscription(String, topic, lambda msg: received.append(msg.data), LATCHED)
    resolved = subscription.topic_name
    deadline = time.monotonic() + timeout_s
    try:
        while not received and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=min(0.1, max(0.0, deadline - time.monotonic())))
    finally:
        node.destroy_subscription(subscription)
    if not received:
        raise RobotModelError(
            f"no robot description on {resolved} within {timeout_s:g} s: start robot_state_publisher "
            "(or whatever publishes it), or set robot_description_topic to '' to use the robot file"
        )
    if not received[0].strip():
        raise RobotModelError(f"the robot description on {resolved} is empty")
    return received[0]


def declare_robot_kinematics(node: Node, robot: RobotSettings, parameters: dict[str, Any]) -> ArmKinematics:
    """Declare ``robot_description`` and build the kinematics from the first source that is set (see the
    module's docstring); ``parameters``: the node's, with ``robot_description_topic`` and
    ``robot_description_timeout``."""
    description = node.declare_parameter(
        "robot_description",
        "",
        ParameterDescriptor(description="URDF XML; empty: robot_description_topic, else the robot file"),
    ).value
    topic = parameters[DESCRIPTION_TOPIC_PARAMETER]
    if not description and topic:
        description = wait_for_robot_description(node, topic, parameters["robot_description_timeout"])
        node.get_logger().info(f"robot description from {topic} ({len(description)} characters)")
    return ArmKinematics.from_settings(robot, description or None)
