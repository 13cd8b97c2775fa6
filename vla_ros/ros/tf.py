"""TF through tf2_ros when it is importable; without it, transforms travel only on the package's topics.

Nodes that publish a frame also publish it as a latched geometry_msgs/PoseStamped topic (for example
the camera pose), which every consumer in this package reads; TF is for RViz and the user's stack.
"""

from __future__ import annotations

from geometry_msgs.msg import PoseStamped, TransformStamped
from rclpy.node import Node

try:
    from tf2_ros.static_transform_broadcaster import StaticTransformBroadcaster
except ImportError:  # no tf2_ros (this project's PyPI environment): the topics carry the poses
    StaticTransformBroadcaster = None


def tf_available() -> bool:
    """Whether tf2_ros is installed here."""
    return StaticTransformBroadcaster is not None


class StaticTransformPublisher:
    """Publishes static transforms on /tf_static when tf2_ros exists, and does nothing otherwise."""

    def __init__(self, node: Node) -> None:
        self._broadcaster = StaticTransformBroadcaster(node) if tf_available() else None
        self._transforms: dict[str, TransformStamped] = {}

    def send(self, pose: PoseStamped, child_frame: str) -> None:
        """Publish ``pose`` (a child frame's pose in ``pose.header.frame_id``) as a static transform."""
        if self._broadcaster is None:
            return
        transform = TransformStamped(header=pose.header, child_frame_id=child_frame)
        transform.transform.translation.x = pose.pose.position.x
        transform.transform.translation.y = pose.pose.position.y
        transform.transform.translation.z = pose.pose.position.z
        transform.transform.rotation = pose.pose.orientation
        # /tf_static is latched per publisher: every frame sent so far goes out together.
        self._transforms[child_frame] = transform
        self._broadcaster.sendTransform(list(self._transforms.values()))
