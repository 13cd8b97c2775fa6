"""The RVT-style keyframe policy as a ROS 2 node: RGB-D + the planner's path -> the next keyframe.

Episodes: the policy follows the owner's ``episode_topic`` (vla_ros/EpisodeStatus) live, not latched,
so a policy started or restarted in the middle of an episode acts on nothing until the next one
starts. It takes only the path, reached keyframes and rejections of the active episode, stamps its
keyframes with the episode's id, and when the episode ends for any reason drops its request and any
prediction in flight; also when the owner dies (its liveliness lapses within
``EPISODE_OWNER_LEASE_S``).

Subscribes to ``interface.color_topic`` and ``interface.depth_topic`` (sensor-data QoS, paired by
stamp within ``sync_tolerance``; depth 32FC1 metres or 16UC1 millimetres), ``camera_info_topic``
(K), ``camera_pose_topic`` (geometry_msgs/PoseStamped, latched: the colour optical frame in the base
frame), ``path_topic`` (vla_ros/Path2D, latched: a new path of the active episode starts at keyframe
0), ``keyframe_reached_topic`` (the executor's echo of the target: the next keyframe is predicted from
the first colour frame stamped after it arrives), ``keyframe_rejected_topic`` (vla_ros/KeyframeRejection)
and ``joint_state_topic`` (the gripper state the policy sees is the measured one: open while the
opening of ``robot.gripper.command_joint`` (the robot file's map) is above ``gripper_open_width``; until
joint states come, the
path's initial state and then the last keyframe's).

Failures are retried: a failed prediction (all-NaN depth, an empty cloud, ...), a request that gets no
fresh frame pair (or lacks the camera's intrinsics or pose), a keyframe the executor rejects, or one
not reached, within ``episode.keyframe_timeout`` (ROS time) is predicted again from a fresh frame,
``episode.max_attempts`` attempts in all; then the policy gives the episode up.

Publishes ``keyframe_topic`` (vla_ros/KeyframeTarget, reliable), ``outcome_topic`` (vla_ros/EpisodeStatus:
SUCCEEDED once the "done" keyframe is reached, ABORTED with the reasons when it gives up or after
``episode.max_keyframes``: the planner ends the episode), and latched for RViz ``~/pose``
(PoseStamped), ``~/markers`` (MarkerArray), ``~/cloud`` (PointCloud2, the cropped cloud),
``~/heatmaps/<view>`` (rgb8: each view's coarse-stage heatmap over the rendered view),
``~/heatmaps/fine_<view>`` (the same for the fine stage, zoomed on the coarse point),
``~/observation`` (the colour image the keyframe was predicted from) and ``~/status`` (String).

Inference runs in a worker thread (one prediction at a time); results come back to the executor's
thread through a guard condition, so callbacks never wait for the network. Bad input (no camera pose
or intrinsics, all-NaN depth, an empty cloud) is logged and published on ``~/status``.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, JointState, PointCloud2
from std_msgs.msg import Header, String
from visualization_msgs.msg import MarkerArray

from vla_ros.config import ConfigError, from_dict
from vla_ros.control.measured import JointStateError, MeasuredGripper
from vla_ros.episode import ABORTED, SUCCEEDED, EpisodeGate, KeyframeRetry
from vla_ros.msg import EpisodeStatus, KeyframeRejection, KeyframeTarget, Path2D
from vla_ros.planning.errors import PlannerError
from vla_ros.policy.errors import PolicyCheckpointError, PolicyError, PolicyInputError
from vla_ros.policy.frames import FramePairer
from vla_ros.policy.inference import KeyframePolicy, KeyframePrediction
from vla_ros.policy.observation import PolicyObservation
from vla_ros.policy.settings import NODE_NAME, PolicyConfig, PolicyConfigError
from vla_ros.robot.settings import robot_settings
from vla_ros.ros.episode_messages import subscribe_episodes
from vla_ros.ros.images import ImageEncodingError, array_to_image, depth_from_message, rgb_from_message
from vla_ros.ros.messages import matrix_from_pose, pose_from_matrix, seconds_from_stamp
from vla_ros.ros.parameters import declare_robot_parameters_from_config
from vla_ros.ros.path_messages import path_from_message
from vla_ros.ros.policy_messages import cloud_message, gripper_markers, heatmap_overlay
from vla_ros.ros.qos import LATCHED, LIVE_EPISODE_EVENTS, RELIABLE
from vla_ros.ros.spin import run_node

CONFIG_FILE = "policy.yaml"
HEATMAP_DISPLAY_SIZE = 256  # pixels of the published heatmap images
# A finger reading older than this is not used (s, steady clock): the gripper state is unknown then.
FINGER_STATE_TIMEOUT_S = 1.0
KEYFRAME_TIMEOUT_CHECK_S = 0.2  # period of the check for a keyframe not reached in time


@dataclass(frozen=True)
class PolicyInterface:
    """The node's ROS-facing settings (section ``interface`` of config/policy.yaml)."""

    color_topic: str
    depth_topic: str
    camera_info_topic: str
    camera_pose_topic: str
    path_topic: str
    keyframe_reached_topic: str
    keyframe_topic: str
    keyframe_rejected_topic: str
    episode_topic: str
    outcome_topic: str
    joint_state_topic: str
    gripper_open_width: float
    sync_tolerance: float
    predict_period: float

    def __post_init__(self) -> None:
        if self.sync_tolerance < 0 or self.predict_period < 0:
            raise ValueError("sync_tolerance and predict_period must not be negative")


