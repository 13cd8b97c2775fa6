"""A continuous arm joint (a UR's wrist) is used within one turn either way by the kinematics, the
controller's limits and the simulator."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import numpy as np
import pytest

from vla_ros.control.errors import RobotModelError
from vla_ros.control.kinematics import ArmKinematics
from vla_ros.robot.urdf import resolve_urdf_path
from vla_ros.sim.settings import load_sim_config
from vla_ros.sim.workcell import Workcell


@pytest.fixture(scope="module")
def continuous_wrist(tmp_path_factory) -> Path:
    """The Panda's URDF with joint 7 continuous (its velocity and effort limits kept)."""
    robot = load_sim_config().robot
    text = Path(resolve_urdf_path(robot.urdf_path)).read_text()
    path = tmp_path_factory.mktemp("urdf") / "panda_continuous_wrist.urdf"
    # pybullet_data's meshes are relative to its directory: keep them reachable from the copy
    mesh_dir = Path(resolve_urdf_path(robot.urdf_path)).parent / "meshes"
    (path.parent / "meshes").symlink_to(mesh_dir)
    start = text.index('<joint name="panda_joint7"')
    end = text.index("</joint>", start)
    wrist = text[start:end].replace('type="revolute"', 'type="continuous"')
    wrist = wrist.replace(' lower="-2.9671" upper="2.9671"', "")  # no position limits
    path.write_text(text[:start] + wrist + text[end:])
    return path


def test_the_kinematics_bound_a_continuous_joint_to_one_turn_either_way(continuous_wrist):
    robot = load_sim_config().robot
    kinematics = ArmKinematics.from_settings(dataclasses.replace(robot, urdf_path=str(continuous_wrist)))
    original = ArmKinematics.from_settings(robot)
    margin = robot.position_margin
    assert kinematics.limits.lower[6] == pytest.approx(-2.0 * math.pi + margin)
    assert kinematics.limits.upper[6] == pytest.approx(2.0 * math.pi - margin)
    np.testing.assert_allclose(kinematics.limits.velocity, original.limits.velocity)
    q = np.array(robot.home_positions)
    q[6] = 4.0  # beyond the revolute wrist's 2.9 rad
    forward = kinematics.forward(q).to_matrix()
    q[6] -= 2.0 * math.pi
    np.testing.assert_allclose(forward, kinematics.forward(q).to_matrix(), atol=1e-9)


def test_a_continuous_joint_without_a_velocity_limit_is_refused(continuous_wrist):
    robot = load_sim_config().robot
    xml = re.sub(r'<limit effort="12" velocity="2.6100"/>', "", continuous_wrist.read_text())
    with pytest.raises(RobotModelError, match="continuous joint 'panda_joint7' has no <limit velocity"):
        ArmKinematics.from_urdf_string(xml, robot)


def test_the_simulator_drives_a_continuous_joint_within_one_turn(continuous_wrist):
    config = load_sim_config()
    robot = dataclasses.replace(config.robot, urdf_path=str(continuous_wrist))
    workcell = Workcell(dataclasses.replace(config, robot=robot))
    try:
        assert workcell.limits.upper[6] == pytest.approx(2.0 * math.pi)
        target = np.array(robot.home_positions)
        target[6] = 4.0
        workcell.set_arm_targets(target)
        assert workcell.arm_targets()[6] == pytest.approx(4.0)
        target[6] = 7.0
        workcell.set_arm_targets(target)
        assert workcell.arm_targets()[6] == pytest.approx(2.0 * math.pi)
    finally:
        workcell.close()
