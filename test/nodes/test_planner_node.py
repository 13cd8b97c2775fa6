"""The planner node on a real graph: action, topic entry point, path and overlay, replanning, errors,
and the episode life cycle it owns."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="needs rclpy: run through `make test` (scripts/env.sh)")

from action_msgs.msg import GoalStatus  # noqa: E402
from chat_server import ChatServer  # noqa: E402
from rcl_interfaces.msg import Log  # noqa: E402
from rclpy.action import ActionClient  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import Header, String  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from vla_ros.action import ExecuteInstruction  # noqa: E402
from vla_ros.config import from_dict, load_parameters  # noqa: E402
from vla_ros.msg import EpisodeStatus, KeyframeTarget, Path2D  # noqa: E402
from vla_ros.nodes.planner_node import PlannerInterface, describe_error  # noqa: E402
from vla_ros.planning import (  # noqa: E402
    PlannedPath,
    PlannerConfigError,
    PlanningFailedError,
    draw_path,
    load_planner_config,
    parse_answer,
)
from vla_ros.planning.errors import MalformedPointError  # noqa: E402
from vla_ros.ros.discovery import DiscoveryHandshake, wait_for_service  # noqa: E402
from vla_ros.ros.images import ImageEncodingError, array_to_image, image_to_array, rgb_from_message  # noqa: E402
from vla_ros.ros.path_messages import path_from_message, path_to_message  # noqa: E402
from vla_ros.ros.qos import EPISODE_EVENTS  # noqa: E402

pytestmark = pytest.mark.ros
CONFIG = load_planner_config()
LATCHED = QoSProfile(
    depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
)
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
IMAGE = np.full((48, 64, 3), 90, dtype=np.uint8)
FRAME = "camera_color_optical_frame"
# Pixel coordinates (read as pixels on the 64x48 image), the gripper closing at the first point.
ANSWER = "Sure. <ans>[(16, 12), <action>Close Gripper</action>, (40, 30), (56, 36)]</ans>"
Stage = ExecuteInstruction.Feedback


class PlannerGraph:
    """The test's side of the graph: camera images, the planner's outputs, its action and topics."""

    def __init__(self, node, spin_until) -> None:
        self.node, self.spin_until = node, spin_until
        self.paths: list[Path2D] = []
        self.overlays: list[Image] = []
        self.image_headers: list[Header] = []
        self.logs: list[str] = []
        node.create_subscription(Log, "/rosout", lambda msg: self.logs.append(msg.msg), RELIABLE)
        node.create_subscription(Path2D, "/planner/path", self.paths.append, LATCHED)
        node.create_subscription(Image, "/planner/overlay", self.overlays.append, LATCHED)
        self.instruction_pub = node.create_publisher(String, "/planner/instruction", RELIABLE)
        self.episodes: list[EpisodeStatus] = []
        node.create_subscription(EpisodeStatus, "/planner/episode", self.episodes.append, EPISODE_EVENTS)
        self.outcome_pub = node.create_publisher(EpisodeStatus, "/policy/outcome", RELIABLE)
        self.stop_pub = node.create_publisher(String, "/stop_episode", RELIABLE)
        self.keyframe_pub = node.create_publisher(KeyframeTarget, "/policy/keyframe", RELIABLE)
        self.reached_pub = node.create_publisher(KeyframeTarget, "/chunk_executor/keyframe_reached", RELIABLE)
        self.image_pub = node.create_publisher(Image, "/camera/color/image_raw", qos_profile_sensor_data)
        self.action = ActionClient(node, ExecuteInstruction, "/planner/execute_instruction")
        self.handshake = DiscoveryHandshake(node, "/planner")  # after the endpoints it vouches for

    def ready(self) -> bool:
        """The planner's action server is up and has discovered this graph's endpoints."""
        return self.action.server_is_ready() and self.handshake.done()

    def publish_images(self, period_s: float = 0.05) -> None:
        """Publish the camera image (each with a new stamp) while the test spins."""
        self.node.create_timer(period_s, self._publish_image)

    def _publish_image(self) -> None:
        header = Header(stamp=self.node.get_clock().now().to_msg(), frame_id=FRAME)
        self.image_headers.append(header)
        self.image_pub.publish(array_to_image(IMAGE, "rgb8", header))

    def episode_id(self) -> str:
        """The id of the latest episode the planner announced."""
        assert self.wait(lambda: self.episodes)
        return self.episodes[-1].episode_id

    def done(self, episode_id: str | None = None) -> None:
        """The policy says the episode (default: the latest) is done."""
        episode_id = self.episode_id() if episode_id is None else episode_id
        self.outcome_pub.publish(EpisodeStatus(episode_id=episode_id, state=EpisodeStatus.SUCCEEDED))

    def ended(self, episode_id: str) -> EpisodeStatus:
        """The planner's end message of ``episode_id``."""
        assert self.wait(lambda: any(m.episode_id == episode_id and m.state for m in self.episodes))
        return next(m for m in self.episodes if m.episode_id == episode_id and m.state)

    def wait(self, condition, timeout_s: float = 20.0) -> bool:
        return self.spin_until(self.node, condition, timeout_s=timeout_s)

    def send_goal(self, instruction: str, timeout: float = 0.0, max_keyframes: int = 0):
        """Send a goal; returns (goal handle, result future, list of feedback messages)."""
        feedback: list = []
        sent = self.action.send_goal_async(
            ExecuteInstruction.Goal(instruction=instruction, timeout=timeout, max_keyframes=max_keyframes),
            feedback_callback=lambda msg: feedback.append(msg.feedback),
        )
        assert self.wait(sent.done), (
            f"no answer to the goal {instruction!r}; episodes announced: "
            f"{[(m.episode_id, m.state) for m in self.episodes]}; planner log: {self.logs[-5:]}"
        )
        handle = sent.result()
        assert handle.accepted
        return handle, handle.get_result_async(), feedback

    def result(self, future, timeout_s: float = 20.0):
        assert self.wait(future.done, timeout_s), "no action result"
        return future.result().status, future.result().result


