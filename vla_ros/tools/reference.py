"""``vla-ros reference``: a Markdown reference of the graph, generated so that it cannot drift.

Launch arguments and nodes come from :mod:`vla_ros.app.graph`; parameters, their defaults and their
descriptions from the YAML files in ``config/`` (the comment at the end of a parameter's line, else the
comment lines right above it); topics, services and actions from the running graph (``sim:=true``,
default parameters), asked through rclpy which node publishes, subscribes and serves what.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vla_ros.app.graph import LAUNCH_ARGUMENTS, NODES, GraphNode, parameter_files, resolve_arguments
from vla_ros.config import config_dir, config_path, flatten, load_parameters
from vla_ros.robot.urdf import DEFAULT_ROBOT, ROBOT_FILE_PARAMETER

TOPICS_HEADING = "## Topics, services and actions"
GRAPH_TIMEOUT_S = 60.0
SETTLE_S = 3.0
_KEY = re.compile(r"^(?P<indent> *)(?P<key>[^\s#:][^:#]*?):(?P<rest>.*)$")
_BLOCK_SCALAR = re.compile(r"^\s*[>|][+-]?\s*(#.*)?$")


class ReferenceError(RuntimeError):
    """The reference could not be generated (a node did not come up)."""


@dataclass(frozen=True)
class Parameter:
    """A node parameter: dotted name, default from the parameter files, description from their comments."""

    name: str
    default: Any
    description: str


def parameter_comments(path: Path) -> dict[tuple[str, str], str]:
    """``(section, dotted parameter) -> comment`` of every key in a ROS 2 parameter file.

    The comment is the one at the end of the key's line, else the comment lines right above it.
    """
    comments: dict[tuple[str, str], str] = {}
    stack: list[tuple[int, str]] = []
    above: list[str] = []
    block_indent: int | None = None
    for line in path.read_text().splitlines():
        indent = len(line) - len(line.lstrip(" "))
        if block_indent is not None and (indent > block_indent or not line.strip()):
            continue
        block_indent = None
        if line.strip().startswith("#"):
            above.append(line.strip().lstrip("#").strip())
            continue
        match = _KEY.match(line)
        if not match:
            above = []
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match["key"].strip().strip("'\"")))
        comment = match["rest"].partition(" #")[2]
        if _BLOCK_SCALAR.match(match["rest"]):
            block_indent = indent
        names = [key for _, key in stack]
        if len(names) > 2 and names[1] == "ros__parameters":
            comments[(names[0], ".".join(names[2:]))] = comment.strip() or " ".join(above)
        above = []
    return comments


def node_parameters(node: GraphNode) -> list[Parameter]:
    """The parameters ``node`` gets from its default parameter files, with descriptions."""
    files = parameter_files(node, resolve_arguments({}))
    comments: dict[str, str] = {}
    for file in files:
        for (section, name), comment in parameter_comments(config_path(file)).items():
            if section == "/**" or section.strip("/").rsplit("/", 1)[-1] == node.name:
                comments[name] = comment or comments.get(name, "")
    values = flatten(load_parameters(files, node.name))
    values[ROBOT_FILE_PARAMETER] = DEFAULT_ROBOT
    comments[ROBOT_FILE_PARAMETER] = "the robot file: a name of config/robots/ or a path (launch: robot:=)"
    return [Parameter(name, value, comments.get(name, "")) for name, value in sorted(values.items())]


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _value(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return f"`{text[:57]}...`" if len(text) > 60 else f"`{text}`"


def _default(default: str) -> str:
    config = str(config_dir())
    return f"`{default.replace(config, 'config')}`" if default else '`""`'


def render_static() -> str:
    """The parts that need no running graph: launch arguments, nodes and their parameters."""
    lines = ["## Launch arguments", "", "| argument | default | description |", "|---|---|---|"]
    lines += [f"| `{a.name}` | {_default(a.default)} | {_cell(a.description)} |" for a in LAUNCH_ARGUMENTS]
    lines += [
        "",
        "## Nodes",
        "",
        "| node | executable | runs | parameter files | what it does |",
        "|---|---|---|---|---|",
    ]
    for node in NODES:
        files = ", ".join(
            f"`{_default(file).strip('`')}`" for file in parameter_files(node, resolve_arguments({}))
        )
        runs = f"`{node.runs_when}`" if node.condition else "always"
        lines.append(
            f"| `{node.name}` | `{node.executable}` | {runs} | {files} | {_cell(node.description)} |"
        )
    lines += [
        "",
        "Parameters marked *run time* change with `ros2 param set` (validated: a bad value is refused with",
        "the reason); every other parameter is read-only, and `ros2 param set` refuses it.",
    ]
    for node in NODES:
        runtime = runtime_parameters(node)
        lines += [
            "",
            f"### Parameters of `{node.name}`",
            "",
            "| parameter | default | changes | description |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| `{p.name}` | {_value(p.default)} | {'run time' if p.name in runtime else 'read-only'} "
            f"| {_cell(p.description)} |"
            for p in node_parameters(node)
        ]
    return "\n".join(lines) + "\n"


def runtime_parameters(node: GraphNode) -> frozenset[str]:
    """The parameters ``node`` lets ``ros2 param set`` change (its module's ``RUNTIME_PARAMETERS``)."""
    module = importlib.import_module(f"vla_ros.nodes.{node.executable}")
    return frozenset(getattr(module, "RUNTIME_PARAMETERS", ()))


@dataclass(frozen=True)
class NodeInterfaces:
    """What a running node publishes, subscribes, serves and offers as actions: ``(name, type)`` pairs."""

    publishers: list[tuple[str, str]]
    subscriptions: list[tuple[str, str]]
    services: list[tuple[str, str]]
    actions: list[tuple[str, str]]


def query_graph(timeout_s: float = GRAPH_TIMEOUT_S) -> dict[str, NodeInterfaces]:
    """Start the default graph (``vla-ros bringup``'s nodes), ask rclpy what every node offers, stop it.

    Interfaces every rclpy node has (parameter services, /rosout, /parameter_events) and the hidden
    topics and services of actions are left out.
    """
    import rclpy
    from rclpy.action import get_action_server_names_and_types_by_node

    from vla_ros.app.bringup import start_graph, stop

    values = resolve_arguments({})
    with tempfile.TemporaryDirectory() as log_dir:
        processes = start_graph(values, Path(log_dir))
        context = rclpy.Context()
        rclpy.init(context=context)
        probe = rclpy.create_node("reference_probe", context=context)
        try:
            return _wait_and_query(
                probe, processes, timeout_s, get_action_server_names_and_types_by_node, log_dir
            )
        finally:
            probe.destroy_node()
            rclpy.shutdown(context=context)
            stop(processes)


def _wait_and_query(probe, processes, timeout_s, action_servers, log_dir) -> dict[str, NodeInterfaces]:
    def names(pairs, own: set[str] = frozenset()) -> list[tuple[str, str]]:
        return sorted(
            (name, ", ".join(types))
            for name, types in pairs
            if "/_action/" not in name and name.rsplit("/", 1)[-1] not in own and name not in own
        )

    own_services = {
        name.rsplit("/", 1)[-1]
        for name, _ in probe.get_service_names_and_types_by_node(probe.get_name(), "/")
    }
    own_topics = {name for name, _ in probe.get_publisher_names_and_types_by_node(probe.get_name(), "/")}

    def ready() -> bool:
        """Every node is up and has created its own publishers (some load a model first)."""
        if not set(processes) <= {name for name, _ in probe.get_node_names_and_namespaces()}:
            return False
        return all(
            names(probe.get_publisher_names_and_types_by_node(name, "/"), own_topics) for name in processes
        )

    deadline = time.monotonic() + timeout_s
    while not ready():
        dead = [name for name, process in processes.items() if process.poll() is not None]
        if dead or time.monotonic() > deadline:
            logs = "; ".join(f"{name}: {(Path(log_dir) / f'{name}.log').read_text()[-500:]}" for name in dead)
            raise ReferenceError(f"the graph did not come up (nodes {dead or 'missing'}): {logs}")
        time.sleep(0.2)
    time.sleep(SETTLE_S)  # the rest of each node's constructor
    return {
        name: NodeInterfaces(
            publishers=names(probe.get_publisher_names_and_types_by_node(name, "/"), own_topics),
            subscriptions=names(probe.get_subscriber_names_and_types_by_node(name, "/"), own_topics),
            services=names(probe.get_service_names_and_types_by_node(name, "/"), own_services),
            actions=names(action_servers(probe, name, "/")),
        )
        for name in processes
    }


def render_topics(interfaces: dict[str, NodeInterfaces]) -> str:
    """The running graph's topics, services and actions per node, as Markdown tables."""
    lines = [
        TOPICS_HEADING,
        "",
        "Asked of the running graph (`sim:=true`, default parameters, root namespace); with another",
        "namespace every name but `/clock` moves into it.",
    ]
    for name, found in interfaces.items():
        lines += ["", f"### `{name}`", "", "| kind | name | type |", "|---|---|---|"]
        for kind, pairs in (
            ("publishes", found.publishers),
            ("subscribes", found.subscriptions),
            ("service", found.services),
            ("action server", found.actions),
        ):
            lines += [f"| {kind} | `{topic}` | `{types}` |" for topic, types in pairs]
    return "\n".join(lines) + "\n"


def render(interfaces: dict[str, NodeInterfaces]) -> str:
    """The whole reference page."""
    header = (
        "# vla_ros reference\n\n"
        "Generated by `vla-ros reference --out docs/reference.md` from `vla_ros/app/graph.py`, the\n"
        "parameter files in `config/` and the running graph; do not edit it by hand.\n\n"
    )
    return header + render_static() + "\n" + render_topics(interfaces)


def run(args: argparse.Namespace) -> int:
    """Entry point of the subcommand."""
    try:
        text = render(query_graph(args.timeout))
    except ReferenceError as error:
        print(f"vla-ros reference: {error}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``reference`` subcommand."""
    parser = subparsers.add_parser(
        "reference",
        description="Generate docs/reference.md: launch arguments and nodes from vla_ros.app.graph, "
        "parameters from config/*.yaml, topics, services and actions from the running simulated graph.",
    )
    parser.add_argument("--out", type=Path, default=Path("docs/reference.md"), help="Markdown file to write")
    parser.add_argument(
        "--timeout", type=float, default=GRAPH_TIMEOUT_S, help="seconds for the graph to start"
    )
    parser.set_defaults(func=run)
