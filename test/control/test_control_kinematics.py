"""FK/IK of the Panda TCP: round trips, limits, unreachable poses, URDF string loading, TCP frame."""

from __future__ import annotations

import dataclasses

import numpy as np
import pinocchio as pin
import pytest

from vla_ros.control.errors import RobotModelError, UnreachablePoseError
from vla_ros.control.kinematics import ArmKinematics
from vla_ros.control.pose import Pose
from vla_ros.robot.urdf import resolve_urdf_path

POSITION_TOLERANCE = 1e-3  # the 1 mm
ORIENTATION_TOLERANCE = np.deg2rad(0.5)


def test_ready_pose_tcp_points_down_in_front_of_the_base(kinematics, ready):
    pose = kinematics.forward(ready)
    # Franka's ready pose puts the TCP 0.307 m in front of the base, 0.487 m up, z axis pointing down.
    np.testing.assert_allclose(pose.position, [0.307, 0.0, 0.487], atol=2e-3)
    np.testing.assert_allclose(pose.to_matrix()[:3, 2], [0.0, 0.0, -1.0], atol=1e-3)


def test_tcp_is_the_configured_offset_from_the_hand(kinematics, executor_settings, ready):
    model = pin.buildModelFromUrdf(resolve_urdf_path(executor_settings.robot.urdf_path))
    data = model.createData()
    q = np.concatenate([ready, [0.0, 0.0]])
    pin.framesForwardKinematics(model, data, q)
    hand = data.oMf[model.getFrameId("panda_hand")]
    grasp_target = data.oMf[model.getFrameId("panda_grasptarget")]
    expected = hand.translation + hand.rotation @ np.array(executor_settings.robot.tcp_offset_xyz)
    np.testing.assert_allclose(kinematics.forward(ready).position, expected, atol=1e-9)
    # The URDF's own grasp target sits 1.6 mm further along the hand's z axis.
    assert np.linalg.norm(grasp_target.translation - expected) == pytest.approx(0.105 - 0.1034, abs=1e-6)


def test_ik_round_trip_on_random_reachable_poses(kinematics, executor_settings, ready):
    rng = np.random.default_rng(7)
    for _ in range(20):
        q_true = rng.uniform(kinematics.limits.lower, kinematics.limits.upper)
        target = kinematics.forward(q_true)
        seed = kinematics.limits.clip(q_true + rng.normal(0.0, 0.3, q_true.size))
        for start in (seed, ready):
            solution = kinematics.inverse(target, start, executor_settings.ik)
            position_error, orientation_error = kinematics.forward(solution.positions).error_to(target)
            assert position_error <= POSITION_TOLERANCE
            assert orientation_error <= ORIENTATION_TOLERANCE
            assert kinematics.limits.contains(solution.positions)


def test_ik_from_the_solution_stays_there(kinematics, executor_settings, ready):
    target = kinematics.forward(ready)
    solution = kinematics.inverse(target, ready, executor_settings.ik)
    np.testing.assert_allclose(solution.positions, ready, atol=1e-9)
    assert solution.attempts == 1


@pytest.mark.parametrize(
    "position",
    # Far away, below the floor, above the stretched arm pointing down (within reach pointing up).
    [[2.0, 0.0, 0.5], [0.0, 0.0, -1.2], [0.0, 0.0, 1.0]],
)
def test_unreachable_pose_raises_with_residuals(kinematics, executor_settings, ready, position):
    settings = dataclasses.replace(executor_settings.ik, restarts=2)
    with pytest.raises(UnreachablePoseError, match="not reachable") as raised:
        kinematics.inverse(Pose(position, [1.0, 0.0, 0.0, 0.0]), ready, settings)
    assert raised.value.position_residual > 0.1


def test_loads_from_a_urdf_string_like_robot_description(executor_settings, kinematics, ready):
    with open(resolve_urdf_path(executor_settings.robot.urdf_path)) as stream:
        xml = stream.read()
    from_string = ArmKinematics.from_settings(executor_settings.robot, robot_description=xml)
    np.testing.assert_allclose(from_string.forward(ready).to_matrix(), kinematics.forward(ready).to_matrix())
    np.testing.assert_allclose(from_string.limits.velocity, [2.175] * 4 + [2.61] * 3)


def test_bad_robot_descriptions_are_refused(executor_settings):
    robot = dataclasses.replace(
        executor_settings.robot,
        arm_joints=("panda_joint1", "elbow"),
        home_positions=(0.0, 0.0),
        acceleration_limits=(1.0, 1.0),
    )
    with pytest.raises(RobotModelError, match="elbow"):
        ArmKinematics.from_settings(robot)
    missing = dataclasses.replace(executor_settings.robot, urdf_path="/nonexistent/robot.urdf")
    with pytest.raises(RobotModelError, match=r"cannot read the robot.s URDF /nonexistent/robot\.urdf"):
        ArmKinematics.from_settings(missing)
    robot = dataclasses.replace(executor_settings.robot, tcp_parent_link="gripper_link")
    with pytest.raises(RobotModelError, match="gripper_link"):
        ArmKinematics.from_settings(robot)


def test_track_follows_a_small_step_and_refuses_an_unreachable_pose(kinematics, ready):
    start = kinematics.forward(ready).to_matrix()
    target = start.copy()
    target[:3, 3] += [0.01, -0.005, 0.01]
    q = kinematics.track(target, ready, ready, iterations=30, damping=0.05, tolerance=0.0005)
    np.testing.assert_allclose(kinematics.forward(q).to_matrix()[:3, 3], target[:3, 3], atol=1e-3)
    assert np.max(np.abs(q - ready)) < 0.1, "a small step of the TCP is a small step of the joints"
    far = start.copy()
    far[:3, 3] = [2.0, 0.0, 0.5]
    with pytest.raises(UnreachablePoseError, match="did not converge"):
        kinematics.track(far, ready, ready, iterations=30, damping=0.05, tolerance=0.0005)
