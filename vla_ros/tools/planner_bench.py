"""``vla-ros bench planner``: time the parser, the drawing and the transformers backend.

The transformers backend runs a tiny random LLaVA built on the fly (see
:mod:`vla_ros.training.planner.tiny_vlm`), so the figure is the pipeline's overhead (processor, chat
template, generate, decode), not a real model's speed. Everything is written to one JSON file.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vla_ros.planning.drawing import draw_path, rasterize_path_channels
from vla_ros.planning.hamster_format import build_prompt, format_answer, parse_answer
from vla_ros.planning.path import PlannedPath
from vla_ros.planning.settings import load_planner_config
from vla_ros.reports import machine_info, write_report

# Odd but parseable answers, timed next to canonical ones.
ODD_ANSWERS = (
    "Sure! <ans>\n[\n (0.52, 0.20),\n (0.41, 0.55),\n <action>Close Gripper</action>,\n"
    " (0.63, 0.48)\n]\n</ans> Done.",
    "<ans><ans>[<action>Open Gripper</action>, (320, 120), (300, 300), "
    "<action>Close Gripper</action>, (500, 200)]",
    "0.1, 0.2, 0.3, 0.4 close gripper 0.5, 0.6",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``planner`` benchmark."""
    bench = subparsers.add_parser("planner", help="time the parser, drawing and a tiny transformers model")
    bench.add_argument(
        "--out", type=Path, default=Path("outputs/planner_bench.json"), help="JSON file to write"
    )
    bench.add_argument("--device", default="cpu", help="torch device for the tiny model (cpu, cuda)")
    bench.add_argument("--repeats", type=int, default=20, help="generations to time")
    bench.add_argument("--max-new-tokens", type=int, default=64, help="tokens generated per answer")
    bench.add_argument("--threads", type=int, default=0, help="transformers.cpu_threads (0: torch's default)")
    bench.set_defaults(func=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    """Measure the planner core and write the figures to ``args.out``."""
    import torch  # imported here, so that `vla-ros --help` does not load torch
    import transformers

    from vla_ros.planning.backends.transformers_local import TransformersBackend
    from vla_ros.training.planner.tiny_vlm import TinyVlmSpec, build_tiny_llava

    config = load_planner_config()
    rng = np.random.default_rng(0)
    paths = [PlannedPath(rng.random((n, 2)), rng.random(n) > 0.5) for n in rng.integers(2, 12, 200)]
    canonical = [format_answer(path) for path in paths]
    image = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    results: dict[str, Any] = {
        "parse_canonical_us": _time_each(canonical, lambda text: parse_answer(text, config.parser, 640, 480)),
        "parse_odd_us": _time_each(
            list(ODD_ANSWERS) * 50, lambda text: parse_answer(text, config.parser, 640, 480)
        ),
        "draw_640x480_us": _time_each(paths[:50], lambda path: draw_path(image, path, config.drawing)),
        "channels_640x480_us": _time_each(
            paths[:50], lambda path: rasterize_path_channels(path, 480, 640, config.drawing)
        ),
    }
    with tempfile.TemporaryDirectory() as directory:
        spec = TinyVlmSpec()
        start = time.perf_counter()
        model_dir = build_tiny_llava(directory, [config.prompt_template, *canonical], spec)
        build_s = time.perf_counter() - start
        backend_config = dataclasses.replace(
            config.transformers,
            model_dir=str(model_dir),
            device=args.device,
            max_new_tokens=args.max_new_tokens,
            cpu_threads=args.threads,
        )
        start = time.perf_counter()
        backend = TransformersBackend(backend_config)
        load_s = time.perf_counter() - start
        prompt = build_prompt(config.prompt_template, "put the red cube in the bowl")
        backend.plan(image, prompt)  # warm-up
        latencies = [backend.plan(image, prompt).latency_s * 1000.0 for _ in range(args.repeats)]
        results["tiny_llava"] = {
            "spec": dataclasses.asdict(spec),
            "parameters": sum(p.numel() for p in backend.model.parameters()),
            "build_s": build_s,
            "load_s": load_s,
            "max_new_tokens": args.max_new_tokens,
            "prompt_tokens": len(backend.processor.tokenizer(prompt).input_ids),
            "plan_ms": _summary(latencies),
        }
    results["arguments"] = {
        "device": args.device,
        "repeats": args.repeats,
        "max_new_tokens": args.max_new_tokens,
        "threads": args.threads,
    }
    results["environment"] = {
        **machine_info(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "torch_threads": torch.get_num_threads(),
    }
    write_report(args.out, results)
    print(json.dumps(results, indent=2))
    return 0


def _time_each(items: list[Any], function: Callable[[Any], Any]) -> dict[str, float]:
    durations = []
    for item in items:
        start = time.perf_counter()
        function(item)
        durations.append((time.perf_counter() - start) * 1e6)
    return _summary(durations)


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "count": len(values),
        "median": statistics.median(ordered),
        "p90": ordered[int(0.9 * (len(ordered) - 1))],
        "mean": statistics.fmean(ordered),
    }
