"""A probe of the running graph for the episode tests: what it says, with the graph time of each message."""

from __future__ import annotations

import numpy as np

from vla_ros.app.graph_client import GraphSession
from vla_ros.config import load_parameters

GOAL_TIMEOUT_S = 60.0
REST_SPEED = 0.05  # rad/s: every arm joint slower than this is at rest
AT_REST_WITHIN_S = 1.0  # after the episode's end
# A message the node published before it learnt of the end may still be on its way (sim time).
IN_FLIGHT_S = 0.5


class Probe:
    """What the graph says, with the graph time each message arrived."""

    def __init__(self, session: GraphSession) -> None:
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import JointState

        from vla_ros.msg import ActionChunk, EpisodeStatus, KeyframeTarget
        from vla_ros.ros.qos import EPISODE_EVENTS, RELIABLE

        self.client = client = session.client
        self.session = session
        self.arm_joints = load_parameters("robots/panda.yaml", "simulator")["robot"]["arm_joints"]
        self.chunks: list[tuple[float, str]] = []
        self.keyframes: list[tuple[float, str]] = []
        self.episodes: list[tuple[float, object]] = []
        self.arm: list[tuple[float, np.ndarray, float]] = []  # (stamp, positions, largest speed)
        node = client.node
        node.create_subscription(
            ActionChunk,
            "chunk_executor/chunk",
            lambda m: self.chunks.append((client.now(), m.episode_id)),
            RELIABLE,
        )
        node.create_subscription(
            KeyframeTarget,
            "policy/keyframe",
            lambda m: self.keyframes.append((client.now(), m.episode_id)),
            RELIABLE,
        )
        node.create_subscription(
            EpisodeStatus,
            "planner/episode",
            lambda m: self.episodes.append((client.now(), m)),
            EPISODE_EVENTS,
        )
        node.create_subscription(JointState, "joint_states", self._on_joint_state, qos_profile_sensor_data)

    def _on_joint_state(self, message) -> None:
        columns = [list(message.name).index(name) for name in self.arm_joints]
        speed = float(np.max(np.abs(np.asarray(message.velocity)[columns])))
        stamp = message.header.stamp.sec + 1e-9 * message.header.stamp.nanosec
        self.arm.append((stamp, np.asarray(message.position)[columns], speed))

    def call(self, service: str) -> str:
        """Call a std_srvs/Trigger service of the graph; its message (it must succeed)."""
        from std_srvs.srv import Trigger

        response = self.client.call(Trigger, service, Trigger.Request(), 30.0)
        assert response.success, response.message
        return response.message

    def wait(self, condition, timeout_s: float = 60.0) -> None:
        assert self.client.spin_for(condition, timeout_s), f"timed out after {timeout_s} s"

    def idle(self, graph_seconds: float) -> None:
        until = self.client.now() + graph_seconds
        self.client.spin_for(lambda: self.client.now() >= until, 10.0 * graph_seconds + 10.0)

    def start(self, task: str, split: str, seed: int):
        """Reset the scene and send its instruction; returns (goal handle, episode id)."""
        handle = self.client.send_instruction(self.client.reset(task, split, seed), GOAL_TIMEOUT_S)
        return handle, bytes(handle.goal_id.uuid).hex()

    def wait_until_moving(self, episode_id: str) -> None:
        """Until the arm moves on a chunk of ``episode_id``."""
        self.wait(lambda: any(e == episode_id for _, e in self.chunks) and self.arm[-1][2] > 0.1)

    def end_of(self, episode_id: str):
        """(graph time received, message) of the episode's end."""
        self.wait(lambda: any(m.episode_id == episode_id and m.state for _, m in self.episodes))
        return next((t, m) for t, m in self.episodes if m.episode_id == episode_id and m.state)

    def assert_stopped_after(self, episode_id: str) -> None:
        """At rest within AT_REST_WITHIN_S of the end and staying there; nothing of the episode after it."""
        ended, _ = self.end_of(episode_id)
        self.idle(AT_REST_WITHIN_S + 1.0)
        moving = [stamp for stamp, _, speed in self.arm if speed > REST_SPEED]
        assert moving and moving[-1] - ended < AT_REST_WITHIN_S, (
            f"the arm still moved {moving[-1] - ended:.2f} s after the episode ended"
        )
        late_chunks = [t - ended for t, e in self.chunks if e == episode_id and t > ended + IN_FLIGHT_S]
        late_keyframes = [t - ended for t, e in self.keyframes if e == episode_id and t > ended + IN_FLIGHT_S]
        assert not late_chunks and not late_keyframes, (late_chunks, late_keyframes)
