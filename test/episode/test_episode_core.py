"""The episode core: which episode a node follows, and the bounded retries of a keyframe."""

from __future__ import annotations

import pytest

from vla_ros.episode import (
    ABORTED,
    ACTIVE,
    CANCELED,
    END_STATES,
    PREEMPTED,
    SUCCEEDED,
    EpisodeGate,
    KeyframeRetry,
    state_name,
)


def test_the_gate_admits_only_the_active_episode_and_nothing_of_an_ended_one():
    gate = EpisodeGate()
    assert gate.admits("") and not gate.admits("a"), "no episode: only messages without one"
    assert gate.update("a", ACTIVE).started
    assert gate.update("a", ACTIVE) is None, "a repeat changes nothing"
    assert gate.admits("a") and not gate.admits("") and not gate.admits("b")
    change = gate.update("a", CANCELED)
    assert change is not None and not change.started and change.state == CANCELED
    assert gate.active == "" and gate.has_ended("a") and not gate.admits("a")
    assert gate.update("a", ACTIVE) is None, "an ended episode never becomes active again"
    assert gate.update("a", ABORTED) is None


def test_a_preempting_episode_replaces_the_active_one_in_either_order():
    gate = EpisodeGate()
    gate.update("a", ACTIVE)
    change = gate.update("b", ACTIVE)  # the new start came before the old end
    assert change.started and gate.active == "b"
    assert gate.update("a", PREEMPTED) is None and gate.active == "b", "a late end of a does not end b"
    assert not gate.admits("a") and gate.admits("b")


def test_an_unknown_or_anonymous_end_changes_nothing():
    gate = EpisodeGate()
    gate.update("a", ACTIVE)
    assert gate.update("z", SUCCEEDED) is None and gate.active == "a"
    assert gate.update("", ACTIVE) is None and gate.active == "a"
    assert gate.has_ended("z"), "z can no longer start: its end came first"


def test_state_names():
    assert [state_name(state) for state in sorted(END_STATES)] == [
        "succeeded",
        "aborted",
        "canceled",
        "preempted",
        "timed_out",
    ]
    assert state_name(ACTIVE) == "active" and state_name(9) == "state 9"


def test_retries_are_bounded_per_keyframe_and_say_why():
    retry = KeyframeRetry(3)
    retry.start(2)
    assert retry.attempt == 1
    assert retry.failed("rejected by the executor: unreachable") and retry.attempt == 2
    assert retry.failed("not reached within 10 s")
    assert not retry.failed("no prediction: empty cloud")
    assert retry.summary() == (
        "keyframe 2 failed 3 times: rejected by the executor: unreachable; not reached within 10 s; "
        "no prediction: empty cloud"
    )
    retry.start(3)
    assert retry.attempt == 1 and retry.index == 3, "a new keyframe starts over"
    with pytest.raises(ValueError, match="at least 1"):
        KeyframeRetry(0)
