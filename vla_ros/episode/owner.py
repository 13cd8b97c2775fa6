"""The episode owner's rules (the planner node applies them): one active instruction at a time, and
how each event ends it.

An instruction is one episode. It ends once, with one of the end states: SUCCEEDED when the policy
says the task is done; ABORTED when the policy gives up, when it reaches its keyframe limit without
being done, when its first plan fails or when someone stops it; TIMED_OUT; CANCELED; PREEMPTED by a
newer instruction. Messages of another episode, or of the active one before its first path, change
nothing. Each rule returns the :class:`Ending` it decided (the caller publishes it, stops the
instruction's timers, answers its goal), or None.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vla_ros.episode.lifecycle import (
    ABORTED,
    ACTIVE,
    CANCELED,
    PREEMPTED,
    SUCCEEDED,
    TIMED_OUT,
    state_name,
)


@dataclass(frozen=True)
class Outcome:
    """How an instruction ended: ``state`` is one of the end states of vla_ros/msg/EpisodeStatus."""

    state: int
    message: str


@dataclass(eq=False)
class Instruction:
    """One instruction (one episode): its text and id, its keyframe limit and progress, its latest path
    (any representation; None before the first plan) and, once ended, its outcome."""

    text: str
    episode_id: str
    max_keyframes: int
    keyframes_reached: int = 0
    path: Any = None
    planning_time_s: float = 0.0
    outcome: Outcome | None = None


@dataclass(frozen=True)
class Ending:
    """The rule's decision: ``instruction`` ended with ``outcome``."""

    instruction: Instruction
    outcome: Outcome


class EpisodeOwner:
    """The active instruction and the rules that end it."""

    def __init__(self) -> None:
        self.active: Instruction | None = None

    def start(self, instruction: Instruction) -> Ending | None:
        """Make ``instruction`` the active one; the ending of the one it preempts, if any."""
        previous = self.active
        ending = None
        if previous is not None:
            ending = self.end(previous, PREEMPTED, f"preempted by a new instruction: {instruction.text!r}")
        self.active = instruction
        return ending

    def end(self, instruction: Instruction, state: int, message: str) -> Ending | None:
        """End ``instruction`` with ``state`` (once: None when it has ended already)."""
        if instruction.outcome is not None:
            return None
        if state == ACTIVE:
            raise ValueError("an instruction ends in an end state, not 'active'")
        instruction.outcome = Outcome(state, message)
        if self.active is instruction:
            self.active = None
        return Ending(instruction, instruction.outcome)

    def following(self, episode_id: str) -> Instruction | None:
        """The active instruction when ``episode_id`` names it and it has a path (the hierarchy below
        works on it), else None."""
        active = self.active
        if active is None or episode_id != active.episode_id or active.path is None:
            return None
        return active

    def policy_outcome(self, episode_id: str, state: int, reason: str) -> Ending | None:
        """The policy's report: done (SUCCEEDED) or given up (any other end state: ABORTED)."""
        active = self.following(episode_id)
        if active is None or state == ACTIVE:
            return None
        if state == SUCCEEDED:
            return self.end(active, SUCCEEDED, f"task done ({reason or 'the policy says so'})")
        return self.end(active, ABORTED, reason or f"the policy ended it ({state_name(state)})")

    def keyframe_reached(self, episode_id: str) -> tuple[Instruction | None, Ending | None]:
        """A keyframe of the active instruction was reached: (the instruction, or None when the message
        is not its; its ending when that was its last allowed keyframe)."""
        active = self.following(episode_id)
        if active is None:
            return None, None
        active.keyframes_reached += 1
        if active.keyframes_reached < active.max_keyframes:
            return active, None
        reached = active.keyframes_reached
        return active, self.end(
            active, ABORTED, f"{reached} keyframes reached without the policy saying done"
        )

    def stop(self, source: str, reason: str) -> Ending | None:
        """Someone (``source``) stops the active instruction, whatever its episode."""
        if self.active is None:
            return None
        return self.end(self.active, ABORTED, f"stopped on {source}: {reason or 'no reason given'}")

    def timed_out(self, instruction: Instruction, timeout_s: float) -> Ending | None:
        """``instruction``'s time ran out."""
        return self.end(
            instruction, TIMED_OUT, f"timed out after {timeout_s:g} s without the policy saying done"
        )

    def canceled(self, instruction: Instruction) -> Ending | None:
        """``instruction``'s goal was canceled."""
        return self.end(instruction, CANCELED, "canceled")

    def planning_failed(self, instruction: Instruction, error: str) -> Ending | None:
        """A plan of ``instruction`` failed: that ends it only while it is active and has no path yet (a
        failed replan keeps the current path)."""
        if instruction is not self.active or instruction.path is not None:
            return None
        return self.end(instruction, ABORTED, f"planning failed: {error}")
