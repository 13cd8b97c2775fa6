"""Node parameters from the package's YAML files: declared on the node, overridable, returned nested.

Every key of the node's section in ``config/<file>`` is declared on the node with the file's value as
its default, so ``ros2 param list`` shows it, and a launch file's parameter file or
``--ros-args -p name:=value`` overrides it. Types are checked by the core's settings classes (which
give clear messages), not by rclpy, so parameters are declared with dynamic typing.

Parameters are read-only once the node runs (``ros2 param set`` refuses them with the reason), except
those a node names as ``runtime``: :func:`apply_runtime_parameters` validates a change of those with the
node's own settings parser and applies it, or refuses it with the parser's message. A parameter is never
"set successfully" and ignored.
"""

from __future__ import annotations

import array
from collections.abc import Callable, Collection, Sequence
from typing import Any

from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter

from vla_ros.config import flatten, load_parameters, unflatten
from vla_ros.robot.urdf import DEFAULT_ROBOT, ROBOT_FILE_PARAMETER, robot_config_path


def _plain(value: Any) -> Any:
    # rclpy gives numeric arrays from parameter files as array.array; the cores expect lists.
    return list(value) if isinstance(value, array.array) else value


def declare_parameters_from_config(
    node: Node, file_names: str | Sequence[str], runtime: Collection[str] = (), section: str = ""
) -> dict[str, Any]:
    """Declare the parameters of the files' sections for ``section`` (default: the node's name); return
    their values, nested.

    Several files apply in order, as several ``--params-file`` do (e.g. the robot file, then the node's
    own file). Every parameter but those named in ``runtime`` (dotted names) is read-only. A node started
    under another name (``__node:=left_executor``, two arms in one graph) passes its kind's name as
    ``section``: its defaults come from its kind's sections, and rcl applies the sections for its own
    name of the files the launch gives it on top.
    """
    files = [file_names] if isinstance(file_names, str) else list(file_names)
    defaults = flatten(load_parameters(files, section or node.get_name()))
    unknown = sorted(set(runtime) - set(defaults))
    if unknown:
        raise ValueError(f"run-time parameters {unknown} are not in {files}")
    values: dict[str, Any] = {}
    for name, default in defaults.items():
        if name == "use_sim_time":
            continue  # declared by rclpy itself
        changeable = name in runtime
        descriptor = ParameterDescriptor(
            description=f"see config/ {' + '.join(files)}"
            + ("" if changeable else " (read-only: set it at start-up)"),
            dynamic_typing=True,
            read_only=not changeable,
        )
        values[name] = _plain(node.declare_parameter(name, default, descriptor).value)
    return unflatten(values)


def declare_robot_parameters_from_config(
    node: Node, file_name: str, runtime: Collection[str] = (), section: str = ""
) -> dict[str, Any]:
    """Declare ``robot_file`` (default: the default robot), then the parameters of that robot file and
    of the node's ``file_name`` as :func:`declare_parameters_from_config` does; return them nested."""
    robot = node.declare_parameter(
        ROBOT_FILE_PARAMETER,
        DEFAULT_ROBOT,
        ParameterDescriptor(
            description="robot file: a name of config/robots/ or a path (read-only: set it at start-up)",
            read_only=True,
        ),
    ).value
    return declare_parameters_from_config(node, (str(robot_config_path(robot)), file_name), runtime, section)


def apply_runtime_parameters(
    node: Node, values: dict[str, Any], apply: Callable[[dict[str, Any]], None]
) -> None:
    """On ``ros2 param set`` of the node's run-time parameters: ``apply`` the whole nested set with the
    change (it raises ValueError, e.g. a ConfigError, to refuse, and the message is the reason given)."""
    current = flatten(values)

    def on_set(parameters: list[Parameter]) -> SetParametersResult:
        changed = {p.name: _plain(p.value) for p in parameters if p.name in current}
        if not changed:
            return SetParametersResult(successful=True)
        proposed = {**current, **changed}
        try:
            apply(unflatten(proposed))
        except ValueError as error:
            return SetParametersResult(successful=False, reason=str(error))
        current.update(changed)
        node.get_logger().info(f"parameters changed at run time: {changed}")
        return SetParametersResult(successful=True)

    node.add_on_set_parameters_callback(on_set)
