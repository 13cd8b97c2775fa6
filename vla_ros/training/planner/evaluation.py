"""``vla-ros planner-eval``: how well a planner model answers the recorded episodes' paths.

Each episode's first colour frame and instruction go through the planner's ``transformers`` backend
exactly as at run time (the planner's prompt template, the model's chat template, greedy
``generate``); the answer is parsed with the planner's parser options and compared with the
episode's path label (the simulator's oracle path). Metrics, overall and per task:

- ``parse_rate``: share of answers that parse into a path.
- ``mean_path_distance``: over the answers that parse, the mean distance between predicted and
  label path after resampling both to ``resample_points`` points evenly spaced along their length,
  point i against point i, in normalised image units (x = column / width, y = row / height).
- ``gripper_event_accuracy``: share of all episodes whose answer parses and whose gripper events,
  as the ordered sequence of closes and opens along the path, equal the label's (an answer that
  does not parse counts as wrong).
- ``mean_keypoint_error``: over the answers that parse, the mean distance between predicted and label
  point at the path's start, at its first gripper event (where both have one: usually the grasp)
  and at its end; it tells finding the object (first event, end) from knowing the start.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from vla_ros.planning.backends.transformers_local import TransformersBackend
from vla_ros.planning.errors import PathParseError
from vla_ros.planning.hamster_format import ParseOptions, build_prompt, parse_answer
from vla_ros.planning.path import PlannedPath
from vla_ros.planning.settings import PlannerConfig, load_planner_config
from vla_ros.reports import machine_info, write_report
from vla_ros.training.planner.config import load_training_config
from vla_ros.training.planner.samples import PlannerSample, load_samples


@dataclass(frozen=True)
class EpisodeResult:
    """One answer compared with its label; distance and events are None when it does not parse."""

    name: str
    task: str
    answer: str
    error: str | None
    path_distance: float | None
    events_match: bool | None
    keypoint_errors: dict[str, float] | None = None

    @property
    def parsed(self) -> bool:
        """Whether the answer parsed into a path."""
        return self.error is None


def gripper_event_sequence(path: PlannedPath) -> list[bool]:
    """The path's gripper events in order along the path (True opens, False closes)."""
    return [opens for _, opens in path.gripper_events()]


def path_distance(predicted: PlannedPath, label: PlannedPath, num_points: int) -> float:
    """Mean distance (normalised image units) between the two paths resampled to ``num_points``."""
    predicted_points, _ = predicted.resample(num_points)
    label_points, _ = label.resample(num_points)
    return float(np.linalg.norm(predicted_points - label_points, axis=1).mean())


def keypoint_errors(predicted: PlannedPath, label: PlannedPath) -> dict[str, float]:
    """Distances between predicted and label point at the start, the first gripper event and the end."""
    errors = {
        "start": float(np.linalg.norm(predicted.points[0] - label.points[0])),
        "end": float(np.linalg.norm(predicted.points[-1] - label.points[-1])),
    }
    predicted_events, label_events = predicted.gripper_events(), label.gripper_events()
    if predicted_events and label_events:
        errors["first_event"] = float(
            np.linalg.norm(predicted.points[predicted_events[0][0]] - label.points[label_events[0][0]])
        )
    return errors


def compare_answer(
    sample: PlannerSample, answer: str, options: ParseOptions, num_points: int
) -> EpisodeResult:
    """Parse ``answer`` (as the planner does) and compare it with the sample's label."""
    height, width = sample.image.shape[:2]
    try:
        predicted = parse_answer(answer, options, width, height)
    except PathParseError as error:
        return EpisodeResult(sample.name, sample.task, answer, f"{type(error).__name__}: {error}", None, None)
    return EpisodeResult(
        sample.name,
        sample.task,
        answer,
        None,
        path_distance(predicted, sample.label, num_points),
        gripper_event_sequence(predicted) == gripper_event_sequence(sample.label),
        keypoint_errors(predicted, sample.label),
    )


