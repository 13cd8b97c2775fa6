"""The QoS profiles the nodes share (sensor streams use rclpy's ``qos_profile_sensor_data``)."""

from __future__ import annotations

from rclpy.duration import Duration
from rclpy.qos import DurabilityPolicy, LivelinessPolicy, QoSProfile, ReliabilityPolicy

# Descriptions and states a late subscriber must still get: the last message, kept for it.
LATCHED = QoSProfile(
    depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
)
# Commands, targets and events: every message delivered, a short queue.
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
# Episode life cycle (vla_ros/EpisodeStatus): reliable, the last few kept for late joiners, so that an
# end and the next start published back to back both arrive, in order. Its publisher (the planner, the
# episode's owner) stays alive for the middleware within EPISODE_OWNER_LEASE_S even when it is killed:
# a subscriber learns of its death (liveliness lost) and ends the active episode itself.
EPISODE_OWNER_LEASE_S = 3.0
EPISODE_EVENTS = QoSProfile(
    depth=10,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
    liveliness=LivelinessPolicy.AUTOMATIC,
    liveliness_lease_duration=Duration(seconds=EPISODE_OWNER_LEASE_S),
)
# The same, subscribed live only (volatile): a node that joins late does not get the last ones, so it
# does not act on an episode that started before it did.
LIVE_EPISODE_EVENTS = QoSProfile(
    depth=10,
    reliability=ReliabilityPolicy.RELIABLE,
    liveliness=LivelinessPolicy.AUTOMATIC,
    liveliness_lease_duration=Duration(seconds=EPISODE_OWNER_LEASE_S),
)
