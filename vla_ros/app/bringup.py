"""``vla-ros bringup``: start the graph of ``launch/bringup.launch.py`` without the launch system.

Takes the same ``name:=value`` arguments, starts every enabled node of :mod:`vla_ros.app.graph` as a process
with the same ``--ros-args``, prefixes their output with the node name, and stops them all (SIGINT,
then SIGKILL after a grace period) on Ctrl-C, after ``--duration`` seconds, or as soon as one node
exits: a graph with a dead node is not left running half-way. robot_state_publisher (the robot in RViz)
runs where it is installed; where it is not, the graph runs without it and says so. With ``rviz:=true``
it also starts ``rviz2`` when it is on PATH (closing RViz leaves the graph running), and says so when it
is not.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from vla_ros.app.graph import (
    LAUNCH_ARGUMENTS,
    NODES,
    ROBOT_STATE_PUBLISHER,
    GraphArgumentError,
    is_enabled,
    node_command,
    resolve_arguments,
    robot_state_publisher_command,
    robot_state_publisher_executable,
    rviz_command,
)
from vla_ros.config import ConfigError
from vla_ros.robot.description import RobotDescriptionError

STOP_GRACE_S = 10.0


def parse_overrides(items: list[str]) -> dict[str, str]:
    """``["sim:=false", ...]`` -> ``{"sim": "false"}``; raises GraphArgumentError on other forms."""
    overrides = {}
    for item in items:
        name, separator, value = item.partition(":=")
        if not separator or not name:
            raise GraphArgumentError(f"expected name:=value, got {item!r}")
        overrides[name] = value
    return overrides


def _start_relayed(name: str, command: list[str]) -> subprocess.Popen:
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    threading.Thread(target=_relay, args=(name, process.stdout), daemon=True).start()
    return process


def _relay(name: str, stream) -> None:
    for line in stream:
        sys.stdout.write(f"[{name}] {line}")
        sys.stdout.flush()


def stop(processes: dict[str, subprocess.Popen]) -> None:
    """SIGINT every running process, then SIGKILL what is left after the grace period."""
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + STOP_GRACE_S
    for process in processes.values():
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_graph(
    values: dict[str, str], log_dir: Path | None = None, parameter_dir: Path | None = None
) -> dict[str, subprocess.Popen]:
    """Start every enabled node, and robot_state_publisher (unless ``robot_state_publisher:=false``) where
    it is installed; their output goes to ``log_dir/<node>.log``, else to stdout, prefixed.

    The parameter files written from the launch arguments go to ``parameter_dir``, else to ``log_dir``,
    else to a new temporary directory (left behind, as launch_ros leaves its parameter files).
    """
    parameter_dir = parameter_dir or log_dir or Path(tempfile.mkdtemp(prefix="vla_ros_bringup_"))
    commands = {
        node.name: node_command(node, values, parameter_dir) for node in NODES if is_enabled(node, values)
    }
    executable = robot_state_publisher_executable() if values[ROBOT_STATE_PUBLISHER] == "true" else None
    if executable is not None:
        commands[ROBOT_STATE_PUBLISHER] = robot_state_publisher_command(executable, values, parameter_dir)
    processes: dict[str, subprocess.Popen] = {}
    for name, command in commands.items():
        if log_dir is not None:
            with (log_dir / f"{name}.log").open("w") as log:
                processes[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            continue
        processes[name] = _start_relayed(name, command)
    return processes


def start_rviz(values: dict[str, str]) -> subprocess.Popen | None:
    """Start RViz when ``rviz:=true`` and rviz2 is on PATH; otherwise say why not and return None."""
    if values["rviz"] != "true":
        return None
    if shutil.which("rviz2") is None:
        print(
            "[bringup] rviz:=true but rviz2 is not on PATH (install RViz 2 or source a ROS 2 installation); "
            "the graph runs without it",
            flush=True,
        )
        return None
    return _start_relayed("rviz2", rviz_command(values))


def run_graph(values: dict[str, str], duration: float | None) -> int:
    """Start the graph and supervise it; returns 0 when it was stopped with every node alive."""
    with tempfile.TemporaryDirectory(prefix="vla_ros_bringup_") as parameter_dir:
        return _supervise(values, start_graph(values, parameter_dir=Path(parameter_dir)), duration)


def _supervise(values: dict[str, str], processes: dict[str, subprocess.Popen], duration: float | None) -> int:
    print(f"[bringup] started {', '.join(processes) or 'no nodes'}", flush=True)
    if values[ROBOT_STATE_PUBLISHER] == "true" and ROBOT_STATE_PUBLISHER not in processes:
        print(
            f"[bringup] {ROBOT_STATE_PUBLISHER} is not installed (ROS package {ROBOT_STATE_PUBLISHER}): "
            "RViz will show no robot links; the graph runs without it",
            flush=True,
        )
    rviz = start_rviz(values)
    deadline = None if duration is None else time.monotonic() + duration
    failed: list[str] = []
    try:
        while not failed and (deadline is None or time.monotonic() < deadline):
            failed = [name for name, process in processes.items() if process.poll() is not None]
            time.sleep(0.1)
    except KeyboardInterrupt:
        pass
    stop(processes if rviz is None else {**processes, "rviz2": rviz})
    for name in failed:
        print(f"[bringup] node {name} exited with code {processes[name].returncode}", file=sys.stderr)
    return 1 if failed else 0


def run(args: argparse.Namespace) -> int:
    """Entry point of the subcommand."""
    if args.show_args:
        for argument in LAUNCH_ARGUMENTS:
            print(f"'{argument.name}':\n    {argument.description}\n    (default: '{argument.default}')")
        return 0
    try:
        values = resolve_arguments(parse_overrides(args.arguments))
    except GraphArgumentError as error:
        print(f"vla-ros bringup: {error}", file=sys.stderr)
        return 2
    try:
        return run_graph(values, args.duration)
    except (ConfigError, RobotDescriptionError) as error:  # raised before any node starts
        print(f"vla-ros bringup: {error}", file=sys.stderr)
        return 2


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``bringup`` subcommand."""
    parser = subparsers.add_parser(
        "bringup",
        description="Start the same nodes, parameter files and arguments as "
        "`ros2 launch vla_ros bringup.launch.py`, for machines without the ROS launch system. "
        "Arguments use the launch syntax: vla-ros bringup sim:=true use_sim_time:=false",
    )
    parser.add_argument("arguments", nargs="*", metavar="name:=value", help="launch arguments")
    parser.add_argument("--show-args", action="store_true", help="list the launch arguments and exit")
    parser.add_argument("--duration", type=float, help="stop the graph after this many seconds")
    parser.set_defaults(func=run)
