"""Pairing colour and depth frames by stamp (a tiny approximate-time synchroniser)."""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

Frame = TypeVar("Frame")


class FramePairer(Generic[Frame]):
    """Keeps the last ``history`` colour and depth frames (with their stamps in seconds) and pairs the
    newest colour frame with the depth frame nearest in time, within ``tolerance`` seconds."""

    def __init__(self, tolerance: float, history: int = 6) -> None:
        if tolerance < 0 or history < 1:
            raise ValueError("tolerance must not be negative and history must be at least 1")
        self.tolerance = tolerance
        self._color: deque[tuple[float, Frame]] = deque(maxlen=history)
        self._depth: deque[tuple[float, Frame]] = deque(maxlen=history)

    def add_color(self, stamp: float, frame: Frame) -> None:
        """Add a colour frame."""
        self._color.append((stamp, frame))

    def add_depth(self, stamp: float, frame: Frame) -> None:
        """Add a depth frame."""
        self._depth.append((stamp, frame))

    def latest_pair(self, not_before: float = float("-inf")) -> tuple[float, Frame, Frame] | None:
        """(stamp, colour, depth) of the newest colour frame stamped at or after ``not_before`` that has
        a depth frame within tolerance; None when there is none yet."""
        for stamp, color in reversed(self._color):
            if stamp < not_before:
                return None
            nearest = min(self._depth, key=lambda item: abs(item[0] - stamp), default=None)
            if nearest is not None and abs(nearest[0] - stamp) <= self.tolerance:
                return stamp, color, nearest[1]
        return None
