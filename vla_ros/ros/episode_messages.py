"""vla_ros/msg/EpisodeStatus: building it, and the episode id of an ExecuteInstruction goal."""

from __future__ import annotations

import uuid

from std_msgs.msg import Header

from vla_ros.msg import EpisodeStatus


def episode_id_of_goal(goal_uuid) -> str:
    """The episode id of a goal: its goal id (unique_identifier_msgs/UUID bytes) as 32 hex digits."""
    return bytes(bytearray(goal_uuid)).hex()


def new_episode_id() -> str:
    """A fresh episode id for an instruction without a goal (32 hex digits, like a goal's)."""
    return uuid.uuid4().hex


def episode_status(
    header: Header, episode_id: str, instruction: str, state: int, reason: str = ""
) -> EpisodeStatus:
    """An EpisodeStatus message."""
    return EpisodeStatus(
        header=header, episode_id=episode_id, instruction=instruction, state=state, reason=reason
    )
