"""The keyframe policy node on a real graph: with the simulator it predicts keyframes from the camera and
the path, publishes what it saw for RViz, and survives bad input; a bad checkpoint stops it at start."""

from __future__ import annotations

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="needs rclpy: run through `make test` (scripts/env.sh)")

from geometry_msgs.msg import PoseStamped  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image, PointCloud2  # noqa: E402
from std_msgs.msg import Header, String  # noqa: E402
from visualization_msgs.msg import MarkerArray  # noqa: E402

from vla_ros.msg import KeyframeTarget, Path2D, PathPoint2D  # noqa: E402
from vla_ros.policy.settings import load_policy_config  # noqa: E402
from vla_ros.ros.images import array_to_image, depth_from_message  # noqa: E402

pytestmark = pytest.mark.ros
LATCHED = QoSProfile(
    depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
)
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
CONFIG = load_policy_config()
START_TIMEOUT_S = 90.0  # the policy loads its network and the sentence encoder


class PolicyGraph:
    """The test's side: the policy's outputs, and publishers for what it listens to."""

    def __init__(self, node, spin_until) -> None:
        self.node, self.spin_until = node, spin_until
        self.keyframes: list[KeyframeTarget] = []
        self.status: list[str] = []
        self.latest: dict[str, object] = {}
        node.create_subscription(KeyframeTarget, "/policy/keyframe", self.keyframes.append, RELIABLE)
        node.create_subscription(
            String, "/keyframe_policy/status", lambda m: self.status.append(m.data), LATCHED
        )
        outputs = {
            "/keyframe_policy/pose": PoseStamped,
            "/keyframe_policy/markers": MarkerArray,
            "/keyframe_policy/cloud": PointCloud2,
            **{f"/keyframe_policy/heatmaps/{s}{v}": Image for s in ("", "fine_") for v in CONFIG.model.views},
        }
        for topic, kind in outputs.items():
            node.create_subscription(
                kind, topic, lambda msg, t=topic: self.latest.__setitem__(t, msg), LATCHED
            )
        self.path_pub = node.create_publisher(Path2D, "/planner/path", LATCHED)
        self.reached_pub = node.create_publisher(KeyframeTarget, "/chunk_executor/keyframe_reached", RELIABLE)

    def wait(self, condition, timeout_s: float = 30.0) -> bool:
        return self.spin_until(self.node, condition, timeout_s=timeout_s)


@pytest.fixture
def start_policy(ros_process, ros_node, spin_until):
    """``start_policy(*parameters)``: the policy node in its own process, ready."""

    def start(*parameters: str) -> PolicyGraph:
        arguments = [item for parameter in parameters for item in ("-p", parameter)]
        process = ros_process(["-m", "vla_ros.nodes.keyframe_policy_node", "--ros-args", *arguments])
        graph = PolicyGraph(ros_node, spin_until)
        ready = graph.wait(
            lambda: any(s.startswith("ready") for s in graph.status) or process.poll() is not None,
            START_TIMEOUT_S,
        )
        if not ready or process.poll() is not None:
            process.kill()
            pytest.fail(f"the policy did not start:\n{process.communicate()[0][-3000:]}")
        return graph

    return start


