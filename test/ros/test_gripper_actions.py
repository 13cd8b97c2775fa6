"""The gripper action drivers against an action server of control_msgs' GripperCommand and
ParallelGripperCommand (the real package, or the tests' stand-in that scripts/setup.sh builds)."""

from __future__ import annotations

import sys
import time

import pytest

pytest.importorskip("rclpy", reason="needs rclpy: run through `make test` (scripts/env.sh)")
from rclpy.action import ActionServer

from vla_ros.config import ConfigError, from_dict, load_parameters
from vla_ros.ros.command_drivers import DriverSettings, make_gripper_driver
from vla_ros.ros.gripper_actions import GripperActionDriver, action_type
from vla_ros.sim.settings import load_sim_config

actions = pytest.importorskip("control_msgs.action", reason="control_msgs (or its stand-in) is not built")
pytestmark = pytest.mark.ros
DRIVERS = load_parameters("control", "ensembling_controller")["driver"]
PANDA = load_sim_config().robot.gripper
XARM = load_sim_config(robot="xarm6").robot.gripper


@pytest.fixture
def server_name(request) -> str:
    """An action name of this test only: no server of an earlier test (in a context already shut down,
    its endpoints perhaps still known to discovery) can answer for it."""
    return f"{request.node.name.replace('[', '_').replace(']', '')}/gripper_cmd"


class GripperServer:
    """An action server that records the goals and ends each as ``outcome`` says."""

    def __init__(self, node, name: str, action, outcome: str = "reached") -> None:
        self.goals: list = []
        self.outcome = outcome
        self.action = action
        self.server = ActionServer(node, action, name, self._execute)

    def _execute(self, handle):
        self.goals.append(handle.request)
        result = self.action.Result()
        if self.outcome == "abort":
            handle.abort()
            return result
        result.reached_goal = self.outcome == "reached"
        result.stalled = self.outcome == "stalled"
        handle.succeed()
        return result


def _driver(node, name: str, driver: str, gripper=PANDA) -> GripperActionDriver:
    settings = from_dict(
        DriverSettings, {**DRIVERS, "gripper": driver, "gripper_action_server": name}, "driver"
    )
    made = make_gripper_driver(node, settings, gripper)
    assert isinstance(made, GripperActionDriver)
    return made


def _wait_for_server(ros_node, spin_until, driver) -> None:
    assert spin_until(ros_node, driver._client.server_is_ready, timeout_s=10.0)


def test_gripper_command_goals_carry_the_joint_position_and_effort_and_follow_changes(
    ros_node, spin_until, server_name
):
    server = GripperServer(ros_node, server_name, actions.GripperCommand, "stalled")
    driver = _driver(ros_node, server_name, "gripper_command")
    _wait_for_server(ros_node, spin_until, driver)
    assert driver.send(1.0, 0.0)
    assert not driver.send(1.0, 100.0), "an unchanged opening makes no new goal"
    assert spin_until(ros_node, lambda: driver.outcome is not None)
    assert driver.send(0.0, 100.0)
    assert spin_until(ros_node, lambda: len(server.goals) == 2 and driver.outcome.position == 0.0)
    assert [goal.command.position for goal in server.goals] == [0.04, 0.0]  # the Panda finger's travel
    assert all(goal.command.max_effort == DRIVERS["gripper_max_effort"] for goal in server.goals)
    assert driver.outcome.stalled and not driver.outcome.failed, "stalling on the object is a grasp"


def test_parallel_gripper_command_names_the_command_joint(ros_node, spin_until, server_name):
    server = GripperServer(ros_node, server_name, actions.ParallelGripperCommand)
    driver = _driver(ros_node, server_name, "parallel_gripper_command", XARM)
    _wait_for_server(ros_node, spin_until, driver)
    assert driver.send(0.0, 0.0)
    assert spin_until(ros_node, lambda: driver.outcome is not None)
    command = server.goals[0].command
    assert list(command.name) == ["drive_joint"]
    assert command.position[0] == pytest.approx(0.846)  # the xArm's linkage, closed
    assert driver.outcome.reached_goal and not driver.outcome.failed


def test_an_aborted_goal_is_sent_again_after_the_resend_period(ros_node, spin_until, server_name):
    server = GripperServer(ros_node, server_name, actions.GripperCommand, "abort")
    driver = _driver(ros_node, server_name, "gripper_command")
    _wait_for_server(ros_node, spin_until, driver)
    assert driver.send(0.0, time.monotonic())
    assert spin_until(ros_node, lambda: driver.outcome is not None)
    assert driver.outcome.failed
    assert not driver.send(0.0, time.monotonic()), "not at once"
    server.outcome = "reached"
    assert driver.send(0.0, time.monotonic() + DRIVERS["gripper_resend_period"])
    assert spin_until(ros_node, lambda: len(server.goals) == 2 and not driver.outcome.failed)


def test_without_a_server_no_goal_is_sent_until_it_comes(ros_node, spin_until, server_name):
    driver = _driver(ros_node, server_name, "gripper_command")
    assert not driver.send(0.0, 0.0) and not driver.send(0.0, 1.0)
    server = GripperServer(ros_node, server_name, actions.GripperCommand)
    _wait_for_server(ros_node, spin_until, driver)
    assert driver.send(0.0, 2.0), "the waiting opening goes once the server is there"
    assert spin_until(ros_node, lambda: len(server.goals) == 1)


def test_without_control_msgs_the_driver_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "control_msgs.action", None)
    with pytest.raises(ConfigError, match="gripper_command needs the control_msgs package"):
        action_type("gripper_command")