@pytest.fixture
def start_planner(ros_process, ros_node, spin_until):
    """``start_planner(*parameters)``: the planner node in its own process, ready; the test's graph."""

    def start(*parameters: str) -> PlannerGraph:
        arguments = [item for parameter in parameters for item in ("-p", parameter)]
        graph = PlannerGraph(ros_node, spin_until)  # first: the new planner discovers it as it starts
        process = ros_process(["-m", "vla_ros.nodes.planner_node", "--ros-args", *arguments])
        if not graph.wait(lambda: graph.ready() or process.poll() is not None, 30.0):
            process.kill()
        if not graph.ready():
            pytest.fail(f"the planner did not start:\n{process.communicate()[0][-3000:]}")
        return graph

    return start


def answer_file(tmp_path, text: str) -> str:
    path = tmp_path / "answer.txt"
    path.write_text(text)
    return str(path)


def test_goal_publishes_path_overlay_and_feedback_then_succeeds_when_the_task_is_done(
    start_planner, tmp_path
):
    graph = start_planner("backend:=file", f"file.path:={answer_file(tmp_path, ANSWER)}")
    graph.publish_images()
    assert graph.wait(lambda: graph.image_headers)
    handle, result, feedback = graph.send_goal("put the red cube in the bowl")
    assert graph.wait(lambda: graph.paths and graph.overlays and len(feedback) >= 2)

    path_msg = graph.paths[-1]
    expected = parse_answer(ANSWER, CONFIG.parser, 64, 48)
    assert path_from_message(path_msg) == expected
    assert path_from_message(path_msg).gripper_events() == [(0, False)]
    assert path_msg.header in graph.image_headers, "the header is the planned image's"
    assert (path_msg.image_width, path_msg.image_height) == (64, 48)
    assert path_msg.instruction == "put the red cube in the bowl"
    assert path_msg.planner == f"file:{tmp_path / 'answer.txt'}"
    assert path_msg.raw_answer == ANSWER and path_msg.latency > 0.0

    overlay = graph.overlays[-1]
    assert (overlay.encoding, overlay.header) == ("rgb8", path_msg.header)
    np.testing.assert_array_equal(image_to_array(overlay), draw_path(IMAGE, expected, CONFIG.drawing))

    assert [message.stage for message in feedback[:2]] == [Stage.STAGE_PLANNING, Stage.STAGE_PREDICTING]
    assert not feedback[0].path.points and feedback[1].path == path_msg
    assert not result.done(), "the goal stays active until the task is done"

    # The episode is the goal: every message of it names the goal's id.
    episode = graph.episode_id()
    assert (
        graph.episodes[-1].state == EpisodeStatus.ACTIVE
        and graph.episodes[-1].instruction == path_msg.instruction
    )
    assert episode == bytes(handle.goal_id.uuid).hex() and len(episode) == 32
    assert path_msg.episode_id == episode and {message.episode_id for message in feedback} == {episode}

    # Messages of another episode change nothing: a late keyframe, echo or "done" of an earlier goal.
    graph.keyframe_pub.publish(KeyframeTarget(keyframe_index=5, episode_id="0" * 32))
    graph.reached_pub.publish(KeyframeTarget(keyframe_index=5, episode_id="0" * 32))
    graph.done("0" * 32)
    graph.wait(lambda: False, timeout_s=0.5)
    assert len(feedback) == 2 and not result.done()

    # The policy's keyframe 0 is executed, reached; then keyframe 1 is predicted.
    graph.keyframe_pub.publish(KeyframeTarget(keyframe_index=0, episode_id=episode))
    assert graph.wait(lambda: len(feedback) >= 3)
    graph.reached_pub.publish(KeyframeTarget(keyframe_index=0, episode_id=episode))
    assert graph.wait(lambda: len(feedback) >= 4)
    assert [(message.stage, message.keyframe_index) for message in feedback[2:4]] == [
        (Stage.STAGE_EXECUTING, 0),
        (Stage.STAGE_PREDICTING, 1),
    ]
    graph.done()
    status, outcome = graph.result(result)
    assert status == GoalStatus.STATUS_SUCCEEDED and outcome.success, outcome.message
    assert "task done" in outcome.message
    assert 0.0 < outcome.planning_time <= outcome.total_time and outcome.keyframes == 1
    assert (outcome.episode_id, outcome.outcome) == (episode, EpisodeStatus.SUCCEEDED)
    assert graph.ended(episode).state == EpisodeStatus.SUCCEEDED


