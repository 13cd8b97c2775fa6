"""The simulator node on a real graph: camera topics, joint states, commands, services."""

from __future__ import annotations

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="needs rclpy: run through `make test` (scripts/env.sh)")

from geometry_msgs.msg import PoseStamped  # noqa: E402
from rcl_interfaces.msg import Log  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image, JointState  # noqa: E402
from std_msgs.msg import Float64MultiArray, String  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint  # noqa: E402

from vla_ros.msg import Path2D  # noqa: E402
from vla_ros.ros.discovery import wait_for_service  # noqa: E402
from vla_ros.ros.images import image_to_array  # noqa: E402
from vla_ros.ros.messages import duration_from_seconds, matrix_from_pose  # noqa: E402
from vla_ros.sim.settings import load_sim_config  # noqa: E402
from vla_ros.srv import ResetTask  # noqa: E402

pytestmark = pytest.mark.ros
CONFIG = load_sim_config()
ARM = list(CONFIG.robot.arm_joints)
LATCHED = QoSProfile(
    depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
)
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


@pytest.fixture
def simulator(ros_process, ros_node, spin_until):
    """The simulator in its own process, and the latest message of each of its topics, by topic."""
    process = ros_process(
        ["-m", "vla_ros.nodes.simulator_node", "--ros-args", "-p", "interface.depth_encoding:=16UC1"]
    )
    latest: dict[str, object] = {}
    topics = {
        "/camera/color/image_raw": (Image, qos_profile_sensor_data),
        "/camera/aligned_depth_to_color/image_raw": (Image, qos_profile_sensor_data),
        "/camera/color/camera_info": (CameraInfo, qos_profile_sensor_data),
        "/camera/color/camera_pose": (PoseStamped, LATCHED),
        "/joint_states": (JointState, qos_profile_sensor_data),
        "/simulator/instruction": (String, LATCHED),
        "/simulator/oracle_path": (Path2D, LATCHED),
        "/rosout": (Log, QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)),
    }
    logs: list[str] = []
    for topic, (msg_type, qos) in topics.items():
        if topic == "/rosout":
            ros_node.create_subscription(msg_type, topic, lambda m: logs.append(m.msg), qos)
        else:
            ros_node.create_subscription(msg_type, topic, lambda m, t=topic: latest.__setitem__(t, m), qos)
    ok = spin_until(ros_node, lambda: len(latest) == len(topics) - 1, timeout_s=60.0)
    if not ok:
        process.kill()
        pytest.fail(
            f"simulator topics missing: {set(topics) - set(latest)}\n{process.communicate()[0][-3000:]}"
        )
    return latest, logs


def joint_positions(latest) -> np.ndarray:
    state = latest["/joint_states"]
    return np.array([state.position[list(state.name).index(name)] for name in ARM])


def test_a_started_simulator_publishes_camera_oracle_path_and_joint_states(simulator):
    """Read-only checks of one simulator's topics (one start for all three: each takes seconds)."""
    latest, _ = simulator
    check_camera_topics(latest)
    check_oracle_path(latest)
    check_joint_states(latest)


def check_camera_topics(latest) -> None:
    """RealSense layout and geometry consistent between depth, intrinsics and the camera pose."""
    color, depth = latest["/camera/color/image_raw"], latest["/camera/aligned_depth_to_color/image_raw"]
    info = latest["/camera/color/camera_info"]
    assert (color.encoding, depth.encoding) == ("rgb8", "16UC1")
    assert (
        (color.width, color.height)
        == (info.width, info.height)
        == (CONFIG.camera.width, CONFIG.camera.height)
    )
    assert (
        color.header.frame_id == depth.header.frame_id == info.header.frame_id == "camera_color_optical_frame"
    )
    k = np.array(info.k).reshape(3, 3)
    assert k[0, 0] > 0 and abs(k[0, 2] - info.width / 2) < 1 and abs(k[1, 2] - info.height / 2) < 1

    # The table plane (z = 0 in the base frame) seen through depth, intrinsics and the published pose.
    millimetres = image_to_array(depth).astype(float)
    camera_pose = matrix_from_pose(latest["/camera/color/camera_pose"].pose)
    v, u = np.nonzero(millimetres > 0)
    z = millimetres[v, u] / 1000.0
    rays = np.stack([(u - k[0, 2]) / k[0, 0] * z, (v - k[1, 2]) / k[1, 1] * z, z, np.ones_like(z)])
    heights = (camera_pose @ rays)[2]
    assert np.mean(np.abs(heights) < 0.005) > 0.5, "most of the view should be table top at z = 0"
    assert latest["/camera/color/camera_pose"].header.frame_id == CONFIG.robot.base_frame
    assert latest["/simulator/instruction"].data


