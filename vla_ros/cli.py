"""The ``vla-ros`` command line: everything a user runs besides the ROS nodes.

Each subcommand lives in its own module, which defines ``register(subparsers)`` to add its parser
and set ``func`` (called with the parsed arguments, returning an exit code). To add a subcommand,
add its name and module to :data:`COMMANDS`. A command imports only its own module (``vla-ros bringup``
does not load torch or transformers); ``vla-ros --help`` imports them all to list them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterable, Sequence

from vla_ros import __version__

# command -> the module that registers it
COMMANDS: dict[str, str] = {
    "demo": "vla_ros.app.demo",
    "doctor": "vla_ros.tools.doctor",
    "bringup": "vla_ros.app.bringup",
    "eval": "vla_ros.app.graph_eval",
    "faults": "vla_ros.app.faults",
    "bench": "vla_ros.tools.bench",
    "topic-stats": "vla_ros.tools.topic_stats",
    "plan": "vla_ros.planning.plan",
    "train-planner": "vla_ros.training.planner.train",
    "planner-eval": "vla_ros.training.planner.evaluation",
    "collect": "vla_ros.sim.collect",
    "expert-eval": "vla_ros.sim.expert_eval",
    "export-vlm": "vla_ros.sim.export_vlm",
    "train-policy": "vla_ros.training.policy.train",
    "policy-eval": "vla_ros.training.policy.evaluation",
    "reference": "vla_ros.tools.reference",
}


def build_parser(commands: Iterable[str] = COMMANDS) -> argparse.ArgumentParser:
    """Build the top-level parser with the subcommands ``commands`` (default: all)."""
    parser = argparse.ArgumentParser(
        prog="vla-ros",
        description="vla_ros: run, train and evaluate a hierarchical VLA (HAMSTER-style planner, "
        "RVT-style policy, chunked control) on a ROS 2 robot or the simulated workcell.",
    )
    parser.add_argument("--version", action="version", version=f"vla-ros {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in commands:
        importlib.import_module(COMMANDS[command]).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = next((argument for argument in arguments if not argument.startswith("-")), None)
    parser = build_parser([command] if command in COMMANDS else COMMANDS)
    args = parser.parse_args(arguments)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
