"""Two arms in one graph: a node started under another name (``__node:=left_...``) takes its kind's
parameters and comes up under its own name, its topics under it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.ros


@pytest.mark.parametrize(
    ("module", "name", "topic"),
    [
        ("chunk_executor_node", "left_executor", "/left_executor/status"),
        ("ensembling_controller_node", "left_controller", "/left_controller/status"),
    ],
)
def test_a_renamed_node_starts_with_its_kinds_parameters(
    ros_node, spin_until, ros_process, module, name, topic
):
    process = ros_process(["-m", f"vla_ros.nodes.{module}", "--ros-args", "-r", f"__node:={name}"])
    up = spin_until(ros_node, lambda: ros_node.count_publishers(topic) > 0 or process.poll() is not None)
    output = "" if process.poll() is None else process.stdout.read()
    assert up and process.poll() is None, f"{name} did not come up:\n{output[-2000:]}"
