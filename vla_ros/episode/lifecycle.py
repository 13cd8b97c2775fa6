"""Episode states (the constants of vla_ros/msg/EpisodeStatus) and which episode a node follows.

An episode is ACTIVE from its goal until it ends: SUCCEEDED, ABORTED (with the reason), CANCELED,
PREEMPTED by a newer goal or TIMED_OUT. A node keeps an :class:`EpisodeGate`, feeds it the owner's
status messages and acts only on the messages its gate admits.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

ACTIVE, SUCCEEDED, ABORTED, CANCELED, PREEMPTED, TIMED_OUT = range(6)
STATE_NAMES = {
    ACTIVE: "active",
    SUCCEEDED: "succeeded",
    ABORTED: "aborted",
    CANCELED: "canceled",
    PREEMPTED: "preempted",
    TIMED_OUT: "timed_out",
}
END_STATES = frozenset(STATE_NAMES) - {ACTIVE}
ENDED_REMEMBERED = 64  # ids of ended episodes kept, so that a late "active" of one cannot revive it


def state_name(state: int) -> str:
    """The lower-case name of an episode state (``state <n>`` for an unknown value)."""
    return STATE_NAMES.get(state, f"state {state}")


@dataclass(frozen=True)
class EpisodeChange:
    """What a status message changed: ``started`` a new active episode, or ``ended`` the active one."""

    episode_id: str
    started: bool
    state: int
    reason: str = ""


class EpisodeGate:
    """Which episode is active, from the owner's status messages; admits only that episode's messages.

    While no episode is active, only messages without an episode id pass (a node used on its own:
    teleoperation, a benchmark). An episode that ended never becomes active again.
    """

    def __init__(self) -> None:
        self.active = ""
        self._ended: deque[str] = deque(maxlen=ENDED_REMEMBERED)

    def update(self, episode_id: str, state: int) -> EpisodeChange | None:
        """Take one status message; the change it makes, or None (a repeat, or an unknown episode's end)."""
        if not episode_id:
            return None
        if state == ACTIVE:
            if episode_id == self.active or episode_id in self._ended:
                return None
            self.active = episode_id
            return EpisodeChange(episode_id, True, state)
        if episode_id not in self._ended:
            self._ended.append(episode_id)
        if episode_id != self.active:
            return None
        self.active = ""
        return EpisodeChange(episode_id, False, state)

    def admits(self, episode_id: str) -> bool:
        """Whether a message of ``episode_id`` belongs to the active episode (or both have none)."""
        return episode_id == self.active

    def has_ended(self, episode_id: str) -> bool:
        """Whether ``episode_id`` is known to have ended."""
        return episode_id in self._ended
