"""``vla-ros bench sim``: time the workcell's reset, physics, state queries and rendering, as JSON."""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vla_ros.reports import machine_info, write_report
from vla_ros.sim.settings import load_sim_config
from vla_ros.sim.tasks import TASKS
from vla_ros.sim.workcell import Workcell


def _time_ms(function: Callable[[], object], repeats: int) -> dict[str, float]:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        samples.append(1e3 * (time.perf_counter() - started))
    return {
        "mean_ms": float(np.mean(samples)),
        "median_ms": float(np.median(samples)),
        "p95_ms": float(np.percentile(samples, 95)),
        "repeats": repeats,
    }


def benchmark(
    task: str, resolutions: list[tuple[int, int]], repeats: int, config_file: str = "sim.yaml"
) -> dict:
    """Time the workcell operations of a ``task`` scene; rendering at each (width, height)."""
    config = load_sim_config(config_file)
    workcell = Workcell(config)
    try:
        result: dict[str, Any] = {
            "task": task,
            "reset": _time_ms(lambda: workcell.reset(task, "train", 0), max(3, repeats // 10)),
        }
        physics_dt = config.physics.time_step
        home = np.array(config.robot.home_positions)
        targets = itertools.cycle([home + 0.3 * np.sin(0.5 * i) for i in range(repeats)])

        def command_and_step() -> None:
            workcell.set_arm_targets(next(targets))
            workcell.step(physics_dt)

        result["physics_step"] = _time_ms(command_and_step, repeats)
        result["physics_step"]["time_step_s"] = physics_dt
        result["physics_step"]["real_time_factor_without_rendering"] = (
            physics_dt * 1e3 / result["physics_step"]["mean_ms"]
        )
        result["joint_state"] = _time_ms(workcell.joint_state, repeats)
        result["object_states"] = _time_ms(workcell.object_states, repeats)
        renders = {}
        for width, height in resolutions:
            sized = dataclasses.replace(
                config, camera=dataclasses.replace(config.camera, width=width, height=height)
            )
            cell = Workcell(sized)
            try:
                cell.reset(task, "train", 0)
                renders[f"{width}x{height}"] = _time_ms(cell.render, max(5, repeats // 20))
            finally:
                cell.close()
        result["render"] = renders
        configured = renders.get(f"{config.camera.width}x{config.camera.height}")
        if configured is not None:
            result["realtime_budget"] = {
                "camera_rate_hz": config.camera.rate,
                "joint_state_rate_hz": 1.0 / physics_dt,
                "cpu_fraction_for_real_time": (
                    config.camera.rate * configured["mean_ms"]
                    + result["physics_step"]["mean_ms"] / physics_dt
                )
                / 1e3,
            }
    finally:
        workcell.close()
    result["machine"] = machine_info()
    return result


def _resolution(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    return int(width), int(height)


def _run(args: argparse.Namespace) -> int:
    result = benchmark(args.task, args.resolutions, args.repeats, args.config)
    write_report(args.out, result)
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=1))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sim`` benchmark."""
    parser = subparsers.add_parser("sim", help="time the simulated workcell", description=__doc__)
    parser.add_argument("--task", default="pick_place_bowl", choices=list(TASKS), help="scene to time")
    parser.add_argument(
        "--resolutions",
        nargs="+",
        type=_resolution,
        default=[(320, 240), (256, 192), (640, 480)],
        help="camera sizes to render, WIDTHxHEIGHT",
    )
    parser.add_argument("--repeats", type=int, default=500, help="samples per timing")
    parser.add_argument("--config", default="sim.yaml", help="simulator parameter file")
    parser.add_argument("--out", type=Path, default=Path("results/sim_bench.json"), help="JSON result file")
    parser.set_defaults(func=_run)
