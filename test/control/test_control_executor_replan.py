"""Executor re-planning against a lagging arm: late tracking is not a deviation; passed stops are dropped."""

from __future__ import annotations

import numpy as np

from vla_ros.control.executor import ChunkExecutor
from vla_ros.control.pose import Pose

GRASP = Pose([0.5, 0.1, 0.1], [1.0, 0.0, 0.0, 0.0])


def test_an_arm_that_follows_the_plan_late_keeps_the_plan(kinematics, executor_settings, ready):
    executor = ChunkExecutor(kinematics, executor_settings)
    executor.set_target(GRASP, gripper_open=True, now=0.0, positions=ready, velocities=np.zeros(7))
    plan, tolerance = executor.plan, executor_settings.motion.replan_tolerance
    late = plan.sample(np.array([0.5 - 0.8 * executor_settings.motion.tracking_lag]))[0][0]
    assert np.max(np.abs(late - plan.sample(np.array([0.5]))[0][0])) > tolerance
    executor.update(0.5, late, np.zeros(7))
    assert executor.plan is plan
    executor.update(0.6, late + tolerance + 0.05, np.zeros(7))
    assert executor.plan is not plan


def test_a_late_arm_on_the_approach_line_goes_on_along_it_not_back(kinematics, executor_settings, ready):
    executor = ChunkExecutor(kinematics, executor_settings)
    executor.set_target(GRASP, gripper_open=False, now=0.0, positions=ready, velocities=np.zeros(7))
    _, target = executor.waypoints
    assert target.path is not None
    arrival = {label: time for label, time, _ in executor.plan.arrivals}
    # After the planned arrival at the target, the arm is still at the start of the approach line.
    lagging = target.path[1]
    now = arrival["target"] + 0.05
    executor.update(now, lagging, np.zeros(7))
    assert [waypoint.label for waypoint in executor.waypoints] == ["target"]
    times = np.linspace(now, executor.plan.end_time, 30)
    heights = [kinematics.forward(q).position[2] for q in executor.plan.sample(times)[0]]
    assert max(heights) <= kinematics.forward(lagging).position[2] + 1e-3, "the re-plan went back up"
    np.testing.assert_allclose(executor.plan.final_positions, target.positions, atol=1e-6)


def test_a_replan_during_the_gripper_dwell_does_not_end_the_keyframe_early(
    kinematics, executor_settings, ready
):
    executor = ChunkExecutor(kinematics, executor_settings)
    executor.set_target(GRASP, gripper_open=False, now=0.0, positions=ready, velocities=np.zeros(7))
    _, target = executor.waypoints
    _, arrival, dwell_end = executor.plan.arrivals[-1]
    now = 0.5 * (arrival + dwell_end)
    # The arm sits at the target while the plan is there too: nudge one joint past the tolerance.
    nudged = target.positions.copy()
    nudged[6] += executor_settings.motion.replan_tolerance + 0.01
    executor.update(now, nudged, np.zeros(7))
    assert executor.keyframe_done_time >= dwell_end - 1e-9
