"""The node graph that ``launch/bringup.launch.py`` and ``vla-ros bringup`` both start.

One declaration of the graph: the launch file turns it into launch_ros actions, and ``vla-ros bringup``
(for machines without the launch system) into processes with the same ``--ros-args``. Both read the
same YAML parameter files from ``config/``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from vla_ros.config import config_path
from vla_ros.robot import ROBOT_CONFIG_FILE


@dataclass(frozen=True)
class LaunchArgument:
    """A launch argument (``name:=value``) with its default and what it does."""

    name: str
    default: str
    description: str


@dataclass(frozen=True)
class GraphNode:
    """A node of the graph: its name (also its section in the config file), executable and config.

    ``uses_robot``: the node also gets config/robot.yaml (the shared robot description), before its own
    file. ``argument_parameters`` maps node parameters to the launch argument whose value they take
    (on top of ``use_sim_time``, which every node gets), e.g. actuation enabled at start only with sim.
    """

    name: str
    executable: str
    config: str
    condition: str | None
    description: str
    uses_robot: bool = True
    argument_parameters: tuple[tuple[str, str], ...] = ()

    def parameters_from_arguments(self) -> dict[str, str]:
        """Node parameter -> launch argument, ``use_sim_time`` included."""
        return {"use_sim_time": "use_sim_time", **dict(self.argument_parameters)}

    @property
    def config_argument(self) -> str:
        """Name of the launch argument that selects this node's parameter file."""
        return f"{self.name}_config"


NODES: tuple[GraphNode, ...] = (
    GraphNode(
        name="simulator",
        executable="simulator_node",
        config="sim.yaml",
        condition="sim",
        description="the simulated PyBullet workcell (camera, joint states, controllers)",
    ),
    GraphNode(
        name="planner",
        executable="planner_node",
        config="planner.yaml",
        condition=None,
        description="the VLM planner: colour image + instruction -> 2D path (Path2D)",
        uses_robot=False,
    ),
    GraphNode(
        name="chunk_executor",
        executable="chunk_executor_node",
        config="control.yaml",
        condition=None,
        description="keyframe targets -> IK and timed joint-space action chunks",
    ),
    GraphNode(
        name="ensembling_controller",
        executable="ensembling_controller_node",
        config="control.yaml",
        condition=None,
        description="temporal ensembling of chunks at a fixed rate, safety, controller drivers",
        # Actuation is enabled at start in the simulator only; a real robot needs ~/enable.
        argument_parameters=(("safety.enabled_at_start", "sim"),),
    ),
)

LAUNCH_ARGUMENTS: tuple[LaunchArgument, ...] = (
    LaunchArgument("sim", "true", "run the simulated workcell (false: a real robot and camera drivers)"),
    LaunchArgument("use_sim_time", "false", "every node follows /clock (true for lock-step evaluation)"),
    LaunchArgument("namespace", "", "namespace of every node of the graph"),
    LaunchArgument("log_level", "info", "log level of every node (debug, info, warn, error)"),
    LaunchArgument(
        "robot_config", str(config_path(ROBOT_CONFIG_FILE)), "the robot description every node shares"
    ),
    *(
        LaunchArgument(
            node.config_argument, str(config_path(node.config)), f"parameter file of the {node.name} node"
        )
        for node in NODES
    ),
)


class GraphArgumentError(ValueError):
    """A launch argument that the graph does not have, or a value it cannot take."""


def resolve_arguments(overrides: dict[str, str]) -> dict[str, str]:
    """Every launch argument's value: the defaults, replaced by ``overrides``; unknown names raise."""
    values = {argument.name: argument.default for argument in LAUNCH_ARGUMENTS}
    unknown = sorted(set(overrides) - set(values))
    if unknown:
        raise GraphArgumentError(f"unknown launch arguments {unknown}; the graph takes {sorted(values)}")
    values.update(overrides)
    for name in ("sim", "use_sim_time"):
        if values[name].lower() not in ("true", "false"):
            raise GraphArgumentError(f"{name} must be true or false, got {values[name]!r}")
    return values


def is_enabled(node: GraphNode, values: dict[str, str]) -> bool:
    """Whether ``node`` runs under these argument values (its condition argument is true)."""
    return node.condition is None or values[node.condition].lower() == "true"


def parameter_file_arguments(node: GraphNode) -> list[str]:
    """The launch arguments naming ``node``'s parameter files, in the order they apply."""
    return (["robot_config"] if node.uses_robot else []) + [node.config_argument]


def node_command(node: GraphNode, values: dict[str, str]) -> list[str]:
    """The command line that starts ``node`` as the launch file would, without the launch system."""
    ros_args = ["--ros-args", "-r", f"__node:={node.name}"]
    for argument in parameter_file_arguments(node):
        ros_args += ["--params-file", values[argument]]
    if values["namespace"]:
        ros_args += ["-r", f"__ns:=/{values['namespace'].strip('/')}"]
    for parameter, argument in node.parameters_from_arguments().items():
        ros_args += ["-p", f"{parameter}:={values[argument].lower()}"]
    ros_args += ["--log-level", values["log_level"]]
    return [sys.executable, "-m", f"vla_ros.nodes.{node.executable}", *ros_args]
