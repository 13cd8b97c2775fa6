"""Executor: grasp structure, gripper timing, re-planning, closed loop with the controller."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.control.controller import EnsemblingController
from vla_ros.control.errors import PlanningError, UnreachablePoseError, WorkspaceViolationError
from vla_ros.control.executor import ChunkExecutor
from vla_ros.control.keyframe import KeyframeReachedDetector
from vla_ros.control.pose import Pose
from vla_ros.tools.control_bench import enable_tracked, tick_tracked

DOWN = [1.0, 0.0, 0.0, 0.0]  # TCP z axis pointing down
GRASP = Pose([0.5, 0.1, 0.1], DOWN)


@pytest.fixture()
def executor(kinematics, executor_settings) -> ChunkExecutor:
    return ChunkExecutor(kinematics, executor_settings)


def _stop_poses(executor: ChunkExecutor) -> dict[str, Pose]:
    return {
        stop.waypoint.label: executor.kinematics.forward(stop.waypoint.positions) for stop in executor._stops
    }


def test_grasp_goes_through_a_pre_grasp_pose_along_the_gripper_axis(executor, executor_settings, ready):
    chunk = executor.set_target(GRASP, gripper_open=False, now=5.0, positions=ready, velocities=np.zeros(7))
    poses = _stop_poses(executor)
    assert list(poses) == ["approach", "target"]
    approach = executor_settings.grasp.approach_distance
    np.testing.assert_allclose(
        poses["approach"].position, GRASP.position + np.array([0.0, 0.0, approach]), atol=1e-3
    )
    np.testing.assert_allclose(poses["target"].position, GRASP.position, atol=1e-3)
    assert chunk.t0 == 5.0 and chunk.dt == executor_settings.chunk.dt
    assert chunk.horizon == executor_settings.chunk.horizon
    np.testing.assert_allclose(chunk.positions[0], ready)
    assert chunk.joint_names == executor.kinematics.joint_names


def test_release_retreats_and_a_plain_move_goes_straight(kinematics, executor_settings, ready):
    releasing = ChunkExecutor(kinematics, executor_settings, gripper_opening=0.0)
    releasing.set_target(GRASP, gripper_open=True, now=0.0, positions=ready, velocities=np.zeros(7))
    poses = _stop_poses(releasing)
    assert list(poses) == ["approach", "target", "retreat"]
    retreat = executor_settings.grasp.retreat_distance
    np.testing.assert_allclose(
        poses["retreat"].position, GRASP.position + np.array([0.0, 0.0, retreat]), atol=1e-3
    )
    moving = ChunkExecutor(kinematics, executor_settings)
    moving.set_target(GRASP, gripper_open=True, now=0.0, positions=ready, velocities=np.zeros(7))
    assert [waypoint.label for waypoint in moving.waypoints] == ["target"]


def _end_an_episode_holding(executor: ChunkExecutor, ready: np.ndarray, now: float) -> None:
    """Grasp, then one more keyframe with the gripper closed (it starts closed), then the episode ends."""
    executor.set_target(GRASP, gripper_open=False, now=now, positions=ready, velocities=np.zeros(7))
    later = executor.keyframe_done_time + 1.0
    executor.set_target(GRASP, gripper_open=False, now=later, positions=ready, velocities=np.zeros(7))
    assert executor.gripper_opening == 0.0
    executor.stop()


def test_a_new_episode_starts_from_the_measured_gripper_not_the_last_command(executor, ready):
    """An episode that ended with the gripper closed, then a reset that opened it: the next episode's
    first open keyframe is a plain move (no release, no close on the way), as for a fresh executor."""
    _end_an_episode_holding(executor, ready, 0.0)
    executor.set_target(
        GRASP, gripper_open=True, now=20.0, positions=ready, velocities=np.zeros(7), measured_opening=0.97
    )
    assert [waypoint.label for waypoint in executor.waypoints] == ["target"]
    assert np.all(executor.plan.sample(np.linspace(20.0, 30.0, 50))[2] == 1.0)  # never closes
    # Unmeasured (a gripper without a joint state): the last command stands, so the open is a release.
    _end_an_episode_holding(executor, ready, 40.0)
    executor.set_target(GRASP, gripper_open=True, now=80.0, positions=ready, velocities=np.zeros(7))
    assert [waypoint.label for waypoint in executor.waypoints] == ["approach", "target", "retreat"]


def test_a_new_episode_holding_an_object_keeps_the_grasp(executor, ready):
    """The next instruction starts with a 4 cm block between the fingers (half open as measured): the
    last command (closed) stands, so moving it on never opens the fingers."""
    _end_an_episode_holding(executor, ready, 0.0)
    executor.set_target(
        GRASP, gripper_open=False, now=20.0, positions=ready, velocities=np.zeros(7), measured_opening=0.5
    )
    assert [waypoint.label for waypoint in executor.waypoints] == ["target"]
    assert np.all(executor.plan.sample(np.linspace(20.0, 30.0, 50))[2] == 0.0)


def test_a_plan_in_progress_decides_the_gripper_start_over_the_measurement(executor, ready):
    executor.set_target(GRASP, gripper_open=False, now=0.0, positions=ready, velocities=np.zeros(7))
    done = executor.keyframe_done_time
    # the fingers lag the command: measured still open at the end of the grasp
    executor.set_target(
        GRASP, gripper_open=True, now=done, positions=ready, velocities=np.zeros(7), measured_opening=1.0
    )
    assert [waypoint.label for waypoint in executor.waypoints] == ["approach", "target", "retreat"]


@pytest.mark.parametrize("yaw", [-1.2, 0.0, 0.7])
def test_the_approach_stays_near_the_gripper_axis(executor, kinematics, ready, yaw):
    rotation = np.array([[np.cos(yaw), -np.sin(yaw), 0.0], [np.sin(yaw), np.cos(yaw), 0.0], [0.0, 0.0, 1.0]])
    transform = np.eye(4)
    transform[:3, :3] = rotation @ np.diag([1.0, -1.0, -1.0])
    transform[:3, 3] = [0.45, -0.15, 0.05]
    target = Pose.from_matrix(transform)
    executor.set_target(target, gripper_open=False, now=0.0, positions=ready, velocities=np.zeros(7))
    (_, start, _), (_, arrival, _) = executor.plan.arrivals
    positions, _, _ = executor.plan.sample(np.linspace(start, arrival, 60))
    poses = [kinematics.forward(q) for q in positions]
    points = np.array([pose.position for pose in poses])
    axis = (points[-1] - points[0]) / np.linalg.norm(points[-1] - points[0])
    off_line = (points - points[0]) - np.outer((points - points[0]) @ axis, axis)
    assert np.max(np.linalg.norm(off_line, axis=1)) < 2e-4
    assert max(pose.error_to(target)[1] for pose in poses) < np.deg2rad(0.5)


def test_bad_targets_are_refused_and_the_old_target_kept(executor, ready):
    executor.set_target(GRASP, gripper_open=True, now=0.0, positions=ready, velocities=np.zeros(7))
    with pytest.raises(WorkspaceViolationError, match="target pose"):
        executor.set_target(Pose([0.5, 0.0, -0.3], DOWN), True, 0.1, ready, np.zeros(7))
    with pytest.raises(UnreachablePoseError, match="not reachable"):
        executor.set_target(Pose([0.85, 0.85, 1.1], DOWN), True, 0.1, ready, np.zeros(7))
    assert executor.target is GRASP


def test_replans_from_the_measured_state_only_when_it_left_the_plan(executor, executor_settings, ready):
    executor.set_target(GRASP, gripper_open=False, now=0.0, positions=ready, velocities=np.zeros(7))
    on_plan = executor.plan.sample(np.array([0.4]))
    chunk = executor.update(0.4, on_plan[0][0], on_plan[1][0])
    np.testing.assert_allclose(chunk.positions, executor.plan.sample(chunk.times())[0])
    first_plan = executor.plan
    pushed = on_plan[0][0] + executor_settings.motion.replan_tolerance + 0.05
    chunk = executor.update(0.6, pushed, np.zeros(7))
    assert executor.plan is not first_plan
    np.testing.assert_allclose(chunk.positions[0], pushed)
    assert chunk.chunk_id == 2


def test_closed_loop_reaches_the_keyframe_and_closes_only_after_arriving(
    executor, kinematics, executor_settings, controller_settings, ready
):
    controller = EnsemblingController(kinematics.limits, controller_settings)
    enable_tracked(controller, ready, 0.0)
    detector = KeyframeReachedDetector(executor_settings.keyframe_reached)
    period = controller_settings.period
    replan_ticks = round(1.0 / (executor_settings.chunk.replan_rate * period))
    q, v, now = ready.copy(), np.zeros(7), 0.0
    controller.add_chunk(executor.set_target(GRASP, False, now, q, v), now)
    detector.set_target(GRASP, executor.keyframe_done_time)
    first_close_error = reached_at = None
    for tick in range(1, 500):
        now = tick * period
        if tick % replan_ticks == 0:
            # The measured state is the last command (perfect tracking), stamped one tick ago.
            controller.add_chunk(executor.update(now - period, q, v), now)
            detector.not_before = executor.keyframe_done_time
        command = tick_tracked(controller, now)
        q, v = command.positions, command.velocities
        tcp = kinematics.forward(q)
        # Closing starts (below open by more than the blend's floating-point rounding).
        if first_close_error is None and command.gripper < 1.0 - 1e-9:
            first_close_error = tcp.error_to(GRASP)[0]
        if detector.update(now, tcp, v) and reached_at is None:
            reached_at = now
    assert first_close_error is not None and first_close_error < 1e-3
    assert reached_at is not None
    assert reached_at >= executor.keyframe_done_time - 1e-9
    assert tick_tracked(controller, now + period).gripper == 0.0
    position_error, orientation_error = kinematics.forward(q).error_to(GRASP)
    assert position_error < 1e-3 and orientation_error < np.deg2rad(0.5)


def test_keyframe_detector_needs_pose_settled_velocity_and_time(executor_settings):
    detector = KeyframeReachedDetector(executor_settings.keyframe_reached)
    tolerance = executor_settings.keyframe_reached
    assert detector.update(0.0, GRASP, np.zeros(7)) is False  # no target yet
    detector.set_target(GRASP, not_before=1.0)
    near = Pose(GRASP.position + np.array([0.5 * tolerance.position_tolerance, 0.0, 0.0]), DOWN)
    far = Pose(GRASP.position + np.array([2.0 * tolerance.position_tolerance, 0.0, 0.0]), DOWN)
    moving = np.full(7, 2.0 * tolerance.joint_velocity_tolerance)
    assert detector.update(1.0, far, np.zeros(7)) is False
    assert detector.update(1.0, near, moving) is False
    assert detector.update(0.5, near, np.zeros(7)) is False
    tilted = Pose(
        GRASP.position,
        [
            np.cos(0.5 * tolerance.orientation_tolerance * 1.5),
            0.0,
            np.sin(0.5 * tolerance.orientation_tolerance * 1.5),
            0.0,
        ],
    )
    assert tilted.error_to(GRASP)[1] > tolerance.orientation_tolerance
    assert detector.update(1.0, tilted, np.zeros(7)) is False
    assert detector.update(1.0, near, np.zeros(7)) is True
    assert detector.update(1.1, far, moving) is True  # latched until the next target
    detector.set_target(GRASP)
    assert detector.reached is False


def test_a_measured_start_just_past_a_limit_is_planned_from_inside_it(executor, kinematics, ready):
    """Tracking can overshoot a command at a joint limit into the robot's position_margin band (the
    URDF's limit lies beyond it): the plan starts from the nearest point within the limits. Further out
    the executor refuses, naming the limits."""
    upper = kinematics.limits.upper[6]
    overshot = ready.copy()
    overshot[6] = upper + 1e-4
    executor.set_target(GRASP, gripper_open=True, now=0.0, positions=overshot, velocities=np.zeros(7))
    assert executor.plan.sample(np.array([0.0]))[0][0][6] == pytest.approx(upper)
    beyond = ready.copy()
    beyond[6] = upper + executor.settings.robot.position_margin + 0.01
    with pytest.raises(PlanningError, match="within the joint limits"):
        ChunkExecutor(kinematics, executor.settings).set_target(
            GRASP, gripper_open=True, now=0.0, positions=beyond, velocities=np.zeros(7)
        )
