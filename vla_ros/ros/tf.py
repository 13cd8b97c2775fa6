"""TF through tf2_ros when it is importable; without it, transforms travel only on the package's topics.

Nodes that publish a frame also publish it as a latched geometry_msgs/PoseStamped topic (for example
the camera pose), which every consumer in this package reads; TF is for RViz and the user's stack.
Reading a transform from TF (:class:`TransformLookup`) needs tf2_ros and says so when it is missing.
"""

from __future__ import annotations

from geometry_msgs.msg import PoseStamped, TransformStamped
from rclpy.node import Node
from rclpy.time import Time

try:
    import tf2_ros
except ImportError:  # no tf2_ros (this project's PyPI environment): the topics carry the poses
    tf2_ros = None


class TfUnavailableError(RuntimeError):
    """A transform must be read from TF, and tf2_ros is not installed."""


def tf_available() -> bool:
    """Whether tf2_ros is installed here."""
    return tf2_ros is not None


class StaticTransformPublisher:
    """Publishes static transforms on /tf_static when tf2_ros exists, and does nothing otherwise."""

    def __init__(self, node: Node) -> None:
        self._broadcaster = tf2_ros.StaticTransformBroadcaster(node) if tf_available() else None
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


class TransformLookup:
    """Reads transforms from TF (a tf2_ros buffer and listener on ``node``)."""

    def __init__(self, node: Node) -> None:
        if not tf_available():
            raise TfUnavailableError("reading a transform from TF needs tf2_ros, which is not installed")
        self._buffer = tf2_ros.Buffer()
        self._listener = tf2_ros.TransformListener(self._buffer, node)

    def pose(self, parent_frame: str, child_frame: str) -> PoseStamped | None:
        """The latest pose of ``child_frame`` in ``parent_frame``, or None while TF cannot tell."""
        try:
            transform = self._buffer.lookup_transform(parent_frame, child_frame, Time())
        except tf2_ros.TransformException:
            return None
        pose = PoseStamped(header=transform.header)
        pose.pose.position.x = transform.transform.translation.x
        pose.pose.position.y = transform.transform.translation.y
        pose.pose.position.z = transform.transform.translation.z
        pose.pose.orientation = transform.transform.rotation
        return pose
