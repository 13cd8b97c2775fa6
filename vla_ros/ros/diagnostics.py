"""A node's state as ``diagnostic_msgs/DiagnosticArray`` on ``/diagnostics`` (rqt_robot_monitor, Foxglove)."""

from __future__ import annotations

from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node

from vla_ros.ros.qos import RELIABLE

DIAGNOSTICS_TOPIC = "/diagnostics"
LEVELS = (DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR)


class DiagnosticsPublisher:
    """Publishes one DiagnosticStatus named ``<node>: <what>`` (hardware id: the node's full name)."""

    def __init__(self, node: Node, what: str) -> None:
        self._node = node
        self._name = f"{node.get_name()}: {what}"
        self._publisher = node.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, RELIABLE)

    def publish(self, level: int, message: str, values: dict[str, Any]) -> None:
        """``level`` 0 OK, 1 WARN, 2 ERROR; ``values`` become key/value strings."""
        status = DiagnosticStatus(
            level=LEVELS[level],
            name=self._name,
            message=message,
            hardware_id=self._node.get_fully_qualified_name(),
            values=[KeyValue(key=str(key), value=str(value)) for key, value in values.items()],
        )
        array = DiagnosticArray(statuses=[status])
        array.header.stamp = self._node.get_clock().now().to_msg()
        self._publisher.publish(array)
