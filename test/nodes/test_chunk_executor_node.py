"""The chunk executor on a real graph: simulator + controller + executor, keyframes from the test process."""

from __future__ import annotations

import json

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="needs rclpy: run through `make test` (scripts/env.sh)")

from geometry_msgs.msg import Point, Quaternion  # noqa: E402
from geometry_msgs.msg import Pose as PoseMessage  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import String  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402
from visualization_msgs.msg import Marker  # noqa: E402

from vla_ros.control.kinematics import ArmKinematics  # noqa: E402
from vla_ros.control.pose import Pose  # noqa: E402
from vla_ros.control.settings import ExecutorSettings  # noqa: E402
from vla_ros.msg import ActionChunk, EpisodeStatus, KeyframeTarget  # noqa: E402
from vla_ros.ros.qos import EPISODE_EVENTS  # noqa: E402
from vla_ros.srv import ResetTask  # noqa: E402

pytestmark = pytest.mark.ros
SETTINGS = ExecutorSettings.load()
KINEMATICS = ArmKinematics.from_settings(SETTINGS.robot)
ARM = list(SETTINGS.robot.arm_joints)
LATCHED = QoSProfile(
    depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
)
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
DOWN = Quaternion(x=1.0, y=0.0, z=0.0, w=0.0)  # TCP z axis pointing down


@pytest.fixture
def graph(ros_process, ros_node, spin_until):
    """Simulator, enabled controller and executor; the latest joint state, status, chunks, reached events."""
    ros_process(["-m", "vla_ros.nodes.simulator_node", "--ros-args", "-p", "camera.rate:=2.0"])
    ros_process(
        [
            "-m",
            "vla_ros.nodes.ensembling_controller_node",
            "--ros-args",
            "-p",
            "safety.enabled_at_start:=true",
        ]
    )
    executor = ros_process(["-m", "vla_ros.nodes.chunk_executor_node"])
    seen: dict[str, list] = {"joint_states": [], "status": [], "chunks": [], "reached": [], "path": []}
    ros_node.create_subscription(
        JointState, "/joint_states", lambda m: seen["joint_states"].append(m), qos_profile_sensor_data
    )
    ros_node.create_subscription(
        String, "/chunk_executor/status", lambda m: seen["status"].append(json.loads(m.data)), LATCHED
    )
    ros_node.create_subscription(ActionChunk, "/chunk_executor/chunk", seen["chunks"].append, RELIABLE)
    ros_node.create_subscription(
        KeyframeTarget, "/chunk_executor/keyframe_reached", seen["reached"].append, RELIABLE
    )
    ros_node.create_subscription(Marker, "/chunk_executor/planned_path", seen["path"].append, LATCHED)
    publisher = ros_node.create_publisher(KeyframeTarget, "/policy/keyframe", RELIABLE)
    controller_ready = ros_node.create_client(Trigger, "/ensembling_controller/enable")
    ready = spin_until(
        ros_node,
        lambda: (
            seen["joint_states"]
            and seen["status"]
            and publisher.get_subscription_count() > 0
            and controller_ready.service_is_ready()
        ),
        timeout_s=60.0,
    )
    if not ready:
        executor.kill()
        pytest.fail(f"graph not ready\n{executor.communicate()[0][-3000:]}")
    return seen, publisher


def arm(seen) -> np.ndarray:
    state = seen["joint_states"][-1]
    names = list(state.name)
    return np.array([state.position[names.index(name)] for name in ARM])


def finger(seen) -> float:
    state = seen["joint_states"][-1]
    return state.position[list(state.name).index("panda_finger_joint1")]


def keyframe(position, index: int, frame: str = "panda_link0") -> KeyframeTarget:
    message = KeyframeTarget(keyframe_index=index, gripper_open=True, confidence=1.0)
    message.header.frame_id = frame
    message.pose = PoseMessage(position=Point(x=position[0], y=position[1], z=position[2]), orientation=DOWN)
    return message


