"""The measured joint state merged by name, and the steady-clock watchdogs."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.control.measured import JointStateError, MeasuredGripper, MeasuredJoints
from vla_ros.control.watchdog import ClockWatchdog, Watchdog
from vla_ros.robot.settings import load_robot_settings

ARM = ("a", "b", "c")


def test_joints_are_merged_by_name_from_several_publishers_in_any_order():
    measured = MeasuredJoints(ARM, timeout=0.5)
    measured.update(["c", "finger", "a"], [3.0, 0.04, 1.0], [0.3, 0.0, 0.1], 0.0)
    assert measured.state(0.0) is None  # b never measured
    measured.update(["b"], [2.0], [], 0.1)
    positions, velocities = measured.state(0.1)
    np.testing.assert_array_equal(positions, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(velocities, [0.1, 0.0, 0.3])


@pytest.mark.parametrize(
    ("names", "positions", "velocities", "reason"),
    [
        (["a", "b", "c"], [1.0, 2.0], [], "2 positions and 0 velocities for 3 joint names"),
        (["a", "b", "c"], [1.0, 2.0, 3.0], [0.0], "3 positions and 1 velocities"),
        (["a", "a", "c"], [1.0, 2.0, 3.0], [], "joint names repeat"),
        (["x", "y"], [1.0, 2.0], [], "none of the joints"),
        (["a", "b", "c"], [1.0, np.nan, 3.0], [], "non-finite position or velocity for ['b']"),
        (["a", "b", "c"], [1.0, 2.0, 3.0], [0.0, np.inf, 0.0], "non-finite position or velocity for ['b']"),
    ],
)
def test_a_bad_sample_is_refused_whole_and_changes_nothing(names, positions, velocities, reason):
    measured = MeasuredJoints(ARM, timeout=0.5)
    measured.update(ARM, [0.1, 0.2, 0.3], [], 0.0)
    with pytest.raises(JointStateError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        measured.update(names, positions, velocities, 0.1)
    np.testing.assert_array_equal(measured.state(0.1)[0], [0.1, 0.2, 0.3])


def test_a_non_finite_value_of_another_joint_is_ignored():
    measured = MeasuredJoints(ARM, timeout=0.5)
    measured.update([*ARM, "finger"], [1.0, 2.0, 3.0, np.nan], [], 0.0)
    assert measured.state(0.0) is not None


def test_stale_when_any_joint_is_older_than_the_timeout():
    measured = MeasuredJoints(ARM, timeout=0.5)
    measured.update(ARM, [1.0, 2.0, 3.0], [], 0.0)
    measured.update(["a", "b"], [1.0, 2.0], [], 0.4)
    assert measured.state(0.5) is not None
    assert measured.state(0.6) is None and measured.stale_joints(0.6) == ["c"]
    assert measured.age(0.6) == pytest.approx(0.6)


def test_watchdog_expires_without_a_feed():
    watchdog = Watchdog(0.5)
    assert watchdog.expired(0.0)
    watchdog.feed(1.0)
    assert not watchdog.expired(1.5) and watchdog.expired(1.51)
    watchdog.clear()
    assert watchdog.expired(1.0)


def test_clock_watchdog_expires_when_the_clock_stops():
    clock = ClockWatchdog(0.5)
    assert not clock.stalled(0.0)
    clock.observe(10.0, 0.0)
    clock.observe(10.1, 0.1)
    clock.observe(10.1, 0.5)
    assert not clock.stalled(0.6) and clock.stalled(0.61)
    clock.observe(10.2, 0.7)
    assert not clock.stalled(0.7)


def test_the_gripper_width_is_read_by_name_from_the_command_joint_through_the_robot_files_map():
    panda = MeasuredGripper(load_robot_settings("panda").gripper, timeout=1.0)
    assert panda.width(0.0) is None and panda.opening(0.0) is None  # nothing measured yet
    names = ["panda_joint1", "panda_finger_joint2", "panda_finger_joint1"]
    panda.update(names, [0.3, 0.04, 0.039], [], 0.0)
    assert panda.width(0.0) == pytest.approx(0.078) and panda.opening(0.0) == pytest.approx(0.975)
    panda.update(names, [0.3, 0.021, 0.022], [], 0.1)  # a block between the fingers
    assert panda.width(0.1) == pytest.approx(0.044)  # twice panda_finger_joint1, the command joint
    assert panda.width(1.2) is None and panda.opening(1.2) is None  # too old to tell
    with pytest.raises(JointStateError):
        panda.update(["panda_joint1"], [0.3], [], 0.2)  # an arm-only publisher

    xarm = load_robot_settings("xarm6").gripper  # a linkage: the drive joint closes as it grows
    drive = MeasuredGripper(xarm, timeout=1.0)
    drive.update(["drive_joint"], [0.05], [], 0.0)
    assert drive.opening(0.0) > 0.9
    drive.update(["drive_joint"], [0.48], [], 0.1)
    assert drive.width(0.1) == pytest.approx(0.04, abs=0.005)
