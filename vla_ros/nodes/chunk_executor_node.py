"""The action-chunk executor node: each KeyframeTarget -> IK -> a timed joint-space plan -> ActionChunks.

Subscribes ``interface.keyframe_topic`` (vla_ros/KeyframeTarget, reliable; the pose in the robot base
frame, or an empty frame_id), ``interface.joint_state_topic`` (sensor_msgs/JointState, sensor-data QoS;
merged by name from any number of publishers; a message with mismatched lengths or a non-finite arm
value is refused with a throttled warning; nothing is planned from a state older than
``interface.joint_state_timeout``) and
``interface.episode_topic`` (vla_ros/EpisodeStatus, latched): only the keyframes of the active episode
are executed (without an active episode, only keyframes without one), and when the episode ends, or a
new one starts, streaming stops at once (the controller then brakes and holds); the same when the
planner (the episode's owner) dies: its liveliness lapses within ``EPISODE_OWNER_LEASE_S``. A new
episode's first keyframe starts from the gripper as measured when it reads fully open or closed (its
command joint in the joint states; a reset may have opened it), else as last commanded (an object
held between the fingers), see :meth:`ChunkExecutor.set_target`.

Publishes:
- ``~/chunk`` (vla_ros/ActionChunk, reliable): ``chunk.horizon`` actions at ``chunk.dt``, stamped with the
  time of the first one, planned from the latest measured state when a target arrives and then every
  ``1 / chunk.replan_rate`` s (the plan is kept while the arm follows it, see
  :mod:`vla_ros.control.executor`). Chunks keep coming after the target is reached (they hold it), so
  the controller does not fall into its stale-input hold.
- ``~/keyframe_reached`` (vla_ros/KeyframeTarget, reliable): the reached target, echoed unchanged (its
  ``keyframe_index``, header and episode identify it), once per target, when the TCP is within the
  ``keyframe_reached`` tolerances, every joint is settled and the gripper has had its time.
- ``~/keyframe_rejected`` (vla_ros/KeyframeRejection, reliable): a target it refused, and why.
- ``~/status`` (std_msgs/String, latched, JSON): ``state`` (``idle``, ``waiting_for_joint_states``,
  ``moving``, ``reached``, ``rejected``, ``stopped``), ``keyframe_index``, ``episode_id`` and ``message``
  (the reason of a rejection or a stop).
- ``~/planned_path`` (visualization_msgs/Marker LINE_STRIP, latched): the planned TCP path.
- ``/diagnostics`` (diagnostic_msgs/DiagnosticArray): the status and counters, on every change and every
  ``interface.status_period`` s; WARN while waiting for joint states or after a rejection.

A target that is unreachable, outside the workspace box, in another frame or not a valid pose is
rejected with an error log and a ``rejected`` status; nothing moves toward it (a previous, accepted
target stays current).

The robot model is the ``robot_description`` parameter (URDF XML) when set, else ``robot.urdf_path``.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from dataclasses import dataclass

import numpy as np
from geometry_msgs.msg import Point
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import ColorRGBA, Header, String
from visualization_msgs.msg import Marker

from vla_ros.config import ConfigError, from_dict
from vla_ros.control.errors import ControlError
from vla_ros.control.executor import ChunkExecutor
from vla_ros.control.keyframe import KeyframeReachedDetector
from vla_ros.control.measured import JointStateError, MeasuredGripper, MeasuredJoints
from vla_ros.control.pose import Pose
from vla_ros.control.settings import CONFIG_FILE, EXECUTOR_NODE, ExecutorSettings
from vla_ros.control.trajectory import JointPlan
from vla_ros.episode import EpisodeGate, state_name
from vla_ros.msg import ActionChunk, EpisodeStatus, KeyframeRejection, KeyframeTarget
from vla_ros.ros.chunk_messages import chunk_to_message
from vla_ros.ros.diagnostics import DiagnosticsPublisher
from vla_ros.ros.episode_messages import subscribe_episodes
from vla_ros.ros.parameters import declare_robot_parameters_from_config
from vla_ros.ros.qos import EPISODE_EVENTS, LATCHED, RELIABLE
from vla_ros.ros.robot_description import declare_robot_kinematics
from vla_ros.ros.spin import run_node

PATH_WIDTH = 0.005  # m, line width of the planned-path marker
WARNING_STATES = frozenset({"waiting_for_joint_states", "rejected"})


class KeyframeFrameError(ControlError):
    """A keyframe target is expressed in a frame other than the robot base frame."""


@dataclass(frozen=True)
class ExecutorInterface:
    """Section ``interface`` of the executor's parameters."""

    keyframe_topic: str
    joint_state_topic: str
    joint_state_timeout: float
    episode_topic: str
    path_marker_points: int
    status_period: float

    def __post_init__(self) -> None:
        if self.path_marker_points < 0 or self.path_marker_points == 1:
            raise ConfigError("interface.path_marker_points must be 0 (off) or >= 2")
        if not (self.joint_state_timeout > 0.0 and self.status_period > 0.0):
            raise ConfigError("interface.joint_state_timeout and interface.status_period must be > 0")


