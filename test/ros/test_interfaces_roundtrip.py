"""Every vla_ros interface crosses a real ROS graph: this process <-> an echo node in another process."""

from __future__ import annotations

from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy", reason="needs rclpy: run through `make test` (scripts/env.sh)")

from builtin_interfaces.msg import Duration, Time  # noqa: E402
from geometry_msgs.msg import Point, Pose, Quaternion  # noqa: E402
from rclpy.action import ActionClient  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from vla_ros.action import ExecuteInstruction  # noqa: E402
from vla_ros.msg import ActionChunk, KeyframeTarget, Path2D, PathPoint2D  # noqa: E402

pytestmark = pytest.mark.ros
ECHO_SCRIPT = Path(__file__).with_name("interface_echo.py")


def sample_messages() -> list:
    """One message of each type with every field set to a non-default value."""
    header = Header(stamp=Time(sec=1_700_000_000, nanosec=123_456_789), frame_id="camera_color_optical_frame")
    # float32 fields: values exact in binary, so equality after the round trip is exact too.
    points = [
        PathPoint2D(x=0.25, y=0.375, gripper_open=True),
        PathPoint2D(x=0.5, y=0.4375, gripper_open=False),
        PathPoint2D(x=0.75, y=0.1875, gripper_open=True),
    ]
    path = Path2D(
        header=header,
        image_width=320,
        image_height=240,
        instruction="put the red cube in the blue bowl",
        planner="oracle",
        latency=0.125,
        raw_answer="<ans>[(0.25, 0.375), <action>Close Gripper</action>, (0.5, 0.4375)]</ans>",
        initial_gripper_open=True,
        points=points,
    )
    keyframe = KeyframeTarget(
        header=Header(stamp=header.stamp, frame_id="panda_link0"),
        pose=Pose(position=Point(x=0.5, y=-0.1, z=0.2), orientation=Quaternion(x=1.0, y=0.0, z=0.0, w=0.0)),
        gripper_open=False,
        ignore_collisions=True,
        confidence=0.75,
        keyframe_index=3,
    )
    horizon, joints = 4, 7
    chunk = ActionChunk(
        header=Header(stamp=header.stamp),
        chunk_id=42,
        source="executor",
        joint_names=[f"panda_joint{i + 1}" for i in range(joints)],
        dt=Duration(sec=0, nanosec=20_000_000),
        horizon=horizon,
        positions=[0.01 * i for i in range(horizon * joints)],
        velocities=[-0.02 * i for i in range(horizon * joints)],
        gripper=[1.0, 1.0, 0.5, 0.0],
    )
    return [path, keyframe, chunk, points[1]]


@pytest.fixture
def echo_process(ros_process):
    """The echo node in a process of its own."""
    process = ros_process([str(ECHO_SCRIPT)])
    line = process.stdout.readline()
    if "ready" not in line:
        process.kill()
        pytest.fail(f"echo node did not start:\n{line}{process.communicate(timeout=10)[0]}")
    return process


def test_every_message_type_roundtrips_between_processes(echo_process, ros_node, spin_until):
    node = ros_node
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    sent = {type(msg).__name__: msg for msg in sample_messages()}
    received: dict[str, object] = {}
    publishers = {}
    for name, msg in sent.items():
        publishers[name] = node.create_publisher(type(msg), f"echo/in/{name}", qos)
        node.create_subscription(
            type(msg), f"echo/out/{name}", lambda m, n=name: received.setdefault(n, m), qos
        )

    def publish_missing():
        for name, msg in sent.items():
            if name not in received and publishers[name].get_subscription_count() > 0:
                publishers[name].publish(msg)

    assert spin_until(node, lambda: len(received) == len(sent), on_wait=publish_missing), (
        f"no echo for {sorted(set(sent) - set(received))}"
    )
    for name, msg in sent.items():
        assert received[name] == msg, f"{name} changed on the way: {received[name]} != {msg}"


def test_execute_instruction_action_roundtrips_between_processes(echo_process, ros_node, spin_until):
    node = ros_node
    client = ActionClient(node, ExecuteInstruction, "echo/execute_instruction")
    assert spin_until(node, lambda: client.server_is_ready()), "action server not found"
    feedback: list = []
    goal = ExecuteInstruction.Goal(
        instruction="stack the green block on the red block", timeout=8.0, max_keyframes=5
    )
    send_future = client.send_goal_async(goal, feedback_callback=lambda msg: feedback.append(msg.feedback))
    assert spin_until(node, send_future.done)
    goal_handle = send_future.result()
    assert goal_handle.accepted
    result_future = goal_handle.get_result_async()
    assert spin_until(node, result_future.done)
    result = result_future.result().result
    # Feedback travels on a topic, the result through a service: either may arrive first.
    assert spin_until(node, lambda: len(feedback) == 2, timeout_s=5.0), f"feedback: {feedback}"

    assert result.success
    assert result.message == "echo: stack the green block on the red block"
    assert (result.keyframes, result.planning_time, result.total_time) == (5, 2.0, 8.0)
    assert [f.stage for f in feedback] == [
        ExecuteInstruction.Feedback.STAGE_PLANNING,
        ExecuteInstruction.Feedback.STAGE_EXECUTING,
    ]
    assert all(f.path.instruction == goal.instruction and f.keyframe_index == 5 for f in feedback)
    assert feedback[0].path.points[0] == PathPoint2D(x=0.25, y=0.5, gripper_open=False)
    assert feedback[0].elapsed == 4.0