def test_a_goal_that_reaches_its_keyframe_limit_without_task_done_is_aborted(start_planner, tmp_path):
    graph = start_planner("backend:=file", f"file.path:={answer_file(tmp_path, ANSWER)}")
    graph.publish_images()
    _, result, feedback = graph.send_goal("done at once")
    assert graph.wait(lambda: len(feedback) >= 2)
    graph.done()
    assert graph.result(result)[0] == GoalStatus.STATUS_SUCCEEDED
    # ... then, in the same node, a goal that ends otherwise (each outcome is logged at its severity).
    _, result, feedback = graph.send_goal("never done", max_keyframes=2)
    assert graph.wait(lambda: len(graph.paths) == 2 and len(feedback) >= 2)
    for index in range(2):
        graph.reached_pub.publish(KeyframeTarget(keyframe_index=index, episode_id=graph.episode_id()))
    status, outcome = graph.result(result)
    assert status == GoalStatus.STATUS_ABORTED and not outcome.success
    assert outcome.keyframes == 2 and "2 keyframes reached without the policy saying done" in outcome.message

    # The policy gives a keyframe up: the goal aborts at once with the policy's reasons.
    _, result, feedback = graph.send_goal("unreachable")
    assert graph.wait(lambda: len(graph.paths) == 3 and len(feedback) >= 2)
    reason = "keyframe 0 failed 2 times: rejected by the executor: unreachable; not reached within 10 s"
    graph.outcome_pub.publish(
        EpisodeStatus(episode_id=graph.episode_id(), state=EpisodeStatus.ABORTED, reason=reason)
    )
    status, outcome = graph.result(result)
    assert status == GoalStatus.STATUS_ABORTED and outcome.message == reason
    assert graph.ended(outcome.episode_id).state == EpisodeStatus.ABORTED


