"""Node parameters from the package's YAML files: declared on the node, overridable, returned nested.

Every key of the node's section in ``config/<file>`` is declared on the node with the file's value as
its default, so ``ros2 param list`` shows it, and a launch file's parameter file or
``--ros-args -p name:=value`` overrides it. Types are checked by the core's settings classes (which
give clear messages), not by rclpy, so parameters are declared with dynamic typing.
"""

from __future__ import annotations

import array
from typing import Any

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node

from vla_ros.config import flatten, load_parameters, unflatten


def declare_parameters_from_config(node: Node, file_name: str) -> dict[str, Any]:
    """Declare the parameters of ``node``'s section in ``file_name``; return their values, nested."""
    defaults = flatten(load_parameters(file_name, node.get_name()))
    values: dict[str, Any] = {}
    for name, default in defaults.items():
        if name == "use_sim_time":
            continue  # declared by rclpy itself
        descriptor = ParameterDescriptor(description=f"see config/{file_name}", dynamic_typing=True)
        value = node.declare_parameter(name, default, descriptor).value
        # rclpy gives numeric arrays from parameter files as array.array; the core expects lists.
        values[name] = list(value) if isinstance(value, array.array) else value
    return unflatten(values)
