"""Reading named joints from sensor_msgs/JointState: by name in every message, bad messages refused."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="needs the ROS message packages: run through `make test`")

from sensor_msgs.msg import JointState

from vla_ros.ros.joint_states import JointStateError, joint_positions

pytestmark = pytest.mark.ros
ARM = ["a", "b", "c"]


def test_joints_are_read_by_name_in_each_message_whatever_the_order():
    positions, velocities = joint_positions(
        JointState(
            name=["c", "finger", "a", "b"], position=[3.0, 0.04, 1.0, 2.0], velocity=[0.3, 0.0, 0.1, 0.2]
        ),
        ARM,
    )
    np.testing.assert_array_equal(positions, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(velocities, [0.1, 0.2, 0.3])
    positions, velocities = joint_positions(JointState(name=["b", "a", "c"], position=[2.0, 1.0, 3.0]), ARM)
    np.testing.assert_array_equal(positions, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(velocities, [0.0, 0.0, 0.0])  # none given


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (JointState(name=ARM, position=[1.0, 2.0]), "2 positions for 3 joint names"),
        (JointState(name=["a", "b"], position=[1.0, 2.0]), "no joint state for ['c']"),
        (JointState(name=ARM, position=[1.0, float("nan"), 3.0]), "non-finite"),
        (JointState(name=ARM, position=[1.0, 2.0, 3.0], velocity=[0.0, float("inf"), 0.0]), "non-finite"),
    ],
)
def test_a_bad_message_is_refused_with_the_reason(message, reason):
    with pytest.raises(JointStateError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        joint_positions(message, ARM)
