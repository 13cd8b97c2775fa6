"""The package's layers, read from its imports (every import statement, also those inside functions):
which layer may import which, no ROS or simulator in the cores, no import cycles.
See docs/architecture.md."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "vla_ros"
CORES = ("robot", "data", "control", "planning", "policy", "episode", "hardware")
ROS_LAYERS = ("ros", "nodes", "msg", "srv", "action")
ROS_PACKAGES = ("rclpy", "rosidl", "launch", "tf2_ros", "cv_bridge", "rosbag2", "ament_index_python")
# layer -> the vla_ros layers it must not import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    **{core: ("sim", *ROS_LAYERS, "app", "tools", "training", "cli") for core in CORES},
    "config": (*CORES, "sim", *ROS_LAYERS, "app", "tools", "training", "cli", "reports"),
    "reports": (*CORES, "sim", *ROS_LAYERS, "app", "tools", "training", "cli", "config"),
    "sim": (*ROS_LAYERS, "app", "tools", "training", "cli"),
    "training": (*ROS_LAYERS, "app", "tools", "cli"),
    "ros": ("nodes", "sim", "app", "tools", "training", "cli"),
    "nodes": ("app", "tools", "training", "cli"),
    "app": ("tools", "training", "cli"),
    "tools": ("cli",),
}
# layers that must run without ROS (no rclpy, no message packages)
ROS_FREE = (*CORES, "config", "reports", "sim", "training")


def module_name(path: Path) -> str:
    parts = ["vla_ros", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    """``vla_ros.control.safety`` -> ``control``; ``vla_ros.config`` -> ``config``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imported_modules(path: Path) -> Iterator[str]:
    """Every module an import statement of ``path`` names (``from a import b`` names ``a`` and ``a.b``)."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def is_ros_package(name: str) -> bool:
    top = name.split(".")[0]
    return top.startswith(ROS_PACKAGES) or top.endswith(("_msgs", "_srvs", "_interfaces"))


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
IMPORTS = {
    module: sorted({name for name in imported_modules(path) if name.split(".")[0] != "__future__"})
    for module, path in MODULES.items()
}
INTERNAL = {
    module: sorted({name for name in names if name in MODULES and name != module})
    for module, names in IMPORTS.items()
}


def test_the_import_reader_sees_the_package():
    assert {"app", "tools", "robot", "data", "training", "control", "nodes", "sim"} <= {
        layer(m) for m in MODULES
    }
    assert "vla_ros.control.safety" in INTERNAL["vla_ros.control.controller"]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_imports_only_the_layers_it_may(module):
    forbidden = FORBIDDEN.get(layer(module), ())
    ours = [name for name in IMPORTS[module] if name.startswith("vla_ros.")]  # generated msg/srv too
    wrong = sorted({name for name in ours if layer(name) in forbidden})
    assert not wrong, f"{module} ({layer(module)}) must not import {wrong}: see docs/architecture.md"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer(m) in ROS_FREE))
def test_cores_simulator_and_training_need_no_ros(module):
    ros = [name for name in IMPORTS[module] if is_ros_package(name)]
    assert not ros, f"{module} must run without ROS but imports {ros}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer(m) != "sim"))
def test_only_the_simulator_imports_pybullet(module):
    assert not [name for name in IMPORTS[module] if name.split(".")[0] == "pybullet"]


def test_no_import_cycles():
    """Between modules; a package's ``__init__`` counts as the modules it imports."""
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for name in INTERNAL[module]:
            if state.get(name) == 1:
                cycles.append([*path[path.index(name) :], name])
            elif name not in state:
                visit(name, [*path, name])
        state[module] = 2

    for module in MODULES:
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(cycle) for cycle in cycles)
