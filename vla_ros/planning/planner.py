"""The planner: prompt a backend, parse its answer into a path, retry when the answer does not parse."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from vla_ros.planning.backends.base import PlannerAnswer, PlannerBackend
from vla_ros.planning.backends.factory import make_backend
from vla_ros.planning.backends.oracle import PathSource
from vla_ros.planning.errors import EmptyInstructionError, PathParseError, PlanningFailedError
from vla_ros.planning.hamster_format import ParseOptions, build_prompt, parse_answer
from vla_ros.planning.images import check_rgb_image
from vla_ros.planning.path import PlannedPath
from vla_ros.planning.settings import PlannerConfig


@dataclass(frozen=True)
class PlanStats:
    """How planning went: attempts made, total wall time, backend time, and why earlier attempts failed."""

    attempts: int
    latency_s: float
    backend_latency_s: float
    failures: tuple[str, ...]


@dataclass(frozen=True)
class PlanResult:
    """A parsed path with the answer it came from and the planning stats."""

    path: PlannedPath
    answer: PlannerAnswer
    stats: PlanStats


class Planner:
    """Backend + prompt template + parser, with a fixed number of attempts per instruction.

    Only answers that do not parse are asked for again (:meth:`PlannerBackend.plan_again`), and only
    from a backend that can answer differently (sampling, a sampled retry after greedy decoding, a
    remote server); a backend error (no answer at all) is raised at once.
    """

    def __init__(
        self,
        backend: PlannerBackend,
        prompt_template: str,
        parse_options: ParseOptions,
        max_attempts: int,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        build_prompt(prompt_template, "")  # fails early on a template without the placeholder
        self.backend = backend
        self.prompt_template = prompt_template
        self.parse_options = parse_options
        self.max_attempts = max_attempts

    @classmethod
    def from_config(
        cls, config: PlannerConfig, oracle_source: PlannedPath | PathSource | None = None
    ) -> Planner:
        """Make the configured backend and a planner around it."""
        return cls(
            make_backend(config, oracle_source), config.prompt_template, config.parser, config.max_attempts
        )

    def prompt(self, instruction: str) -> str:
        """The prompt the backend gets for an instruction."""
        return build_prompt(self.prompt_template, instruction)

    def plan(self, image_rgb: np.ndarray, instruction: str) -> PlanResult:
        """Plan a path for ``instruction`` on an (H, W, 3) uint8 RGB image.

        Raises :class:`PlanningFailedError` (holding each attempt's parse error) when no answer
        parses, and backend errors as they come.
        """
        start = time.perf_counter()
        if not instruction.strip():
            raise EmptyInstructionError("the instruction is empty")
        image = check_rgb_image(image_rgb)
        height, width = image.shape[:2]
        prompt = self.prompt(instruction)
        errors: list[PathParseError] = []
        backend_latency = 0.0
        attempts = 1 if self.backend.deterministic else self.max_attempts
        for attempt in range(1, attempts + 1):
            ask = self.backend.plan if attempt == 1 else self.backend.plan_again
            answer = ask(image, prompt)
            backend_latency += answer.latency_s
            try:
                path = parse_answer(answer.text, self.parse_options, width, height)
            except PathParseError as error:
                errors.append(error)
                continue
            stats = PlanStats(attempt, time.perf_counter() - start, backend_latency, tuple(map(str, errors)))
            return PlanResult(path, answer, stats)
        not_retried = " (deterministic: not retried)" if self.backend.deterministic else ""
        raise PlanningFailedError(
            f"no parseable path from the {self.backend.description} backend after {attempts} "
            f"attempt(s){not_retried}; last error: {errors[-1]}",
            list(errors),
        )
