"""The interface every planner backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PlannerAnswer:
    """A backend's raw answer text, how long it took (seconds, wall clock) and which backend gave it."""

    text: str
    latency_s: float
    backend_name: str


class PlannerBackend(ABC):
    """Answers a prompt about an image with text (a path in HAMSTER's format, once parsed)."""

    name: str = "backend"

    @property
    def deterministic(self) -> bool:
        """True when asking again (:meth:`plan_again`) gives the same answer (the planner then does not
        retry)."""
        return False

    @property
    def description(self) -> str:
        """Which backend and model this is, e.g. "transformers:/models/planner" (Path2D's ``planner``)."""
        return self.name

    @abstractmethod
    def plan(self, image_rgb: np.ndarray, prompt: str) -> PlannerAnswer:
        """Answer ``prompt`` (the filled-in prompt template) about an (H, W, 3) uint8 RGB image.

        Raises a subclass of :class:`~vla_ros.planning.errors.BackendError` when no answer comes.
        """

    def plan_again(self, image_rgb: np.ndarray, prompt: str) -> PlannerAnswer:
        """Answer again after an answer that did not parse; :meth:`plan` unless the backend has a way
        to answer differently (the transformers backend samples where it decodes greedily)."""
        return self.plan(image_rgb, prompt)
