"""Episodes: one instruction owns the robot from its goal to its end (ROS-free).

:mod:`.lifecycle` names the states and tells each node which episode is active; :mod:`.owner` holds
the owner's rules (one active instruction, how each event ends it); :mod:`.retry` bounds the
re-predictions of a keyframe that failed.
"""

from vla_ros.episode.lifecycle import (
    ABORTED,
    ACTIVE,
    CANCELED,
    END_STATES,
    PREEMPTED,
    STATE_NAMES,
    SUCCEEDED,
    TIMED_OUT,
    EpisodeChange,
    EpisodeGate,
    state_name,
)
from vla_ros.episode.retry import KeyframeRetry

__all__ = [
    "ABORTED",
    "ACTIVE",
    "CANCELED",
    "END_STATES",
    "PREEMPTED",
    "STATE_NAMES",
    "SUCCEEDED",
    "TIMED_OUT",
    "EpisodeChange",
    "EpisodeGate",
    "KeyframeRetry",
    "state_name",
]
