"""A node for the interface tests, run as a separate process: echoes every vla_ros interface.

Each message type T received on ``echo/in/T`` is published back unchanged on ``echo/out/T``; the
``echo/execute_instruction`` action server answers a goal with two feedback messages and a result
built from the goal, so the test can check every field crossed the process boundary twice.
"""

from __future__ import annotations

import sys

from rclpy.action import ActionServer
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

from vla_ros.action import ExecuteInstruction
from vla_ros.msg import ActionChunk, KeyframeTarget, Path2D, PathPoint2D
from vla_ros.ros.spin import run_node

MESSAGE_TYPES = (ActionChunk, KeyframeTarget, Path2D, PathPoint2D)


class InterfaceEcho(Node):
    """Republishes each message type and serves ExecuteInstruction."""

    def __init__(self) -> None:
        super().__init__("interface_echo")
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self._echo_publishers = {}
        for msg_type in MESSAGE_TYPES:
            name = msg_type.__name__
            self._echo_publishers[name] = self.create_publisher(msg_type, f"echo/out/{name}", qos)
            self.create_subscription(msg_type, f"echo/in/{name}", self._echo_publishers[name].publish, qos)
        self._server = ActionServer(self, ExecuteInstruction, "echo/execute_instruction", self._execute)

    def _execute(self, goal_handle):
        goal = goal_handle.request
        for stage in (
            ExecuteInstruction.Feedback.STAGE_PLANNING,
            ExecuteInstruction.Feedback.STAGE_EXECUTING,
        ):
            feedback = ExecuteInstruction.Feedback()
            feedback.stage = stage
            feedback.keyframe_index = goal.max_keyframes
            feedback.path.instruction = goal.instruction
            feedback.path.points = [PathPoint2D(x=0.25, y=0.5, gripper_open=False)]
            feedback.elapsed = goal.timeout / 2.0
            goal_handle.publish_feedback(feedback)
        goal_handle.succeed()
        result = ExecuteInstruction.Result()
        result.success = True
        result.message = f"echo: {goal.instruction}"
        result.keyframes = goal.max_keyframes
        result.planning_time = goal.timeout / 4.0
        result.total_time = goal.timeout
        return result


class ReadyInterfaceEcho(InterfaceEcho):
    """The echo node, announcing on stdout that its endpoints exist."""

    def __init__(self) -> None:
        super().__init__()
        print("interface_echo ready", flush=True)


if __name__ == "__main__":
    sys.exit(run_node(ReadyInterfaceEcho))