def test_planning_errors_abort_the_goal_with_the_typed_error(start_planner, tmp_path):
    malformed = "<ans>[(0.1, 0.2, 0.3), (0.4, 0.5)]</ans>"
    graph = start_planner(
        "backend:=file", f"file.path:={answer_file(tmp_path, malformed)}", "interface.image_timeout:=0.5"
    )

    _, result, _ = graph.send_goal("no camera yet")
    status, outcome = graph.result(result)
    assert status == GoalStatus.STATUS_ABORTED and not outcome.success
    assert "no new image received on /camera/color/image_raw within 0.5 s" in outcome.message

    graph._publish_image()  # one image, then none: a goal sent after it must not plan on it
    graph.wait(lambda: False, timeout_s=0.5)
    _, result, _ = graph.send_goal("the camera stopped")
    status, outcome = graph.result(result)
    assert status == GoalStatus.STATUS_ABORTED and "no new image received" in outcome.message

    graph.publish_images()
    _, result, _ = graph.send_goal("pick the cube")
    status, outcome = graph.result(result)
    assert status == GoalStatus.STATUS_ABORTED and not outcome.success
    assert "PlanningFailedError" in outcome.message and "MalformedPointError" in outcome.message
    assert "exactly two coordinates" in outcome.message
    assert not graph.paths, "nothing is published for a failed plan"
    assert graph.wait(lambda: any("MalformedPointError" in line for line in graph.logs))


def test_timeout_cancel_and_preemption_end_goals(start_planner, tmp_path):
    graph = start_planner("backend:=file", f"file.path:={answer_file(tmp_path, ANSWER)}")
    graph.publish_images()
    for bad_goal in (
        ExecuteInstruction.Goal(instruction=" "),
        ExecuteInstruction.Goal(instruction="x", timeout=-1.0),
    ):
        sent = graph.action.send_goal_async(bad_goal)
        assert graph.wait(sent.done) and not sent.result().accepted

    _, result, feedback = graph.send_goal("wait for nothing", timeout=1.0)
    status, outcome = graph.result(result)
    assert status == GoalStatus.STATUS_ABORTED and "timed out after 1 s" in outcome.message
    assert [message.stage for message in feedback] == [Stage.STAGE_PLANNING, Stage.STAGE_PREDICTING]
    assert graph.ended(outcome.episode_id).state == EpisodeStatus.TIMED_OUT == outcome.outcome

    handle, result, feedback = graph.send_goal("cancel me")
    assert graph.wait(lambda: len(feedback) == 2)
    cancel = handle.cancel_goal_async()
    assert graph.wait(cancel.done)
    status, outcome = graph.result(result)
    assert status == GoalStatus.STATUS_CANCELED and outcome.message == "canceled"
    assert graph.ended(outcome.episode_id).state == EpisodeStatus.CANCELED

    _, first, _ = graph.send_goal("first")
    _, second, _ = graph.send_goal("second")
    status, outcome = graph.result(first)
    assert (
        status == GoalStatus.STATUS_ABORTED and "preempted by a new instruction: 'second'" in outcome.message
    )
    # The old episode ends before the new one starts, so the robot stops before the new plan.
    first_end = graph.episodes.index(graph.ended(outcome.episode_id))
    assert graph.episodes[first_end].state == EpisodeStatus.PREEMPTED
    assert graph.wait(lambda: len(graph.episodes) > first_end + 1)
    assert graph.episodes[first_end + 1].instruction == "second" and graph.episodes[first_end + 1].state == 0
    assert graph.wait(lambda: graph.paths and graph.paths[-1].instruction == "second")
    graph.instruction_pub.publish(String(data="third"))  # the topic preempts a goal too
    status, outcome = graph.result(second)
    assert status == GoalStatus.STATUS_ABORTED and "'third'" in outcome.message

    # A stop (the simulator's reset, a supervisor) ends the active episode with its reason.
    assert graph.wait(lambda: graph.episodes[-1].instruction == "third")
    third = graph.episode_id()
    graph.stop_pub.publish(String(data="simulator reset to push/train/3"))
    ended = graph.ended(third)
    assert ended.state == EpisodeStatus.ABORTED and "simulator reset to push/train/3" in ended.reason


