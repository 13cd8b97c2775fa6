"""``vla-ros bench TARGET``: the benchmarks, each writing its numbers to a JSON file (``--out``).

Targets: ``sim`` (the workcell's reset, physics, rendering), ``planner`` (parser, drawing, a tiny VLM),
``controller`` (the control loop's tick, ensembling and IK, in-process), ``controller-graph`` (the
controller node on the running graph with the simulator and the executor), ``policy`` (one
keyframe prediction, stage by stage) and ``recorder`` (the demonstration recorder under a camera's
load, and the conversion of its file).
"""

from __future__ import annotations

import argparse
import importlib

BENCH_MODULES: tuple[str, ...] = (
    "vla_ros.tools.sim_bench",
    "vla_ros.tools.planner_bench",
    "vla_ros.tools.control_bench",
    "vla_ros.tools.control_graph_bench",
    "vla_ros.tools.policy_bench",
    "vla_ros.tools.recorder_bench",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``bench`` with one sub-command per benchmark module."""
    parser = subparsers.add_parser(
        "bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    targets = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    for module_name in BENCH_MODULES:
        importlib.import_module(module_name).register(targets)
