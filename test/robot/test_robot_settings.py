"""A robot file's robot section parses once into RobotSettings; bad values are named."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from vla_ros.config import ConfigError, load_parameters
from vla_ros.robot.settings import RobotConfigError, robot_settings
from vla_ros.robot.urdf import DEFAULT_ROBOT, available_robots, robot_config_path


def _parameters(robot: str = DEFAULT_ROBOT) -> dict:
    return copy.deepcopy(load_parameters(str(robot_config_path(robot)), "any_node"))


def test_the_shipped_robot_parses():
    robot = robot_settings(_parameters())
    assert robot.arm_joints == tuple(f"panda_joint{i}" for i in range(1, 8))
    assert robot.gripper_joints == ("panda_finger_joint1", "panda_finger_joint2")
    np.testing.assert_allclose(robot.tcp_from_parent[:3, 3], [0.0, 0.0, 0.1034])
    np.testing.assert_allclose(robot.gripper_positions(0.06), [0.03, 0.03])


@pytest.mark.parametrize("name", available_robots())
def test_every_shipped_robot_parses(name):
    robot = robot_settings(_parameters(name))
    assert len(robot.home_positions) == len(robot.arm_joints)


def test_the_xarm_gripper_maps_its_linkage():
    gripper = robot_settings(_parameters("xarm6")).gripper
    assert gripper.position(gripper.max_width) == 0.0  # drive_joint 0: open
    assert gripper.position(0.0) == pytest.approx(0.846)
    assert gripper.width(gripper.position(0.04)) == pytest.approx(0.04)
    assert gripper.position(1.0) == 0.0  # clipped to the widest opening


@pytest.mark.parametrize(
    ("symmetry", "yaws"),
    [(0.0, [0.0]), (np.pi, [0.0, np.pi]), (0.5 * np.pi, [0.0, 0.5 * np.pi, np.pi, 1.5 * np.pi])],
)
def test_a_grippers_equivalent_yaws_follow_its_symmetry(symmetry, yaws):
    parameters = _parameters()
    parameters["robot"]["gripper"]["yaw_symmetry"] = symmetry
    np.testing.assert_allclose(robot_settings(parameters).gripper.equivalent_yaws(), yaws)


def test_an_unknown_robot_names_the_shipped_ones():
    with pytest.raises(ConfigError, match=r"unknown robot 'ur5e'.*panda.*xarm6"):
        robot_config_path("ur5e")


@pytest.mark.parametrize(
    ("key", "gripper_value", "message"),
    [
        ("command_joint", "panda_joint1", "is not a gripper joint"),
        ("multipliers", [1.0], "one value per gripper joint"),
        ("widths", [0.08, 0.0], "increasing"),
        ("positions", [0.0, 0.0], "strictly monotonic"),
        ("effort", 0.0, "effort"),
        ("yaw_symmetry", 1.0, "yaw_symmetry must be 0 or 2 pi / n"),
        ("yaw_symmetry", -3.141593, "yaw_symmetry"),
        ("yaw_symmetry", 2.0 * np.pi, "yaw_symmetry"),
    ],
)
def test_bad_gripper_values_are_named(key, gripper_value, message):
    parameters = _parameters()
    parameters["robot"]["gripper"][key] = gripper_value
    with pytest.raises(RobotConfigError, match=message):
        robot_settings(parameters)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("gripper_joints", ["panda_joint7", "panda_finger_joint2"], "both an arm and a gripper joint"),
        ("home_positions", [0.0] * 6, "home_positions must have one finite value per arm joint"),
        ("acceleration_limits", [1.0] * 6 + [0.0], "must be > 0"),
        ("position_margin", 0.7, r"position_margin = 0.7 is outside \[0.0, 0.5\]"),
        ("tcp_offset_xyz", [0.0, 0.0], "tcp_offset_xyz"),
        ("base_frame", "", "must name frames"),
        ("gripper", {"command_joint": "panda_joint1"}, "missing"),
        ("workcell_origin_xy", [3.0, 0.0], "workcell_origin_xy"),
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


def test_each_robot_names_its_own_policy_and_a_checkpoint_in_policy_yaml_wins(tmp_path):
    from vla_ros.policy.inference import KeyframePolicy
    from vla_ros.policy.settings import PolicyConfig, load_policy_config

    assert load_policy_config().checkpoint == "models/policy/policy.pt"
    xarm = load_policy_config(robot="xarm6")
    assert xarm.checkpoint == "models/policy/xarm6/policy.pt"
    KeyframePolicy(xarm)  # shipped, and its architecture fits config/policy.yaml
    own = tmp_path / "policy.yaml"
    own.write_text("/**/keyframe_policy:\n  ros__parameters:\n    checkpoint: /models/mine.pt\n")
    files = (str(robot_config_path("xarm6")), "policy.yaml", str(own))
    assert (
        PolicyConfig.from_parameters(load_parameters(files, "keyframe_policy")).checkpoint
        == "/models/mine.pt"
    )
