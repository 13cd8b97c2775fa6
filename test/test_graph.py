"""The node graph shared by launch/bringup.launch.py and `vla-ros bringup`."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from vla_ros.app import graph
from vla_ros.app.bringup import parse_overrides
from vla_ros.config import flatten, load_parameters
from vla_ros.robot.urdf import robot_config_path

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_FILE = ROOT / "launch" / "bringup.launch.py"


def test_arguments_resolve_with_defaults_and_reject_unknown_names_and_bad_values():
    values = graph.resolve_arguments({"namespace": "robot1", "rviz": "False"})
    assert values["sim"] == "true" and values["namespace"] == "robot1" and values["rviz"] == "false"
    with pytest.raises(graph.GraphArgumentError, match="unknown launch arguments \\['simm'\\]"):
        graph.resolve_arguments({"simm": "true"})
    with pytest.raises(graph.GraphArgumentError, match="sim must be true or false"):
        graph.resolve_arguments({"sim": "yes"})
    with pytest.raises(graph.GraphArgumentError, match="expected name:=value"):
        parse_overrides(["sim=false"])


def test_node_command_passes_the_parameter_files_namespace_and_sim_time(tmp_path):
    node = graph.NODES[0]
    values = graph.resolve_arguments({"namespace": "/robot1/", "use_sim_time": "True"})
    command = graph.node_command(node, values, tmp_path)
    assert command[:3] == [sys.executable, "-m", f"vla_ros.nodes.{node.executable}"]
    text = " ".join(command)
    arguments_file = tmp_path / f"{node.name}_arguments.yaml"
    assert f"--params-file {values[node.config_argument]} --params-file {arguments_file}" in text
    assert "__ns:=/robot1" in text and f"__node:={node.name}" in text
    assert load_parameters(str(arguments_file), node.name) == {
        "use_sim_time": True,
        "robot_file": str(robot_config_path("panda")),
    }


def test_the_robot_argument_takes_a_name_or_a_file_and_names_what_is_wrong(tmp_path):
    assert graph.resolve_arguments({"robot": "xarm6"})["robot"] == str(robot_config_path("xarm6"))
    own = tmp_path / "my_arm.yaml"
    own.write_text(robot_config_path("xarm6").read_text())
    assert graph.resolve_arguments({"robot": str(own)})["robot"] == str(own)
    with pytest.raises(graph.GraphArgumentError, match="unknown robot 'ur5e'"):
        graph.resolve_arguments({"robot": "ur5e"})
    with pytest.raises(graph.GraphArgumentError, match="robot_config:= is now robot:="):
        graph.resolve_arguments({"robot_config": str(own)})


def test_argument_values_reach_node_parameters_and_empty_ones_keep_the_parameter_file(tmp_path):
    planner = next(node for node in graph.NODES if node.name == "planner")
    robot_file = str(robot_config_path("panda"))
    assert graph.parameter_overrides(planner, graph.resolve_arguments({})) == {
        "use_sim_time": "false",
        "robot_file": robot_file,
    }
    values = graph.resolve_arguments(
        {"planner": "openai", "planner_url": "http://10.0.0.2:8000", "planner_model": "/models/My-VLM"}
    )
    assert graph.parameter_overrides(planner, values) == {
        "use_sim_time": "false",
        "robot_file": robot_file,
        "backend": "openai",
        "transformers.model_dir": "/models/My-VLM",
        "openai.base_url": "http://10.0.0.2:8000",
    }
    controller = next(node for node in graph.NODES if node.name == "ensembling_controller")
    path = graph.write_parameter_overrides(
        controller, graph.resolve_arguments({"controller": "servo_pose"}), tmp_path
    )
    assert load_parameters(["control.yaml", str(path)], controller.name)["driver"]["arm"] == "servo_pose"


def test_argument_parameters_name_parameters_of_the_nodes_parameter_files():

    for node in graph.NODES:
        files = ["robots/panda.yaml", node.config]
        parameters = flatten(load_parameters(files, node.name))
        for parameter, argument in node.argument_parameters:
            assert parameter in parameters, (
                f"{node.name}: {parameter} (from {argument}) is not in {node.config}"
            )


def test_camera_namespace_remaps_the_camera_topics_of_the_nodes_that_use_them(tmp_path):
    assert load_parameters("planner.yaml", "planner")["interface"]["image_topic"] == (
        f"{graph.CAMERA_NAMESPACE}/color/image_raw"
    )
    sim = load_parameters(["robots/panda.yaml", "sim.yaml"], "simulator")["interface"]
    assert sim["camera_namespace"] == graph.CAMERA_NAMESPACE
    planner = next(node for node in graph.NODES if node.name == "planner")
    assert graph.topic_remappings(planner, graph.resolve_arguments({})) == []
    values = graph.resolve_arguments({"camera_namespace": "camera/camera/"})
    assert graph.topic_remappings(planner, values) == [
        ("camera/color/image_raw", "camera/camera/color/image_raw")
    ]
    simulator = next(node for node in graph.NODES if node.name == "simulator")
    command = " ".join(graph.node_command(simulator, values, tmp_path))
    for topic in graph.CAMERA_TOPICS:
        assert f"-r camera/{topic}:=camera/camera/{topic}" in command


def test_rviz_runs_the_shipped_config_in_the_graph_namespace(capsys, monkeypatch):
    from vla_ros.app import bringup

    values = graph.resolve_arguments({"rviz": "True", "namespace": "robot1"})
    command = graph.rviz_command(values)
    assert command[:3] == ["rviz2", "-d", graph.rviz_config_path()] and "__ns:=/robot1" in command
    assert Path(graph.rviz_config_path()).is_file()
    xarm = graph.rviz_command(graph.resolve_arguments({"robot": "xarm6"}))[2]
    assert xarm != graph.rviz_config_path(), "another base frame: a copy"
    fixed = yaml.safe_load(Path(xarm).read_text())["Visualization Manager"]["Global Options"]["Fixed Frame"]
    assert fixed == "link_base"
    monkeypatch.setattr(bringup.shutil, "which", lambda name: None)
    assert bringup.start_rviz(values) is None
    assert "rviz2 is not on PATH" in capsys.readouterr().out
    assert bringup.start_rviz(graph.resolve_arguments({})) is None


def test_rviz_config_shows_the_graph_topics():

    config = yaml.safe_load(Path(graph.rviz_config_path()).read_text())
    manager = config["Visualization Manager"]
    assert manager["Global Options"]["Fixed Frame"] == "panda_link0"

    def displays(items):
        for item in items:
            yield item
            yield from displays(item.get("Displays", []))

    shown = {item["Class"]: set() for item in displays(manager["Displays"])}
    for item in displays(manager["Displays"]):
        topic = item.get("Topic", item.get("Description Topic"))
        if topic:
            shown[item["Class"]].add(topic["Value"])
    plugin = "rviz_default_plugins/"
    assert {"planner/overlay", *(f"keyframe_policy/heatmaps/{v}" for v in ("top", "front", "side"))} <= shown[
        plugin + "Image"
    ]
    assert shown[plugin + "PointCloud2"] == {"keyframe_policy/cloud"}
    assert shown[plugin + "Pose"] == {"keyframe_policy/pose"}
    assert shown[plugin + "MarkerArray"] == {"keyframe_policy/markers"}
    assert shown[plugin + "Marker"] == {"chunk_executor/planned_path"}
    assert shown[plugin + "RobotModel"] == {"robot_description"} and plugin + "TF" in shown


def test_rviz_topics_are_published_by_the_graph():
    """Every topic of the RViz config is one a node of the running graph publishes (docs/reference.md)."""
    import re

    from vla_ros.tools.reference import TOPICS_HEADING

    config = yaml.safe_load(Path(graph.rviz_config_path()).read_text())

    def topics(items):
        for item in items:
            topic = item.get("Topic", item.get("Description Topic"))
            if topic:
                yield topic["Value"]
            yield from topics(item.get("Displays", []))

    reference = (ROOT / "docs" / "reference.md").read_text().partition(TOPICS_HEADING)[2]
    published = set(re.findall(r"^\| publishes \| `/([^`]+)`", reference, flags=re.MULTILINE))
    # robot_state_publisher is not installed here, so the generated reference cannot list its topic.
    shown = set(topics(config["Visualization Manager"]["Displays"]))
    missing = shown - published - {"robot_description"}
    assert published and not missing, f"RViz shows topics no node publishes: {sorted(missing)}"


def test_camera_extrinsics_node_runs_on_a_real_robot_only_and_follows_the_camera_namespace(tmp_path):
    extrinsics = next(node for node in graph.NODES if node.name == "camera_extrinsics")
    assert extrinsics.runs_when == "sim:=false" and graph.NODES[0].runs_when == "sim:=true"
    assert not graph.is_enabled(extrinsics, graph.resolve_arguments({}))
    values = graph.resolve_arguments({"sim": "false", "camera_namespace": "camera/camera"})
    assert graph.is_enabled(extrinsics, values)
    assert graph.topic_remappings(extrinsics, values) == [
        ("camera/color/camera_pose", "camera/camera/color/camera_pose")
    ]
    parameters = load_parameters(["robots/panda.yaml", "camera_extrinsics.yaml"], extrinsics.name)
    policy = load_parameters(["robots/panda.yaml", "policy.yaml"], "keyframe_policy")
    assert parameters["pose_topic"] == policy["interface"]["camera_pose_topic"]
    assert "simulator" not in {node.name for node in graph.NODES if graph.is_enabled(node, values)}


def test_robot_state_publisher_gets_the_robot_urdf_and_sim_time(tmp_path):
    values = graph.resolve_arguments({"use_sim_time": "true", "namespace": "robot1", "log_level": "warn"})
    command = graph.robot_state_publisher_command("/opt/rsp", values, tmp_path)
    assert command[:4] == ["/opt/rsp", "--ros-args", "-r", "__node:=robot_state_publisher"]
    assert "__ns:=/robot1" in command and command[-2:] == ["--log-level", "warn"]
    parameters = load_parameters(command[command.index("--params-file") + 1], "robot_state_publisher")
    assert parameters["use_sim_time"] is True
    assert parameters["robot_description"].startswith('<robot name="panda">')
    assert "file://" in parameters["robot_description"]


@pytest.mark.ros
def test_robot_state_publisher_parameter_file_reaches_a_node_unchanged(tmp_path):
    """rcl reads the URDF from the parameter file as the same string (the launch file passes it as is)."""
    import rclpy

    values = graph.resolve_arguments({})
    command = graph.robot_state_publisher_command("/opt/rsp", values, tmp_path)
    context = rclpy.Context()
    rclpy.init(args=command, context=context)
    try:
        node = rclpy.create_node(
            "robot_state_publisher", context=context, automatically_declare_parameters_from_overrides=True
        )
        expected = graph.robot_state_publisher_parameters(values)["robot_description"]
        assert node.get_parameter("robot_description").value == expected
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)


def test_bringup_starts_robot_state_publisher_where_installed_and_says_when_not(
    tmp_path, monkeypatch, capsys
):
    from vla_ros.app import bringup

    fake = tmp_path / "robot_state_publisher"
    fake.write_text('#!/bin/sh\necho "$@"\n')
    fake.chmod(0o755)
    monkeypatch.setattr(bringup, "NODES", ())
    monkeypatch.setattr(bringup, "robot_state_publisher_executable", lambda: str(fake))
    processes = bringup.start_graph(graph.resolve_arguments({}), tmp_path)
    assert list(processes) == ["robot_state_publisher"] and processes["robot_state_publisher"].wait(10) == 0
    log = (tmp_path / "robot_state_publisher.log").read_text()
    assert "__node:=robot_state_publisher --params-file" in log
    assert bringup.start_graph(graph.resolve_arguments({"robot_state_publisher": "false"}), tmp_path) == {}
    monkeypatch.setattr(bringup, "robot_state_publisher_executable", lambda: None)
    assert bringup.start_graph(graph.resolve_arguments({}), tmp_path) == {}
    assert bringup._supervise(graph.resolve_arguments({}), {}, duration=0.0) == 0
    assert "robot_state_publisher is not installed" in capsys.readouterr().out


def test_actuation_is_enabled_at_start_in_the_simulator_only(tmp_path):
    controller = next(node for node in graph.NODES if node.name == "ensembling_controller")
    for sim in (True, False):
        values = graph.resolve_arguments({"sim": str(sim)})
        path = graph.write_parameter_overrides(controller, values, tmp_path)
        assert (
            load_parameters(["control.yaml", str(path)], controller.name)["safety"]["enabled_at_start"] is sim
        )


def test_every_graph_node_has_a_node_module_and_a_config_section():
    for node in graph.NODES:
        assert (ROOT / "vla_ros" / "nodes" / f"{node.executable}.py").is_file()
        assert node.condition is None or node.condition in {a.name for a in graph.LAUNCH_ARGUMENTS}
        files = ["robots/panda.yaml", node.config]
        assert load_parameters(files, node.name)


def test_launch_file_builds_every_node_and_argument_from_the_graph():
    tree = ast.parse(LAUNCH_FILE.read_text())
    imports = {alias.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for alias in n.names}
    assert {"LAUNCH_ARGUMENTS", "NODES", "DeclareLaunchArgument", "IfCondition", "Node"} <= imports
    # Running it: test/test_launch_bringup.py, where the launch system is installed.


@pytest.mark.ros
@pytest.mark.slow  # the whole graph for 12 s
def test_bringup_runs_the_graph_and_stops_it_cleanly():
    completed = subprocess.run(
        [sys.executable, "-m", "vla_ros.cli", "bringup", "--duration", "12", "controller:=forward_position"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "[simulator]" in completed.stdout and "scene " in completed.stdout
    # The arguments' parameters win over the nodes' parameter files (sim:=true enables actuation).
    assert "driver forward_position" in completed.stdout and "actuation enabled" in completed.stdout


@pytest.mark.ros
@pytest.mark.slow  # the whole graph until a node dies
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
