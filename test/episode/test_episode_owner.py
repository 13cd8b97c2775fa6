"""The episode owner's rules, without ROS: one active instruction, and how each event ends it (once)."""

from __future__ import annotations

import pytest

from vla_ros.episode import ABORTED, ACTIVE, CANCELED, PREEMPTED, SUCCEEDED, TIMED_OUT
from vla_ros.episode.owner import EpisodeOwner, Instruction


def planned(owner: EpisodeOwner, episode_id: str = "e1", max_keyframes: int = 3) -> Instruction:
    instruction = Instruction("put the cube in the bowl", episode_id, max_keyframes)
    owner.start(instruction)
    instruction.path = "a path"
    return instruction


def test_a_new_instruction_preempts_the_active_one():
    owner = EpisodeOwner()
    first = planned(owner, "e1")
    second = Instruction("press the button", "e2", 3)
    ending = owner.start(second)
    assert ending.instruction is first and ending.outcome.state == PREEMPTED
    assert "press the button" in ending.outcome.message
    assert owner.active is second and first.outcome.state == PREEMPTED


def test_the_policy_ends_it_done_or_given_up_and_an_instruction_ends_once():
    owner = EpisodeOwner()
    instruction = planned(owner)
    assert owner.policy_outcome("e1", ACTIVE, "") is None
    ending = owner.policy_outcome("e1", SUCCEEDED, "")
    assert ending.outcome.state == SUCCEEDED and "the policy says so" in ending.outcome.message
    assert owner.active is None
    assert owner.end(instruction, ABORTED, "late") is None and instruction.outcome.state == SUCCEEDED

    owner.start(given_up := Instruction("x", "e2", 3))
    given_up.path = "a path"
    ending = owner.policy_outcome("e2", CANCELED, "")
    assert ending.outcome.state == ABORTED and "canceled" in ending.outcome.message
    owner.start(reasoned := Instruction("x", "e3", 3))
    reasoned.path = "a path"
    assert owner.policy_outcome("e3", ABORTED, "keyframe 2 unreachable").outcome.message == (
        "keyframe 2 unreachable"
    )


def test_messages_of_another_episode_or_before_the_first_path_change_nothing():
    owner = EpisodeOwner()
    instruction = Instruction("x", "e1", 3)
    owner.start(instruction)
    assert owner.policy_outcome("e1", SUCCEEDED, "") is None, "no path yet"
    instruction.path = "a path"
    assert owner.policy_outcome("other", SUCCEEDED, "") is None
    assert owner.keyframe_reached("other") == (None, None)
    assert owner.active is instruction and instruction.keyframes_reached == 0


def test_the_keyframe_limit_aborts_without_the_policy_saying_done():
    owner = EpisodeOwner()
    instruction = planned(owner, max_keyframes=2)
    assert owner.keyframe_reached("e1") == (instruction, None)
    active, ending = owner.keyframe_reached("e1")
    assert active is instruction and ending.outcome.state == ABORTED
    assert ending.outcome.message == "2 keyframes reached without the policy saying done"


def test_stop_timeout_cancel_and_a_failed_first_plan():
    owner = EpisodeOwner()
    assert owner.stop("/stop_episode", "reset") is None, "nothing active"
    planned(owner)
    assert owner.stop("/stop_episode", "").outcome.message == "stopped on /stop_episode: no reason given"

    instruction = planned(owner, "e2")
    assert owner.timed_out(instruction, 30.0).outcome.state == TIMED_OUT
    instruction = planned(owner, "e3")
    assert owner.canceled(instruction).outcome.state == CANCELED

    first_plan = Instruction("x", "e4", 3)
    owner.start(first_plan)
    assert owner.planning_failed(first_plan, "no image").outcome.message == "planning failed: no image"
    replanned = planned(owner, "e5")
    assert owner.planning_failed(replanned, "timeout") is None, "a failed replan keeps the current path"
    assert owner.active is replanned


def test_an_instruction_cannot_end_as_active():
    owner = EpisodeOwner()
    with pytest.raises(ValueError, match="end state"):
        owner.end(planned(owner), ACTIVE, "")
