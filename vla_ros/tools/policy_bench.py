"""``vla-ros bench policy``: latency of one keyframe prediction (cloud, render, network, lifting).

Observations are real: the keyframe frames of a recorded dataset (RGB-D, camera, path label,
instruction), cycled through the shipped checkpoint; the first ``--warmup`` predictions are not timed.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from vla_ros.data.dataset import EpisodeReader, list_episodes
from vla_ros.policy.inference import KeyframePolicy
from vla_ros.policy.observation import PolicyObservation
from vla_ros.policy.settings import CONFIG_FILE, load_policy_config
from vla_ros.reports import machine_info, timing_statistics, write_report
from vla_ros.training.policy.data import episode_observation


def observations(dataset: Path, limit: int) -> list[PolicyObservation]:
    """Up to ``limit`` observations: the first frame of each episode of ``dataset``."""
    return [episode_observation(EpisodeReader(d), 0, True, 0) for d in list_episodes(dataset)[:limit]]


def benchmark(
    policy: KeyframePolicy, inputs: list[PolicyObservation], repeats: int, warmup: int
) -> dict[str, dict[str, float]]:
    """Median, p95 and max (ms) of every stage over ``repeats`` timed predictions."""
    timings = []
    for index in range(warmup + repeats):
        prediction = policy.predict(inputs[index % len(inputs)])
        if index >= warmup:
            timings.append(prediction.timings)
    return timing_statistics(timings)


def _run(args: argparse.Namespace) -> int:
    config = load_policy_config(args.config)
    config = replace(config, device=args.device or config.device, cpu_threads=args.threads)
    policy = KeyframePolicy(config)
    inputs = observations(args.data, args.observations)
    report = {
        "checkpoint": config.checkpoint,
        "device": config.device,
        "torch_threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "data": str(args.data),
        "stages_ms": benchmark(policy, inputs, args.repeats, args.warmup),
        "machine": machine_info(),
    }
    write_report(args.out, report)
    for stage, numbers in report["stages_ms"].items():
        print(f"{stage}: median {numbers['median']:.1f} ms, p95 {numbers['p95']:.1f} ms")
    print(f"wrote {args.out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``policy`` benchmark."""
    bench = subparsers.add_parser("policy", help="keyframe policy latency per stage", description=__doc__)
    bench.add_argument("--data", type=Path, required=True, help="a dataset written by vla-ros collect")
    bench.add_argument("--observations", type=int, default=20, help="episodes whose first frame is used")
    bench.add_argument("--repeats", type=int, default=100, help="timed predictions")
    bench.add_argument("--warmup", type=int, default=5, help="untimed predictions first")
    bench.add_argument("--device", default="", help="cpu, cuda or cuda:N (default: the config's)")
    bench.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    bench.add_argument("--config", default=CONFIG_FILE, help="policy parameter file")
    bench.add_argument("--out", type=Path, default=Path("results/policy/latency.json"), help="JSON result")
    bench.set_defaults(func=_run)
