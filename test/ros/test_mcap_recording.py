"""MCAP recording: rosbag2's layout (cdr, ros2msg schemas, QoS metadata), decoded back by mcap_ros2."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

pytest.importorskip("rclpy", reason="needs rclpy: run through `make test` (scripts/env.sh)")
pytest.importorskip("mcap_ros2", reason="needs mcap-ros2-support (pip)")

import rclpy
import yaml
from ament_index_python.packages import get_package_share_directory
from builtin_interfaces.msg import Time
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from rclpy.serialization import serialize_message
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image
from std_msgs.msg import Header, String

from vla_ros.action import ExecuteInstruction
from vla_ros.msg import Path2D, PathPoint2D
from vla_ros.ros import mcap_recording
from vla_ros.ros.mcap_recording import (
    McapRecorder,
    McapRecordingError,
    RecordingFileError,
    UnknownMessageTypeError,
    message_definition,
)
from vla_ros.ros.qos import LATCHED, RELIABLE

pytestmark = pytest.mark.ros
DELIMITER = "=" * 80 + "\n"
CHATTER = [f"hello {index}" for index in range(3)]
IMAGE = Image(height=2, width=3, encoding="rgb8", step=9, data=bytes(range(18)))
PATH = Path2D(
    header=Header(stamp=Time(sec=7, nanosec=250), frame_id="camera_color_optical_frame"),
    image_width=320,
    image_height=240,
    instruction="put the cube in the bowl",
    points=[PathPoint2D(x=0.25, y=0.5, gripper_open=True), PathPoint2D(x=0.75, y=0.125, gripper_open=False)],
)


@pytest.fixture
def publisher_node(ros_node):
    """A second node in the test's context, for the publishers being recorded."""
    node = rclpy.create_node("recorded_publishers", context=ros_node.context)
    yield node
    node.destroy_node()


def _by_topic(path) -> dict[str, list]:
    """The file's messages per topic, each decoded by mcap_ros2 from its ros2msg schema."""
    messages: dict[str, list] = {}
    with path.open("rb") as stream:
        for message in make_reader(stream, decoder_factories=[DecoderFactory()]).iter_decoded_messages():
            messages.setdefault(message.channel.topic, []).append(message)
    return messages


def test_recorded_topics_decode_back_with_rosbag2_layout(ros_node, publisher_node, spin_until, tmp_path):
    start_ns = time.time_ns()
    description = publisher_node.create_publisher(String, "/rec/description", LATCHED)
    description.publish(String(data="published before the recording"))
    chatter = publisher_node.create_publisher(String, "/rec/chatter", RELIABLE)
    camera = publisher_node.create_publisher(Image, "/rec/camera", qos_profile_sensor_data)
    topics = ["/rec/description", "/rec/chatter", "/rec/camera", "rec/path"]
    recorder = McapRecorder(ros_node, tmp_path / "episodes" / "episode_0.mcap", topics)
    assert set(recorder.subscribed_topics) == {"/rec/description", "/rec/chatter", "/rec/camera"}

    path = publisher_node.create_publisher(Path2D, "/rec/path", RELIABLE)  # appears after the start
    publishers = [chatter, camera, path]
    assert spin_until(ros_node, lambda: all(publisher.get_subscription_count() for publisher in publishers))
    for text in CHATTER:
        chatter.publish(String(data=text))
    path.publish(PATH)

    def send_image() -> None:
        if recorder.message_counts["/rec/camera"] == 0:  # best effort: resend until one arrives
            camera.publish(IMAGE)

    def recorded() -> bool:
        counts = recorder.message_counts
        return counts["/rec/chatter"] == 3 and counts["/rec/path"] == 1 and counts["/rec/camera"] >= 1

    assert spin_until(ros_node, recorded, timeout_s=10.0, on_wait=send_image)
    summary = recorder.close()
    end_ns = time.time_ns()

    assert summary.path == tmp_path / "episodes" / "episode_0.mcap" and summary.missing_topics == ()
    assert summary.topic_types == {
        "/rec/description": "std_msgs/msg/String",
        "/rec/chatter": "std_msgs/msg/String",
        "/rec/camera": "sensor_msgs/msg/Image",
        "/rec/path": "vla_ros/msg/Path2D",
    }
    messages = _by_topic(summary.path)
    assert {topic: len(found) for topic, found in messages.items()} == summary.message_counts
    assert summary.message_counts["/rec/description"] == 1

    assert [message.decoded_message.data for message in messages["/rec/chatter"]] == CHATTER
    assert messages["/rec/description"][0].decoded_message.data == "published before the recording"
    image = messages["/rec/camera"][0].decoded_message
    assert (image.height, image.width, image.encoding, image.step) == (2, 3, "rgb8", 9)
    assert bytes(image.data) == bytes(range(18))
    recorded_path = messages["/rec/path"][0].decoded_message
    assert recorded_path.header.frame_id == "camera_color_optical_frame"
    assert (recorded_path.header.stamp.sec, recorded_path.header.stamp.nanosec) == (7, 250)
    assert recorded_path.instruction == PATH.instruction and recorded_path.image_width == 320
    assert [(point.x, point.y, point.gripper_open) for point in recorded_path.points] == [
        (0.25, 0.5, True),
        (0.75, 0.125, False),
    ]

    for found in messages.values():
        for message in found:
            assert message.channel.message_encoding == "cdr" and message.schema.encoding == "ros2msg"
            assert message.schema.name == summary.topic_types[message.channel.topic]
            assert start_ns <= message.message.publish_time <= message.message.log_time <= end_ns
    # The bytes rclpy received are written as they are.
    assert messages["/rec/chatter"][0].message.data == serialize_message(String(data=CHATTER[0]))
    path_schema = messages["/rec/path"][0].schema.data.decode()
    assert path_schema == message_definition("vla_ros/msg/Path2D").text
    assert "\nMSG: std_msgs/Header\n" in path_schema and "\nMSG: vla_ros/PathPoint2D\n" in path_schema

    with summary.path.open("rb") as stream:
        reader = make_reader(stream)
        assert reader.get_header().profile == "ros2"
        file_summary = reader.get_summary()
    channels = {channel.topic: channel for channel in file_summary.channels.values()}
    offered = {
        topic: yaml.safe_load(channel.metadata["offered_qos_profiles"]) for topic, channel in channels.items()
    }
    assert offered["/rec/description"][0]["durability"] == "transient_local"
    assert offered["/rec/camera"][0]["reliability"] == "best_effort"
    assert offered["/rec/chatter"][0]["reliability"] == "reliable"
    assert all(channel.metadata["topic_type_hash"].startswith("RIHS01_") for channel in channels.values())
    assert file_summary.statistics.message_count == sum(summary.message_counts.values())