def test_a_reachable_keyframe_becomes_chunks_the_arm_reaches_it_and_reached_is_published(
    graph, ros_node, spin_until
):
    seen, publisher = graph
    start_tcp = KINEMATICS.forward(arm(seen))
    target = start_tcp.position + np.array([0.05, 0.08, -0.08])
    publisher.publish(keyframe(target, 3))
    assert spin_until(ros_node, lambda: len(seen["reached"]) > 0, timeout_s=20.0), (
        f"not reached: {seen['status'][-1]}, TCP {KINEMATICS.forward(arm(seen)).position}, target {target}"
    )
    assert seen["reached"][0].keyframe_index == 3
    reached = KINEMATICS.forward(arm(seen))
    position_error, orientation_error = reached.error_to(Pose(target, [1.0, 0.0, 0.0, 0.0]))
    assert position_error < SETTINGS.keyframe_reached.position_tolerance
    assert orientation_error < SETTINGS.keyframe_reached.orientation_tolerance
    assert spin_until(ros_node, lambda: seen["status"][-1]["state"] == "reached", timeout_s=5.0)
    assert seen["status"][-1]["keyframe_index"] == 3
    # A grasp: approach along the gripper axis, close, and only then report it reached.
    grasp = target + np.array([0.0, 0.0, -0.05])
    closing = keyframe(grasp, 4)
    closing.gripper_open = False
    publisher.publish(closing)
    assert spin_until(ros_node, lambda: len(seen["reached"]) > 1, timeout_s=20.0), (
        seen["status"][-1],
        KINEMATICS.forward(arm(seen)).error_to(Pose(grasp, [1.0, 0.0, 0.0, 0.0])),
        finger(seen),
        seen["joint_states"][-1].velocity,
    )
    # judged on a joint state sent after the event: under load the last one received may be older, and
    # up to 5 (the sensor-data queue) may wait behind it
    received = len(seen["joint_states"])
    assert spin_until(ros_node, lambda: len(seen["joint_states"]) > received + 6, timeout_s=5.0)
    assert seen["reached"][1].keyframe_index == 4 and finger(seen) < 0.005
    assert KINEMATICS.forward(arm(seen)).error_to(Pose(grasp, [1.0, 0.0, 0.0, 0.0]))[0] < 0.005
    chunk = seen["chunks"][-1]
    assert chunk.horizon == SETTINGS.chunk.horizon and list(chunk.joint_names) == ARM
    assert len(chunk.positions) == SETTINGS.chunk.horizon * len(ARM)
    path = seen["path"][-1]
    assert path.type == Marker.LINE_STRIP and len(path.points) == 40
    assert np.linalg.norm([path.points[-1].x - grasp[0], path.points[-1].y - grasp[1]]) < 0.002


def test_bad_keyframes_are_rejected_with_the_reason_and_nothing_moves(graph, ros_node, spin_until):
    seen, publisher = graph
    start = arm(seen)
    bad = [
        ([0.8, 0.6, 0.2], "panda_link0", "not reachable"),
        ([1.5, 0.0, 0.3], "panda_link0", "outside the workspace box"),
        ([0.4, 0.0, 0.3], "camera_link", "expected the base frame"),
    ]
    for index, (position, frame, reason) in enumerate(bad):
        count = len(seen["status"])
        publisher.publish(keyframe(position, index, frame))
        assert spin_until(  # a keyframe before the first joint state waits for it, then is planned
            ros_node,
            lambda c=count: (
                len(seen["status"]) > c and seen["status"][-1]["state"] != "waiting_for_joint_states"
            ),
            timeout_s=15.0,
        )
        status = seen["status"][-1]
        assert status["state"] == "rejected" and status["keyframe_index"] == index
        assert reason in status["message"], status["message"]
    spin_until(ros_node, lambda: False, timeout_s=1.0)
    assert seen["chunks"] == [] and np.max(np.abs(arm(seen) - start)) < 0.005


