"""The measured joint state merged by name, and the steady-clock watchdogs."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.control.measured import JointStateError, MeasuredJoints
from vla_ros.control.watchdog import ClockWatchdog, Watchdog

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
