"""The camera's pose in the robot base frame on a real robot: ``ros2 run vla_ros camera_extrinsics_node``.

Publishes ``pose_topic`` (geometry_msgs/PoseStamped, latched; default ``camera/color/camera_pose``): the
camera's colour optical frame in ``robot.base_frame``, which the keyframe policy reads, as the simulator
publishes it in simulation. With ``source: parameters`` the pose is the hand-eye calibration written in
config/camera_extrinsics.yaml, published once and, with ``publish_tf``, as a static transform (where
tf2_ros is installed). With ``source: tf`` it is looked up on TF every ``tf_lookup_period`` seconds and
published again whenever it changes. See :mod:`vla_ros.robot.camera_extrinsics`.
"""

from __future__ import annotations

import sys

from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from std_msgs.msg import Header

from vla_ros.config import ConfigError
from vla_ros.robot.camera_extrinsics import base_from_camera, camera_extrinsics_settings, check_frames
from vla_ros.ros.messages import pose_from_matrix
from vla_ros.ros.parameters import declare_robot_parameters_from_config
from vla_ros.ros.qos import LATCHED
from vla_ros.ros.spin import run_node
from vla_ros.ros.tf import StaticTransformPublisher, TfUnavailableError, TransformLookup

NODE_NAME = "camera_extrinsics"
CONFIG_FILE = "camera_extrinsics.yaml"


class CameraExtrinsicsNode(Node):
    """Publishes the camera's pose, from the calibration parameters or from TF."""

    def __init__(self) -> None:
        super().__init__(NODE_NAME)
        parameters = declare_robot_parameters_from_config(self, CONFIG_FILE, section=NODE_NAME)
        self.base_frame = str(parameters.pop("robot").get("base_frame", ""))
        self.settings = camera_extrinsics_settings(parameters)
        check_frames(self.base_frame, self.settings)
        self._pose_pub = self.create_publisher(PoseStamped, self.settings.pose_topic, LATCHED)
        self._published: PoseStamped | None = None
        if self.settings.source == "tf":
            self._lookup = TransformLookup(self)
            self.create_timer(self.settings.tf_lookup_period, self._on_lookup)
            self.get_logger().info(
                f"waiting for the transform {self.base_frame} -> {self.settings.camera_frame} on TF"
            )
            return
        pose = PoseStamped(header=Header(stamp=self.get_clock().now().to_msg(), frame_id=self.base_frame))
        pose.pose = pose_from_matrix(base_from_camera(self.base_frame, self.settings))
        self._pose_pub.publish(pose)
        if self.settings.publish_tf:
            StaticTransformPublisher(self).send(pose, self.settings.camera_frame)
        self.get_logger().info(
            f"camera {self.settings.camera_frame} in {self.base_frame} from the calibration parameters: "
            f"translation {list(self.settings.translation)} m, rotation_xyzw "
            f"{list(self.settings.rotation_xyzw)}, on {self._pose_pub.topic_name}"
        )

    def _on_lookup(self) -> None:
        pose = self._lookup.pose(self.base_frame, self.settings.camera_frame)
        if pose is None or (self._published is not None and pose.pose == self._published.pose):
            return
        self._pose_pub.publish(pose)
        self._published = pose
        self.get_logger().info(
            f"camera {self.settings.camera_frame} in {self.base_frame} from TF, "
            f"on {self._pose_pub.topic_name}"
        )


def main(args: list[str] | None = None) -> int:
    """Entry point of ``ros2 run vla_ros camera_extrinsics_node``."""
    return run_node(CameraExtrinsicsNode, args, startup_errors=(ConfigError, TfUnavailableError))


if __name__ == "__main__":
    sys.exit(main())
