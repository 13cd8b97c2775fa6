"""The simulated workcell with the xArm 6 (config/robots/xarm6.yaml): six arm joints, a linkage gripper
whose joints mimic its drive joint, the workcell placed for its reach, and the expert through the
generic kinematics."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.control.kinematics import ArmKinematics
from vla_ros.sim.expert import run_expert_episode
from vla_ros.sim.settings import load_sim_config
from vla_ros.sim.tasks import sample_scene
from vla_ros.sim.workcell import Workcell, WorkcellError


@pytest.fixture(scope="module")
def xarm():
    workcell = Workcell(load_sim_config(robot="xarm6"))
    yield workcell
    workcell.close()


def test_the_xarm_workcell_has_six_arm_joints_and_its_gripper_joints(xarm: Workcell) -> None:
    xarm.reset("lift_block", "train", 0)
    assert xarm.arm_joint_names == tuple(f"joint{i}" for i in range(1, 7))
    assert len(xarm.joint_state().positions) == 12
    with pytest.raises(WorkcellError, match="6 finite"):
        xarm.set_arm_targets([0.0] * 7)


def test_the_gripper_joints_mimic_the_drive_joint_and_the_opening_follows_the_map(xarm: Workcell) -> None:
    xarm.reset("lift_block", "train", 0)
    assert xarm.gripper_width() == pytest.approx(xarm.config.gripper.open_width, abs=1e-3)
    xarm.set_gripper_width(0.03)
    xarm.step(1.0)
    assert xarm.gripper_width() == pytest.approx(0.03, abs=1e-3)
    gripper = xarm.joint_state().positions[6:]
    np.testing.assert_allclose(gripper, gripper[0], atol=2e-3)  # every multiplier is 1
    assert gripper[0] == pytest.approx(xarm.config.robot.gripper.position(0.03), abs=2e-3)


def test_the_workcell_and_its_scenes_sit_where_the_robot_file_places_them(xarm: Workcell) -> None:
    panda = load_sim_config()
    dx, dy = xarm.config.robot.workcell_origin_xy
    assert (dx, dy) == (-0.1, 0.0)
    for a, b in zip(
        sample_scene(panda, "stack_blocks", "heldout", 3).objects,
        sample_scene(xarm.config, "stack_blocks", "heldout", 3).objects,
        strict=True,
    ):
        assert (b.x - a.x, b.y - a.y) == pytest.approx((dx, dy))
    panda_workcell = Workcell(panda)
    try:
        shift = xarm.nominal_camera_pose[:3, 3] - panda_workcell.nominal_camera_pose[:3, 3]
    finally:
        panda_workcell.close()
    np.testing.assert_allclose(shift, [dx, dy, 0.0], atol=1e-9)


@pytest.mark.parametrize("task", ["lift_block", "push_to_target"])
def test_the_expert_solves_tasks_with_the_xarm(xarm: Workcell, task: str) -> None:
    kinematics = ArmKinematics.from_settings(xarm.config.robot)
    outcome = run_expert_episode(xarm, kinematics, task, "heldout", 7)
    assert outcome.success, outcome.error