def test_on_simulated_time_the_log_time_is_the_node_clock(ros_node, publisher_node, spin_until, tmp_path):
    ros_node.set_parameters([Parameter("use_sim_time", value=True)])
    clock = publisher_node.create_publisher(Clock, "/clock", RELIABLE)
    sim_time = Time(sec=1000, nanosec=5)
    assert spin_until(
        ros_node,
        lambda: ros_node.get_clock().now().nanoseconds == 1_000_000_000_005,
        on_wait=lambda: clock.publish(Clock(clock=sim_time)),
    )
    chatter = publisher_node.create_publisher(String, "/rec/sim_chatter", RELIABLE)
    recorder = McapRecorder(ros_node, tmp_path / "sim.mcap", ["/rec/sim_chatter"])
    assert spin_until(ros_node, lambda: chatter.get_subscription_count() > 0)
    chatter.publish(String(data="at sim time"))
    assert spin_until(ros_node, lambda: recorder.message_counts["/rec/sim_chatter"] == 1)
    [message] = _by_topic(recorder.close().path)["/rec/sim_chatter"]
    assert message.message.log_time == 1_000_000_000_005
    assert message.message.publish_time > 1_000_000_000_005  # the publisher's wall-clock stamp


def test_without_message_info_humble_the_receipt_time_stamps_each_message(
    ros_node, publisher_node, spin_until, tmp_path, monkeypatch
):
    monkeypatch.setattr(mcap_recording, "MessageInfo", None)  # Humble's rclpy: one-argument callbacks
    chatter = publisher_node.create_publisher(String, "/rec/humble_chatter", RELIABLE)
    before = ros_node.get_clock().now().nanoseconds
    recorder = McapRecorder(ros_node, tmp_path / "humble.mcap", ["/rec/humble_chatter"])
    assert spin_until(ros_node, lambda: chatter.get_subscription_count() > 0)
    chatter.publish(String(data="no message info"))
    assert spin_until(ros_node, lambda: recorder.message_counts["/rec/humble_chatter"] == 1)
    [message] = _by_topic(recorder.close().path)["/rec/humble_chatter"]
    assert message.decoded_message.data == "no message info"
    assert message.message.log_time == message.message.publish_time >= before
    assert message.message.sequence == 0


def test_a_topic_that_never_appears_leaves_a_valid_empty_file(ros_node, tmp_path):
    with McapRecorder(ros_node, tmp_path / "empty.mcap", ["/rec/never_published"]) as recorder:
        assert recorder.subscribed_topics == {}
    summary = recorder.close()  # a second close returns the same summary
    assert summary.missing_topics == ("/rec/never_published",)
    assert summary.message_counts == {"/rec/never_published": 0}
    assert _by_topic(summary.path) == {}


def test_an_unknown_message_type_in_the_graph_is_a_typed_error(
    ros_node, publisher_node, spin_until, tmp_path
):
    recorder = McapRecorder(ros_node, tmp_path / "feedback.mcap", ["/rec/feedback"])
    publisher_node.create_publisher(ExecuteInstruction.Impl.FeedbackMessage, "/rec/feedback", RELIABLE)
    with pytest.raises(UnknownMessageTypeError, match=r"ExecuteInstruction_FeedbackMessage.*no \.idl"):
        spin_until(ros_node, lambda: False, timeout_s=5.0)
    assert recorder.close().topic_types == {}


