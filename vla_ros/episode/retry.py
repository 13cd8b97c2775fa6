"""Bounded re-prediction of a keyframe that failed (no prediction, rejected, or not reached in time)."""

from __future__ import annotations


class KeyframeRetry:
    """Counts the attempts at the current keyframe; ``max_attempts`` in all, then the episode gives up.

    >>> retry = KeyframeRetry(2)
    >>> retry.start(0); retry.failed("no fresh frame")
    True
    >>> retry.failed("rejected: unreachable")
    False
    >>> retry.summary()
    'keyframe 0 failed 2 times: no fresh frame; rejected: unreachable'
    """

    def __init__(self, max_attempts: int) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        self.max_attempts = max_attempts
        self.index = 0
        self.reasons: list[str] = []

    def start(self, index: int) -> None:
        """A new keyframe (the previous one was reached, or a new path): its attempts start at one."""
        self.index = index
        self.reasons = []

    @property
    def attempt(self) -> int:
        """The 1-based number of the attempt in progress."""
        return len(self.reasons) + 1

    def failed(self, reason: str) -> bool:
        """Record a failed attempt; True when another attempt is allowed."""
        self.reasons.append(reason)
        return len(self.reasons) < self.max_attempts

    def summary(self) -> str:
        """Why the keyframe was given up, every attempt's reason in order."""
        return f"keyframe {self.index} failed {len(self.reasons)} times: {'; '.join(self.reasons)}"
