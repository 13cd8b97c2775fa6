"""The executor plans a keyframe's twin under the gripper's yaw symmetry when that moves the arm less."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from vla_ros.control.errors import PlanningError
from vla_ros.control.executor import ChunkExecutor
from vla_ros.control.pose import Pose
from vla_ros.control.settings import ExecutorSettings


def _top_down(yaw_deg: float, position: list[float]) -> Pose:
    """A TCP pose pointing down, its x axis at ``yaw_deg`` in the base frame."""
    yaw = math.radians(yaw_deg)
    matrix = np.eye(4)
    matrix[:3, :3] = np.array(
        [[math.cos(yaw), -math.sin(yaw), 0.0], [math.sin(yaw), math.cos(yaw), 0.0], [0.0, 0.0, 1.0]]
    ) @ np.diag([1.0, -1.0, -1.0])
    matrix[:3, 3] = position
    return Pose.from_matrix(matrix)


# A push's first keyframe from the ready pose (held-out seed 50004 of policy-eval): at -80 degrees the
# Panda's last joint ends near its limit and the approach line's spline leaves it; at +100 degrees (the
# same for a two-finger gripper) the joint turns the other way, well inside.
PUSH_START = [0.506, 0.296, 0.16]


@pytest.fixture()
def asymmetric_settings(executor_settings: ExecutorSettings) -> ExecutorSettings:
    gripper = replace(executor_settings.robot.gripper, yaw_symmetry=0.0)
    return replace(executor_settings, robot=replace(executor_settings.robot, gripper=gripper))


def test_a_keyframe_beyond_the_joint_limits_is_planned_as_its_half_turned_twin(
    kinematics, executor_settings, asymmetric_settings, ready
):
    keyframe = _top_down(-80.0, PUSH_START)
    strict = ChunkExecutor(kinematics, asymmetric_settings)
    with pytest.raises(PlanningError, match="leaves the joint limits"):
        strict.set_target(keyframe, gripper_open=False, now=0.0, positions=ready, velocities=np.zeros(7))
    assert strict.target is None and strict.plan is None

    executor = ChunkExecutor(kinematics, executor_settings)
    executor.set_target(keyframe, gripper_open=False, now=0.0, positions=ready, velocities=np.zeros(7))
    assert executor.target is not None
    position_error, turn = keyframe.error_to(executor.target)
    assert position_error < 1e-9 and turn == pytest.approx(math.pi)
    times = np.linspace(0.0, executor.plan.end_time, 400)
    positions = executor.plan.sample(times)[0]
    assert kinematics.limits.contains(positions)
    reached = kinematics.forward(positions[-1])
    assert reached.error_to(executor.target)[0] < 1e-3 and reached.error_to(executor.target)[1] < 1e-2


@pytest.mark.parametrize("yaw", [100.0, -80.0])
def test_the_twin_nearest_the_current_joints_is_chosen(kinematics, executor_settings, ready, yaw):
    """Either way the keyframe is written, the arm goes to the same (comfortable) configuration."""
    executor = ChunkExecutor(kinematics, executor_settings)
    keyframe = _top_down(yaw, [0.457, 0.244, 0.16])
    executor.set_target(keyframe, gripper_open=False, now=0.0, positions=ready, velocities=np.zeros(7))
    assert (executor.target is keyframe) == (yaw == 100.0)
    final = executor.waypoints[-1].positions
    assert abs(final[6] - ready[6]) < math.radians(90.0)  # the wrist turned back, not into its limit


def test_a_gripper_without_the_symmetry_keeps_the_keyframes_orientation(
    kinematics, asymmetric_settings, ready
):
    executor = ChunkExecutor(kinematics, asymmetric_settings)
    keyframe = _top_down(-80.0, [0.457, 0.244, 0.16])
    executor.set_target(keyframe, gripper_open=False, now=0.0, positions=ready, velocities=np.zeros(7))
    assert executor.target is keyframe