@pytest.fixture
def hanging_server() -> Iterator[ChatServer]:
    """A chat server that takes each request and answers none until released."""
    with ChatServer(ANSWER, hang=True) as server:
        yield server


def test_a_plan_past_its_budget_aborts_the_goal_and_comes_back_too_late_to_count(
    start_planner, hanging_server
):
    graph = start_planner(
        "backend:=openai", f"openai.base_url:={hanging_server.url}", "interface.planning_budget:=2.0"
    )
    graph.publish_images()
    assert graph.wait(lambda: graph.image_headers)
    sent = time.monotonic()
    _, result, _ = graph.send_goal("the server hangs")
    status, outcome = graph.result(result)
    assert status == GoalStatus.STATUS_ABORTED and outcome.outcome == EpisodeStatus.ABORTED
    assert (
        f"planning took longer than planning_budget 2 s (backend openai:{hanging_server.url}/v1/chat/"
        in outcome.message
    )
    assert time.monotonic() - sent < 2.0 + 10.0, "aborted on the budget, long before openai.timeout_s (60 s)"
    assert len(hanging_server.requests) == 1
    assert graph.wait(
        lambda: any("still running the plan of 'the server hangs'" in line for line in graph.logs)
    )

    # The worker is still in the HTTP call: the next goal waits for it, and fails within its own budget.
    _, result, _ = graph.send_goal("the server still hangs")
    status, outcome = graph.result(result)
    assert status == GoalStatus.STATUS_ABORTED
    assert (
        "planning took longer than planning_budget 2 s: waiting for an earlier plan, still running "
        f"(backend openai:{hanging_server.url}/v1/chat/" in outcome.message
    )

    # The server answers at last: the late plan is dropped, not published, and the next goal plans.
    hanging_server.release.set()
    assert graph.wait(lambda: any("dropping the plan of 'the server hangs'" in line for line in graph.logs))
    _, result, _ = graph.send_goal("the server is back")
    assert graph.wait(lambda: graph.paths)
    assert [path.instruction for path in graph.paths] == ["the server is back"]
    graph.done()
    assert graph.result(result)[0] == GoalStatus.STATUS_SUCCEEDED
    assert len(hanging_server.requests) == 2


def oracle_path(first_x: float) -> Path2D:
    """A path the oracle answers exactly (coordinates with 2 decimals, exact in float32)."""
    path = PlannedPath(np.array([(first_x, 0.5), (0.5, 0.25), (0.75, 0.75)]), [True, False, True])
    return path_to_message(path, Header(frame_id=FRAME), 64, 48)


