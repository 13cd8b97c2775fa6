"""Every way an episode ends, through the whole graph in the simulated workcell: the robot stops, and
nothing of the ended episode acts afterwards.

One graph (oracle planner, simulated time) serves the cancel, preemption, reset and restarted-policy
tests; the unreachable-keyframe test has its own, with an executor whose workspace box holds nothing.
Times are the graph's (simulated) time, so a loaded CPU slows the test, not the verdicts.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from vla_ros.config import config_path, load_parameters
from vla_ros.graph import NODES, node_command, resolve_arguments
from vla_ros.graph_client import GraphSession

pytestmark = [pytest.mark.ros, pytest.mark.slow]

GOAL_TIMEOUT_S = 60.0
REST_SPEED = 0.05  # rad/s: every arm joint slower than this is at rest
AT_REST_WITHIN_S = 1.0  # after the episode's end
# A message the node published before it learnt of the end may still be on its way (sim time).
IN_FLIGHT_S = 0.3
TASK = ("lift_block", "train", 0)


class Probe:
    """What the graph says, with the graph time each message arrived."""

    def __init__(self, session: GraphSession) -> None:
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import JointState

        from vla_ros.msg import ActionChunk, EpisodeStatus, KeyframeTarget
        from vla_ros.ros.qos import EPISODE_EVENTS, RELIABLE

        self.client = client = session.client
        self.session = session
        self.arm_joints = load_parameters("robot.yaml", "simulator")["robot"]["arm_joints"]
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

    def wait(self, condition, timeout_s: float = 60.0) -> None:
        assert self.client.spin_for(condition, timeout_s), f"timed out after {timeout_s} s"

    def idle(self, graph_seconds: float) -> None:
        until = self.client.now() + graph_seconds
        self.client.spin_for(lambda: self.client.now() >= until, 10.0 * graph_seconds + 10.0)

    def start(self, instruction: str | None = None):
        """Reset the scene and send its instruction; returns (goal handle, episode id)."""
        text = self.client.reset(*TASK)
        handle = self.client.send_instruction(instruction or text, GOAL_TIMEOUT_S)
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


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    values = resolve_arguments({"use_sim_time": "true", "planner": "oracle"})
    with GraphSession(values, tmp_path_factory.mktemp("graph"), images=False) as session:
        yield session


@pytest.fixture
def probe(session):
    return Probe(session)


def test_cancel_mid_motion_stops_the_arm_and_the_episode(probe):
    handle, episode = probe.start()
    probe.wait_until_moving(episode)
    probe.client.cancel(handle)
    response = probe.client.wait_for_result(handle, 30.0)
    assert response.status == 5 and response.result.message == "canceled"  # action_msgs CANCELED
    assert probe.end_of(episode)[1].state == 3  # EpisodeStatus.CANCELED
    probe.assert_stopped_after(episode)


def test_a_new_goal_preempts_the_running_one_which_stops_first(probe):
    first, first_episode = probe.start()
    probe.wait_until_moving(first_episode)
    second = probe.client.send_instruction("lift the red block", GOAL_TIMEOUT_S)
    second_episode = bytes(second.goal_id.uuid).hex()
    response = probe.client.wait_for_result(first, 30.0)
    assert response.status == 6 and "preempted by a new instruction" in response.result.message
    ended, end = probe.end_of(first_episode)
    assert end.state == 4  # EpisodeStatus.PREEMPTED
    started = next(t for t, m in probe.episodes if m.episode_id == second_episode and m.state == 0)
    assert started >= ended, "the old episode ends before the new one starts"
    probe.wait(lambda: any(e == second_episode for _, e in probe.keyframes))  # the new one goes on
    late = [t for t, e in probe.chunks if e == first_episode and t > ended + IN_FLIGHT_S]
    assert not late
    probe.client.cancel(second)
    probe.client.wait_for_result(second, 30.0)
    probe.assert_stopped_after(second_episode)


def test_a_reset_mid_episode_ends_it_and_leaves_the_arm_at_home(probe):
    handle, episode = probe.start()
    probe.wait_until_moving(episode)
    probe.client.reset(*TASK)
    response = probe.client.wait_for_result(handle, 30.0)
    assert response.status == 6 and "simulator reset to lift_block/train/0" in response.result.message
    probe.assert_stopped_after(episode)
    home = np.array(load_parameters("robot.yaml", "simulator")["robot"]["home_positions"])
    assert np.max(np.abs(probe.arm[-1][1] - home)) < 0.02, "the new scene starts with the arm at home"


def test_a_restarted_policy_acts_on_nothing_until_the_next_goal(probe, session, tmp_path):
    handle, episode = probe.start()
    probe.wait(lambda: any(e == episode for _, e in probe.keyframes))
    policy = next(node for node in NODES if node.name == "keyframe_policy")
    session.processes["keyframe_policy"].send_signal(signal.SIGKILL)
    session.processes["keyframe_policy"].wait(10)
    with (session.log_dir / "keyframe_policy_restarted.log").open("w") as log:
        session.processes["keyframe_policy"] = subprocess.Popen(
            node_command(policy, session.values, tmp_path), stdout=log, stderr=subprocess.STDOUT
        )
    log_file = session.log_dir / "keyframe_policy_restarted.log"
    probe.wait(lambda: "ready: checkpoint" in log_file.read_text(), 90.0)
    keyframes = len(probe.keyframes)
    probe.idle(3.0)  # the episode is still active, its path latched: the new policy must not act on it
    assert len(probe.keyframes) == keyframes, "the restarted policy acted on an episode that began before it"
    probe.client.cancel(handle)
    probe.client.wait_for_result(handle, 30.0)

    handle, episode = probe.start()  # the next goal: the restarted policy takes part
    probe.wait(lambda: any(e == episode for _, e in probe.keyframes))
    probe.client.cancel(handle)
    probe.client.wait_for_result(handle, 30.0)


def test_an_unreachable_keyframe_is_predicted_again_then_the_goal_aborts(tmp_path):
    control = yaml.safe_load(Path(config_path("control.yaml")).read_text())
    control["/**/chunk_executor"]["ros__parameters"]["workspace"]["upper"][2] = 0.0  # nothing above the table
    executor_config = tmp_path / "control_nothing_reachable.yaml"
    executor_config.write_text(yaml.safe_dump(control))
    values = resolve_arguments(
        {"use_sim_time": "true", "planner": "oracle", "chunk_executor_config": str(executor_config)}
    )
    with GraphSession(values, tmp_path / "logs", images=False) as session:
        probe = Probe(session)
        handle, episode = probe.start()
        started = probe.client.now()
        response = probe.client.wait_for_result(handle, 60.0)
        ended, end = probe.end_of(episode)
    message = response.result.message
    assert response.status == 6 and end.state == 2, message  # aborted
    assert message.startswith("keyframe 0 failed 2 times: rejected by the executor:"), message
    assert message.count("outside the workspace box") == 2, message
    assert ended - started < 10.0, f"aborted {ended - started:.1f} s after the goal"
    assert not any(e == episode for _, e in probe.chunks), "nothing moved toward a rejected keyframe"
