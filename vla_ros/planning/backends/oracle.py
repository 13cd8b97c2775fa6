"""The oracle backend: a known path (the simulator's privileged one) written as an answer."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from vla_ros.planning.backends.base import PlannerAnswer, PlannerBackend
from vla_ros.planning.errors import BackendError
from vla_ros.planning.hamster_format import format_answer
from vla_ros.planning.images import check_rgb_image
from vla_ros.planning.path import PlannedPath

PathSource = Callable[[], PlannedPath]


class OracleBackend(PlannerBackend):
    """Answers with a given path (or the path a callable returns), formatted as HAMSTER's answer text.

    The answer goes through the same parser as a model's, so the whole planning path is exercised.
    """

    name = "oracle"

    def __init__(self, source: PlannedPath | PathSource | None = None, decimals: int = 2) -> None:
        self._source = source
        self._decimals = decimals

    def set_source(self, source: PlannedPath | PathSource | None) -> None:
        """Replace the path (or callable) answered from now on, e.g. when the simulator's task changes."""
        self._source = source

    @property
    def deterministic(self) -> bool:
        """Always the same answer (for the same source)."""
        return True

    def plan(self, image_rgb: np.ndarray, prompt: str) -> PlannerAnswer:
        """Answer with the oracle path; the image and prompt are checked but not looked at."""
        start = time.perf_counter()
        check_rgb_image(image_rgb)
        if self._source is None:
            raise BackendError("the oracle backend has no path: call set_source() with the task's path")
        path = self._source if isinstance(self._source, PlannedPath) else self._source()
        if not isinstance(path, PlannedPath):
            raise BackendError(f"the oracle's path source returned {type(path).__name__}, not a PlannedPath")
        text = format_answer(path, self._decimals)
        return PlannerAnswer(text, time.perf_counter() - start, self.name)
