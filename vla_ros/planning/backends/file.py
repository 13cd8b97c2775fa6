"""The file backend: replays a recorded answer (text) or path (JSON) from a file."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from vla_ros.planning.backends.base import PlannerAnswer, PlannerBackend
from vla_ros.planning.errors import BackendError, InvalidPathError
from vla_ros.planning.hamster_format import format_answer
from vla_ros.planning.images import check_rgb_image
from vla_ros.planning.path import PlannedPath


class FileBackend(PlannerBackend):
    """Answers with the content of a file, read once when the backend is made.

    A ``.json`` file holds either ``{"answer": "<ans>...</ans>"}`` or a path in normalised
    coordinates, ``{"points": [[x, y], ...], "gripper_open": [...], "initial_gripper_open": true}``
    (both gripper keys optional, open by default); any other file is the answer text itself.
    """

    name = "file"

    def __init__(self, path: str | Path, decimals: int = 2) -> None:
        self.path = Path(path)
        if not str(path) or not self.path.is_file():
            raise BackendError(f"the file backend's answer file does not exist: {str(path)!r}")
        self.text = _read_answer(self.path, decimals)

    @property
    def description(self) -> str:
        """The backend's name and its answer file."""
        return f"{self.name}:{self.path}"

    @property
    def deterministic(self) -> bool:
        """Always the same answer (for the same source)."""
        return True

    def plan(self, image_rgb: np.ndarray, prompt: str) -> PlannerAnswer:
        """Answer with the recorded text; the image and prompt are checked but not looked at."""
        start = time.perf_counter()
        check_rgb_image(image_rgb)
        return PlannerAnswer(self.text, time.perf_counter() - start, self.name)


def _read_answer(path: Path, decimals: int) -> str:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() != ".json":
        return text
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise BackendError(f"{path}: not valid JSON: {error}") from error
    if isinstance(data, dict) and isinstance(data.get("answer"), str):
        return data["answer"]
    if not isinstance(data, dict) or "points" not in data:
        raise BackendError(f"{path}: expected a JSON object with 'answer' (text) or 'points' ([[x, y], ...])")
    initial_open = bool(data.get("initial_gripper_open", True))
    try:
        points = np.asarray(data["points"], dtype=np.float64)
        gripper_open = data.get("gripper_open", [initial_open] * len(points))
        return format_answer(PlannedPath(points, gripper_open, initial_open), decimals)
    except (InvalidPathError, ValueError, TypeError) as error:
        raise BackendError(f"{path}: invalid path: {error}") from error
