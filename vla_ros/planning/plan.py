"""``vla-ros plan``: run the configured planner once on an image file.

Writes the answer, the parsed path and the timings to ``plan.json`` and the path drawn on the
image (as the policy sees it) to ``overlay.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import cv2
import numpy as np

from vla_ros.config import ConfigError
from vla_ros.planning.drawing import draw_path
from vla_ros.planning.errors import PlannerError
from vla_ros.planning.hamster_format import format_answer
from vla_ros.planning.planner import Planner
from vla_ros.planning.settings import BACKENDS, CONFIG_FILE, NODE_NAME, PlannerConfig, load_planner_config
from vla_ros.reports import write_report


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``plan`` subcommand."""
    plan = subparsers.add_parser("plan")
    plan.add_argument("--image", required=True, type=Path, help="colour image (PNG, JPEG)")
    plan.add_argument("--instruction", required=True, help="the task, in words")
    plan.add_argument("--config", default=CONFIG_FILE, help="parameter file name or path (default: planner)")
    plan.add_argument(
        "--backend", choices=[b for b in BACKENDS if b != "oracle"], help="override the backend"
    )
    plan.add_argument("--model-dir", help="override transformers.model_dir")
    plan.add_argument("--answer-file", help="override file.path")
    plan.add_argument("--device", help="override transformers.device (cpu, cuda)")
    plan.add_argument(
        "--out-dir", type=Path, default=Path("outputs/plan"), help="where plan.json and overlay.png go"
    )
    plan.set_defaults(func=run_plan)


def run_plan(args: argparse.Namespace) -> int:
    """Plan once on an image file; returns 0 on success, 1 on bad input or when planning fails."""
    try:
        config = _with_overrides(load_planner_config(args.config, NODE_NAME), args)
    except ConfigError as error:
        print(f"bad planner configuration: {error}")
        return 1
    if config.backend == "oracle":
        print("the oracle backend needs the simulator's path; choose --backend transformers, openai or file")
        return 1
    image_bgr = cv2.imread(str(args.image), cv2.IMREAD_COLOR)
    if image_bgr is None:
        print(f"cannot read an image from {args.image}")
        return 1
    image = np.ascontiguousarray(image_bgr[:, :, ::-1])
    args.out_dir.mkdir(parents=True, exist_ok=True)
    try:
        result = Planner.from_config(config).plan(image, args.instruction)
    except PlannerError as error:
        write_report(args.out_dir / "plan.json", {"ok": False, "error": f"{type(error).__name__}: {error}"})
        print(f"planning failed: {type(error).__name__}: {error}")
        return 1
    report = {
        "ok": True,
        "backend": result.answer.backend_name,
        "instruction": args.instruction,
        "answer": result.answer.text,
        "points": result.path.points.tolist(),
        "gripper_open": result.path.gripper_open.tolist(),
        "stats": dataclasses.asdict(result.stats),
    }
    write_report(args.out_dir / "plan.json", report)
    cv2.imwrite(str(args.out_dir / "overlay.png"), draw_path(image, result.path, config.drawing)[:, :, ::-1])
    print(f"{format_answer(result.path)}  ({result.stats.latency_s:.3f} s) -> {args.out_dir}")
    return 0


def _with_overrides(config: PlannerConfig, args: argparse.Namespace) -> PlannerConfig:
    transformers_config = config.transformers
    if args.model_dir:
        transformers_config = dataclasses.replace(transformers_config, model_dir=args.model_dir)
    if args.device:
        transformers_config = dataclasses.replace(transformers_config, device=args.device)
    file_config = dataclasses.replace(config.file, path=args.answer_file) if args.answer_file else config.file
    return dataclasses.replace(
        config, backend=args.backend or config.backend, transformers=transformers_config, file=file_config
    )
