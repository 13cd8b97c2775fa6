"""The node graph that ``launch/bringup.launch.py`` and ``vla-ros bringup`` both start.

One declaration of the graph: its nodes, the launch arguments and how each argument reaches the nodes
(a parameter override, a topic remapping, a condition). The launch file turns it into launch_ros
actions, and ``vla-ros bringup`` (for machines without the launch system) into processes with the same
``--ros-args``. Both read the same YAML parameter files from ``config/``.

An argument left empty changes nothing: the node keeps the value of its parameter file.

Besides the package's own nodes, the graph runs robot_state_publisher (a C++ node of its own ROS package)
with the robot's URDF (:mod:`vla_ros.robot.description`), so that RViz shows the robot from
``/joint_states`` (``robot_state_publisher:=false`` leaves it out); ``vla-ros bringup`` starts it where
it is installed.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from vla_ros.config import ConfigError, config_dir, config_path, load_parameters, unflatten
from vla_ros.robot.description import robot_description
from vla_ros.robot.urdf import (
    DEFAULT_ROBOT,
    DESCRIPTION_TOPIC_PARAMETER,
    ROBOT_FILE_PARAMETER,
    available_robots,
    robot_config_path,
)

RVIZ_CONFIG_FILE = "vla_ros.rviz"
# The camera topics as the nodes name them (realsense2_camera's layout under the namespace "camera",
# as config/sim.yaml and config/planner.yaml configure them); ``camera_namespace:=...`` moves them.
CAMERA_NAMESPACE = "camera"
CAMERA_TOPICS = (
    "color/image_raw",
    "color/camera_info",
    "color/camera_pose",
    "aligned_depth_to_color/image_raw",
    "aligned_depth_to_color/camera_info",
)
# robot_state_publisher's package, executable and node name (the same word), and the launch argument
# that starts it.
ROBOT_STATE_PUBLISHER = "robot_state_publisher"
SPEED_SCALE = "speed_scale"
ROBOT = "robot"  # the launch argument naming the robot file
SIM_SPEED_SCALE = "1.0"  # the simulated arm runs at its full limits
BOOLEAN_ARGUMENTS = ("sim", "use_sim_time", "rviz", ROBOT_STATE_PUBLISHER)


@dataclass(frozen=True)
class LaunchArgument:
    """A launch argument (``name:=value``) with its default and what it does."""

    name: str
    default: str
    description: str


@dataclass(frozen=True)
class GraphNode:
    """A node of the graph: its name (also its section in the config file), executable and config.

    ``condition``: the launch argument the node runs under, when it has the value ``condition_value``
    (``None``: always). Every node reads the robot file of the ``robot`` argument (its ``robot_file``
    parameter) before its own file. ``argument_parameters`` maps node parameters to the launch
    argument whose value they take (on top of ``use_sim_time``, which every node gets), e.g. actuation
    enabled at start only with sim; an empty argument leaves the parameter file's value.
    ``camera_topics``: the camera topics (of :data:`CAMERA_TOPICS`) the node publishes or subscribes,
    remapped by ``camera_namespace``.
    """

    name: str
    executable: str
    config: str
    condition: str | None
    description: str
    condition_value: str = "true"
    argument_parameters: tuple[tuple[str, str], ...] = ()
    camera_topics: tuple[str, ...] = ()

    def parameters_from_arguments(self) -> dict[str, str]:
        """Node parameter -> launch argument, ``use_sim_time`` and ``robot_file`` included."""
        return {"use_sim_time": "use_sim_time", ROBOT_FILE_PARAMETER: ROBOT, **dict(self.argument_parameters)}

    @property
    def config_argument(self) -> str:
        """Name of the launch argument that selects this node's parameter file."""
        return f"{self.name}_config"

    @property
    def runs_when(self) -> str:
        """When the node runs, for people: ``always`` or ``sim:=false``."""
        return "always" if self.condition is None else f"{self.condition}:={self.condition_value}"


