"""Command drivers: each message satisfies its receiving controller's rules and carries the right values."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="needs rclpy: run through `make test` (scripts/env.sh)")

from geometry_msgs.msg import PoseStamped, TwistStamped
from std_msgs.msg import Float64MultiArray, Header
from trajectory_msgs.msg import JointTrajectory

from vla_ros.config import from_dict, load_parameters
from vla_ros.control.controller import CommandPreview
from vla_ros.control.kinematics import ArmKinematics
from vla_ros.control.settings import ControllerSettings
from vla_ros.ros.command_drivers import (
    ArmCommand,
    DriverConfigError,
    DriverSettings,
    GripperDriver,
    make_arm_driver,
)
from vla_ros.ros.messages import matrix_from_pose, seconds_from_stamp
from vla_ros.sim.settings import load_sim_config

pytestmark = pytest.mark.ros
SETTINGS = ControllerSettings.load()
DRIVERS = load_parameters("control", "ensembling_controller")["driver"]
READY = np.array([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785])
VELOCITIES = np.array([0.2, -0.1, 0.3, 0.1, -0.2, 0.25, 0.4])


@pytest.fixture(scope="module")
def kinematics() -> ArmKinematics:
    return ArmKinematics.from_settings(SETTINGS.robot)


def _settings(**changes) -> DriverSettings:
    return from_dict(DriverSettings, {**DRIVERS, **changes}, "driver")


def _receive(ros_node, spin_until, message_type, topic: str, send) -> object:
    received = []
    ros_node.create_subscription(message_type, topic, received.append, 10)
    assert spin_until(ros_node, lambda: ros_node.count_publishers(topic) > 0)
    assert spin_until(ros_node, lambda: bool(received), timeout_s=5.0, on_wait=send)
    return received[0]


def _command(preview: CommandPreview | None = None) -> ArmCommand:
    return ArmCommand(READY, VELOCITIES, preview)


def test_joint_trajectory_message_follows_the_controller_rules(ros_node, spin_until, kinematics):
    driver = make_arm_driver(ros_node, _settings(arm="joint_trajectory"), kinematics)
    times = 0.02 * np.arange(1, 6)
    preview = CommandPreview(times, READY + times[:, None], np.tile(VELOCITIES, (5, 1)))
    message = _receive(
        ros_node,
        spin_until,
        JointTrajectory,
        "/arm_controller/joint_trajectory",
        lambda: driver.send(_command(preview), Header()),
    )
    assert list(message.joint_names) == list(SETTINGS.robot.arm_joints)
    assert (message.header.stamp.sec, message.header.stamp.nanosec) == (0, 0)
    stamps = [seconds_from_stamp(point.time_from_start) for point in message.points]
    np.testing.assert_allclose(stamps, times, atol=1e-9)
    assert np.all(np.diff(stamps) > 0.0)
    np.testing.assert_allclose(message.points[2].positions, READY + times[2])
    np.testing.assert_allclose(message.points[2].velocities, VELOCITIES)


def test_forward_position_reorders_to_the_controller_joints_and_rejects_other_names(
    ros_node, spin_until, kinematics
):
    order = list(reversed(SETTINGS.robot.arm_joints))
    driver = make_arm_driver(
        ros_node, _settings(arm="forward_position", forward_position_joints=order), kinematics
    )
    message = _receive(
        ros_node,
        spin_until,
        Float64MultiArray,
        "/forward_position_controller/commands",
        lambda: driver.send(_command(), Header()),
    )
    np.testing.assert_allclose(message.data, READY[::-1])
    with pytest.raises(DriverConfigError, match=r"missing \['panda_joint7'\], unknown \['wrist'\]"):
        make_arm_driver(
            ros_node,
            _settings(arm="forward_position", forward_position_joints=[*order[1:], "wrist"]),
            kinematics,
        )
    with pytest.raises(DriverConfigError, match=r"driver\.arm must be one of"):
        _settings(arm="effort")


def test_forward_position_takes_the_robots_joint_order_by_default(ros_node, spin_until, kinematics):
    assert DRIVERS["forward_position_joints"] == ["arm_joints"]
    driver = make_arm_driver(ros_node, _settings(arm="forward_position"), kinematics)
    message = _receive(
        ros_node,
        spin_until,
        Float64MultiArray,
        "/forward_position_controller/commands",
        lambda: driver.send(_command(), Header()),
    )
    np.testing.assert_allclose(message.data, READY)


def test_servo_pose_is_the_forward_kinematics_of_the_command(ros_node, spin_until, kinematics):
    driver = make_arm_driver(ros_node, _settings(arm="servo_pose"), kinematics)
    header = Header(frame_id=SETTINGS.robot.base_frame)
    message = _receive(
        ros_node,
        spin_until,
        PoseStamped,
        "/servo_node/pose_target_cmds",
        lambda: driver.send(_command(), header),
    )
    assert message.header.frame_id == SETTINGS.robot.base_frame
    np.testing.assert_allclose(
        matrix_from_pose(message.pose), kinematics.forward(READY).to_matrix(), atol=1e-9
    )


def test_servo_twist_is_the_tcp_velocity_of_the_command(ros_node, spin_until, kinematics):
    driver = make_arm_driver(ros_node, _settings(arm="servo_twist"), kinematics)
    message = _receive(
        ros_node,
        spin_until,
        TwistStamped,
        "/servo_node/delta_twist_cmds",
        lambda: driver.send(_command(), Header(frame_id=SETTINGS.robot.base_frame)),
    )
    step = 1e-6  # finite difference of FK(q) and FK(q + qd * step)
    before, after = (
        kinematics.forward(READY).to_matrix(),
        kinematics.forward(READY + VELOCITIES * step).to_matrix(),
    )
    linear = (after[:3, 3] - before[:3, 3]) / step
    skew = (after[:3, :3] @ before[:3, :3].T - np.eye(3)) / step
    angular = np.array([skew[2, 1], skew[0, 2], skew[1, 0]])
    twist = message.twist
    np.testing.assert_allclose([twist.linear.x, twist.linear.y, twist.linear.z], linear, atol=1e-4)
    np.testing.assert_allclose([twist.angular.x, twist.angular.y, twist.angular.z], angular, atol=1e-4)


def test_gripper_opening_maps_to_the_joint_is_sent_on_change_and_resent_while_unchanged(ros_node, spin_until):
    settings = _settings(gripper="forward")
    gripper = SETTINGS.robot.gripper
    driver = GripperDriver(ros_node, settings, gripper)
    assert driver.joint_position(1.0) == 0.04  # a Panda finger: half the 8 cm opening
    assert driver.joint_position(0.0) == 0.0
    assert driver.joint_position(0.5) == pytest.approx(0.02)
    assert driver.joint_position(1.5) == 0.04
    period = settings.gripper_resend_period
    assert driver.send(0.5, 10.0) and not driver.send(0.5, 10.0 + 0.5 * period) and driver.send(0.0, 10.5)
    assert not driver.send(0.0, 10.5 + 0.9 * period), "unchanged, within the period"
    assert driver.send(0.0, 10.5 + period), "unchanged, but the gripper may have been moved since"
    trajectory = GripperDriver(ros_node, _settings(gripper="trajectory"), gripper)
    openings = iter(np.linspace(1.0, 0.5, 500))  # a new opening each try: an unchanged one is not sent
    message = _receive(
        ros_node,
        spin_until,
        JointTrajectory,
        "/gripper_controller/joint_trajectory",
        lambda: trajectory.send(float(next(openings)), 0.0),
    )
    assert list(message.joint_names) == [gripper.command_joint]
    assert 0.02 <= message.points[0].positions[0] <= 0.04
    assert seconds_from_stamp(message.points[0].time_from_start) == pytest.approx(
        settings.gripper_motion_time
    )


def test_a_linkage_gripper_is_driven_through_its_drive_joint(ros_node):
    xarm = load_sim_config(robot="xarm6").robot.gripper
    driver = GripperDriver(ros_node, _settings(gripper="forward"), xarm)
    assert driver.joint_position(1.0) == 0.0  # drive_joint 0: open
    assert driver.joint_position(0.0) == pytest.approx(0.846)  # the fingers touch
    assert xarm.width(driver.joint_position(0.5)) == pytest.approx(0.5 * xarm.max_width)
