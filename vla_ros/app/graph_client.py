"""A client of the running graph, as a user's program would be: reset, instruct, watch, check.

:class:`GraphSession` starts the graph (``vla-ros bringup``'s processes) and a :class:`GraphClient`,
and stops both; the demo and ``vla-ros eval`` run their episodes through it. The client resets the
simulator (``simulator/reset``), sends the instruction through the planner's ``ExecuteInstruction``
action, follows the hierarchy on its topics (the path and its overlay, each keyframe the policy
predicts and the executor reaches, the heatmaps, the camera frames they were predicted from), and asks
the simulator whether the task was achieved (``simulator/check_success``). It lives in the graph's
namespace and clock (``use_sim_time``), so its times are the nodes' times. It chooses each goal's id,
so it knows the episode's id before the goal is sent, and takes only the messages of that episode.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vla_ros.app.episode_record import EpisodeImages, EpisodeRecord, KeyframeEvent
from vla_ros.config import load_parameters
from vla_ros.episode import state_name
from vla_ros.ros.discovery import DiscoveryHandshake, wait_for_service

GRAPH_START_TIMEOUT_S = 90.0
SERVICE_TIMEOUT_S = 60.0
RESULT_GRACE_S = 30.0  # wall time allowed past a goal's own timeout for its result to come
# Observation frames and heatmap images kept (per view): more than an episode's keyframes.
FRAME_BUFFER = HEATMAP_BUFFER = 32
LOG_TAIL_LINES = 3  # lines of a dead node's output quoted in the error
GOAL_SUCCEEDED = 4
GOAL_STATUS = {GOAL_SUCCEEDED: "succeeded", 5: "canceled", 6: "aborted"}  # action_msgs/GoalStatus
ECHO_GRACE_S = 2.0  # wall time allowed, after a goal succeeded, for the last keyframe's reached echo


class GraphError(RuntimeError):
    """The graph failed: a node exited, or a service or the action did not answer in time."""


@dataclass
class _Episode:
    """Messages of the running episode, with their receipt times."""

    instruction: str
    episode_id: str
    path: object | None = None
    path_received: float = 0.0
    overlays: list = field(default_factory=list)
    keyframes: list[tuple[float, object]] = field(default_factory=list)
    reached: list[tuple[float, int]] = field(default_factory=list)


class GraphClient:
    """The client node (its own rclpy context, in the graph's namespace and clock).

    ``images``: also take the camera frames and heatmaps an episode's image strip needs (about 5 MB/s of
    messages: leave it off when only numbers are wanted). ``watchdog``, when given, is called while the
    client waits and raises GraphError when the graph is broken (e.g. :meth:`GraphSession.check_alive`),
    so that a dead node ends the wait at once.
    """

    def __init__(
        self,
        namespace: str = "",
        use_sim_time: bool = False,
        camera_namespace: str = "camera",
        images: bool = True,
        watchdog: Callable[[], None] | None = None,
    ) -> None:
        import rclpy
        from geometry_msgs.msg import PoseStamped
        from rclpy.action import ActionClient
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.parameter import Parameter
        from rclpy.qos import qos_profile_sensor_data
        from rclpy.signals import SignalHandlerOptions
        from sensor_msgs.msg import CameraInfo, Image
        from std_msgs.msg import String
        from std_srvs.srv import Trigger
        from unique_identifier_msgs.msg import UUID

        from vla_ros.action import ExecuteInstruction
        from vla_ros.msg import KeyframeTarget, Path2D
        from vla_ros.ros.qos import LATCHED, RELIABLE
        from vla_ros.srv import ResetTask

        planner = load_parameters("planner.yaml", "planner")["interface"]
        chunk_topic = load_parameters("control.yaml", "ensembling_controller")["interface"]["chunk_topic"]
        views = load_parameters("policy.yaml", "keyframe_policy")["model"]["views"]
        self._rclpy = rclpy
        self._watchdog = watchdog
        self._context = rclpy.Context()
        # No rclpy signal handlers: Ctrl-C raises KeyboardInterrupt here, and the session stops the graph.
        # args=[]: the command line holds the graph's launch arguments (robot:=xarm6), not this node's
        rclpy.init(args=[], context=self._context, signal_handler_options=SignalHandlerOptions.NO)
        self.node = rclpy.create_node(
            "vla_ros_client",
            namespace=namespace.strip("/"),
            context=self._context,
            parameter_overrides=[Parameter("use_sim_time", value=use_sim_time)],
        )
        self._executor = SingleThreadedExecutor(context=self._context)
        self._executor.add_node(self.node)
        node = self.node
        self._reset = node.create_client(ResetTask, "simulator/reset")
        self._check = node.create_client(Trigger, "simulator/check_success")
        self._action = ActionClient(node, ExecuteInstruction, "planner/execute_instruction")
        # After the clients they vouch for (see vla_ros.ros.discovery).
        self._handshakes = (DiscoveryHandshake(node, "simulator"), DiscoveryHandshake(node, "planner"))
        self._reset_request, self._check_request = ResetTask.Request, Trigger.Request
        self._goal_type, self._uuid_type = ExecuteInstruction.Goal, UUID
        self._controller_status: dict = {}
        self._simulator_status: dict = {}
        # Each of these exists once its node has loaded (the policy its checkpoint, ...).
        self._node_outputs = (planner["keyframe_topic"], planner["keyframe_reached_topic"])
        self._controller_input = chunk_topic
        self._episode: _Episode | None = None
        self._frames: deque = deque(maxlen=FRAME_BUFFER)
        self._heatmaps: dict[str, deque] = {view: deque(maxlen=HEATMAP_BUFFER) for view in views}
        self._camera_info = None
        self._camera_pose = None
        camera = camera_namespace.strip("/")
        node.create_subscription(Path2D, "planner/path", self._on_path, LATCHED)
        node.create_subscription(Image, "planner/overlay", self._on_overlay, LATCHED)
        node.create_subscription(KeyframeTarget, planner["keyframe_topic"], self._on_keyframe, RELIABLE)
        node.create_subscription(
            KeyframeTarget, planner["keyframe_reached_topic"], self._on_reached, RELIABLE
        )
        node.create_subscription(String, "ensembling_controller/status", self._on_controller_status, LATCHED)
        node.create_subscription(String, "simulator/status", self._on_simulator_status, LATCHED)
        if not images:
            return
        # The frame each keyframe was predicted from, as the policy republishes it (not the camera
        # stream: 15 images/s in this process make the middleware drop and resend its other messages).
        node.create_subscription(
            Image, "keyframe_policy/observation", lambda msg: self._frames.append(msg), LATCHED
        )
        node.create_subscription(
            CameraInfo, f"{camera}/color/camera_info", self._on_camera_info, qos_profile_sensor_data
        )
        node.create_subscription(PoseStamped, f"{camera}/color/camera_pose", self._on_camera_pose, LATCHED)
        for view, messages in self._heatmaps.items():
            node.create_subscription(
                Image,
                f"keyframe_policy/heatmaps/{view}",
                lambda msg, kept=messages: kept.append(msg),
                LATCHED,
            )

    # ------------------------------------------------------------------ subscriptions
    def now(self) -> float:
        """The graph's time (simulated under use_sim_time), in seconds."""
        return self.node.get_clock().now().nanoseconds * 1e-9

    def _of_episode(self, episode_id: str) -> _Episode | None:
        """The running episode when ``episode_id`` names it."""
        episode = self._episode
        return episode if episode is not None and episode.episode_id == episode_id else None

    def _on_path(self, msg) -> None:
        episode = self._of_episode(msg.episode_id)
        if episode is not None and episode.path is None:
            episode.path, episode.path_received = msg, self.now()

    def _on_overlay(self, msg) -> None:
        if self._episode is not None:
            self._episode.overlays.append(msg)

    def _on_keyframe(self, msg) -> None:
        episode = self._of_episode(msg.episode_id)
        if episode is not None:
            episode.keyframes.append((self.now(), msg))

    def _on_reached(self, msg) -> None:
        episode = self._of_episode(msg.episode_id)
        if episode is not None:
            episode.reached.append((self.now(), msg.keyframe_index))

    def _on_controller_status(self, msg) -> None:
        self._controller_status = json.loads(msg.data)

    def _on_simulator_status(self, msg) -> None:
        self._simulator_status = json.loads(msg.data)

    def simulator_counters(self) -> tuple[int, int]:
        """The simulator's camera frames (published, dropped) so far: where the machine cannot keep up."""
        status = self._simulator_status
        return int(status.get("frames_published", 0)), int(status.get("frames_dropped", 0))

    def hold_transitions(self) -> int:
        """The controller's count of motions interrupted by a hold (stale input or no covering chunk)."""
        return int(self._controller_status.get("hold_transitions", 0))

    def _on_camera_info(self, msg) -> None:
        self._camera_info = msg

    def _on_camera_pose(self, msg) -> None:
        self._camera_pose = msg

    # ------------------------------------------------------------------ calls
    def spin_until(self, condition: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Spin until ``condition()``; GraphError after ``timeout_s`` of wall time."""
        if not self.spin_for(condition, timeout_s):
            raise GraphError(f"timed out after {timeout_s:.0f} s waiting for {what}")

    def spin_for(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        """Spin until ``condition()`` or for ``timeout_s`` of wall time; returns ``condition()``."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            if self._watchdog is not None:
                self._watchdog()
            if time.monotonic() > deadline:
                return False
            self._executor.spin_once(timeout_sec=0.02)
        return True

    def is_ready(self) -> bool:
        """Whether the simulator's services, the planner's action server (both aware of this client), the
        policy's and the executor's outputs and the controller's input are up."""
        return (
            self._reset.service_is_ready()
            and self._check.service_is_ready()
            and self._action.server_is_ready()
            and all([handshake.done() for handshake in self._handshakes])
            and all(self.node.count_publishers(topic) > 0 for topic in self._node_outputs)
            and self.node.count_subscribers(self._controller_input) > 0
        )

    def rediscover(self) -> None:
        """A node was restarted: :meth:`is_ready` waits again until the simulator and planner know us."""
        for handshake in self._handshakes:
            handshake.restart()

    def call(self, service_type, service: str, request, timeout_s: float = SERVICE_TIMEOUT_S):
        """Call ``service`` once its server and this client have discovered each other; the response."""
        client = self.node.create_client(service_type, service)
        try:
            if not wait_for_service(self.node, client, service, self.spin_for, timeout_s):
                raise GraphError(f"timed out after {timeout_s:.0f} s waiting for the service {service}")
            future = client.call_async(request)
            self.spin_until(future.done, timeout_s, f"the answer of {service}")
            return future.result()
        finally:
            self.node.destroy_client(client)

    def reset(self, task: str, split: str, seed: int) -> str:
        """Reset the workcell to a scene; returns its instruction."""
        future = self._reset.call_async(self._reset_request(task=task, split=split, seed=seed))
        self.spin_until(future.done, SERVICE_TIMEOUT_S, f"the reset to {task}/{split}/{seed}")
        response = future.result()
        if not response.success:
            raise GraphError(f"reset to {task}/{split}/{seed} failed: {response.message}")
        return response.instruction

    def check_success(self) -> tuple[bool, str]:
        """The simulator's verdict on the current scene's task."""
        future = self._check.call_async(self._check_request())
        self.spin_until(future.done, SERVICE_TIMEOUT_S, "the simulator's check_success")
        response = future.result()
        return bool(response.success), response.message

    def send_instruction(self, instruction: str, timeout_s: float = 0.0, max_keyframes: int = 0):
        """Send ``instruction`` as a goal whose id this client chooses (the episode id); returns the
        accepted goal handle. The client follows that episode's messages from now on."""
        goal_id = uuid.uuid4()
        self._episode = _Episode(instruction, goal_id.hex)
        goal = self._goal_type(instruction=instruction, timeout=timeout_s, max_keyframes=max_keyframes)
        sent = self._action.send_goal_async(goal, goal_uuid=self._uuid_type(uuid=list(goal_id.bytes)))
        self.spin_until(sent.done, SERVICE_TIMEOUT_S, "the planner to accept the goal")
        handle = sent.result()
        if not handle.accepted:
            raise GraphError(f"the planner rejected the instruction {instruction!r}")
        return handle

    def wait_for_result(self, handle, timeout_s: float):
        """The goal's result response (status and result), waiting up to ``timeout_s`` of wall time."""
        result = handle.get_result_async()
        self.spin_until(result.done, timeout_s, "the goal's result")
        return result.result()

    def cancel(self, handle) -> None:
        """Ask the planner to cancel the goal (returns when the request is answered)."""
        future = handle.cancel_goal_async()
        self.spin_until(future.done, SERVICE_TIMEOUT_S, "the planner to answer the cancel request")

    def run_episode(
        self,
        task: str,
        split: str,
        seed: int,
        timeout_s: float,
        max_keyframes: int = 0,
        recording: tuple[Path, Sequence[str]] | None = None,
    ) -> tuple[EpisodeRecord, EpisodeImages]:
        """Reset, send the scene's instruction, wait for the goal's end, check the task.

        ``recording`` = (file, topics): record those topics to an MCAP file from the reset (latched
        messages of the new scene included) to the task check; its summary goes to the record.
        """
        from vla_ros.ros.images import image_to_array
        from vla_ros.ros.messages import matrix_from_pose, seconds_from_stamp

        instruction = self.reset(task, split, seed)
        record = EpisodeRecord(task, split, seed, instruction)
        recorder = None
        if recording is not None:
            from vla_ros.ros.mcap_recording import McapRecorder

            recorder = McapRecorder(self.node, *recording)
        holds_before = self.hold_transitions()
        frames_before = self.simulator_counters()
        started = time.monotonic()
        handle = self.send_instruction(instruction, timeout_s, max_keyframes)
        episode = self._episode
        outcome = self.wait_for_result(handle, timeout_s + RESULT_GRACE_S)
        if outcome.status == GOAL_SUCCEEDED:  # the done keyframe was reached: its echo may still come
            self.spin_for(lambda: len(episode.reached) >= len(episode.keyframes), ECHO_GRACE_S)
        self._episode = None
        record.goal_status = GOAL_STATUS.get(outcome.status, f"status {outcome.status}")
        record.goal_message = outcome.result.message
        record.episode_end = state_name(outcome.result.outcome)
        record.planning_time_s = outcome.result.planning_time
        record.total_time_s = outcome.result.total_time
        record.wall_time_s = time.monotonic() - started
        record.episode_id = episode.episode_id
        record.hold_transitions = self.hold_transitions() - holds_before
        frames_after = self.simulator_counters()
        record.frames_published = frames_after[0] - frames_before[0]
        record.frames_dropped = frames_after[1] - frames_before[1]
        record.task_success, record.task_message = self.check_success()
        if recorder is not None:
            summary = recorder.close()
            record.recording = {
                "file": summary.path.name,
                "messages": summary.message_counts,
                "missing_topics": list(summary.missing_topics),
            }

        images = EpisodeImages()
        if episode.path is not None:
            path = episode.path
            record.planner, record.raw_answer = path.planner, path.raw_answer
            record.planning_latency_s, record.path_points = float(path.latency), len(path.points)
            overlay = next((msg for msg in episode.overlays if msg.header.stamp == path.header.stamp), None)
            images.path_overlay = None if overlay is None else image_to_array(overlay)
        requested_at = episode.path_received
        reached = list(episode.reached)
        for received, msg in episode.keyframes:
            frame = next((image for image in self._frames if image.header.stamp == msg.header.stamp), None)
            position = msg.pose.position
            event = KeyframeEvent(
                index=int(msg.keyframe_index),
                requested_at=requested_at,
                observed_at=seconds_from_stamp(msg.header.stamp),
                predicted_at=received,
                position=(position.x, position.y, position.z),
                gripper_open=bool(msg.gripper_open),
                confidence=float(msg.confidence),
            )
            # The executor's echo of this keyframe (by index: a message may come late over DDS).
            echo = next((item for item in reached if item[1] == event.index), None)
            if echo is not None:
                reached.remove(echo)
                event.reached_at = requested_at = echo[0]
            record.keyframes.append(event)
            images.keyframe_frames.append(None if frame is None else image_to_array(frame))
            images.keyframe_heatmaps.append(
                {
                    view: image_to_array(match)
                    for view, messages in self._heatmaps.items()
                    if (match := next((m for m in messages if m.header.stamp == msg.header.stamp), None))
                }
            )
        if self._camera_info is not None and self._camera_pose is not None:
            images.camera_matrix = np.array(self._camera_info.k, dtype=float).reshape(3, 3)
            images.camera_pose = matrix_from_pose(self._camera_pose.pose)
        return record, images

    def close(self) -> None:
        """Destroy the node and its context."""
        self.node.destroy_node()
        self._rclpy.shutdown(context=self._context)


class GraphSession:
    """``with GraphSession(values, log_dir) as session``: the graph's processes and a client of it
    (``images``: see :class:`GraphClient`)."""

    def __init__(self, values: dict[str, str], log_dir: Path, images: bool = True) -> None:
        self.values = values
        self.log_dir = log_dir
        self.images = images
        self.processes: dict[str, subprocess.Popen] = {}
        self.client: GraphClient | None = None
        self.startup_s = 0.0
        self._previous_sigterm = signal.SIG_DFL

    def __enter__(self) -> GraphSession:
        from vla_ros.app.bringup import start_graph

        # SIGTERM (a job scheduler, `kill`) ends the session as Ctrl-C does: the graph is stopped too.
        self._previous_sigterm = signal.signal(signal.SIGTERM, _interrupt)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            # The client first: the nodes discover its endpoints as they start (see vla_ros.ros.discovery).
            self.client = GraphClient(
                self.values["namespace"],
                self.values["use_sim_time"] == "true",
                self.values["camera_namespace"] or "camera",
                images=self.images,
                watchdog=self.check_alive,
            )
            self.processes = start_graph(self.values, log_dir=self.log_dir)
            started = time.monotonic()
            self.client.spin_until(
                self.client.is_ready,
                GRAPH_START_TIMEOUT_S,
                "the simulator's services, the planner's action, the policy, executor and controller",
            )
            self.startup_s = time.monotonic() - started
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def check_alive(self) -> None:
        """GraphError naming the nodes that exited, with the last lines of their output."""
        codes = {name: process.poll() for name, process in self.processes.items()}
        dead = {name: code for name, code in codes.items() if code is not None}
        if dead:
            reports = []
            for name, code in dead.items():
                log = self.log_dir / f"{name}.log"
                tail = (
                    log.read_text(errors="replace").strip().splitlines()[-LOG_TAIL_LINES:]
                    if log.exists()
                    else []
                )
                reports.append(
                    f"{name} exited with code {code} ({log}):\n" + "\n".join(f"    {line}" for line in tail)
                )
            raise GraphError("\n".join(reports))

    def __exit__(self, *exc_info) -> None:
        from vla_ros.app.bringup import stop

        if self.client is not None:
            self.client.close()
            self.client = None
        stop(self.processes)
        signal.signal(signal.SIGTERM, self._previous_sigterm)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