def test_with_the_simulator_it_predicts_keyframes_and_shows_what_it_saw(start_policy, ros_process, ros_node):
    ros_process(["-m", "vla_ros.nodes.simulator_node", "--ros-args", "-p", "interface.task:=lift_block"])
    graph = start_policy()
    oracle: list[Path2D] = []
    ros_node.create_subscription(Path2D, "/simulator/oracle_path", oracle.append, LATCHED)
    assert graph.wait(lambda: oracle, 60.0), "no oracle path from the simulator"
    graph.path_pub.publish(oracle[-1])
    assert graph.wait(lambda: graph.keyframes, 60.0), f"no keyframe; status: {graph.status[-3:]}"
    first = graph.keyframes[0]
    assert first.header.frame_id == "panda_link0"
    assert first.keyframe_index == 0
    position = np.array([first.pose.position.x, first.pose.position.y, first.pose.position.z])
    assert np.all(np.abs(position - np.array(CONFIG.scene.centre)) <= CONFIG.scene.half_size)
    assert 0.0 <= first.confidence <= 1.0
    assert graph.wait(lambda: len(graph.latest) == 3 + 2 * len(CONFIG.model.views))
    cloud = graph.latest["/keyframe_policy/cloud"]
    assert cloud.width >= CONFIG.scene.min_points and cloud.point_step == 16
    for stage in ("", "fine_"):  # both stages' heatmaps, for RViz
        heatmap = graph.latest[f"/keyframe_policy/heatmaps/{stage}{CONFIG.model.views[0]}"]
        assert heatmap.encoding == "rgb8" and heatmap.width >= CONFIG.model.image_size
    assert len(graph.latest["/keyframe_policy/markers"].markers) == 3
    # the executor reports the keyframe reached: the next one is predicted from a newer frame
    graph.reached_pub.publish(first)
    assert graph.wait(lambda: len(graph.keyframes) >= 2, 60.0), f"no second keyframe: {graph.status[-3:]}"
    assert graph.keyframes[1].keyframe_index == 1
    assert graph.keyframes[1].header.stamp != first.header.stamp


def test_all_nan_depth_gives_a_clear_message_and_no_target(start_policy, ros_node):
    graph = start_policy()
    header = Header(frame_id="camera_color_optical_frame")
    camera_pose = PoseStamped(header=Header(frame_id="panda_link0"))
    camera_pose.pose.position.x, camera_pose.pose.position.z = 0.5, 1.0
    camera_pose.pose.orientation.x = 1.0  # looking down
    pose_pub = ros_node.create_publisher(PoseStamped, "/camera/color/camera_pose", LATCHED)
    pose_pub.publish(camera_pose)
    info_pub = ros_node.create_publisher(CameraInfo, "/camera/color/camera_info", qos_profile_sensor_data)
    color_pub = ros_node.create_publisher(Image, "/camera/color/image_raw", qos_profile_sensor_data)
    depth_pub = ros_node.create_publisher(
        Image, "/camera/aligned_depth_to_color/image_raw", qos_profile_sensor_data
    )
    path = Path2D(header=header, image_width=64, image_height=48, instruction="lift the red block")
    path.initial_gripper_open = True
    path.points = [
        PathPoint2D(x=0.2, y=0.2, gripper_open=True),
        PathPoint2D(x=0.8, y=0.7, gripper_open=False),
    ]
    graph.path_pub.publish(path)

    def publish_frames() -> None:
        header.stamp = ros_node.get_clock().now().to_msg()
        info_pub.publish(
            CameraInfo(header=header, width=64, height=48, k=[50.0, 0, 32, 0, 50.0, 24, 0, 0, 1])
        )
        color_pub.publish(array_to_image(np.full((48, 64, 3), 100, np.uint8), "rgb8", header))
        depth_pub.publish(array_to_image(np.full((48, 64), np.nan, np.float32), "32FC1", header))

    ros_node.create_timer(0.1, publish_frames)
    assert graph.wait(lambda: any("no valid pixel" in s for s in graph.status), 30.0), graph.status[-3:]
    assert not graph.keyframes


@pytest.mark.parametrize(
    ("parameter", "message"),
    [
        ("checkpoint:=/nonexistent/policy.pt", "policy checkpoint not found"),
        ("model.width:=64", "does not match the configuration"),
    ],
)
def test_a_bad_checkpoint_stops_the_node_at_start_with_a_clear_message(ros_process, parameter, message):
    process = ros_process(["-m", "vla_ros.nodes.keyframe_policy_node", "--ros-args", "-p", parameter])
    output, _ = process.communicate(timeout=START_TIMEOUT_S)
    assert process.returncode == 1
    assert message in output


def test_16uc1_depth_is_read_in_metres_with_zero_invalid() -> None:
    depth = depth_from_message(array_to_image(np.array([[0, 1500]], dtype=np.uint16), "16UC1"))
    assert np.isnan(depth[0, 0]) and depth[0, 1] == pytest.approx(1.5)