NODES: tuple[GraphNode, ...] = (
    GraphNode(
        name="simulator",
        executable="simulator_node",
        config="sim.yaml",
        condition="sim",
        description="the simulated PyBullet workcell (camera, joint states, controllers)",
        camera_topics=CAMERA_TOPICS,
        argument_parameters=(("interface.real_time_factor", "real_time_factor"),),
    ),
    GraphNode(
        name="camera_extrinsics",
        executable="camera_extrinsics_node",
        config="camera_extrinsics.yaml",
        condition="sim",
        condition_value="false",
        description="a real camera's pose in the base frame (hand-eye calibration, or read from TF), "
        "latched on camera/color/camera_pose and as a static transform",
        camera_topics=("color/camera_pose",),
    ),
    GraphNode(
        name="planner",
        executable="planner_node",
        config="planner.yaml",
        condition=None,
        description="the VLM planner: colour image + instruction -> 2D path (Path2D)",
        argument_parameters=(
            ("backend", "planner"),
            ("transformers.model_dir", "planner_model"),
            ("openai.base_url", "planner_url"),
        ),
        camera_topics=("color/image_raw",),
    ),
    GraphNode(
        name="keyframe_policy",
        executable="keyframe_policy_node",
        config="policy.yaml",
        condition=None,
        description="the RVT-style 3D policy: RGB-D + 2D path -> next gripper keyframe (KeyframeTarget)",
        argument_parameters=(("checkpoint", "policy_checkpoint"),),
        camera_topics=(
            "color/image_raw",
            "color/camera_info",
            "color/camera_pose",
            "aligned_depth_to_color/image_raw",
        ),
    ),
    GraphNode(
        name="chunk_executor",
        executable="chunk_executor_node",
        config="control.yaml",
        condition=None,
        description="keyframe targets -> IK and timed joint-space action chunks",
        argument_parameters=((DESCRIPTION_TOPIC_PARAMETER, DESCRIPTION_TOPIC_PARAMETER),),
    ),
    GraphNode(
        name="ensembling_controller",
        executable="ensembling_controller_node",
        config="control.yaml",
        condition=None,
        description="temporal ensembling of chunks at a fixed rate, safety, controller drivers",
        # Actuation is enabled at start in the simulator only; a real robot needs ~/enable.
        argument_parameters=(
            ("safety.enabled_at_start", "sim"),
            ("driver.arm", "controller"),
            ("safety.velocity_scale", SPEED_SCALE),
            ("safety.acceleration_scale", SPEED_SCALE),
            (DESCRIPTION_TOPIC_PARAMETER, DESCRIPTION_TOPIC_PARAMETER),
        ),
    ),
)