def test_oracle_path_topic_instruction_and_replan_on_request(start_planner, ros_node):
    graph = start_planner("backend:=oracle", "interface.replan_policy:=on_request")
    replan = ros_node.create_client(Trigger, "/planner/replan")
    oracle_pub = ros_node.create_publisher(Path2D, "/simulator/oracle_path", LATCHED)
    assert wait_for_service(ros_node, replan, "/planner/replan", graph.wait, 30.0)
    future = replan.call_async(Trigger.Request())
    assert graph.wait(future.done)
    assert not future.result().success and "no active instruction" in future.result().message

    oracle_pub.publish(oracle_path(0.25))
    graph.instruction_pub.publish(String(data="press the button"))  # before any image: the plan waits
    graph.publish_images()
    assert graph.wait(lambda: graph.paths)
    assert graph.paths[-1].instruction == "press the button" and graph.paths[-1].planner == "oracle"
    assert path_from_message(graph.paths[-1]) == path_from_message(oracle_path(0.25))

    oracle_pub.publish(oracle_path(0.75))  # the task changed: the next plan follows it
    assert graph.wait(lambda: sum("oracle path with 3 points" in line for line in graph.logs) == 2)
    published = len(graph.image_headers)
    assert graph.wait(lambda: len(graph.image_headers) > published + 1)  # a newer camera image
    future = replan.call_async(Trigger.Request())
    assert graph.wait(future.done)
    assert future.result().success and future.result().message == "new path with 3 points"
    assert path_from_message(graph.paths[-1]) == path_from_message(oracle_path(0.75))
    assert graph.paths[-1].header.stamp != graph.paths[0].header.stamp, "planned on a newer image"


def test_periodic_replanning_follows_the_latest_image(start_planner, tmp_path):
    graph = start_planner(
        "backend:=file",
        f"file.path:={answer_file(tmp_path, ANSWER)}",
        "interface.replan_policy:=period",
        "interface.replan_period:=0.3",
    )
    graph.publish_images()
    graph.instruction_pub.publish(String(data="keep planning"))
    assert graph.wait(lambda: len(graph.paths) >= 3)
    stamps = [(path.header.stamp.sec, path.header.stamp.nanosec) for path in graph.paths]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    graph.done()
    graph.wait(lambda: False, timeout_s=1.0)
    count = len(graph.paths)
    graph.wait(lambda: False, timeout_s=1.0)
    assert len(graph.paths) == count, "no replanning once the task is done"


def test_bad_parameters_stop_the_node_with_a_clear_message(ros_process):
    process = ros_process(
        ["-m", "vla_ros.nodes.planner_node", "--ros-args", "-p", "interface.replan_policy:=often"]
    )
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 1
    assert "cannot start" in output and "replan_policy must be one of" in output


def test_planning_budget_must_be_positive():
    interface = load_parameters("planner.yaml", "planner")["interface"]
    assert from_dict(PlannerInterface, interface, "planner.interface").planning_budget == 20.0
    no_budget = {**interface, "planning_budget": 0.0}
    with pytest.raises(PlannerConfigError, match=r"planning_budget .* must be positive, got 0.0"):
        from_dict(PlannerInterface, no_budget, "planner.interface", PlannerConfigError)


def test_colour_images_are_read_as_rgb_and_others_rejected():
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    for encoding, pixels in [
        ("rgb8", rgb),
        ("bgr8", rgb[:, :, ::-1]),
        ("rgba8", np.dstack([rgb, np.full((2, 3), 255, np.uint8)])),
        ("bgra8", np.dstack([rgb[:, :, ::-1], np.zeros((2, 3), np.uint8)])),
    ]:
        np.testing.assert_array_equal(
            rgb_from_message(array_to_image(np.ascontiguousarray(pixels), encoding), "the planner"), rgb
        )
    with pytest.raises(ImageEncodingError, match="colour image"):
        rgb_from_message(array_to_image(rgb[:, :, 0].copy(), "mono8"), "the planner")


def test_a_failed_plan_is_described_with_the_type_of_each_attempt_error():
    attempts = [MalformedPointError("bad point"), MalformedPointError("bad again")]
    text = describe_error(PlanningFailedError("no parseable path", attempts))
    assert (
        text == "PlanningFailedError: no parseable path [attempts: MalformedPointError, MalformedPointError]"
    )
