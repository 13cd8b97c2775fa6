"""Start the vla_ros graph: ``ros2 launch vla_ros bringup.launch.py [name:=value ...]``.

``ros2 launch vla_ros bringup.launch.py --show-args`` lists the arguments. The nodes, their parameter
files and the arguments are declared once in ``vla_ros.graph``; ``vla-ros bringup`` starts the same
graph without the launch system.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from vla_ros.graph import LAUNCH_ARGUMENTS, NODES, parameter_file_arguments


def generate_launch_description() -> LaunchDescription:
    """The launch arguments and one Node action per node of the graph."""
    actions = [
        DeclareLaunchArgument(argument.name, default_value=argument.default, description=argument.description)
        for argument in LAUNCH_ARGUMENTS
    ]
    for node in NODES:
        actions.append(
            Node(
                package="vla_ros",
                executable=node.executable,
                name=node.name,
                namespace=LaunchConfiguration("namespace"),
                parameters=[
                    *(LaunchConfiguration(argument) for argument in parameter_file_arguments(node)),
                    {
                        parameter: LaunchConfiguration(argument)
                        for parameter, argument in node.parameters_from_arguments().items()
                    },
                ],
                arguments=["--ros-args", "--log-level", LaunchConfiguration("log_level")],
                condition=IfCondition(LaunchConfiguration(node.condition)) if node.condition else None,
                output="screen",
                emulate_tty=True,
            )
        )
    return LaunchDescription(actions)
