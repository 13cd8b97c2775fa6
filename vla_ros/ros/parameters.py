"""Node parameters from the package's YAML files: declared on the node, overridable, returned nested.

Every key of the node's section in ``config/<file>`` is declared on the node with the file's value as
its default, so ``ros2 param list`` shows it, and a launch file's parameter file or
``--ros-args -p name:=value`` overrides it. Types are checked by the core's settings classes (which
give clear messages), not by rclpy, so parameters are declared with dynamic typing.
"""

from __future__ import annotations

import array
from collections.abc import Sequence
from typing import Any

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node

from vla_ros.config import flatten, load_parameters, unflatten


def declare_parameters_from_config(node: Node, file_names: str | Sequence[str]) -> dict[str, Any]:
    """Declare the parameters of ``node``'s sections in the file(s); return their values, nested.

    Several files apply in order, as several ``--params-file`` do (e.g. config/robot.yaml, then the
    node's own file).
    """
    files = [file_names] if isinstance(file_names, str) else list(file_names)
    defaults = flatten(load_parameters(files, node.get_name()))
    values: dict[str, Any] = {}
    for name, default in defaults.items():
        if name == "use_sim_time":
            continue  # declared by rclpy itself
        descriptor = ParameterDescriptor(description=f"see config/ {' + '.join(files)}", dynamic_typing=True)
        value = node.declare_parameter(name, default, descriptor).value
        # rclpy gives numeric arrays from parameter files as array.array; the core expects lists.
        values[name] = list(value) if isinstance(value, array.array) else value
    return unflatten(values)
