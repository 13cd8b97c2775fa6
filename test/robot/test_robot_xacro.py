"""A robot described by xacro: expanded with its arguments for the kinematics, the simulator and RViz."""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from vla_ros.control.errors import RobotModelError
from vla_ros.control.kinematics import ArmKinematics
from vla_ros.robot.description import (
    RobotDescriptionError,
    local_mesh_file,
    robot_description,
    robot_urdf,
    urdf_file,
    xacro_mappings,
)
from vla_ros.robot.urdf import resolve_urdf_path
from vla_ros.sim.settings import load_sim_config
from vla_ros.sim.workcell import Workcell, WorkcellError

pytest.importorskip("xacro")
ROBOT = load_sim_config().robot
XACRO_NS = 'xmlns:xacro="http://www.ros.org/wiki/xacro"'


@pytest.fixture
def panda_xacro(tmp_path) -> Path:
    """The Panda's URDF as a xacro file elsewhere: meshes as absolute paths (as ``$(find ...)`` gives
    them) and the first joint's velocity limit an argument ``velocity`` (default 2.175)."""
    urdf = Path(resolve_urdf_path(ROBOT.urdf_path))
    text = urdf.read_text()
    text = re.sub(
        r'filename="([^"]+)"',
        lambda m: f'filename="{local_mesh_file(m.group(1), urdf.parent)}"',
        text,
    )
    head, joint1, tail = text.partition('<joint name="panda_joint1"')
    body, end, rest = tail.partition("</joint>")
    body = re.sub(r'velocity="[^"]+"', 'velocity="${velocity}"', body)
    arguments = (
        '<xacro:arg name="velocity" default="2.175"/>'
        '<xacro:property name="velocity" value="$(arg velocity)"/>'
    )
    head = re.sub(r"<robot [^>]*>", lambda m: m.group(0) + arguments, head, count=1)
    path = tmp_path / "panda.urdf.xacro"
    path.write_text(head + joint1 + body + end + rest)
    return path


def test_xacro_arguments_are_name_value_pairs():
    assert xacro_mappings("") == {}
    assert xacro_mappings("arm_id:=fr3  hand:=true") == {"arm_id": "fr3", "hand": "true"}
    for bad in ("arm_id=fr3", ":=x"):
        with pytest.raises(RobotDescriptionError, match="is not name:=value"):
            xacro_mappings(bad)


def test_the_kinematics_load_a_xacro_robot_with_its_arguments(panda_xacro):
    robot = dataclasses.replace(ROBOT, urdf_path=str(panda_xacro), xacro_arguments="")
    from_xacro = ArmKinematics.from_settings(robot)
    from_urdf = ArmKinematics.from_settings(ROBOT)
    home = np.array(ROBOT.home_positions)
    np.testing.assert_allclose(from_xacro.forward(home).to_matrix(), from_urdf.forward(home).to_matrix())
    assert from_xacro.limits.velocity[0] == pytest.approx(2.175)
    slower = ArmKinematics.from_settings(dataclasses.replace(robot, xacro_arguments="velocity:=1.5"))
    assert slower.limits.velocity[0] == pytest.approx(1.5)


def test_the_simulator_loads_the_expansion_with_its_meshes(panda_xacro):
    loadable = Path(urdf_file(str(panda_xacro)))
    assert loadable.suffix == ".urdf" and loadable.parent != panda_xacro.parent
    assert "${" not in loadable.read_text() and "xacro:" not in loadable.read_text()
    config = load_sim_config()
    config = dataclasses.replace(config, robot=dataclasses.replace(config.robot, urdf_path=str(panda_xacro)))
    workcell = Workcell(config)
    try:
        workcell.reset("lift_block", "train", 0)
        np.testing.assert_allclose(workcell.joint_state().positions[:7], ROBOT.home_positions, atol=0.02)
        assert workcell.gripper_width() == pytest.approx(config.gripper.open_width, abs=1e-3)
    finally:
        workcell.close()


def test_rviz_gets_the_expansion_with_file_uris(panda_xacro):
    urdf = robot_description(str(panda_xacro), "velocity:=1.0")
    assert 'velocity="1.0"' in urdf
    assert all(uri.startswith("file:///") for uri in re.findall(r'filename="([^"]+)"', urdf))


def test_bad_xacro_robots_get_clear_errors(panda_xacro, tmp_path, monkeypatch):
    broken = tmp_path / "broken.urdf.xacro"
    broken.write_text(f'<robot name="r" {XACRO_NS}><xacro:call macro="missing"/></robot>')
    with pytest.raises(RobotDescriptionError, match=r"xacro cannot expand .*broken\.urdf\.xacro"):
        robot_urdf(str(broken))
    with pytest.raises(RobotDescriptionError, match=r"xacro_arguments are given, but .* is not a xacro file"):
        robot_urdf(ROBOT.urdf_path, "velocity:=1.0")
    with pytest.raises(RobotModelError, match="xacro cannot expand"):
        ArmKinematics.from_settings(dataclasses.replace(ROBOT, urdf_path=str(broken)))
    monkeypatch.setitem(sys.modules, "xacro", None)  # as where the package is not installed
    with pytest.raises(RobotDescriptionError, match="the xacro package is not installed"):
        robot_urdf(str(panda_xacro))
    config = load_sim_config()
    config = dataclasses.replace(config, robot=dataclasses.replace(config.robot, urdf_path=str(panda_xacro)))
    with pytest.raises(WorkcellError, match="the xacro package is not installed"):
        Workcell(config)
