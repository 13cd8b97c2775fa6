"""The demonstration recorder on a real graph: ~/start and ~/stop make one finished MCAP file per
demonstration (a .partial file while recording), with the instruction in its metadata, the messages
of the configured topics, and the messages lost counted from the publisher's sequence numbers."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("rclpy", reason="needs rclpy: run through `make test` (scripts/env.sh)")

from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from std_srvs.srv import Trigger

from vla_ros.data.recording import DEMONSTRATION_METADATA, Recording
from vla_ros.ros.qos import LATCHED

pytestmark = pytest.mark.ros


def call(node, spin_until, service: str) -> Trigger.Response:
    client = node.create_client(Trigger, service)
    assert spin_until(node, client.service_is_ready), f"no service {service}"
    future = client.call_async(Trigger.Request())
    assert spin_until(node, future.done)
    return future.result()


def test_start_and_stop_make_one_finished_file_per_demonstration(ros_node, spin_until, ros_process, tmp_path):
    # topics of their own: a publisher that an earlier test left in discovery would make the losses unknown
    joints = ros_node.create_publisher(JointState, "recorder_test/joint_states", qos_profile_sensor_data)
    instruction = ros_node.create_publisher(String, "recorder_test/instruction", LATCHED)
    instruction.publish(String(data="lift the cube"))
    recorder = ros_process(
        [
            *("-m", "vla_ros.nodes.demonstration_recorder_node", "--ros-args"),
            *("-p", f"out_dir:={tmp_path}", "-p", "task:=lift_block"),
            *(
                "-p",
                "topics:=[recorder_test/joint_states, recorder_test/instruction, recorder_test/image_raw]",
            ),
        ]
    )
    not_recording = call(ros_node, spin_until, "/demonstration_recorder/stop")
    assert not not_recording.success and "not recording" in not_recording.message

    started = call(ros_node, spin_until, "/demonstration_recorder/start")
    assert started.success and started.message.endswith("demo_0000.mcap.partial")
    assert not call(ros_node, spin_until, "/demonstration_recorder/start").success  # one at a time
    # the recorder subscribes as it discovers the publishers; then every message is recorded or lost
    assert spin_until(ros_node, lambda: joints.get_subscription_count() > 0)  # matched by our publisher
    for _ in range(20):
        joints.publish(JointState(name=["j1"], position=[0.0]))
        spin_until(ros_node, lambda: False, 0.02)
    stopped = call(ros_node, spin_until, "/demonstration_recorder/stop")
    assert stopped.success, stopped.message
    summary = json.loads(stopped.message)
    assert summary["file"] == str(tmp_path / "demo_0000.mcap") and not list(tmp_path.glob("*.partial"))
    assert summary["messages"]["/recorder_test/instruction"] == 1  # latched before the recording started
    assert (
        summary["messages"]["/recorder_test/joint_states"] + summary["dropped"]["/recorder_test/joint_states"]
        == 20
    )
    assert summary["missing_topics"] == ["/recorder_test/image_raw"]

    recording = Recording(tmp_path / "demo_0000.mcap")
    assert recording.complete
    assert recording.metadata[DEMONSTRATION_METADATA] == {"task": "lift_block"}
    assert [m.message.data for m in recording.messages(["/recorder_test/instruction"])] == ["lift the cube"]

    # the next demonstration gets the next name; Ctrl-C while recording keeps it, finished
    assert call(ros_node, spin_until, "/demonstration_recorder/start").message.endswith(
        "demo_0001.mcap.partial"
    )
    recorder.send_signal(2)
    recorder.wait(timeout=10)
    assert (tmp_path / "demo_0001.mcap").is_file() and Recording(tmp_path / "demo_0001.mcap").complete


def test_vla_ros_record_records_one_demonstration_of_a_duration(ros_node, spin_until, ros_process, tmp_path):
    joints = ros_node.create_publisher(JointState, "recorder_test/joint_states", qos_profile_sensor_data)
    ros_node.create_timer(0.02, lambda: joints.publish(JointState(name=["j1"], position=[0.0])))
    record = ros_process(
        [
            *("-m", "vla_ros.cli", "record", "--out", str(tmp_path), "--instruction", "wave"),
            # discovery can take seconds on a loaded 2-core machine: wait 5 s before the 2 s recording
            *("--topics", "recorder_test/joint_states", "--duration", "2", "--wait", "5"),
        ]
    )
    assert spin_until(ros_node, lambda: record.poll() is not None, 60.0), "vla-ros record did not finish"
    assert record.returncode == 0, record.stdout.read()[-2000:]
    (summary,) = json.loads((tmp_path / "recordings.json").read_text())
    recording = Recording(tmp_path / "demo_0000.mcap")
    assert summary["file"] == str(recording.path) and recording.complete
    assert recording.metadata[DEMONSTRATION_METADATA] == {"instruction": "wave"}
    assert summary["messages"]["/recorder_test/joint_states"] > 20  # 50 Hz for 2 s, less discovery
