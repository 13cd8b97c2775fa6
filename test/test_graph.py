"""The node graph shared by launch/bringup.launch.py and `vla-ros bringup`."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from vla_ros import graph
from vla_ros.bringup import parse_overrides

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_FILE = ROOT / "launch" / "bringup.launch.py"


def test_arguments_resolve_with_defaults_and_reject_unknown_names_and_bad_values():
    values = graph.resolve_arguments({"namespace": "robot1"})
    assert values["sim"] == "true" and values["namespace"] == "robot1"
    with pytest.raises(graph.GraphArgumentError, match="unknown launch arguments \\['simm'\\]"):
        graph.resolve_arguments({"simm": "true"})
    with pytest.raises(graph.GraphArgumentError, match="sim must be true or false"):
        graph.resolve_arguments({"sim": "yes"})
    with pytest.raises(graph.GraphArgumentError, match="expected name:=value"):
        parse_overrides(["sim=false"])


def test_node_command_passes_the_parameter_file_namespace_and_sim_time():
    node = graph.NODES[0]
    values = graph.resolve_arguments({"namespace": "/robot1/", "use_sim_time": "True"})
    command = graph.node_command(node, values)
    assert command[:3] == [sys.executable, "-m", f"vla_ros.nodes.{node.executable}"]
    text = " ".join(command)
    assert f"--params-file {values['robot_config']} --params-file {values[node.config_argument]}" in text
    assert "__ns:=/robot1" in text and "use_sim_time:=true" in text and f"__node:={node.name}" in text


def test_actuation_is_enabled_at_start_in_the_simulator_only():
    controller = next(node for node in graph.NODES if node.name == "ensembling_controller")
    for sim in ("true", "false"):
        command = graph.node_command(controller, graph.resolve_arguments({"sim": sim}))
        assert f"safety.enabled_at_start:={sim}" in command


def test_every_graph_node_has_a_node_module_and_a_config_section():
    for node in graph.NODES:
        assert (ROOT / "vla_ros" / "nodes" / f"{node.executable}.py").is_file()
        assert node.condition is None or node.condition in {a.name for a in graph.LAUNCH_ARGUMENTS}
        from vla_ros.config import load_parameters

        files = ["robot.yaml", node.config] if node.uses_robot else [node.config]
        assert load_parameters(files, node.name)


def test_launch_file_builds_every_node_and_argument_from_the_graph():
    tree = ast.parse(LAUNCH_FILE.read_text())
    imports = {alias.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for alias in n.names}
    assert {"LAUNCH_ARGUMENTS", "NODES", "DeclareLaunchArgument", "IfCondition", "Node"} <= imports
    launch_ros = pytest.importorskip("launch_ros", reason="the launch system is not installed here")
    del launch_ros
    namespace: dict = {}
    exec(compile(LAUNCH_FILE.read_text(), str(LAUNCH_FILE), "exec"), namespace)
    description = namespace["generate_launch_description"]()
    assert [a.name for a in description.get_launch_arguments()] == [a.name for a in graph.LAUNCH_ARGUMENTS]


@pytest.mark.ros
def test_bringup_runs_the_graph_and_stops_it_cleanly():
    completed = subprocess.run(
        [sys.executable, "-m", "vla_ros.cli", "bringup", "--duration", "6"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "[simulator]" in completed.stdout and "scene " in completed.stdout


@pytest.mark.ros
def test_bringup_fails_when_a_node_dies(tmp_path):
    broken = tmp_path / "sim.yaml"
    broken.write_text("/**/simulator:\n  ros__parameters:\n    camera: {width: -5}\n")
    completed = subprocess.run(
        [sys.executable, "-m", "vla_ros.cli", "bringup", "--duration", "60", f"simulator_config:={broken}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 1
    assert "node simulator exited with code" in completed.stderr


def test_bringup_rejects_unknown_arguments():
    completed = subprocess.run(
        [sys.executable, "-m", "vla_ros.cli", "bringup", "simm:=true"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2 and "unknown launch arguments" in completed.stderr
