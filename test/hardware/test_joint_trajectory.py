"""joint_trajectory_controller semantics: validation, timing, interpolation, replacement."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.hardware.joint_trajectory import (
    JointTrajectoryCommand,
    JointTrajectoryFollower,
    TrajectoryRejectedError,
)

JOINTS = ("j1", "j2")


def command(times, positions, names=JOINTS, start=0.0, velocities=None) -> JointTrajectoryCommand:
    return JointTrajectoryCommand(
        tuple(names),
        start,
        np.asarray(times, float),
        np.asarray(positions, float),
        None if velocities is None else np.asarray(velocities, float),
    )


def test_linear_interpolation_from_current_command_and_hold_after_end():
    follower = JointTrajectoryFollower(JOINTS, [0.0, 0.0])
    follower.accept(command([1.0, 2.0], [[1.0, -1.0], [3.0, -1.0]]), now=10.0)
    np.testing.assert_allclose(follower.sample(10.5), [0.5, -0.5])
    np.testing.assert_allclose(follower.sample(11.5), [2.0, -1.0])
    np.testing.assert_allclose(follower.sample(20.0), [3.0, -1.0])
    assert not follower.active
    np.testing.assert_allclose(follower.sample(30.0), [3.0, -1.0])


def test_joint_order_is_taken_from_the_names():
    follower = JointTrajectoryFollower(JOINTS, [0.0, 0.0])
    follower.accept(command([1.0], [[2.0, 1.0]], names=("j2", "j1")), now=0.0)
    np.testing.assert_allclose(follower.sample(1.0), [1.0, 2.0])


def test_cubic_interpolation_meets_given_velocities():
    follower = JointTrajectoryFollower(JOINTS, [0.0, 0.0])
    follower.accept(
        command([1.0, 2.0], [[1.0, 1.0], [2.0, 2.0]], velocities=[[1.0, 1.0], [0.0, 0.0]]), now=0.0
    )
    step = 1e-4
    velocity_at_first_point = (follower.sample(1.0 + step) - follower.sample(1.0 - step)) / (2 * step)
    np.testing.assert_allclose(velocity_at_first_point, [1.0, 1.0], atol=1e-3)
    np.testing.assert_allclose(follower.sample(1.0), [1.0, 1.0])


def test_stamped_start_in_the_future_waits_and_replacement_starts_from_the_command():
    follower = JointTrajectoryFollower(JOINTS, [0.0, 0.0])
    follower.accept(command([1.0], [[1.0, 1.0]], start=5.0), now=4.0)
    np.testing.assert_allclose(follower.sample(5.0), [0.5, 0.5])  # 1 s of 2 s toward the point
    follower.accept(command([1.0], [[-1.0, -1.0]]), now=5.0)
    np.testing.assert_allclose(follower.sample(5.0), [0.5, 0.5])  # no jump at replacement
    np.testing.assert_allclose(follower.sample(6.0), [-1.0, -1.0])


def test_streamed_replacements_keep_moving_without_stopping():
    follower = JointTrajectoryFollower(("j",), [0.0])
    positions, t = [], 0.0
    for _ in range(50):  # 1 rad/s ramp streamed at 100 Hz with velocities, 5 points ahead
        times = np.arange(1, 6) * 0.01
        target = [[follower.sample(t)[0] + time] for time in times]
        follower.accept(command(times, target, names=("j",), velocities=np.ones((5, 1))), now=t)
        t += 0.01
        positions.append(follower.sample(t)[0])
    speeds = np.diff(positions) / 0.01
    assert np.all(np.abs(speeds[5:] - 1.0) < 0.05), speeds


@pytest.mark.parametrize(
    ("cmd", "reason"),
    [
        (command([1.0], [[1.0]], names=("j1",)), r"missing \['j2'\]"),
        (command([1.0], [[1.0, 1.0, 1.0]], names=("j1", "j2", "j3")), r"unknown \['j3'\]"),
        (command([1.0], [[1.0, 1.0]], names=("j1", "j1")), "repeat"),
        (command([], np.zeros((0, 2))), "no points"),
        (command([1.0, 1.0], [[1.0, 1.0], [2.0, 2.0]]), "strictly increasing"),
        (command([2.0, 1.0], [[1.0, 1.0], [2.0, 2.0]]), "strictly increasing"),
        (command([1.0], [[np.nan, 1.0]]), "NaN"),
        (command([1.0], [[1.0, 1.0]], start=1.0), "ends in the past"),
        (command([1.0], [[1.0, 1.0]], velocities=[[1.0]]), "velocities"),
        (command([1.0, 2.0], [[1.0, 1.0]]), "2 positions"),
    ],
)
def test_invalid_trajectories_are_rejected_with_the_reason_and_change_nothing(cmd, reason):
    follower = JointTrajectoryFollower(JOINTS, [0.25, 0.5])
    with pytest.raises(TrajectoryRejectedError, match=reason):
        follower.accept(cmd, now=10.0)
    np.testing.assert_allclose(follower.sample(11.0), [0.25, 0.5])


def test_hold_rejects_wrong_size():
    follower = JointTrajectoryFollower(JOINTS, [0.0, 0.0])
    with pytest.raises(TrajectoryRejectedError, match="expected 2 finite positions"):
        follower.hold([1.0])
    follower.hold([1.0, 2.0])
    np.testing.assert_allclose(follower.sample(0.0), [1.0, 2.0])
