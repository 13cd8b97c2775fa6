"""The QoS profiles the nodes share (sensor streams use rclpy's ``qos_profile_sensor_data``)."""

from __future__ import annotations

from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

# Descriptions and states a late subscriber must still get: the last message, kept for it.
LATCHED = QoSProfile(
    depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
)
# Commands, targets and events: every message delivered, a short queue.
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
