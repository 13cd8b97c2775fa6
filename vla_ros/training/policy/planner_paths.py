"""``vla-ros policy-paths``: the trained planner's paths for a dataset's episodes, for policy training.

HAMSTER's low-level policy is trained on paths with a planner's errors, not only on perfect labels.
This runs the planner core (config/planner.yaml, the transformers backend by default) on every
episode's first colour frame and instruction, as the planner node would, and writes the answers to
``DIR/planner_paths.json``; ``train-policy`` uses them for ``training.planner_paths`` of the samples.
An answer that does not parse is recorded as such and that episode keeps its label.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from vla_ros.data.dataset import DatasetError, EpisodeReader, list_episodes
from vla_ros.planning.errors import PlannerError
from vla_ros.planning.path import PlannedPath
from vla_ros.planning.planner import Planner
from vla_ros.reports import machine_info
from vla_ros.robot.urdf import add_robot_argument
from vla_ros.training.policy.evaluation import planner_config_for

PLANNER_PATHS_FILE = "planner_paths.json"


def path_record(path: PlannedPath) -> dict[str, Any]:
    """A path as JSON-ready data."""
    return {
        "points": path.points.tolist(),
        "gripper_open": path.gripper_open.tolist(),
        "initial_gripper_open": path.initial_gripper_open,
    }


def read_planner_paths(file: Path) -> dict[str, PlannedPath]:
    """Episode name -> the planner's path, from ``file`` (empty when there is no file); episodes whose
    answer did not parse are left out."""
    if not file.is_file():
        return {}
    try:
        data = json.loads(file.read_text())
        return {
            name: PlannedPath(
                np.array(entry["points"]), np.array(entry["gripper_open"]), entry["initial_gripper_open"]
            )
            for name, entry in data["episodes"].items()
            if "points" in entry
        }
    except (ValueError, KeyError, TypeError) as error:
        raise DatasetError(f"{file} is not a planner paths file: {error}") from error


def answer_dataset(dataset: Path, planner: Planner, progress: bool = True) -> dict[str, Any]:
    """The planner's answer on every episode's first frame, as written to ``planner_paths.json``."""
    episodes = list_episodes(dataset)
    if not episodes:
        raise DatasetError(f"no episodes in {dataset}")
    answers: dict[str, Any] = {}
    started = time.perf_counter()
    for directory in tqdm(episodes, desc=f"plan {dataset.name}", disable=not progress):
        reader = EpisodeReader(directory)
        try:
            answers[directory.name] = path_record(
                planner.plan(reader.arrays["rgb"][0], reader.instruction).path
            )
        except PlannerError as error:
            answers[directory.name] = {"error": f"{type(error).__name__}: {error}"}
    return {"episodes": answers, "wall_time_s": time.perf_counter() - started}


def _run(args: argparse.Namespace) -> int:
    config = planner_config_for(args.planner, args.planner_model, args.planner_config, args.robot)
    planner = Planner.from_config(config, None)
    for dataset in args.data:
        result = answer_dataset(dataset, planner)
        failed = sum("error" in entry for entry in result["episodes"].values())
        result.update(planner=config.backend, model_dir=config.transformers.model_dir, machine=machine_info())
        (dataset / PLANNER_PATHS_FILE).write_text(json.dumps(result) + "\n")
        print(
            f"{dataset / PLANNER_PATHS_FILE}: {len(result['episodes'])} episodes, {failed} answers did not "
            f"parse, {result['wall_time_s']:.0f} s"
        )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``policy-paths`` subcommand."""
    parser = subparsers.add_parser("policy-paths", description=__doc__)
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="dataset directories (collect)")
    parser.add_argument(
        "--planner", default="transformers", choices=("transformers",), help="planner backend"
    )
    parser.add_argument("--planner-model", default="", help="model directory (default: the config's)")
    parser.add_argument("--planner-config", default="planner.yaml", help="planner parameter file")
    add_robot_argument(parser)  # whose planner_model answers, where the config names none
    parser.set_defaults(func=_run)
