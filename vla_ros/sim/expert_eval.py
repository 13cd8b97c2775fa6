"""``vla-ros expert-eval``: success rate of the scripted expert per task over seeds, written as JSON."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vla_ros.control.kinematics import ArmKinematics
from vla_ros.reports import machine_info, write_report
from vla_ros.robot.urdf import DEFAULT_ROBOT, add_robot_argument
from vla_ros.sim.expert import EpisodeOutcome, run_expert_episode
from vla_ros.sim.settings import SPLIT_NAMES, load_sim_config
from vla_ros.sim.tasks import TASKS
from vla_ros.sim.workcell import Workcell


def evaluate_expert(
    tasks: list[str],
    seeds: int,
    split: str,
    first_seed: int = 0,
    config_file: str = "sim.yaml",
    progress: bool = True,
    robot: str = DEFAULT_ROBOT,
) -> dict:
    """Run the expert on ``seeds`` consecutive seeds of every task with ``robot``; return a JSON-ready
    summary."""
    config = load_sim_config(config_file, robot)
    workcell = Workcell(config)
    kinematics = ArmKinematics.from_settings(config.robot)
    started = time.perf_counter()
    per_task = {}
    try:
        for task in tasks:
            outcomes: list[EpisodeOutcome] = []
            for seed in tqdm(range(first_seed, first_seed + seeds), desc=task, disable=not progress):
                outcomes.append(run_expert_episode(workcell, kinematics, task, split, seed))
            per_task[task] = {
                "episodes": len(outcomes),
                "successes": sum(o.success for o in outcomes),
                "success_rate": sum(o.success for o in outcomes) / len(outcomes),
                "mean_sim_time_s": float(np.mean([o.sim_time for o in outcomes])),
                "mean_wall_time_s": float(np.mean([o.wall_time for o in outcomes])),
                "failures": [
                    {"seed": o.seed, "instruction": o.instruction, "error": o.error}
                    for o in outcomes
                    if not o.success
                ],
            }
    finally:
        workcell.close()
    return {
        "split": split,
        "seeds": list(range(first_seed, first_seed + seeds)),
        "config_file": config_file,
        "robot": robot,
        "physics_time_step_s": config.physics.time_step,
        "control_rate_hz": config.expert.control_rate,
        "tasks": per_task,
        "overall_success_rate": float(np.mean([t["success_rate"] for t in per_task.values()])),
        "total_wall_time_s": time.perf_counter() - started,
        "machine": machine_info(),
    }


def _run(args: argparse.Namespace) -> int:
    result = evaluate_expert(
        args.tasks, args.seeds, args.split, args.first_seed, args.config, robot=args.robot
    )
    write_report(args.out, result)
    for task, summary in result["tasks"].items():
        print(
            f"{task}: {summary['successes']}/{summary['episodes']} "
            f"(sim {summary['mean_sim_time_s']:.1f} s, wall {summary['mean_wall_time_s']:.2f} s per episode)"
        )
    print(f"wrote {args.out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``expert-eval`` subcommand."""
    parser = subparsers.add_parser("expert-eval", description=__doc__)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS), help="tasks to run")
    parser.add_argument("--seeds", type=int, default=100, help="number of seeds per task")
    parser.add_argument("--first-seed", type=int, default=0, help="first seed")
    parser.add_argument("--split", default="train", choices=SPLIT_NAMES, help="variation split")
    parser.add_argument("--config", default="sim.yaml", help="simulator parameter file")
    add_robot_argument(parser)
    parser.add_argument("--out", type=Path, default=Path("results/expert.json"), help="JSON result file")
    parser.set_defaults(func=_run)