LAUNCH_ARGUMENTS: tuple[LaunchArgument, ...] = (
    LaunchArgument(
        "sim",
        "true",
        "run the simulated workcell (false: a real robot and camera drivers, and the camera_extrinsics node)",
    ),
    LaunchArgument(
        "planner",
        "",
        "planner backend: oracle (the simulator's path), transformers (a local model directory), "
        "openai (a chat-completions server) or file; empty: backend of the planner's parameter file",
    ),
    LaunchArgument(
        "planner_model",
        "",
        "model directory of the transformers backend; empty: the parameter file's (empty there: the robot's)",
    ),
    LaunchArgument(
        "planner_url",
        "",
        "server URL of the openai backend (vLLM, SGLang, HAMSTER's server); empty: from the parameter file",
    ),
    LaunchArgument(
        "policy_checkpoint",
        "",
        "checkpoint of the keyframe policy; empty: its parameter file's (empty there: the robot's)",
    ),
    LaunchArgument(
        "controller",
        "",
        "arm command driver: joint_trajectory, forward_position, servo_pose or servo_twist; "
        "empty: driver.arm of the controller's parameter file",
    ),
    LaunchArgument(
        "camera_namespace",
        "",
        f"namespace of the camera topics ({CAMERA_NAMESPACE}/color/image_raw, ...), e.g. camera/camera for "
        f"realsense2_camera's default; empty: {CAMERA_NAMESPACE}",
    ),
    LaunchArgument(
        SPEED_SCALE,
        "",
        "the controller's velocity and acceleration limits as a fraction of the robot's (0..1]; empty: "
        f"{SIM_SPEED_SCALE} with sim:=true, else the conservative safety scales of its parameter file",
    ),
    LaunchArgument("rviz", "false", f"start RViz with config/{RVIZ_CONFIG_FILE}"),
    LaunchArgument(
        ROBOT_STATE_PUBLISHER,
        "true",
        "start robot_state_publisher with the robot's URDF (RViz's robot model and its links' TF); "
        "false where your robot's bringup already runs one",
    ),
    LaunchArgument(
        DESCRIPTION_TOPIC_PARAMETER,
        "",
        "topic the executor and the controller read the URDF from at start-up (latched std_msgs/String, "
        "e.g. /robot_description of your bringup's robot_state_publisher); empty: the robot file's urdf_path",
    ),
    LaunchArgument("use_sim_time", "false", "every node follows /clock (true for lock-step evaluation)"),
    LaunchArgument(
        "real_time_factor",
        "",
        "simulated seconds per wall second (with use_sim_time:=true, below 1 where the machine cannot keep "
        "the whole graph at real time); empty: interface.real_time_factor of the simulator's parameter file",
    ),
    LaunchArgument("namespace", "", "namespace of every node of the graph"),
    LaunchArgument("log_level", "info", "log level of every node (debug, info, warn, error)"),
    LaunchArgument(
        ROBOT,
        DEFAULT_ROBOT,
        f"the robot: a name of config/robots/ ({', '.join(available_robots())}) or the path of a robot file; "
        "every node reads its URDF, joints, TCP and gripper from it",
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
    """Every launch argument's value: the defaults, replaced by ``overrides``; unknown names raise.

    Boolean arguments are checked and normalised to ``true`` / ``false``.
    """
    values = {argument.name: argument.default for argument in LAUNCH_ARGUMENTS}
    unknown = sorted(set(overrides) - set(values))
    if "robot_config" in unknown:
        raise GraphArgumentError("robot_config:= is now robot:=<name of config/robots/ or a robot file>")
    if unknown:
        raise GraphArgumentError(f"unknown launch arguments {unknown}; the graph takes {sorted(values)}")
    values.update(overrides)
    for name in BOOLEAN_ARGUMENTS:
        if values[name].lower() not in ("true", "false"):
            raise GraphArgumentError(f"{name} must be true or false, got {values[name]!r}")
        values[name] = values[name].lower()
    if values[SPEED_SCALE] == "" and values["sim"] == "true":
        values[SPEED_SCALE] = SIM_SPEED_SCALE
    try:
        values[ROBOT] = str(robot_config_path(values[ROBOT]))
    except ConfigError as error:
        raise GraphArgumentError(f"robot: {error}") from error
    return values


def is_enabled(node: GraphNode, values: dict[str, str]) -> bool:
    """Whether ``node`` runs under these argument values (its condition argument has its value)."""
    return node.condition is None or values[node.condition] == node.condition_value


def parameter_file_arguments(node: GraphNode) -> list[str]:
    """The launch arguments naming ``node``'s parameter files, in the order they apply."""
    return [node.config_argument]


def parameter_files(node: GraphNode, values: dict[str, str]) -> list[str]:
    """The parameter files ``node`` reads, in the order they apply: the robot file (which the node
    loads itself, from its ``robot_file`` parameter), then its own files."""
    return [values[ROBOT]] + [values[argument] for argument in parameter_file_arguments(node)]


def parameter_overrides(node: GraphNode, values: dict[str, str]) -> dict[str, str]:
    """Node parameter -> value from the launch arguments; empty arguments are left out."""
    return {
        parameter: values[argument]
        for parameter, argument in node.parameters_from_arguments().items()
        if values[argument] != ""
    }


def topic_remappings(node: GraphNode, values: dict[str, str]) -> list[tuple[str, str]]:
    """``(from, to)`` topic remappings of ``node``: its camera topics moved to ``camera_namespace``."""
    namespace = values["camera_namespace"].rstrip("/")
    if not namespace or namespace == CAMERA_NAMESPACE:
        return []
    return [(f"{CAMERA_NAMESPACE}/{topic}", f"{namespace}/{topic}") for topic in node.camera_topics]


def node_namespace(values: dict[str, str]) -> str:
    """The graph's namespace as an absolute name (``""`` for the root namespace)."""
    namespace = values["namespace"].strip("/")
    return f"/{namespace}" if namespace else ""


def rviz_config_path(values: dict[str, str] | None = None) -> str:
    """The RViz configuration shipped in ``config/``; for a ``robot`` whose base frame is not its fixed
    frame (the default robot's), a copy in the temporary directory with the robot's base frame."""
    shipped = config_dir() / RVIZ_CONFIG_FILE
    if values is None:
        return str(shipped)
    text = shipped.read_text()
    fixed = yaml.safe_load(text)["Visualization Manager"]["Global Options"]["Fixed Frame"]
    base = load_parameters(values[ROBOT], "rviz")["robot"]["base_frame"]
    if base == fixed:
        return str(shipped)
    path = Path(tempfile.gettempdir()) / f"vla_ros_{base}.rviz"
    path.write_text(text.replace(f"Fixed Frame: {fixed}", f"Fixed Frame: {base}", 1))
    return str(path)


def write_parameter_overrides(node: GraphNode, values: dict[str, str], directory: Path) -> Path:
    """Write ``node``'s parameters from launch arguments as a parameter file; returns its path.

    A file rather than ``-p name:=value``: rcl files ``-p`` values under ``/**``, which the node's own
    ``/**/<node>`` section of its parameter file overrides. Values are read as YAML, as ``-p`` and launch do.
    """
    overrides = unflatten(
        {name: yaml.safe_load(value) for name, value in parameter_overrides(node, values).items()}
    )
    path = directory / f"{node.name}_arguments.yaml"
    path.write_text(yaml.safe_dump({f"/**/{node.name}": {"ros__parameters": overrides}}))
    return path


def node_command(node: GraphNode, values: dict[str, str], parameter_dir: Path) -> list[str]:
    """The command line that starts ``node`` as the launch file would, without the launch system.

    The parameters from launch arguments go to a file in ``parameter_dir``, applied last.
    """
    ros_args = ["--ros-args", "-r", f"__node:={node.name}"]
    for argument in parameter_file_arguments(node):
        ros_args += ["--params-file", values[argument]]
    ros_args += ["--params-file", str(write_parameter_overrides(node, values, parameter_dir))]
    if node_namespace(values):
        ros_args += ["-r", f"__ns:={node_namespace(values)}"]
    for source, target in topic_remappings(node, values):
        ros_args += ["-r", f"{source}:={target}"]
    ros_args += ["--log-level", values["log_level"]]
    return [sys.executable, "-m", f"vla_ros.nodes.{node.executable}", *ros_args]


def rviz_command(values: dict[str, str]) -> list[str]:
    """``rviz2`` with the shipped configuration, in the graph's namespace (its topic names are relative)."""
    command = ["rviz2", "-d", rviz_config_path(values), "--ros-args"]
    if node_namespace(values):
        command += ["-r", f"__ns:={node_namespace(values)}"]
    return [*command, "-p", f"use_sim_time:={values['use_sim_time']}"]


def robot_state_publisher_parameters(values: dict[str, str]) -> dict[str, str | bool]:
    """robot_state_publisher's parameters: the URDF of the ``robot`` file for RViz, and ``use_sim_time``."""
    robot = load_parameters(values[ROBOT], ROBOT_STATE_PUBLISHER)["robot"]
    return {
        "robot_description": robot_description(robot["urdf_path"], robot["xacro_arguments"]),
        "use_sim_time": values["use_sim_time"] == "true",
    }


def robot_state_publisher_executable() -> str | None:
    """robot_state_publisher's executable from the ament index, or None where it is not installed."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_prefix
    except ImportError:
        return None
    try:
        prefix = get_package_prefix(ROBOT_STATE_PUBLISHER)
    except PackageNotFoundError:
        return None
    executable = Path(prefix) / "lib" / ROBOT_STATE_PUBLISHER / ROBOT_STATE_PUBLISHER
    return str(executable) if os.access(executable, os.X_OK) else None


def robot_state_publisher_command(executable: str, values: dict[str, str], parameter_dir: Path) -> list[str]:
    """The command line that starts robot_state_publisher as the launch file does; its parameters go to a
    file in ``parameter_dir``."""
    path = parameter_dir / f"{ROBOT_STATE_PUBLISHER}_parameters.yaml"
    path.write_text(
        yaml.safe_dump(
            {f"/**/{ROBOT_STATE_PUBLISHER}": {"ros__parameters": robot_state_publisher_parameters(values)}}
        )
    )
    command = [executable, "--ros-args", "-r", f"__node:={ROBOT_STATE_PUBLISHER}", "--params-file", str(path)]
    if node_namespace(values):
        command += ["-r", f"__ns:={node_namespace(values)}"]
    return [*command, "--log-level", values["log_level"]]
