"""Gripper drivers through control_msgs' gripper actions, as most real grippers take commands.

``driver.gripper``:
- ``gripper_command``: control_msgs/action/GripperCommand (``command.position``, ``command.max_effort``),
  served by ros2_controllers' gripper_action_controller (``<controller>/gripper_cmd``) and by many
  vendor drivers (Robotiq, franka_gripper);
- ``parallel_gripper_command``: control_msgs/action/ParallelGripperCommand (``command``: a JointState
  naming the joint), served by ros2_controllers' parallel_gripper_action_controller.

The goal's position is the robot file's ``gripper.command_joint`` position that its opening map gives
for the chunk's opening, as the topic drivers command it. A goal is sent when the opening changes, not
again while it does not: a new goal preempts the one in progress, and a grasp that stalls on the object
(``stalled``) is how a closing goal normally ends. A goal the server rejects or aborts is reported, and
the same opening is sent again after ``driver.gripper_resend_period``. Without the action server no goal
is sent (and none queued): the driver warns and sends the latest opening once the server is there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from rclpy.action import ActionClient
from rclpy.node import Node
from sensor_msgs.msg import JointState

from vla_ros.config import ConfigError
from vla_ros.robot.settings import GripperSettings

ACTION_DRIVERS = ("gripper_command", "parallel_gripper_command")
OPENING_CHANGE = 1e-3  # smallest change of the normalised opening that makes a new goal
SERVER_WARNING_PERIOD_S = 5.0
SUCCEEDED, CANCELED, ABORTED = 4, 5, 6  # action_msgs/GoalStatus


@dataclass(frozen=True)
class GripperOutcome:
    """How the last goal ended: the action status, and the result's ``reached_goal`` and ``stalled``."""

    position: float
    status: int
    reached_goal: bool
    stalled: bool

    @property
    def failed(self) -> bool:
        """Rejected, aborted or canceled, or finished neither at the goal nor stalled on an object."""
        return self.status != SUCCEEDED or not (self.reached_goal or self.stalled)


def action_type(driver: str) -> Any:
    """The control_msgs action type of ``driver`` (one of :data:`ACTION_DRIVERS`)."""
    try:
        from control_msgs.action import GripperCommand, ParallelGripperCommand
    except ImportError as error:
        raise ConfigError(
            f"driver.gripper: {driver} needs the control_msgs package (apt: ros-$ROS_DISTRO-control-msgs), "
            "which is not installed here"
        ) from error
    return GripperCommand if driver == "gripper_command" else ParallelGripperCommand


class GripperActionDriver:
    """Sends the gripper's opening as goals of a control_msgs gripper action (see the module)."""

    def __init__(
        self,
        node: Node,
        driver: str,
        server: str,
        max_effort: float,
        resend_period: float,
        gripper: GripperSettings,
    ) -> None:
        self._action = action_type(driver)
        self._parallel = driver == "parallel_gripper_command"
        self._node = node
        self._max_effort = max_effort
        self._resend_period = resend_period
        self.gripper = gripper
        self.server = server
        self._client = ActionClient(node, self._action, server)
        self._sent: float | None = None  # the opening of the last goal sent
        self._goals = 0  # goals sent: only the latest one's outcome counts (a new goal preempts)
        self._failed_at: float | None = None  # monotonic time the last goal failed
        self._warned_at = float("-inf")
        self.outcome: GripperOutcome | None = None

    def joint_position(self, opening: float) -> float:
        """The command joint's position for a normalised opening (clipped to [0, 1])."""
        return self.gripper.opening_position(opening)

    def goal(self, position: float) -> Any:
        """The action goal for the command joint's ``position``."""
        goal = self._action.Goal()
        if self._parallel:
            goal.command = JointState(
                name=[self.gripper.command_joint], position=[position], effort=[self._max_effort]
            )
        else:
            goal.command.position = position
            goal.command.max_effort = self._max_effort
        return goal

    def send(self, opening: float, now: float) -> bool:
        """Send ``opening`` (at ``now``, monotonic seconds) as a new goal when it changed, or when the last
        goal failed ``gripper_resend_period`` ago; returns whether a goal was sent."""
        changed = self._sent is None or abs(opening - self._sent) >= OPENING_CHANGE
        retry = self._failed_at is not None and now - self._failed_at >= self._resend_period
        if not (changed or retry):
            return False
        if not self._client.server_is_ready():
            if now - self._warned_at >= SERVER_WARNING_PERIOD_S:
                self._node.get_logger().warning(
                    f"gripper: no action server {self.server!r} ready: the opening {opening:.2f} waits for it"
                )
                self._warned_at = now
            return False
        self._sent, self._failed_at = opening, None
        self._goals += 1
        number, position = self._goals, self.joint_position(opening)
        future = self._client.send_goal_async(self.goal(position))
        future.add_done_callback(lambda done: self._on_response(number, done.result(), position))
        return True

    def _on_response(self, goal: int, handle, position: float) -> None:
        if not handle.accepted:
            self._finish(goal, GripperOutcome(position, ABORTED, False, False), "was rejected")
            return
        handle.get_result_async().add_done_callback(
            lambda done: self._on_result(goal, done.result(), position)
        )

    def _on_result(self, goal: int, response, position: float) -> None:
        result = response.result
        outcome = GripperOutcome(position, response.status, result.reached_goal, result.stalled)
        self._finish(goal, outcome, f"ended with status {response.status}, neither reached nor stalled")

    def _finish(self, goal: int, outcome: GripperOutcome, failure: str) -> None:
        if goal != self._goals:
            return  # preempted by a newer goal: its outcome is what counts
        self.outcome = outcome
        if outcome.failed:
            self._failed_at = time.monotonic()
            self._node.get_logger().warning(
                f"gripper goal {outcome.position:.4f} on {self.server} {failure}: "
                f"sending it again in {self._resend_period:g} s"
            )
