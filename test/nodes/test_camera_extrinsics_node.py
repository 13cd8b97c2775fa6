"""The camera_extrinsics node on a real graph: the calibration as a latched pose; bad ones stop it."""

from __future__ import annotations

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="needs rclpy: run through `make test` (scripts/env.sh)")

from geometry_msgs.msg import PoseStamped  # noqa: E402

from vla_ros.ros.messages import matrix_from_pose  # noqa: E402
from vla_ros.ros.qos import LATCHED  # noqa: E402
from vla_ros.ros.tf import tf_available  # noqa: E402

pytestmark = pytest.mark.ros
NODE = ["-m", "vla_ros.nodes.camera_extrinsics_node", "--ros-args"]
# Optical z looks down at the table (base -z), optical x along base -y.
LOOKING_DOWN_XYZW = [0.7071068, -0.7071068, 0.0, 0.0]


def test_calibration_is_published_latched_in_the_base_frame_and_remapped(ros_process, ros_node, spin_until):
    process = ros_process(
        [
            *NODE,
            "-p",
            "source:=parameters",
            "-p",
            "translation:=[0.3, 0.05, 0.6]",
            "-p",
            f"rotation_xyzw:={LOOKING_DOWN_XYZW}",
            "-r",
            "camera/color/camera_pose:=cam/front/color/camera_pose",
        ]
    )
    poses: list[PoseStamped] = []
    # Subscribed after the node may have published: the pose must be latched.
    ros_node.create_subscription(PoseStamped, "/cam/front/color/camera_pose", poses.append, LATCHED)
    if not spin_until(ros_node, lambda: poses or process.poll() is not None, timeout_s=30.0):
        pytest.fail("no camera pose within 30 s")
    assert poses, process.communicate()[0][-2000:]
    pose = poses[-1]
    assert pose.header.frame_id == "panda_link0"
    matrix = matrix_from_pose(pose.pose)
    np.testing.assert_allclose(matrix[:3, 3], [0.3, 0.05, 0.6])
    np.testing.assert_allclose(matrix[:3, 2], [0.0, 0.0, -1.0], atol=1e-6)
    np.testing.assert_allclose(matrix[:3, 0], [0.0, -1.0, 0.0], atol=1e-6)


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ([], "source must be one of ['parameters', 'tf']"),
        (["source:=parameters", "rotation_xyzw:=[0.0, 0.0, 0.5, 0.5]"], "is not a unit quaternion"),
        (["source:=parameters", "camera_frame:=panda_link0"], "camera_frame is the robot base frame"),
    ],
)
def test_a_missing_or_bad_calibration_stops_the_node_with_the_reason(ros_process, parameters, message):
    arguments = [item for parameter in parameters for item in ("-p", parameter)]
    process = ros_process([*NODE, *arguments])
    output = process.communicate(timeout=60)[0]
    assert process.returncode == 1
    assert "cannot start: " in output and message in output, output[-2000:]


@pytest.mark.skipif(tf_available(), reason="tf2_ros is installed: the tf source works here")
def test_tf_source_without_tf2_ros_says_what_is_missing(ros_process):
    process = ros_process([*NODE, "-p", "source:=tf", "-p", "publish_tf:=false"])
    output = process.communicate(timeout=60)[0]
    assert process.returncode == 1 and "needs tf2_ros, which is not installed" in output, output[-2000:]