class ChunkExecutorNode(Node):
    """Keyframe targets in, action chunks and keyframe-reached events out."""

    def __init__(self) -> None:
        super().__init__(EXECUTOR_NODE)
        parameters = declare_robot_parameters_from_config(self, CONFIG_FILE, section=EXECUTOR_NODE)
        self.interface = from_dict(ExecutorInterface, parameters["interface"], f"{EXECUTOR_NODE}.interface")
        self.settings = ExecutorSettings.from_parameters(parameters)
        self.kinematics = declare_robot_kinematics(self, self.settings.robot, parameters)
        self.chunk_executor = ChunkExecutor(self.kinematics, self.settings)
        self.detector = KeyframeReachedDetector(self.settings.keyframe_reached)
        self._measured = MeasuredJoints(self.kinematics.joint_names, self.interface.joint_state_timeout)
        self._measured_gripper = MeasuredGripper(self.settings.robot.gripper, self._measured.timeout)
        self._pending: KeyframeTarget | None = None
        self._keyframe: KeyframeTarget | None = None
        self._shown_plan: JointPlan | None = None
        self.gate = EpisodeGate()
        self._counters = {"keyframes_rejected": 0, "joint_states_rejected": 0, "replans_failed": 0}
        self._status: dict = {}

        self._chunk_pub = self.create_publisher(ActionChunk, "~/chunk", RELIABLE)
        self._reached_pub = self.create_publisher(KeyframeTarget, "~/keyframe_reached", RELIABLE)
        self._rejected_pub = self.create_publisher(KeyframeRejection, "~/keyframe_rejected", RELIABLE)
        self._status_pub = self.create_publisher(String, "~/status", LATCHED)
        self._path_pub = self.create_publisher(Marker, "~/planned_path", LATCHED)
        self._diagnostics = DiagnosticsPublisher(self, "keyframe execution")
        self.create_subscription(KeyframeTarget, self.interface.keyframe_topic, self._on_keyframe, RELIABLE)
        self.create_subscription(
            JointState, self.interface.joint_state_topic, self._on_joint_state, qos_profile_sensor_data
        )
        subscribe_episodes(
            self, self.interface.episode_topic, self._on_episode, EPISODE_EVENTS, lambda: self.gate.active
        )
        self.create_timer(1.0 / self.settings.chunk.replan_rate, self._on_replan)
        self.create_timer(self.interface.status_period, self._publish_diagnostics)
        self._publish_status("idle", None, "no target yet")
        self.get_logger().info(
            f"keyframes from {self.interface.keyframe_topic}; chunks of {self.settings.chunk.horizon} x "
            f"{self.settings.chunk.dt:g} s re-planned at {self.settings.chunk.replan_rate:g} Hz"
        )

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _publish_status(self, state: str, keyframe_index: int | None, message: str) -> None:
        self._status = {
            "state": state,
            "keyframe_index": keyframe_index,
            "episode_id": self.gate.active,
            "message": message,
            **self._counters,
        }
        self._status_pub.publish(String(data=json.dumps(self._status)))
        self._publish_diagnostics()

    def _publish_diagnostics(self) -> None:
        """The status on /diagnostics: WARN while waiting for joint states or after a rejection."""
        status = self._status
        stale = self._measured.stale_joints(time.monotonic())
        level = 1 if stale or status["state"] in WARNING_STATES else 0
        message = f"{status['state']}: {status['message']}"
        if stale:
            message += f"; no recent joint state of {stale}"
        self._diagnostics.publish(level, message, status)

    # ------------------------------------------------------------------ inputs
    def _on_episode(self, message: EpisodeStatus) -> None:
        change = self.gate.update(message.episode_id, message.state)
        if change is None:
            return
        stopped = self.chunk_executor.target is not None or self._pending is not None
        self.chunk_executor.stop()
        self._pending = None
        self._keyframe = None
        if change.started:
            self._publish_status(
                "idle", None, f"episode {change.episode_id} started: waiting for its keyframes"
            )
        else:
            reason = f"episode {change.episode_id} {state_name(change.state)}"
            self._publish_status("stopped", None, reason)
            if stopped:
                self.get_logger().info(f"stopped streaming: {reason}")

    def _measured_state(self) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
        """(positions, velocities) when every joint was measured recently, else (None, None)."""
        return self._measured.state(time.monotonic()) or (None, None)

    def _on_joint_state(self, message: JointState) -> None:
        with contextlib.suppress(JointStateError):  # no gripper in it (an arm-only publisher)
            self._measured_gripper.update(message.name, message.position, message.velocity, time.monotonic())
        try:
            self._measured.update(message.name, message.position, message.velocity, time.monotonic())
        except JointStateError as error:
            self._counters["joint_states_rejected"] += 1
            self.get_logger().warning(f"ignoring a joint state: {error}", throttle_duration_sec=5.0)
            return
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._on_keyframe(pending)
        self._check_reached()

    def _on_keyframe(self, message: KeyframeTarget) -> None:
        index = int(message.keyframe_index)
        if not self.gate.admits(message.episode_id):
            self.get_logger().debug(
                f"ignoring keyframe {index} of episode {message.episode_id!r}: not the active one"
            )
            return
        positions, velocities = self._measured_state()
        if positions is None or velocities is None:
            self._pending = message
            self._publish_status("waiting_for_joint_states", index, "planning once joint states arrive")
            return
        frame = message.header.frame_id
        try:
            if frame not in ("", self.kinematics.base_frame):
                raise KeyframeFrameError(
                    f"pose is in frame '{frame}', expected the base frame '{self.kinematics.base_frame}'"
                )
            position, orientation = message.pose.position, message.pose.orientation
            pose = Pose(
                [position.x, position.y, position.z],
                [orientation.x, orientation.y, orientation.z, orientation.w],
            )
            chunk = self.chunk_executor.set_target(
                pose,
                message.gripper_open,
                self._now(),
                positions,
                velocities,
                self._measured_gripper.opening(time.monotonic()),
            )
        except ControlError as error:
            self._counters["keyframes_rejected"] += 1
            self.get_logger().error(f"keyframe {index} rejected, no motion toward it: {error}")
            self._publish_status("rejected", index, str(error))
            self._rejected_pub.publish(KeyframeRejection(target=message, reason=str(error)))
            return
        self._keyframe = message
        target = self.chunk_executor.target
        assert target is not None
        self.detector.set_target(target, self.chunk_executor.keyframe_done_time)
        self._publish_chunk(chunk)
        self._publish_status("moving", index, f"{len(self.chunk_executor.waypoints)} stop(s) planned")
        turn = math.degrees(pose.error_to(target)[1])
        self.get_logger().info(
            f"keyframe {index}: {[w.label for w in self.chunk_executor.waypoints]}, gripper "
            f"{'open' if message.gripper_open else 'closed'}"
            + (f", turned {turn:.0f} deg about the TCP z axis (the gripper's symmetry)" if turn > 1.0 else "")
        )

    # ------------------------------------------------------------------ periodic work
    def _on_replan(self) -> None:
        positions, velocities = self._measured_state()
        if self.chunk_executor.target is None:
            return
        if positions is None or velocities is None:
            self.get_logger().warning(
                "not re-planning: no recent joint state (the controller holds the arm)",
                throttle_duration_sec=5.0,
            )
            return
        try:
            chunk = self.chunk_executor.update(self._now(), positions, velocities)
        except ControlError as error:
            self._counters["replans_failed"] += 1
            self.get_logger().error(f"re-planning failed: {error}", throttle_duration_sec=1.0)
            return
        if chunk is not None:
            self._publish_chunk(chunk)

    def _publish_chunk(self, chunk) -> None:
        message = chunk_to_message(chunk)
        message.episode_id = "" if self._keyframe is None else self._keyframe.episode_id
        self._chunk_pub.publish(message)
        self._publish_path()

    def _check_reached(self) -> None:
        positions, velocities = self._measured_state()
        if self._keyframe is None or self.detector.reached or positions is None:
            return
        self.detector.not_before = self.chunk_executor.keyframe_done_time
        tcp = self.kinematics.forward(positions)
        if self.detector.update(self._now(), tcp, velocities):
            index = int(self._keyframe.keyframe_index)
            self._reached_pub.publish(self._keyframe)
            message = (
                f"reached within {self.detector.position_error * 1000.0:.1f} mm, "
                f"{np.degrees(self.detector.orientation_error):.2f} deg"
            )
            self._publish_status("reached", index, message)
            self.get_logger().info(f"keyframe {index} {message}")

    def _publish_path(self) -> None:
        plan = self.chunk_executor.plan
        count = self.interface.path_marker_points
        if count == 0 or plan is None or plan is self._shown_plan:
            return
        self._shown_plan = plan
        positions, _, _ = plan.sample(np.linspace(plan.t0, plan.end_time, count))
        marker = Marker(
            header=Header(stamp=self.get_clock().now().to_msg(), frame_id=self.kinematics.base_frame),
            ns="planned_tcp_path",
            id=0,
            type=Marker.LINE_STRIP,
            action=Marker.ADD,
            color=ColorRGBA(r=0.1, g=0.8, b=0.2, a=1.0),
        )
        marker.pose.orientation.w = 1.0
        marker.scale.x = PATH_WIDTH
        for q in positions:
            point = self.kinematics.forward(q).position
            marker.points.append(Point(x=float(point[0]), y=float(point[1]), z=float(point[2])))
        self._path_pub.publish(marker)


def main(args: list[str] | None = None) -> int:
    """Entry point of ``ros2 run vla_ros chunk_executor_node``."""
    return run_node(ChunkExecutorNode, args, startup_errors=(ConfigError, ControlError))


if __name__ == "__main__":
    sys.exit(main())
