"""Episode ids (that of an ExecuteInstruction goal, a fresh one for an instruction without a goal), and
the subscription to the episode topic that also notices when the episode's owner dies."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from rclpy.node import Node
from rclpy.qos import QoSProfile
from rclpy.subscription import Subscription

from vla_ros.episode import ABORTED
from vla_ros.msg import EpisodeStatus

try:  # Iron and later
    from rclpy.event_handler import SubscriptionEventCallbacks
except ImportError:  # Humble
    from rclpy.qos_event import SubscriptionEventCallbacks  # type: ignore[no-redef]

OWNER_GONE = "the planner (the episode's owner) is gone"


def episode_id_of_goal(goal_uuid) -> str:
    """The episode id of a goal: its goal id (unique_identifier_msgs/UUID bytes) as 32 hex digits."""
    return bytes(bytearray(goal_uuid)).hex()


def new_episode_id() -> str:
    """A fresh episode id for an instruction without a goal (32 hex digits, like a goal's)."""
    return uuid.uuid4().hex


def subscribe_episodes(
    node: Node,
    topic: str,
    on_episode: Callable[[EpisodeStatus], None],
    qos: QoSProfile,
    active: Callable[[], str | None],
) -> Subscription:
    """Subscribe ``on_episode`` to ``topic``; when its last publisher dies (liveliness lost: a killed
    planner), ``on_episode`` also gets an ABORTED end of the ``active()`` episode, so that nothing goes
    on without an owner to stop it."""

    def on_liveliness(info) -> None:
        episode_id = active()
        if info.alive_count == 0 and info.alive_count_change < 0 and episode_id:
            node.get_logger().error(f"{OWNER_GONE} ({topic}): ending episode {episode_id}")
            on_episode(EpisodeStatus(episode_id=episode_id, state=ABORTED, reason=OWNER_GONE))

    callbacks = SubscriptionEventCallbacks(liveliness=on_liveliness)
    return node.create_subscription(EpisodeStatus, topic, on_episode, qos, event_callbacks=callbacks)