def test_a_topic_published_with_two_types_is_refused(ros_node, publisher_node, spin_until, tmp_path):
    publisher_node.create_publisher(String, "/rec/mixed", RELIABLE)
    context = rclpy.Context()  # one participant cannot use two types on a topic: a second one
    rclpy.init(context=context)
    try:
        image_node = rclpy.create_node("image_publisher", context=context)
        image_node.create_publisher(Image, "/rec/mixed", RELIABLE)
        assert spin_until(ros_node, lambda: len(ros_node.get_publishers_info_by_topic("/rec/mixed")) == 2)
        with pytest.raises(McapRecordingError, match="several types"):
            McapRecorder(ros_node, tmp_path / "mixed.mcap", ["/rec/mixed"])
    finally:
        rclpy.shutdown(context=context)
    assert _by_topic(tmp_path / "mixed.mcap") == {}  # finalised on the way out


def test_bad_paths_and_arguments_are_typed_errors(ros_node, tmp_path):
    (tmp_path / "a_file").write_text("not a directory")
    with pytest.raises(RecordingFileError, match="cannot create"):
        McapRecorder(ros_node, tmp_path / "a_file" / "episode.mcap", ["/rec/chatter"])
    with pytest.raises(McapRecordingError, match="no topics"):
        McapRecorder(ros_node, tmp_path / "episode.mcap", [])


def _installed_msg(package: str, name: str) -> str:
    return (Path(get_package_share_directory(package)) / "msg" / f"{name}.msg").read_text()


def test_an_installed_definition_is_concatenated_like_rosbag2():
    header = message_definition("std_msgs/msg/Header")
    expected = _installed_msg("std_msgs", "Header") + "\n" + DELIMITER + "MSG: builtin_interfaces/Time\n"
    assert header.encoding == "ros2msg"
    assert header.text == expected + _installed_msg("builtin_interfaces", "Time")


@pytest.fixture
def fake_package(tmp_path, monkeypatch) -> Path:
    """An installed interface package ``fake_recording_msgs`` (msg dir) in an ament prefix of its own."""
    (tmp_path / "share/ament_index/resource_index/packages").mkdir(parents=True)
    (tmp_path / "share/ament_index/resource_index/packages/fake_recording_msgs").touch()
    msg_dir = tmp_path / "share/fake_recording_msgs/msg"
    msg_dir.mkdir(parents=True)
    monkeypatch.setenv("AMENT_PREFIX_PATH", f"{tmp_path}:{os.environ.get('AMENT_PREFIX_PATH', '')}")
    return msg_dir


def test_dependencies_come_sorted_depth_first_and_once(fake_package):
    files = {
        "Root.msg": "# the root\nZeta z\nMid mid\nfake_recording_msgs/Leaf[] leaves\nAlpha a\nint32 n\n",
        "Mid.msg": "Leaf[<=3] leaves\nstring<=8 name\n",
        "Leaf.msg": "float64 x\n",
        "Alpha.msg": "uint8 v\n",
        "Zeta.msg": "bool on\n",
    }
    for name, text in files.items():
        (fake_package / name).write_text(text)
    definition = message_definition("fake_recording_msgs/msg/Root")
    assert definition.encoding == "ros2msg"
    expected = files["Root.msg"]
    for name in ("Alpha", "Leaf", "Mid", "Zeta"):  # Mid's Leaf is already there
        expected += f"\n{DELIMITER}MSG: fake_recording_msgs/{name}\n" + files[f"{name}.msg"]
    assert definition.text == expected


def test_a_type_without_msg_file_falls_back_to_idl(fake_package):
    only_idl = '#include "fake_recording_msgs/msg/IdlLeaf.idl"\nmodule fake_recording_msgs {};\n'
    leaf = "module fake_recording_msgs { module msg { struct IdlLeaf { double x; }; }; };\n"
    (fake_package / "OnlyIdl.idl").write_text(only_idl)
    (fake_package / "IdlLeaf.idl").write_text(leaf)
    definition = message_definition("fake_recording_msgs/msg/OnlyIdl")
    assert definition.encoding == "ros2idl"
    assert definition.text == (
        f"{DELIMITER}IDL: fake_recording_msgs/msg/OnlyIdl\n{only_idl}"
        + f"\n{DELIMITER}IDL: fake_recording_msgs/msg/IdlLeaf\n{leaf}"
    )


@pytest.mark.parametrize(
    ("type_name", "reason"),
    [
        ("fake_recording_msgs/msg/Absent", r"no \.msg definition.*no \.idl definition"),
        ("no_such_msgs/msg/Thing", "package 'no_such_msgs' is not installed"),
        ("not a type", "not of the form"),
    ],
)
def test_unknown_types_are_typed_errors(fake_package, type_name, reason):
    with pytest.raises(UnknownMessageTypeError, match=reason):
        message_definition(type_name)
