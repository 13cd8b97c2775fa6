"""The ``vla-ros`` command line: everything a user runs besides the ROS nodes.

Each subcommand lives in its own module, which defines ``register(subparsers)`` to add its parser
and set ``func`` (called with the parsed arguments, returning an exit code). To add a subcommand,
add it to :data:`COMMANDS` (its module and one-line summary). A command imports only its own module
(``vla-ros bringup`` does not load torch or transformers); ``vla-ros --help`` imports none.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from vla_ros import __version__


class Command(NamedTuple):
    """A subcommand: the module that registers its parser (imported only to run it) and the summary
    ``vla-ros --help`` lists."""

    module: str
    summary: str


COMMANDS: dict[str, Command] = {
    "demo": Command("vla_ros.app.demo", "run three instructions through the graph in the simulated workcell"),
    "doctor": Command(
        "vla_ros.tools.doctor",
        "check the installation: Python libraries, ROS, built interfaces, adapters, GPU",
    ),
    "bringup": Command(
        "vla_ros.app.bringup", "start the node graph of bringup.launch.py without the launch system"
    ),
    "eval": Command(
        "vla_ros.app.graph_eval", "closed-loop task success through the ROS graph in the simulated workcell"
    ),
    "faults": Command(
        "vla_ros.app.faults",
        "fault injection through the running graph: e-stop, bad inputs, dead nodes; a pass/fail table",
    ),
    "bench": Command(
        "vla_ros.tools.bench", "benchmarks of the simulator, planner, controller and policy (JSON results)"
    ),
    "topic-stats": Command(
        "vla_ros.tools.topic_stats", "measure rate, jitter and latency of topics on the running graph"
    ),
    "plan": Command("vla_ros.planning.plan", "run the configured planner on an image file"),
    "train-planner": Command(
        "vla_ros.training.planner.train", "train the small planner VLM on recorded episodes"
    ),
    "planner-eval": Command(
        "vla_ros.training.planner.evaluation", "evaluate a planner model on recorded episodes"
    ),
    "record": Command(
        "vla_ros.app.record", "record demonstrations from a running graph or robot (one MCAP file each)"
    ),
    "demonstrate": Command(
        "vla_ros.app.demonstrate", "record scripted demonstrations through the graph's command topics"
    ),
    "replay": Command(
        "vla_ros.app.replay", "the policy node on recorded demonstrations: its keyframes against theirs"
    ),
    "dataset": Command(
        "vla_ros.training.datasets",
        "training data from recordings (from-mcap), LeRobot v3.0 datasets (to-lerobot, from-lerobot)",
    ),
    "collect": Command("vla_ros.sim.collect", "record expert demonstrations in the simulated workcell"),
    "expert-eval": Command("vla_ros.sim.expert_eval", "measure the scripted expert's success per task"),
    "export-vlm": Command("vla_ros.sim.export_vlm", "export HAMSTER-style VLM fine-tuning data"),
    "train-policy": Command(
        "vla_ros.training.policy.train", "train the keyframe policy on recorded demonstrations"
    ),
    "policy-paths": Command(
        "vla_ros.training.policy.planner_paths", "the trained planner's paths for a dataset (policy training)"
    ),
    "policy-validate": Command(
        "vla_ros.training.policy.validation",
        "a policy checkpoint's keyframe errors on recorded demonstrations (translation, rotation, flags)",
    ),
    "policy-eval": Command(
        "vla_ros.training.policy.evaluation",
        "closed-loop success of the keyframe policy with oracle or planned paths (no ROS graph)",
    ),
    "reference": Command(
        "vla_ros.tools.reference",
        "write the Markdown reference of nodes, parameters, topics (starts the graph)",
    ),
}


def build_parser(commands: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """The top-level parser: with ``commands``, their modules register their full parsers; without, every
    command is listed by its summary and nothing is imported (``vla-ros --help``)."""
    parser = argparse.ArgumentParser(
        prog="vla-ros",
        description="vla_ros: run, train and evaluate a hierarchical VLA (HAMSTER-style planner, "
        "RVT-style policy, chunked control) on a ROS 2 robot or the simulated workcell.",
    )
    parser.add_argument("--version", action="version", version=f"vla-ros {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    if commands is None:
        for name, command in COMMANDS.items():
            subparsers.add_parser(name, help=command.summary)
    for name in commands or ():
        importlib.import_module(COMMANDS[name].module).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = next((argument for argument in arguments if not argument.startswith("-")), None)
    parser = build_parser([command] if command in COMMANDS else None)
    args = parser.parse_args(arguments)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
