"""Configuration: one validated source; frames agree between the URDFs, the config and the simulator."""

from __future__ import annotations

import copy

import numpy as np
import pybullet
import pytest

from vla_ros.config import load_parameters
from vla_ros.data.geometry import pose_matrix
from vla_ros.robot.urdf import DEFAULT_ROBOT, robot_config_path
from vla_ros.sim.settings import (
    SIM_CONFIG_FILE,
    SIM_NODE_NAME,
    SimConfig,
    SimConfigError,
    sim_config_from_dict,
)
from vla_ros.sim.urdf_frames import UrdfFrameError, frame_pose


def _parameters() -> dict:
    return copy.deepcopy(
        load_parameters((str(robot_config_path(DEFAULT_ROBOT)), SIM_CONFIG_FILE), SIM_NODE_NAME)
    )


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("camera", "vertical_fov", 55.0, "radians"),
        ("camera", "width", "320", "expected int"),
        ("physics", "time_step", 0.5, "time_step"),
        ("robot", "arm_joints", ["panda_joint1"], "one finite value per arm joint"),
        ("gripper", "open_width", 0.2, "open_width"),
        ("expert", "recovery_push_turn", [0.7, 0.35], r"recovery_push_turn must be \[low, high\]"),
        ("expert", "recovery_push_shortfall", [-0.01, 0.05], "recovery_push_shortfall must be"),
    ],
)
def test_bad_values_are_rejected_with_a_clear_message(
    section: str, key: str, value: object, message: str
) -> None:
    parameters = _parameters()
    parameters[section][key] = value
    with pytest.raises(SimConfigError, match=message):
        sim_config_from_dict(parameters)


def test_the_gripper_commands_must_fit_the_robots_gripper() -> None:
    parameters = _parameters()
    parameters["gripper"]["open_width"] = 0.1
    with pytest.raises(SimConfigError, match=r"exceeds the robot's widest opening 0\.08 m"):
        sim_config_from_dict(parameters)


def test_missing_and_unknown_keys_are_reported() -> None:
    parameters = _parameters()
    del parameters["camera"]["rate"]
    parameters["camera"]["fps"] = 30.0
    with pytest.raises(SimConfigError, match=r"missing keys \['rate'\], unknown keys \['fps'\]"):
        sim_config_from_dict(parameters)


def test_camera_frame_from_urdf_matches_the_loaded_workcell(sim_config: SimConfig) -> None:
    urdf = sim_config.workcell.urdf_path()
    expected = frame_pose(urdf, sim_config.workcell.camera_optical_frame)
    client = pybullet.connect(pybullet.DIRECT)
    try:
        body = pybullet.loadURDF(str(urdf), useFixedBase=True, physicsClientId=client)
        names = [
            pybullet.getJointInfo(body, j, physicsClientId=client)[12].decode()
            for j in range(pybullet.getNumJoints(body, physicsClientId=client))
        ]
        state = pybullet.getLinkState(
            body, names.index(sim_config.workcell.camera_optical_frame), physicsClientId=client
        )
    finally:
        pybullet.disconnect(client)
    np.testing.assert_allclose(pose_matrix(state[4], np.array(state[5])), expected, atol=1e-6)
    # optical frame: z forward (down toward the table), x right, y down
    assert expected[2, 2] < 0.0


def test_unknown_frames_are_reported(sim_config: SimConfig) -> None:
    with pytest.raises(UrdfFrameError, match="not connected"):
        frame_pose(sim_config.workcell.urdf_path(), "panda_hand")
