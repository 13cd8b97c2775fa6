"""``vla-ros record``: record demonstrations from any running graph (the simulator or a real robot).

Runs the demonstration recorder node (:mod:`vla_ros.nodes.demonstration_recorder_node`) in this
process: press Enter to start a demonstration and Enter again to stop it (one MCAP file each, in
rosbag2's layout), Ctrl-C to finish (an open demonstration is kept). Its services ``~/start`` and
``~/stop`` work at the same time, so a teleop pendant or ``vla-ros demonstrate`` can drive it. With
``--duration S`` it records one demonstration of S seconds and exits. Each stop prints the file, its
size and the messages lost per topic; ``--out``/recordings.json lists them all.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import rclpy
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.parameter import Parameter

from vla_ros.config import ConfigError
from vla_ros.nodes.demonstration_recorder_node import DemonstrationRecorderNode
from vla_ros.ros.mcap_recording import McapRecordingError

SUMMARY_FILE = "recordings.json"


def _overrides(args: argparse.Namespace) -> list[Parameter]:
    values = {"out_dir": str(args.out), "instruction": args.instruction, "task": args.task}
    if args.topics:
        values["topics"] = list(args.topics)
    if args.sim_time:
        values["use_sim_time"] = True
    return [Parameter(name, value=value) for name, value in values.items()]


def _start(node: DemonstrationRecorderNode, executor: Executor) -> str:
    """Start a demonstration from outside the executor's thread, which must then see its new
    subscriptions and timer (it would otherwise sleep on the entities it had)."""
    path = node.start()
    executor.wake()
    return path


def _toggle(node: DemonstrationRecorderNode, executor: Executor) -> None:
    try:
        if node.recording:
            summary = node.stop()
            print(f"saved {summary['file']}: {summary['bytes'] / 1e6:.1f} MB, lost {summary['dropped']}")
        else:
            print(f"recording {_start(node, executor)} (Enter stops it)")
    except McapRecordingError as error:
        print(f"record: {error}", file=sys.stderr)


def _keyboard(node: DemonstrationRecorderNode, executor: Executor, stop: threading.Event) -> None:
    for _ in sys.stdin:
        if stop.is_set():
            return
        _toggle(node, executor)


def run(args: argparse.Namespace) -> int:
    rclpy.init()
    try:
        node = DemonstrationRecorderNode(parameter_overrides=_overrides(args))
    except (ConfigError, McapRecordingError) as error:
        print(f"vla-ros record: cannot start: {error}", file=sys.stderr)
        rclpy.try_shutdown()
        return 1
    executor = SingleThreadedExecutor()  # short callbacks; the least overhead per message
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    done = threading.Event()
    try:
        if args.duration is not None:
            time.sleep(args.wait)  # discovery: the recorder subscribes as publishers appear
            print(f"recording {_start(node, executor)} for {args.duration} s")
            time.sleep(args.duration)
        else:
            print("Enter: start / stop a demonstration; Ctrl-C: finish (services ~/start, ~/stop)")
            threading.Thread(target=_keyboard, args=(node, executor, done), daemon=True).start()
            while True:
                time.sleep(0.2)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        done.set()
        if node.recording:
            node.stop()
        executor.shutdown()
        spinner.join(timeout=5.0)  # the executor's thread ends before the node and the context go
        node.destroy_node()
        rclpy.try_shutdown()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / SUMMARY_FILE).write_text(json.dumps(node.summaries, indent=2) + "\n")
    for summary in node.summaries:
        print(f"{summary['file']}: {summary['bytes'] / 1e6:.1f} MB, lost {summary['dropped']}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``record`` subcommand."""
    parser = subparsers.add_parser("record", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="directory of the MCAP files")
    parser.add_argument("--instruction", default="", help="instruction written into each file")
    parser.add_argument("--task", default="", help="task label written into each file")
    parser.add_argument("--topics", nargs="+", help="topics (default: config/demonstration_recorder.yaml)")
    parser.add_argument("--sim-time", action="store_true", help="use the graph's /clock (simulation)")
    parser.add_argument("--duration", type=float, help="record one demonstration of this many seconds")
    parser.add_argument("--wait", type=float, default=1.0, help="with --duration: discovery time first (s)")
    parser.set_defaults(func=run)
