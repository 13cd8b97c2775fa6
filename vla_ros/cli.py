"""The ``vla-ros`` command line: everything a user runs besides the ROS nodes.

Each subcommand lives in its own module, which defines ``register(subparsers)`` to add its parser
and set ``func`` (called with the parsed arguments, returning an exit code). To add a subcommand,
add its module to :data:`SUBCOMMAND_MODULES`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from vla_ros import __version__

SUBCOMMAND_MODULES: tuple[str, ...] = (
    "vla_ros.app.demo",
    "vla_ros.tools.doctor",
    "vla_ros.app.bringup",
    "vla_ros.app.graph_eval",
    "vla_ros.app.faults",
    "vla_ros.tools.bench",
    "vla_ros.tools.topic_stats",
    "vla_ros.planning.plan",
    "vla_ros.training.planner.train",
    "vla_ros.training.planner.evaluation",
    "vla_ros.sim.collect",
    "vla_ros.sim.expert_eval",
    "vla_ros.sim.export_vlm",
    "vla_ros.training.policy.train",
    "vla_ros.training.policy.evaluation",
    "vla_ros.tools.reference",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="vla-ros",
        description="vla_ros: run, train and evaluate a hierarchical VLA (HAMSTER-style planner, "
        "RVT-style policy, chunked control) on a ROS 2 robot or the simulated workcell.",
    )
    parser.add_argument("--version", action="version", version=f"vla-ros {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in SUBCOMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
