"""launch/bringup.launch.py under the ROS launch system (launch, launch_ros).

Skipped where the launch system is not installed (this project's PyPI environment); on a ROS 2
installation it loads the launch description, checks its arguments against vla_ros.app.graph, starts the
graph in a namespace of its own with the camera topics moved, and waits for every node (the simulated
graph's and robot_state_publisher) and for data on the graph's topics (the robot's URDF included), as a
launch_testing test would, with the launch service in the main thread.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from vla_ros.app import graph

REASON = "the ROS launch system (launch, launch_ros) is not installed here"
launch = pytest.importorskip("launch", reason=REASON)
pytest.importorskip("launch_ros", reason=REASON)

from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402

LAUNCH_FILE = Path(__file__).resolve().parents[1] / "launch" / "bringup.launch.py"
NAMESPACE = "launch_test"
CAMERA_NAMESPACE = "cam/front"
START_TIMEOUT_S = 90.0


def test_launch_file_declares_every_graph_argument_with_its_description():
    description = PythonLaunchDescriptionSource(str(LAUNCH_FILE)).get_launch_description(
        launch.LaunchContext()
    )
    declared = {argument.name: argument for argument in description.get_launch_arguments()}
    assert list(declared) == [argument.name for argument in graph.LAUNCH_ARGUMENTS]
    for argument in graph.LAUNCH_ARGUMENTS:
        assert declared[argument.name].description == argument.description
        assert declared[argument.name].default_value[0].perform(launch.LaunchContext()) == argument.default


def expected_nodes() -> set[str]:
    """The nodes the launch file starts with default arguments (sim:=true) in the test's namespace."""
    values = graph.resolve_arguments({})
    names = [node.name for node in graph.NODES if graph.is_enabled(node, values)]
    return {f"/{NAMESPACE}/{name}" for name in [*names, graph.ROBOT_STATE_PUBLISHER]}


def probe_graph(service: launch.LaunchService, found: dict) -> None:
    """Wait for the nodes and for messages on the topics, record them in ``found``, stop the launch."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image, JointState
    from std_msgs.msg import String

    from vla_ros.ros.qos import LATCHED

    topics = {
        f"/{NAMESPACE}/{CAMERA_NAMESPACE}/color/image_raw": (Image, qos_profile_sensor_data),
        f"/{NAMESPACE}/joint_states": (JointState, qos_profile_sensor_data),
        f"/{NAMESPACE}/ensembling_controller/status": (String, 10),
        f"/{NAMESPACE}/robot_description": (String, LATCHED),
    }
    found["topics"] = set()
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node("launch_probe", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    for topic, (kind, qos) in topics.items():
        node.create_subscription(kind, topic, lambda _, topic=topic: found["topics"].add(topic), qos)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.1)
            found["nodes"] = {
                f"{namespace.rstrip('/')}/{name}" for name, namespace in node.get_node_names_and_namespaces()
            }
            if expected_nodes() <= found["nodes"] and found["topics"] == set(topics):
                break
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=context)
        service.shutdown()


@pytest.mark.ros
@pytest.mark.slow
def test_launch_starts_every_node_in_the_namespace_with_the_camera_remapped():
    service = launch.LaunchService()
    service.include_launch_description(
        launch.LaunchDescription(
            [
                IncludeLaunchDescription(
                    PythonLaunchDescriptionSource(str(LAUNCH_FILE)),
                    launch_arguments={
                        "namespace": NAMESPACE,
                        "camera_namespace": CAMERA_NAMESPACE,
                        "planner": "oracle",
                    }.items(),
                )
            ]
        )
    )
    found: dict = {}
    probe = threading.Thread(target=probe_graph, args=(service, found))
    probe.start()
    return_code = service.run()
    probe.join()
    assert expected_nodes() <= found["nodes"], f"missing {sorted(expected_nodes() - found['nodes'])}"
    assert len(found["topics"]) == 4, f"messages only on {sorted(found['topics'])}"
    assert return_code == 0