def check_oracle_path(latest) -> None:
    """The oracle path is the expert's path for the scene."""
    path = latest["/simulator/oracle_path"]
    assert path.instruction == latest["/simulator/instruction"].data
    assert path.header.frame_id == "camera_color_optical_frame"
    assert (path.image_width, path.image_height) == (CONFIG.camera.width, CONFIG.camera.height)
    assert path.initial_gripper_open and len(path.points) >= 3
    assert all(0.0 <= p.x <= 1.0 and 0.0 <= p.y <= 1.0 for p in path.points)
    states = [p.gripper_open for p in path.points]
    assert False in states and states[-1], "the start-up task (pick and place) closes, then opens the gripper"


def check_joint_states(latest) -> None:
    """Joint states cover the arm and the fingers, at the home pose."""
    state = latest["/joint_states"]
    assert list(state.name) == ARM + list(CONFIG.robot.gripper_joints)
    assert len(state.position) == len(state.velocity) == len(state.effort) == len(state.name)
    np.testing.assert_allclose(joint_positions(latest), CONFIG.robot.home_positions, atol=0.02)


def test_joint_trajectory_moves_the_arm_and_a_bad_one_is_rejected_with_its_reason(
    simulator, ros_node, spin_until
):
    latest, logs = simulator
    publisher = ros_node.create_publisher(JointTrajectory, "/arm_controller/joint_trajectory", RELIABLE)
    assert spin_until(ros_node, lambda: publisher.get_subscription_count() > 0)
    start = joint_positions(latest)

    bad = JointTrajectory(joint_names=ARM[:6])  # one joint missing
    bad.points = [JointTrajectoryPoint(positions=list(start[:6]), time_from_start=duration_from_seconds(0.5))]
    publisher.publish(bad)
    assert spin_until(
        ros_node, lambda: any("missing ['panda_joint7']" in line for line in logs), timeout_s=10.0
    )

    goal = start + np.array([0.3, -0.2, 0.0, 0.2, 0.0, 0.0, -0.3])
    trajectory = JointTrajectory(joint_names=ARM)
    trajectory.points = [
        JointTrajectoryPoint(positions=goal.tolist(), time_from_start=duration_from_seconds(1.0))
    ]
    publisher.publish(trajectory)
    assert spin_until(
        ros_node, lambda: np.max(np.abs(joint_positions(latest) - goal)) < 0.02, timeout_s=15.0
    ), f"arm at {joint_positions(latest)}, commanded {goal}"


def test_forward_command_moves_the_arm(simulator, ros_node, spin_until):
    latest, _ = simulator
    publisher = ros_node.create_publisher(
        Float64MultiArray, "/forward_position_controller/commands", RELIABLE
    )
    assert spin_until(ros_node, lambda: publisher.get_subscription_count() > 0)
    goal = np.array(CONFIG.robot.home_positions) + 0.1
    publisher.publish(Float64MultiArray(data=goal.tolist()))
    assert spin_until(ros_node, lambda: np.max(np.abs(joint_positions(latest) - goal)) < 0.02, timeout_s=15.0)


def test_reset_and_success_services(simulator, ros_node, spin_until):
    latest, _ = simulator
    first_instruction = latest["/simulator/instruction"].data
    reset = ros_node.create_client(ResetTask, "/simulator/reset")
    check = ros_node.create_client(Trigger, "/simulator/check_success")

    def wait(condition, timeout_s: float) -> bool:
        return spin_until(ros_node, condition, timeout_s=timeout_s)

    assert wait_for_service(ros_node, reset, "/simulator/reset", wait, 30.0)
    assert wait_for_service(ros_node, check, "/simulator/check_success", wait, 30.0)

    future = reset.call_async(ResetTask.Request(task="stack_blocks", split="heldout", seed=3))
    assert spin_until(ros_node, future.done)
    response = future.result()
    assert response.success and response.instruction and response.instruction != first_instruction
    assert spin_until(ros_node, lambda: latest["/simulator/instruction"].data == response.instruction)
    assert spin_until(ros_node, lambda: latest["/simulator/oracle_path"].instruction == response.instruction)

    future = check.call_async(Trigger.Request())
    assert spin_until(ros_node, future.done)
    assert not future.result().success, "nothing was done: the task cannot be achieved"

    future = reset.call_async(ResetTask.Request(task="no_such_task", split="train", seed=0))
    assert spin_until(ros_node, future.done)
    assert not future.result().success and "no_such_task" in future.result().message
