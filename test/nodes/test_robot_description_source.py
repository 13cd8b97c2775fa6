"""The executor and the controller take the robot description from a latched topic, as a ROS system
publishes it (robot_state_publisher's ``robot_description``), where ``robot_description_topic`` names
one; they say so when none comes."""

from __future__ import annotations

import pytest
import yaml

from vla_ros.config import config_path
from vla_ros.robot.description import robot_urdf

pytestmark = pytest.mark.ros
NODES = [
    ("chunk_executor_node", "/chunk_executor/status"),
    ("ensembling_controller_node", "/ensembling_controller/status"),
]


def _start(ros_process, module: str, parameters: dict[str, str]):
    """``python -m vla_ros.nodes.<module>`` with these ``-p name:=value`` parameters."""
    arguments = [item for name, value in parameters.items() for item in ("-p", f"{name}:={value}")]
    return ros_process(["-m", f"vla_ros.nodes.{module}", "--ros-args", *arguments])


@pytest.fixture
def robot_without_urdf(tmp_path):
    """The xArm's robot file with a urdf_path that does not exist: only the topic can describe the arm."""
    document = yaml.safe_load(config_path("robots/xarm6.yaml").read_text())
    robot = document["/**"]["ros__parameters"]["robot"]
    xml = robot_urdf(robot["urdf_path"])
    robot["urdf_path"] = str(tmp_path / "nowhere.urdf")
    path = tmp_path / "xarm6_without_urdf.yaml"
    path.write_text(yaml.safe_dump(document))
    return path, xml


@pytest.mark.parametrize(("module", "status_topic"), NODES)
def test_the_node_builds_its_kinematics_from_the_topic(
    ros_node, spin_until, ros_process, robot_without_urdf, module, status_topic
):
    from std_msgs.msg import String

    from vla_ros.ros.qos import LATCHED

    robot_file, xml = robot_without_urdf
    publisher = ros_node.create_publisher(String, "/test_cell/robot_description", LATCHED)
    publisher.publish(String(data=xml))
    process = _start(
        ros_process,
        module,
        {"robot_file": robot_file, "robot_description_topic": "/test_cell/robot_description"},
    )
    up = spin_until(
        ros_node, lambda: ros_node.count_publishers(status_topic) > 0 or process.poll() is not None
    )
    output = "" if process.poll() is None else process.stdout.read()
    assert up and process.poll() is None, f"{module} did not come up:\n{output[-2000:]}"


@pytest.mark.parametrize("module", [module for module, _ in NODES])
def test_without_a_description_on_the_topic_the_node_says_so_and_exits(
    ros_process, robot_without_urdf, module
):
    parameters = {
        "robot_file": robot_without_urdf[0],
        "robot_description_topic": "/test_cell/no_description",
        "robot_description_timeout": "1.0",
    }
    process = _start(ros_process, module, parameters)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "no robot description on /test_cell/no_description within 1 s" in output, output
