"""config/robot.yaml's robot section parses once into RobotSettings; bad values are named."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from vla_ros.config import load_parameters
from vla_ros.robot.settings import RobotConfigError, robot_settings
from vla_ros.robot.urdf import ROBOT_CONFIG_FILE


def _parameters() -> dict:
    return copy.deepcopy(load_parameters(ROBOT_CONFIG_FILE, "any_node"))


def test_the_shipped_robot_parses():
    robot = robot_settings(_parameters())
    assert robot.arm_joints == tuple(f"panda_joint{i}" for i in range(1, 8))
    assert robot.gripper_joints == ("panda_finger_joint1", "panda_finger_joint2")
    np.testing.assert_allclose(robot.tcp_from_parent[:3, 3], [0.0, 0.0, 0.1034])


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("gripper_joints", ["panda_joint7", "panda_finger_joint2"], "both an arm and a gripper joint"),
        ("home_positions", [0.0] * 6, "home_positions must have one finite value per arm joint"),
        ("acceleration_limits", [1.0] * 6 + [0.0], "must be > 0"),
        ("position_margin", 0.7, r"position_margin = 0.7 is outside \[0.0, 0.5\]"),
        ("tcp_offset_xyz", [0.0, 0.0], "tcp_offset_xyz"),
        ("base_frame", "", "must name frames"),
    ],
)
def test_bad_values_are_named(key, value, message):
    parameters = _parameters()
    parameters["robot"][key] = value
    with pytest.raises(RobotConfigError, match=message):
        robot_settings(parameters)


def test_a_missing_section_is_named():
    with pytest.raises(RobotConfigError, match="robot"):
        robot_settings({"rate": 1.0})
