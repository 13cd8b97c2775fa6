"""Workcell commands behave like a position controller with the robot's limits; bad commands are refused."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.sim.render_process import RenderProcess
from vla_ros.sim.workcell import Workcell, WorkcellError


def test_joint_state_reports_every_joint(workcell: Workcell) -> None:
    workcell.reset("lift_block", "train", 1)
    state = workcell.joint_state()
    assert state.names == workcell.arm_joint_names + workcell.gripper_joint_names
    assert state.positions.shape == state.velocities.shape == state.efforts.shape == (9,)
    np.testing.assert_allclose(state.positions[:7], workcell.config.robot.home_positions, atol=0.01)
    assert workcell.gripper_width() == pytest.approx(workcell.config.gripper.open_width, abs=1e-3)
    # holding the arm against gravity takes torque at the shoulder
    assert abs(state.efforts[1]) > 1.0


def test_arm_follows_a_step_target_no_faster_than_its_velocity_limit(workcell: Workcell) -> None:
    workcell.reset("lift_block", "train", 1)
    start = workcell.joint_state().positions[:7]
    target = start.copy()
    target[0] += 0.5
    workcell.set_arm_targets(target)
    workcell.step(0.1)
    moved = workcell.joint_state().positions[0] - start[0]
    assert 0.05 < moved <= workcell.limits.velocity[0] * 0.1 + 0.01
    workcell.step(1.0)
    np.testing.assert_allclose(workcell.joint_state().positions[:7], target, atol=0.01)


def test_targets_beyond_the_limits_are_clipped(workcell: Workcell) -> None:
    workcell.reset("lift_block", "train", 1)
    target = np.array(workcell.config.robot.home_positions)
    target[3] = 1.0  # joint 4's upper limit is 0
    workcell.set_arm_targets(target)
    assert workcell.arm_targets()[3] == pytest.approx(workcell.limits.upper[3])
    workcell.set_gripper_width(1.0)
    assert workcell.gripper_command() == pytest.approx(workcell.config.robot.gripper.max_width)


def test_bad_commands_are_refused(workcell: Workcell) -> None:
    with pytest.raises(WorkcellError, match="7 finite"):
        workcell.set_arm_targets([0.0] * 6)
    with pytest.raises(WorkcellError, match="7 finite"):
        workcell.set_arm_targets([np.nan] * 7)
    with pytest.raises(WorkcellError, match="finite"):
        workcell.set_gripper_width(float("inf"))
    with pytest.raises(WorkcellError, match="multiple of the physics step"):
        workcell.step(0.001)
    with pytest.raises(WorkcellError, match="unknown joints"):
        workcell.joint_index(["panda_joint9"])
    assert workcell.joint_index(["panda_finger_joint1", "panda_joint1"]) == [7, 0]


def test_camera_link_and_optical_frame_follow_the_urdf_convention(workcell: Workcell) -> None:
    workcell.reset("lift_block", "heldout", 2)
    link, optical = workcell.camera_link_pose(), workcell.camera_pose()
    np.testing.assert_allclose(link[:3, 3], optical[:3, 3], atol=1e-9)
    # optical z (forward) is camera_link x; optical x (right) is camera_link -y; optical y (down) is -z
    np.testing.assert_allclose(optical[:3, 2], link[:3, 0], atol=1e-6)
    np.testing.assert_allclose(optical[:3, 0], -link[:3, 1], atol=1e-6)
    np.testing.assert_allclose(optical[:3, 1], -link[:3, 2], atol=1e-6)


def test_a_snapshot_shown_in_a_second_workcell_renders_the_same_image(sim_config) -> None:
    moving, mirror = Workcell(sim_config), Workcell(sim_config)
    try:
        moving.reset("press_button", "train", 4)
        mirror.reset("press_button", "train", 4)
        moving.set_arm_targets(np.array(sim_config.robot.home_positions) + 0.3)
        moving.step(0.5)
        mirror.show_snapshot(moving.snapshot())
        first, second = moving.render(), mirror.render()
        assert np.abs(first.rgb.astype(int) - second.rgb.astype(int)).mean() < 0.5
        np.testing.assert_allclose(np.nan_to_num(first.depth), np.nan_to_num(second.depth), atol=1e-4)
        assert second.stamp == first.stamp
        mirror.reset("stack_blocks", "train", 4)
        with pytest.raises(WorkcellError, match="another scene"):
            mirror.show_snapshot(moving.snapshot())
    finally:
        moving.close()
        mirror.close()


def test_the_render_process_renders_what_the_workcell_shows(sim_config) -> None:
    moving, camera = Workcell(sim_config), RenderProcess(sim_config)
    try:
        moving.reset("pick_place_bowl", "heldout", 2)
        camera.reset("pick_place_bowl", "heldout", 2)
        moving.set_arm_targets(np.array(sim_config.robot.home_positions) - 0.2)
        moving.step(0.5)
        expected, frame = moving.render(), camera.render(moving.snapshot())
        assert np.abs(expected.rgb.astype(int) - frame.rgb.astype(int)).mean() < 0.5
        assert frame.stamp == expected.stamp
        camera.reset("lift_block", "train", 0)
        with pytest.raises(WorkcellError, match="another scene"):
            camera.render(moving.snapshot())
    finally:
        camera.close()
        moving.close()
