"""Episode ids: that of an ExecuteInstruction goal, and a fresh one for an instruction without a goal."""

from __future__ import annotations

import uuid


def episode_id_of_goal(goal_uuid) -> str:
    """The episode id of a goal: its goal id (unique_identifier_msgs/UUID bytes) as 32 hex digits."""
    return bytes(bytearray(goal_uuid)).hex()


def new_episode_id() -> str:
    """A fresh episode id for an instruction without a goal (32 hex digits, like a goal's)."""
    return uuid.uuid4().hex
