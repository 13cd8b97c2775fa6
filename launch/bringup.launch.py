"""Start the vla_ros graph: ``ros2 launch vla_ros bringup.launch.py [name:=value ...]``.

``ros2 launch vla_ros bringup.launch.py --show-args`` lists the arguments. The nodes, their parameter
files, the arguments and how they reach the nodes are declared once in ``vla_ros.app.graph``;
``vla-ros bringup`` starts the same graph without the launch system.

The graph's nodes are built when the arguments are known (OpaqueFunction), so that an empty argument
adds no parameter override (the node keeps its parameter file's value) and bad values fail before any
node starts. robot_state_publisher publishes the robot's URDF (meshes as file:// URIs, see
vla_ros.robot.description) and its links' TF from /joint_states, for RViz.
"""

from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, TextSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from vla_ros.app.graph import (
    LAUNCH_ARGUMENTS,
    NODES,
    ROBOT_STATE_PUBLISHER,
    is_enabled,
    node_namespace,
    parameter_file_arguments,
    parameter_overrides,
    resolve_arguments,
    robot_state_publisher_parameters,
    rviz_config_path,
    topic_remappings,
)


def _values(context: LaunchContext) -> dict[str, str]:
    return resolve_arguments(
        {argument.name: context.launch_configurations[argument.name] for argument in LAUNCH_ARGUMENTS}
    )


def rviz(context: LaunchContext) -> list[Node]:
    """RViz with the shipped configuration (the robot's base frame as its fixed frame), with rviz:=true."""
    values = _values(context)
    return [
        Node(
            package="rviz2",
            executable="rviz2",
            namespace=node_namespace(values),
            arguments=["-d", rviz_config_path(values)],
            parameters=[{"use_sim_time": LaunchConfiguration("use_sim_time")}],
            condition=IfCondition(LaunchConfiguration("rviz")),
            output="screen",
        )
    ]


def graph_nodes(context: LaunchContext) -> list[Node]:
    """One Node action per enabled node of the graph, and robot_state_publisher (unless
    ``robot_state_publisher:=false``), from the resolved launch arguments."""
    values = _values(context)
    package_nodes = [
        Node(
            package="vla_ros",
            executable=node.executable,
            name=node.name,
            namespace=node_namespace(values),
            parameters=[
                *(values[argument] for argument in parameter_file_arguments(node)),
                # As substitutions, the values are read as YAML (true -> bool), as `-p name:=value` is.
                {
                    name: TextSubstitution(text=value)
                    for name, value in parameter_overrides(node, values).items()
                },
            ],
            remappings=topic_remappings(node, values),
            arguments=["--ros-args", "--log-level", values["log_level"]],
            output="screen",
            emulate_tty=True,
        )
        for node in NODES
        if is_enabled(node, values)
    ]
    if values[ROBOT_STATE_PUBLISHER] == "false":
        return package_nodes
    parameters = robot_state_publisher_parameters(values)
    robot_state_publisher = Node(
        package=ROBOT_STATE_PUBLISHER,
        executable=ROBOT_STATE_PUBLISHER,
        name=ROBOT_STATE_PUBLISHER,
        namespace=node_namespace(values),
        parameters=[
            {
                # The URDF as a string: launch_ros would otherwise read it as YAML.
                "robot_description": ParameterValue(parameters["robot_description"], value_type=str),
                "use_sim_time": parameters["use_sim_time"],
            }
        ],
        arguments=["--ros-args", "--log-level", values["log_level"]],
        output="screen",
    )
    return [*package_nodes, robot_state_publisher]


def generate_launch_description() -> LaunchDescription:
    """The launch arguments, the graph's nodes and, with ``rviz:=true``, RViz."""
    return LaunchDescription(
        [
            *(
                DeclareLaunchArgument(
                    argument.name, default_value=argument.default, description=argument.description
                )
                for argument in LAUNCH_ARGUMENTS
            ),
            # First: where rviz2 is missing, rviz:=true fails before any node of the graph starts.
            OpaqueFunction(function=rviz),
            OpaqueFunction(function=graph_nodes),
        ]
    )
