"""The simulator and the controller see the same robot: one parsed description, and the same TCP.

Both read the robot file into :class:`vla_ros.robot.settings.RobotSettings`, but compute the TCP
differently (PyBullet link state, Pinocchio); a keyframe recorded in the simulator must be the pose the
IK solves for.
"""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.control.kinematics import ArmKinematics
from vla_ros.control.settings import ExecutorSettings
from vla_ros.sim.settings import load_sim_config
from vla_ros.sim.workcell import Workcell


@pytest.fixture(scope="module")
def robots():
    sim_config = load_sim_config()
    control_robot = ExecutorSettings.load().robot
    return sim_config, control_robot


def test_one_robot_description(robots):
    sim_config, control_robot = robots
    assert sim_config.robot == control_robot


def test_simulated_tcp_pose_equals_the_kinematics_forward_pose(robots):
    sim_config, control_robot = robots
    kinematics = ArmKinematics.from_settings(control_robot)
    workcell = Workcell(sim_config)
    try:
        workcell.reset("lift_block", "train", 0)
        rng = np.random.default_rng(0)
        for _ in range(3):
            target = np.array(sim_config.robot.home_positions) + rng.uniform(-0.3, 0.3, 7)
            workcell.set_arm_targets(target)
            workcell.step(1.0)
            measured = workcell.joint_state().positions[:7]
            np.testing.assert_allclose(
                kinematics.forward(measured).to_matrix(), workcell.tcp_pose(), atol=1e-5
            )
    finally:
        workcell.close()