def test_a_keyframe_planned_as_its_half_turned_twin_is_reached_as_that_twin(graph, ros_node, spin_until):
    """At -80 degrees the Panda's last joint would run out of range on this push start; the gripper is
    the same turned half a turn, so the executor goes there and reports the keyframe reached."""
    seen, publisher = graph
    yaw = np.deg2rad(-80.0)
    matrix = np.eye(4)
    matrix[:3, :3] = np.array(
        [[np.cos(yaw), -np.sin(yaw), 0.0], [np.sin(yaw), np.cos(yaw), 0.0], [0.0, 0.0, 1.0]]
    ) @ np.diag([1.0, -1.0, -1.0])
    matrix[:3, 3] = [0.506, 0.296, 0.16]
    target = Pose.from_matrix(matrix)
    message = keyframe(target.position, 7)
    message.pose.orientation = Quaternion(**dict(zip("xyzw", target.quaternion.tolist(), strict=True)))
    message.gripper_open = False
    publisher.publish(message)
    assert spin_until(ros_node, lambda: len(seen["reached"]) > 0, timeout_s=25.0), seen["status"][-1]
    assert seen["reached"][0].keyframe_index == 7
    position_error, turn = KINEMATICS.forward(arm(seen)).error_to(target)
    assert position_error < SETTINGS.keyframe_reached.position_tolerance
    assert abs(turn - np.pi) < SETTINGS.keyframe_reached.orientation_tolerance
    assert KINEMATICS.limits.contains(arm(seen))


def test_a_new_episode_starts_from_the_reset_gripper_not_the_last_episodes_command(
    graph, ros_node, spin_until
):
    """An episode ends holding (gripper closed); the simulator's reset opens the gripper; the next
    episode's first open keyframe is then a plain move, as in a fresh graph: no release structure
    (approach, open, retreat) and the fingers never close on the way."""
    seen, publisher = graph
    episodes = ros_node.create_publisher(EpisodeStatus, "/planner/episode", EPISODE_EVENTS)
    reset = ros_node.create_client(ResetTask, "/simulator/reset")
    assert spin_until(
        ros_node, lambda: episodes.get_subscription_count() > 0 and reset.service_is_ready(), timeout_s=20.0
    )

    def start_episode(episode_id: str) -> None:
        episodes.publish(EpisodeStatus(episode_id=episode_id, state=EpisodeStatus.ACTIVE))
        assert spin_until(ros_node, lambda: episode_id in seen["status"][-1]["message"], timeout_s=10.0)

    def execute(position, index: int, gripper_open: bool, episode_id: str) -> None:
        message = keyframe(position, index)
        message.gripper_open, message.episode_id = gripper_open, episode_id
        count = len(seen["reached"])
        publisher.publish(message)
        assert spin_until(ros_node, lambda: len(seen["reached"]) > count, timeout_s=25.0), seen["status"][-1]

    start = KINEMATICS.forward(arm(seen)).position
    start_episode("a" * 32)
    execute(start + np.array([0.0, 0.0, -0.1]), 0, False, "a" * 32)  # grasp nothing: the fingers close
    execute(start + np.array([0.0, 0.0, -0.05]), 1, False, "a" * 32)  # and stay closed
    assert finger(seen) < 0.005
    future = reset.call_async(ResetTask.Request(task="lift_block", split="train", seed=0))
    assert spin_until(ros_node, future.done, timeout_s=30.0) and future.result().success
    assert spin_until(ros_node, lambda: finger(seen) > 0.035, timeout_s=10.0)  # the reset opened it
    start_episode("b" * 32)
    moving_from = len(seen["joint_states"])
    execute(KINEMATICS.forward(arm(seen)).position + np.array([0.05, 0.0, -0.05]), 0, True, "b" * 32)
    fingers = [
        s.position[list(s.name).index("panda_finger_joint1")] for s in seen["joint_states"][moving_from:]
    ]
    assert min(fingers) > 0.035, min(fingers)
    planned = [s for s in seen["status"] if s["state"] == "moving" and s["keyframe_index"] == 0]
    assert planned[-1]["message"] == "1 stop(s) planned", planned[-1]