def summarise(results: Sequence[EpisodeResult]) -> dict[str, Any]:
    """Parse rate, path distance (mean, median, 90th percentile) and gripper-event accuracy."""
    distances = [r.path_distance for r in results if r.path_distance is not None]
    keypoints: dict[str, list[float]] = {}
    for result in results:
        for name, error in (result.keypoint_errors or {}).items():
            keypoints.setdefault(name, []).append(error)
    return {
        "episodes": len(results),
        "parse_rate": sum(r.parsed for r in results) / len(results) if results else float("nan"),
        "mean_path_distance": float(np.mean(distances)) if distances else None,
        "median_path_distance": float(np.median(distances)) if distances else None,
        "p90_path_distance": float(np.percentile(distances, 90)) if distances else None,
        "gripper_event_accuracy": (
            sum(bool(r.events_match) for r in results) / len(results) if results else float("nan")
        ),
        "mean_keypoint_error": {name: float(np.mean(errors)) for name, errors in keypoints.items()},
    }


def summarise_by_task(results: Sequence[EpisodeResult]) -> dict[str, Any]:
    """:func:`summarise` overall and for each task."""
    tasks = sorted({r.task for r in results})
    return {
        "overall": summarise(results),
        "per_task": {task: summarise([r for r in results if r.task == task]) for task in tasks},
    }


def evaluate_model(
    model_dir: Path,
    samples: Sequence[PlannerSample],
    planner_config: PlannerConfig,
    num_points: int,
    device: str = "cpu",
    progress: bool = True,
) -> list[EpisodeResult]:
    """Answer every sample with the planner's transformers backend (greedy) and compare with labels."""
    backend_config = dataclasses.replace(
        planner_config.transformers, model_dir=str(model_dir), device=device, do_sample=False, cpu_threads=0
    )
    backend = TransformersBackend(backend_config)
    results = []
    for sample in tqdm(samples, desc="planner-eval", disable=not progress):
        answer = backend.plan(sample.image, build_prompt(planner_config.prompt_template, sample.instruction))
        results.append(compare_answer(sample, answer.text, planner_config.parser, num_points))
    return results


def _run(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    planner_config = load_planner_config(args.planner_config)
    num_points = load_training_config(args.config).resample_points
    samples = load_samples(args.data, planner_config.parser)
    start = time.perf_counter()
    results = evaluate_model(args.model, samples, planner_config, num_points, args.device)
    report = {
        "model": str(args.model),
        "data": [str(d) for d in args.data],
        "resample_points": num_points,
        "device": args.device,
        "threads": args.threads,
        "seconds": time.perf_counter() - start,
        "definitions": {
            "parse_rate": "share of answers the planner's parser turns into a path",
            "mean_path_distance": "over parsed answers: mean distance between predicted and label path "
            "resampled to resample_points points along their length, normalised image units",
            "gripper_event_accuracy": "share of all episodes whose answer parses and whose ordered "
            "gripper events (close/open) equal the label's",
            "mean_keypoint_error": "over parsed answers: mean distance between predicted and label point "
            "at the start, the first gripper event (where both have one) and the end",
        },
        **summarise_by_task(results),
        "machine": machine_info(),
        "results": [dataclasses.asdict(r) for r in results],
    }
    write_report(args.out, report)
    overall = report["overall"]
    print(
        f"{overall['episodes']} episodes: parse {overall['parse_rate']:.3f}, mean path distance "
        f"{overall['mean_path_distance']}, gripper events {overall['gripper_event_accuracy']:.3f}"
        f" -> {args.out}"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``planner-eval`` subcommand."""
    parser = subparsers.add_parser(
        "planner-eval",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", type=Path, required=True, help="model directory (save_pretrained)")
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="dataset directories")
    parser.add_argument("--out", type=Path, required=True, help="JSON report to write")
    parser.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:N")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--config", default="planner_training.yaml", help="training parameter file")
    parser.add_argument("--planner-config", default="planner.yaml", help="planner parameter file")
    parser.set_defaults(func=_run)