@dataclass(frozen=True)
class Request:
    """A keyframe to predict: its index, the earliest colour stamp (s) it may be predicted from and the
    episode it belongs to."""

    index: int
    not_before: float
    episode_id: str


class KeyframePolicyNode(Node):
    """Predicts the next keyframe whenever a path arrives or the previous keyframe is reached."""

    def __init__(self) -> None:
        super().__init__(NODE_NAME)
        self._jobs: deque = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        parameters = declare_robot_parameters_from_config(self, CONFIG_FILE, section=NODE_NAME)
        self.interface = from_dict(
            PolicyInterface, parameters.pop("interface"), "keyframe_policy.interface", PolicyConfigError
        )
        robot = robot_settings(parameters, PolicyConfigError)
        self.base_frame = robot.base_frame
        self.gripper = robot.gripper
        self._measured_gripper = MeasuredGripper(robot.gripper, FINGER_STATE_TIMEOUT_S)
        self.config = PolicyConfig.from_parameters(parameters)
        self.policy = KeyframePolicy(self.config)
        self.frames: FramePairer[Image] = FramePairer(self.interface.sync_tolerance)
        self._intrinsics: np.ndarray | None = None
        self._camera_pose: np.ndarray | None = None
        self._path_message: Path2D | None = None  # the active episode's path
        self._latest_path: Path2D | None = None  # the latest path received, of any episode
        self._request: Request | None = None
        self._busy = False
        self._gripper_open = True  # last commanded (the path's initial state, then each keyframe's)
        self._measured_gripper_open: bool | None = None
        self._last_sent: KeyframeTarget | None = None
        self._sent_at = 0.0  # ROS time (s) the last keyframe was sent
        self._asked_at = 0.0  # ROS time (s) the current request was made
        self._last_done = False
        self.gate = EpisodeGate()
        self.retry = KeyframeRetry(self.config.episode.max_attempts)
        self._finished: deque[tuple[Request, KeyframePrediction | None, str, Image]] = deque()

        self._keyframe_pub = self.create_publisher(KeyframeTarget, self.interface.keyframe_topic, RELIABLE)
        self._outcome_pub = self.create_publisher(EpisodeStatus, self.interface.outcome_topic, RELIABLE)
        self._status_pub = self.create_publisher(String, "~/status", LATCHED)
        self._pose_pub = self.create_publisher(PoseStamped, "~/pose", LATCHED)
        self._markers_pub = self.create_publisher(MarkerArray, "~/markers", LATCHED)
        self._cloud_pub = self.create_publisher(PointCloud2, "~/cloud", LATCHED)
        self._observation_pub = self.create_publisher(Image, "~/observation", LATCHED)
        self._heatmap_pubs = {
            (stage, view): self.create_publisher(Image, f"~/heatmaps/{stage}{view}", LATCHED)
            for stage in ("", "fine_")
            for view in self.config.model.views
        }
        sensor = qos_profile_sensor_data
        self.create_subscription(Image, self.interface.color_topic, self._on_color, sensor)
        self.create_subscription(Image, self.interface.depth_topic, self._on_depth, sensor)
        self.create_subscription(CameraInfo, self.interface.camera_info_topic, self._on_camera_info, sensor)
        self.create_subscription(PoseStamped, self.interface.camera_pose_topic, self._on_camera_pose, LATCHED)
        self.create_subscription(Path2D, self.interface.path_topic, self._on_path, LATCHED)
        self.create_subscription(
            KeyframeTarget, self.interface.keyframe_reached_topic, self._on_keyframe_reached, RELIABLE
        )
        self.create_subscription(
            KeyframeRejection, self.interface.keyframe_rejected_topic, self._on_keyframe_rejected, RELIABLE
        )
        subscribe_episodes(
            self,
            self.interface.episode_topic,
            self._on_episode,
            LIVE_EPISODE_EVENTS,
            lambda: self.gate.active,
        )
        self.create_subscription(JointState, self.interface.joint_state_topic, self._on_joint_state, sensor)
        self.create_timer(KEYFRAME_TIMEOUT_CHECK_S, self._check_keyframe_timeout)
        if self.interface.predict_period > 0:
            self.create_timer(self.interface.predict_period, self._on_timer)
        self._wake = self.create_guard_condition(self._on_predictions)
        self._pending = threading.Condition()
        self._thread = threading.Thread(target=self._work, name="keyframe_policy", daemon=True)
        self._thread.start()
        record = self.policy.training_record
        warm_up_s = self.policy.warm_up()
        self._status(
            f"ready: checkpoint {self.config.checkpoint} ({record.get('steps', '?')} training steps) "
            f"on {self.config.device}, warmed up in {warm_up_s:.2f} s"
        )

    # ------------------------------------------------------------------ inputs
    def _on_color(self, msg: Image) -> None:
        self.frames.add_color(seconds_from_stamp(msg.header.stamp), msg)
        self._try_dispatch()

    def _on_depth(self, msg: Image) -> None:
        self.frames.add_depth(seconds_from_stamp(msg.header.stamp), msg)
        self._try_dispatch()

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._intrinsics = np.array(msg.k, dtype=float).reshape(3, 3)

    def _on_camera_pose(self, msg: PoseStamped) -> None:
        if msg.header.frame_id and msg.header.frame_id != self.base_frame:
            self._status(
                f"ignoring the camera pose in frame {msg.header.frame_id!r}: expected {self.base_frame!r}",
                error=True,
            )
            return
        self._camera_pose = matrix_from_pose(msg.pose)

    def _on_joint_state(self, msg: JointState) -> None:
        now = time.monotonic()
        try:
            self._measured_gripper.update(msg.name, msg.position, msg.velocity, now)
        except JointStateError:
            return  # this message names no finger (an arm-only publisher) or cannot be read
        width = self._measured_gripper.width(now)
        if width is not None:
            self._measured_gripper_open = width > self.interface.gripper_open_width

    def _on_episode(self, msg: EpisodeStatus) -> None:
        change = self.gate.update(msg.episode_id, msg.state)
        if change is None:
            return
        self._stop_episode()
        if change.started:
            self._status(f"episode {change.episode_id} started: {msg.instruction!r}, waiting for its path")
            latest = self._latest_path
            if latest is not None and latest.episode_id == change.episode_id:
                self._on_path(latest)  # the path came first (topics are not ordered with each other)
        else:
            self._status(f"episode {change.episode_id} ended ({msg.reason or 'done'}): predicting nothing")

    def _stop_episode(self) -> None:
        """Forget the episode's path and requests (a prediction in flight is dropped when it returns)."""
        self._path_message = None
        self._request = None
        self._last_sent = None
        self._last_done = False

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_path(self, msg: Path2D) -> None:
        self._latest_path = msg
        if not self.gate.admits(msg.episode_id):
            self.get_logger().debug(f"ignoring a path of episode {msg.episode_id!r}: not the active one")
            return
        try:
            path_from_message(msg)
        except PlannerError as error:
            self._status(f"ignoring an invalid path: {error}", error=True)
            return
        self._path_message = msg
        self._gripper_open = bool(msg.initial_gripper_open)
        self._last_sent = None
        self._last_done = False
        self.retry.start(0)
        self._status(f"new path for {msg.instruction!r}: predicting keyframe 0")
        self._ask(0, seconds_from_stamp(msg.header.stamp), msg.episode_id)

    def _is_last_sent(self, msg: KeyframeTarget) -> bool:
        sent = self._last_sent
        return (
            sent is not None
            and msg.keyframe_index == sent.keyframe_index
            and msg.episode_id == sent.episode_id
            and msg.header.stamp == sent.header.stamp
        )

    def _on_keyframe_reached(self, msg: KeyframeTarget) -> None:
        if not self._is_last_sent(msg):
            return
        sent = self._last_sent
        self._gripper_open = bool(sent.gripper_open)
        self._last_sent = None
        if self._last_done:
            self._status(f"done after {sent.keyframe_index + 1} keyframes")
            self._report(SUCCEEDED, f"the policy said done at keyframe {sent.keyframe_index}")
            return
        index = sent.keyframe_index + 1
        if index >= self.config.episode.max_keyframes:
            self._give_up(f"{index} keyframes reached without the policy saying done")
            return
        self.retry.start(index)
        self._ask(index, self._now(), sent.episode_id)

    def _on_keyframe_rejected(self, msg: KeyframeRejection) -> None:
        if self._is_last_sent(msg.target):
            self._retry(f"rejected by the executor: {msg.reason}")

    def _ask(self, index: int, not_before: float, episode_id: str) -> None:
        """Predict keyframe ``index`` of ``episode_id`` from the first frame pair after ``not_before``."""
        self._request = Request(index, not_before, episode_id)
        self._asked_at = self._now()
        self._try_dispatch()

    def _check_keyframe_timeout(self) -> None:
        """A keyframe not reached, or a request without a fresh frame pair, within ``keyframe_timeout``."""
        timeout, now = self.config.episode.keyframe_timeout, self._now()
        if self._last_sent is not None and now - self._sent_at > timeout:
            self._retry(f"not reached within {timeout:g} s")
        elif self._request is not None and not self._busy and now - self._asked_at > timeout:
            self._request = None
            lacking = ", ".join(self._missing_inputs()) or "a colour and depth pair stamped after the request"
            self._retry(f"still waiting for {lacking} after {timeout:g} s")

    def _retry(self, reason: str) -> None:
        """The current keyframe failed: predict it again from a fresh frame, or give the episode up."""
        index, episode_id = self.retry.index, self.gate.active
        self._last_sent = None
        if not self.retry.failed(reason):
            self._give_up(self.retry.summary())
            return
        self._status(
            f"keyframe {index} attempt {self.retry.attempt - 1} failed ({reason}): predicting it again",
            error=True,
        )
        self._ask(index, self._now(), episode_id)

    def _give_up(self, reason: str) -> None:
        self._status(f"giving the episode up: {reason}", error=True)
        self._report(ABORTED, reason)
        self._stop_episode()

    def _report(self, state: int, reason: str) -> None:
        header = Header(stamp=self.get_clock().now().to_msg())
        self._outcome_pub.publish(
            EpisodeStatus(header=header, episode_id=self.gate.active, state=state, reason=reason)
        )

    def _on_timer(self) -> None:
        if self._request is None and self._last_sent is not None and not self._busy:
            sent = self._last_sent
            self._ask(sent.keyframe_index, self._now(), sent.episode_id)

    # ------------------------------------------------------------------ prediction
    def _missing_inputs(self) -> list[str]:
        """What a prediction still lacks, besides a fresh frame pair."""
        return [
            name
            for name, value in (
                ("a path", self._path_message),
                (f"camera intrinsics on {self.interface.camera_info_topic}", self._intrinsics),
                (f"a camera pose on {self.interface.camera_pose_topic}", self._camera_pose),
            )
            if value is None
        ]

    def _try_dispatch(self) -> None:
        request = self._request
        if request is None or self._busy or self._missing_inputs():
            return
        pair = self.frames.latest_pair(request.not_before)
        if pair is None:
            return
        _, color, depth = pair
        self._request = None
        self._busy = True
        with self._pending:
            self._jobs.append(
                (request, color, depth, self._intrinsics, self._camera_pose, self._path_message)
            )
            self._pending.notify()

    def _work(self) -> None:
        while not self._stop.is_set():
            with self._pending:
                while not self._jobs and not self._stop.is_set():
                    self._pending.wait(0.5)
                if self._stop.is_set():
                    return
                request, color, depth, intrinsics, camera_pose, path_message = self._jobs.popleft()
            prediction, error = None, ""
            try:
                observation = PolicyObservation(
                    rgb_from_message(color, "the policy"),
                    depth_from_message(depth),
                    intrinsics,
                    camera_pose,
                    path_from_message(path_message),
                    path_message.instruction,
                    self._gripper_open
                    if self._measured_gripper_open is None
                    else self._measured_gripper_open,
                    request.index,
                )
                prediction = self.policy.predict(observation)
            except (PolicyInputError, ImageEncodingError, PlannerError) as failure:
                error = f"{type(failure).__name__}: {failure}"
            except Exception as failure:  # a bug must cost one prediction, not the node
                error = f"unexpected {type(failure).__name__}: {failure}"
            self._finished.append((request, prediction, error, color))
            self._wake.trigger()

    def _on_predictions(self) -> None:
        while self._finished:
            request, prediction, error, color = self._finished.popleft()
            self._busy = False
            if self._path_message is None or request.episode_id != self._path_message.episode_id:
                self.get_logger().debug(
                    f"dropping keyframe {request.index} of episode {request.episode_id!r}"
                )
                continue
            if prediction is None:
                self._status(f"no keyframe {request.index}: {error}", error=True)
                self._retry(f"no prediction: {error}")
                continue
            self._publish(request, prediction, color)
        self._try_dispatch()

    def _publish(self, request: Request, prediction: KeyframePrediction, color: Image) -> None:
        keyframe = prediction.keyframe
        header = Header(stamp=color.header.stamp, frame_id=self.base_frame)
        target = KeyframeTarget(
            header=header,
            pose=pose_from_matrix(keyframe.pose),
            gripper_open=keyframe.gripper_open,
            ignore_collisions=keyframe.ignore_collisions,
            confidence=float(keyframe.confidence),
            keyframe_index=request.index,
            episode_id=request.episode_id,
        )
        self._last_sent = target
        self._sent_at = self._now()
        self._last_done = keyframe.done
        self._keyframe_pub.publish(target)
        self._pose_pub.publish(PoseStamped(header=header, pose=target.pose))
        self._markers_pub.publish(
            gripper_markers(
                keyframe.pose,
                keyframe.gripper_open,
                keyframe.confidence,
                header,
                "keyframe",
                self.gripper.max_width,
            )
        )
        self._cloud_pub.publish(cloud_message(prediction.cloud_points, prediction.cloud_colors, header))
        self._observation_pub.publish(color)
        scale = max(1, HEATMAP_DISPLAY_SIZE // prediction.heatmaps.shape[-1])
        stages = {
            "": (prediction.view_images, prediction.heatmaps),
            "fine_": (prediction.fine_view_images, prediction.fine_heatmaps),
        }
        for (stage, view), publisher in self._heatmap_pubs.items():
            images, heatmaps = stages[stage]
            index = self.config.model.views.index(view)
            publisher.publish(
                array_to_image(heatmap_overlay(images[index], heatmaps[index], scale), "rgb8", header)
            )
        timings = ", ".join(f"{name} {1000 * value:.0f}" for name, value in prediction.timings.items())
        position = ", ".join(f"{value:.3f}" for value in keyframe.pose[:3, 3])
        self._status(
            f"keyframe {request.index}: ({position}) {'open' if keyframe.gripper_open else 'closed'}"
            f"{', done' if keyframe.done else ''}, confidence {keyframe.confidence:.2f} [ms: {timings}]"
        )

    def _status(self, text: str, error: bool = False) -> None:
        if error:  # rclpy ties one severity to each logging call site
            self.get_logger().error(text)
        else:
            self.get_logger().info(text)
        self._status_pub.publish(String(data=text))

    def destroy_node(self) -> None:
        self._stop.set()
        if self._thread is not None:
            with self._pending:
                self._pending.notify()  # wake the worker now, not at its next look
            self._thread.join(timeout=1.0)
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """Entry point of ``ros2 run vla_ros keyframe_policy_node``."""
    return run_node(
        KeyframePolicyNode, args, startup_errors=(ConfigError, PolicyCheckpointError, PolicyError)
    )


if __name__ == "__main__":
    sys.exit(main())
