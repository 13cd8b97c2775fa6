"""Recordings read without ROS, and a recorded demonstration turned into an episode: pairing, joint
interpolation, gripper state, keyframes, path label, kept frames, and the errors a bad recording gets.

The recordings are written here with the mcap ROS 2 writer from the installed message definitions,
as ``vla-ros record`` lays them out (CDR, ``ros2msg`` schemas)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mcap_ros2", reason="needs mcap-ros2-support (requirements/ml.txt)")
pytest.importorskip("ament_index_python", reason="message definitions come from the ROS install")

from mcap.writer import CompressionType
from mcap_ros2.writer import Writer

from vla_ros.data.dataset import EpisodeReader, camera_meta, write_episode
from vla_ros.data.demonstration import (
    ConversionSettings,
    DemonstrationError,
    DemonstrationTopics,
    convert_recording,
)
from vla_ros.data.recording import DEMONSTRATION_METADATA, Recording, RecordingError
from vla_ros.robot.settings import GripperSettings
from vla_ros.ros.mcap_recording import message_definition

ARM = ("j1", "j2", "j3")
FINGERS = ("f1", "f2")
TOPICS = DemonstrationTopics()
WIDTH, HEIGHT = 16, 12
CAMERA_RATE = 10.0
JOINT_RATE = 50.0
DURATION = 6.0
SETTINGS = ConversionSettings(
    base_frame="base",
    arm_joints=ARM,
    gripper_joints=FINGERS,
    # each finger at half the opening, as the Panda's
    gripper=GripperSettings("f1", (0.0, 0.08), (0.0, 0.04), (1.0, 1.0), 0.1, 20.0, ("l", "r"), 1.0, np.pi),
    gripper_open_width=0.04,
    keyframe_velocity_threshold=0.1,
    path_rdp_epsilon=0.01,
    depth_scale=0.001,
    gripper_source="command",
)
# the camera 1 m above the base origin, looking straight down (optical z = -base z)
CAMERA_POSE = np.array([[1.0, 0, 0, 0.3], [0, -1.0, 0, 0], [0, 0, -1.0, 1.0], [0, 0, 0, 1.0]])


def arm_positions(t: float) -> np.ndarray:
    """Moves (0.2 m/s along x) for 2 s, rests 1 s, moves back for 2 s, rests."""
    x = 0.2 * min(t, 2.0) - 0.2 * float(np.clip(t - 3.0, 0.0, 2.0))
    return np.array([x, 0.05 * x, 0.1])


def gripper_width(t: float) -> float:
    """Open (8 cm) until 2.5 s, then closed on a 3 cm object."""
    return 0.08 if t < 2.5 else 0.03


def tcp_pose(positions: np.ndarray) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, 3] = positions
    return pose


def stamp(t: float) -> dict:
    return {"sec": int(t), "nanosec": round((t - int(t)) * 1e9)}


def header(t: float, frame: str = "camera_optical") -> dict:
    return {"stamp": stamp(t), "frame_id": frame}


class RecordingWriter:
    """A demonstration written as ``vla-ros record`` would."""

    def __init__(self, path: Path) -> None:
        self.stream = path.open("wb")
        # small uncompressed chunks, as the recorder writes them: a crash leaves the chunks written so far
        self.writer = Writer(self.stream, chunk_size=16 * 1024, compression=CompressionType.NONE)
        self.schemas = {}

    def write(self, topic: str, type_name: str, message: dict, t: float) -> None:
        if type_name not in self.schemas:
            self.schemas[type_name] = self.writer.register_msgdef(
                type_name, message_definition(type_name).text
            )
        ns = int(t * 1e9)
        self.writer.write_message(topic, self.schemas[type_name], message, log_time=ns, publish_time=ns)

    def finish(self) -> None:
        self.writer.finish()
        self.stream.close()


def image(t: float, encoding: str, dtype, value) -> dict:
    pixels = np.full((HEIGHT, WIDTH, 3) if encoding == "rgb8" else (HEIGHT, WIDTH), value, dtype)
    return {
        "header": header(t),
        "height": HEIGHT,
        "width": WIDTH,
        "encoding": encoding,
        "is_bigendian": 0,
        "step": WIDTH * pixels.itemsize * (3 if encoding == "rgb8" else 1),
        "data": pixels.tobytes(),
    }


def write_demonstration(
    path: Path,
    joint_names=ARM + FINGERS,
    distortion=(0.0,) * 5,
    gap: tuple[float, float] | None = None,
    gripper=gripper_width,
    instruction: str = "pick the cube",
    finish: bool = True,
    topics: set[str] | None = None,
    lead: float = 0.0,
    stale_depth_at: float | None = None,
) -> Path:
    """Colour/depth at 10 Hz (depth 4 ms later), joints at 50 Hz, gripper commands, camera pose; the
    motion starts after ``lead`` seconds at rest."""
    out = RecordingWriter(path)
    skip = topics if topics is not None else set()
    out.writer.add_metadata(DEMONSTRATION_METADATA, {"instruction": instruction, "task": "pick"})
    k = [20.0, 0, (WIDTH - 1) / 2, 0, 20.0, (HEIGHT - 1) / 2, 0, 0, 1]
    info = {"header": header(0.0), "height": HEIGHT, "width": WIDTH, "distortion_model": "plumb_bob"}
    out.write(TOPICS.camera_info, "sensor_msgs/msg/CameraInfo", {**info, "d": list(distortion), "k": k}, 0.0)
    position = dict(zip("xyz", CAMERA_POSE[:3, 3], strict=True))
    orientation = dict(zip("xyzw", [1.0, 0.0, 0.0, 0.0], strict=True))  # CAMERA_POSE: 180 degrees about x
    pose = {"header": header(0.0, "base"), "pose": {"position": position, "orientation": orientation}}
    out.write(TOPICS.camera_pose, "geometry_msgs/msg/PoseStamped", pose, 0.0)
    events = [] if stale_depth_at is None else [(-1.0, "stale")]
    for i in range(int(DURATION * JOINT_RATE) + 1):
        events.append((i / JOINT_RATE, "joints"))
    for i in range(int(DURATION * CAMERA_RATE) + 1):
        events.append((i / CAMERA_RATE, "color"))
        events.append((i / CAMERA_RATE + 0.004, "depth"))
    events.append((2.5 + lead, "gripper"))
    events.append((0.0, "gripper_open"))
    for t, kind in sorted(events):
        if gap is not None and gap[0] <= t < gap[1]:
            continue
        if kind == "joints":
            dt = 1e-3
            m = max(t - lead, 0.0)  # time into the motion
            positions = [*arm_positions(m), gripper(m) / 2, gripper(m) / 2]
            velocity = [*(arm_positions(m + dt) - arm_positions(m - dt)) / (2 * dt), 0.0, 0.0]
            message = {
                "header": header(t, ""),
                "name": list(joint_names),
                "position": positions,
                "velocity": velocity,
                "effort": [],
            }
            out.write(TOPICS.joint_states, "sensor_msgs/msg/JointState", message, t)
        elif kind == "color" and TOPICS.color not in skip:
            out.write(TOPICS.color, "sensor_msgs/msg/Image", image(t, "rgb8", np.uint8, int(t * 10)), t)
        elif kind == "depth":
            out.write(TOPICS.depth, "sensor_msgs/msg/Image", image(t, "16UC1", np.uint16, 900), t)
        elif kind == "stale":
            message = image(stale_depth_at, "16UC1", np.uint16, 900)
            out.write(TOPICS.depth, "sensor_msgs/msg/Image", message, 1.0)
        else:
            width = 0.08 if kind == "gripper_open" else 0.0
            point = {"positions": [width / 2, width / 2], "time_from_start": {"sec": 0, "nanosec": 0}}
            message = {"header": header(t, ""), "joint_names": list(FINGERS), "points": [point]}
            out.write(TOPICS.gripper_command, "trajectory_msgs/msg/JointTrajectory", message, t)
    if finish:
        out.finish()
    else:  # a recorder that died: the chunks written so far, no summary, no footer
        out.stream.close()
    return path


@pytest.fixture
def demonstration_file(tmp_path) -> Path:
    return write_demonstration(tmp_path / "demo_0000.mcap")


def test_a_recording_lists_its_topics_and_metadata(demonstration_file):
    recording = Recording(demonstration_file)
    assert recording.complete
    assert recording.topics[TOPICS.color] == "sensor_msgs/msg/Image"
    assert recording.metadata[DEMONSTRATION_METADATA]["instruction"] == "pick the cube"
    with pytest.raises(RecordingError, match=r"lacks the topic.*/nowhere"):
        recording.require(["/nowhere"])


def test_a_demonstration_becomes_an_episode(demonstration_file, tmp_path):
    demonstration = convert_recording(Recording(demonstration_file), TOPICS, SETTINGS, tcp_pose)
    arrays = demonstration.arrays
    assert demonstration.instruction == "pick the cube"
    assert demonstration.source["paired_frames"] == 61
    assert demonstration.source["camera_rate_hz"] == pytest.approx(CAMERA_RATE)
    # keyframes, found on the 50 Hz joint stream: the arm at rest (from 2 s) and the gripper closed
    # there (2.5 s) are one pose: one keyframe, closed, observed at the first frame from 2.5 s; the way
    # back ends in a rest (from 5 s) up to the last frame: one keyframe
    assert list(arrays["time"][demonstration.keyframes]) == pytest.approx([2.5, DURATION])
    assert [k["time"] for k in demonstration.expert_keyframes] == pytest.approx([2.5, DURATION])
    assert [k["gripper_open"] for k in demonstration.expert_keyframes] == [False, False]
    # only the first frame and the keyframes are kept (stride 0), in time order
    assert len(arrays["time"]) == len(demonstration.keyframes) + 1
    assert np.all(np.diff(arrays["time"]) > 0)
    # joints interpolated to the image stamps, in the robot's order; TCP by the given kinematics
    for row, t in zip(arrays["joint_positions"], arrays["time"], strict=True):
        assert row[:3] == pytest.approx(arm_positions(t), abs=1e-6)
    assert demonstration.expert_keyframes[0]["tcp_pose"][:3] == pytest.approx(arm_positions(2.5), abs=1e-6)
    assert arrays["rgb"].shape == (len(arrays["time"]), HEIGHT, WIDTH, 3)
    assert arrays["rgb"][1, 0, 0, 0] == 25  # the colour frame of 2.5 s
    assert np.all(arrays["depth"] == 900)  # 0.9 m in millimetres (depth_scale 0.001)
    assert np.isnan(arrays["arm_targets"]).all()  # not in a recording
    # the path starts at the TCP's first position (0, 0, 0.1), projected: 0.3 m left of the camera, 0.9 m deep
    assert demonstration.path.points[0] == pytest.approx(
        [(20.0 * -0.3 / 0.9 + 7.5 + 0.5) / WIDTH, 6.0 / HEIGHT], abs=1e-6
    )
    assert demonstration.path.initial_gripper_open
    # and it is written and read back as an episode
    meta = {
        "instruction": demonstration.instruction,
        "expert_keyframes": demonstration.expert_keyframes,
        "camera": camera_meta(demonstration.intrinsics, demonstration.base_from_camera, 0.001),
    }
    write_episode(tmp_path / "episode", arrays, meta)
    reader = EpisodeReader(tmp_path / "episode")
    assert reader.camera_pose == pytest.approx(CAMERA_POSE)
    assert np.nanmax(reader.depth_metres()) == pytest.approx(0.9)


def test_a_stride_keeps_more_frames(demonstration_file):
    settings = ConversionSettings(**{**vars(SETTINGS), "stride": 10})
    demonstration = convert_recording(Recording(demonstration_file), TOPICS, settings, tcp_pose)
    assert {0.0, 1.0, 2.0, 3.0} <= {round(float(t), 3) for t in demonstration.arrays["time"]}
    assert demonstration.arrays["time"][demonstration.keyframes][0] == pytest.approx(2.5)


def test_a_rest_before_the_motion_is_no_keyframe(tmp_path):
    late = write_demonstration(tmp_path / "late.mcap", lead=1.0)
    demonstration = convert_recording(Recording(late), TOPICS, SETTINGS, tcp_pose)
    assert list(demonstration.arrays["time"][demonstration.keyframes]) == pytest.approx([3.5, DURATION])


def test_a_stale_message_delivered_late_does_not_start_the_demonstration(tmp_path):
    # a depth image stamped 0.7 s before the recording's streams start, delivered with the first ones
    path = write_demonstration(tmp_path / "stale.mcap", lead=1.0, gap=(0.0, 1.0), stale_depth_at=0.3)
    demonstration = convert_recording(Recording(path), TOPICS, SETTINGS, tcp_pose)
    assert demonstration.source["start_stamp_s"] == pytest.approx(1.0 - 0.5 / CAMERA_RATE, abs=1e-3)
    assert demonstration.arrays["time"][demonstration.keyframes][0] == pytest.approx(2.5)


def test_the_measured_gripper_width_gives_the_same_keyframes(demonstration_file):
    measured = ConversionSettings(
        **{**vars(SETTINGS), "gripper_source": "measured", "gripper_open_width": 0.07}
    )
    by_command = convert_recording(Recording(demonstration_file), TOPICS, SETTINGS, tcp_pose)
    by_width = convert_recording(Recording(demonstration_file), TOPICS, measured, tcp_pose)
    assert by_width.keyframes == by_command.keyframes


def test_a_recording_cut_short_is_read_up_to_its_last_chunk(tmp_path):
    path = write_demonstration(tmp_path / "demo_0001.mcap.partial", finish=False)
    recording = Recording(path)
    assert not recording.complete
    assert TOPICS.joint_states in recording.topics
    assert sum(1 for _ in recording.messages([TOPICS.joint_states])) > 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"joint_names": ("a", "b", "c", "f1", "f2")}, r"lack the robot's joint\(s\) \['j1', 'j2', 'j3'\]"),
        ({"distortion": (0.1, 0.0, 0.0, 0.0, 0.0)}, "lens distortion"),
        ({"gap": (3.0, 4.0)}, r"image_raw: a time gap of 1.10 s after 2.90 s"),
        ({"gripper": lambda t: 0.08}, "the gripper never changes"),
        ({"instruction": ""}, None),
    ],
)
def test_a_bad_recording_says_what_is_wrong(tmp_path, change, message):
    path = write_demonstration(tmp_path / "bad.mcap", **change)
    settings = SETTINGS
    if "gripper" in change:  # no command either: read the (constant) measured width
        settings = ConversionSettings(**{**vars(SETTINGS), "gripper_source": "measured"})
    if message is None:  # no instruction anywhere: the instruction topic is not recorded
        with pytest.raises(DemonstrationError, match="no instruction"):
            convert_recording(Recording(path), TOPICS, settings, tcp_pose)
        assert convert_recording(Recording(path), TOPICS, settings, tcp_pose, "given").instruction == "given"
        return
    with pytest.raises(DemonstrationError, match=message):
        convert_recording(Recording(path), TOPICS, settings, tcp_pose)


def test_a_missing_stream_or_file_is_named(tmp_path):
    path = write_demonstration(tmp_path / "nocolour.mcap", topics={TOPICS.color})
    with pytest.raises(RecordingError, match=f"lacks the topic.*{TOPICS.color}"):
        convert_recording(Recording(path), TOPICS, SETTINGS, tcp_pose)
    with pytest.raises(RecordingError, match="recording not found"):
        Recording(tmp_path / "none.mcap")
    bag = tmp_path / "bag"
    bag.mkdir()
    (bag / "bag_0.db3").write_bytes(b"")
    with pytest.raises(RecordingError, match="ros2 bag convert"):
        Recording(bag)
    shutil.copy(path, bag / "bag_0.mcap")
    assert Recording(bag).files == [bag / "bag_0.mcap"]
