"""A demonstration recorded from ROS topics, turned into the training format of :mod:`vla_ros.data.dataset`.

From the recording's colour and aligned depth images, camera_info, the camera's pose (a PoseStamped
topic or ``/tf_static``), ``/joint_states`` and the instruction:

- colour and depth are paired by header stamp (within half a colour frame period);
- joint positions and velocities are interpolated to each image stamp, in the robot's joint order;
- the TCP pose of every frame is the forward kinematics of the measured arm joints;
- the gripper is open where its measured width (the command joint's position through the robot file's
  opening map) is at least ``gripper_open_width``, or where the last gripper command was;
- keyframes are found on the joint-state stream, not the camera's (a camera frame lost or late hides a
  short stop; a slow motion sampled at the camera's rate looks like one): gripper changes, stops of the
  arm, the last sample (:func:`stream_keyframes`); as the scripted expert's keyposes are merged
  (:func:`merge_keyposes`), a keyframe at the same TCP pose as the next one is dropped: a rest is one
  keyframe, a gripper action is the pose reached with the new gripper state, and a rest before the
  motion starts (the first sample's pose and gripper) is none. A keyframe's pose and gripper state are
  the joint sample's; its observation is the first camera frame at or after it;
- the HAMSTER path label is the TCP trace projected into the first image (:func:`hamster_path`).

Only the first frame, the keyframes and every ``stride``-th frame are kept (decoded in a second
pass), so a long recording is never held in memory. Nothing privileged is read: what a real robot's
recording holds is enough.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vla_ros.data.camera import CameraIntrinsics
from vla_ros.data.dataset import depth_units
from vla_ros.data.geometry import pose_matrix, pose_to_vector, quaternion_to_matrix
from vla_ros.data.image_messages import ImageEncodingError, depth_from_message, rgb_from_message
from vla_ros.data.keyframes import merge_keyposes, stream_keyframes
from vla_ros.data.path_labels import hamster_path
from vla_ros.data.recording import DEMONSTRATION_METADATA, Recording, RecordingError
from vla_ros.planning.path import PlannedPath
from vla_ros.robot.settings import GripperSettings

GRIPPER_SOURCES = ("measured", "command")
_NANO = 1e-9


class DemonstrationError(RecordingError):
    """A recording cannot be turned into a demonstration (what is missing or inconsistent, and where)."""


@dataclass(frozen=True)
class DemonstrationTopics:
    """Where a recording holds each stream (the names the graph and realsense2_camera use)."""

    color: str = "/camera/color/image_raw"
    depth: str = "/camera/aligned_depth_to_color/image_raw"
    camera_info: str = "/camera/color/camera_info"
    camera_pose: str = "/camera/color/camera_pose"
    tf_static: str = "/tf_static"
    joint_states: str = "/joint_states"
    instruction: str = "/simulator/instruction"
    gripper_command: str = "/gripper_controller/joint_trajectory"


@dataclass(frozen=True)
class ConversionSettings:
    """The robot's joints and frame, and the rules of the conversion (see the module docstring)."""

    base_frame: str
    arm_joints: tuple[str, ...]
    gripper_joints: tuple[str, ...]
    gripper: GripperSettings  # the command joint and its opening map
    gripper_open_width: float  # m between the fingers
    keyframe_velocity_threshold: float  # rad/s, every arm joint below this: stopped
    path_rdp_epsilon: float  # normalised image units
    depth_scale: float  # m per stored uint16 unit
    gripper_source: str = "measured"
    stride: int = 0  # also keep every stride-th frame (0: first frame and keyframes only)
    max_gap_s: float = 0.5  # the longest silence allowed in the image and joint streams
    keyframe_merge_tolerance: float = 0.005  # m and rotation-matrix entries: "the same TCP pose"
    keyframe_speed_window_s: float = 0.05  # the arm's speed is median-filtered over this window

    def __post_init__(self) -> None:
        if self.gripper_source not in GRIPPER_SOURCES:
            raise ValueError(f"gripper_source must be one of {GRIPPER_SOURCES}, got {self.gripper_source!r}")
        if self.stride < 0 or self.max_gap_s <= 0.0 or self.depth_scale <= 0.0:
            raise ValueError("stride must be >= 0, max_gap_s and depth_scale > 0")


@dataclass
class Demonstration:
    """The kept frames (``arrays``, dataset.ARRAYS) and the labels of one recorded demonstration."""

    arrays: dict[str, NDArray[Any]]
    intrinsics: CameraIntrinsics
    base_from_camera: NDArray[np.float64]
    instruction: str
    keyframes: list[int]  # indices into the kept frames
    expert_keyframes: list[dict[str, Any]]
    path: PlannedPath
    source: dict[str, Any] = field(default_factory=dict)  # counts and rates, for meta.json


def _seconds(time: Any) -> float:
    """A builtin_interfaces Time or Duration in seconds."""
    return time.sec + time.nanosec * _NANO


def _stamp(message: Any) -> float:
    return _seconds(message.header.stamp)


def _pose_matrix(position: Any, orientation: Any) -> NDArray[np.float64]:
    """A 4x4 transform of a geometry_msgs position (or translation) and quaternion."""
    p, q = position, orientation
    return pose_matrix([p.x, p.y, p.z], quaternion_to_matrix([q.x, q.y, q.z, q.w]))


def _largest_gap(stamps: NDArray[np.float64], what: str, limit: float) -> None:
    if len(stamps) < 2:
        raise DemonstrationError(f"{what}: {len(stamps)} message(s) once every stream flows")
    gaps = np.diff(stamps)
    worst = int(np.argmax(gaps))
    if gaps[worst] > limit:
        raise DemonstrationError(
            f"{what}: a time gap of {gaps[worst]:.2f} s after {stamps[worst] - stamps[0]:.2f} s "
            f"(more than {limit} s): the recording lost messages; record again or raise --max-gap"
        )
    if np.any(gaps < 0.0):
        raise DemonstrationError(f"{what}: header stamps go backwards")


@dataclass
class _Streams:
    """What the first pass keeps: stamps of every image, the small topics whole."""

    color: list[float] = field(default_factory=list)
    depth: list[float] = field(default_factory=list)
    camera_info: Any = None
    camera_pose: Any = None
    static_transforms: dict[str, tuple[str, NDArray[np.float64]]] = field(default_factory=dict)
    joint_stamps: list[float] = field(default_factory=list)
    joint_positions: list[NDArray[np.float64]] = field(default_factory=list)
    joint_velocities: list[NDArray[np.float64]] = field(default_factory=list)
    joint_efforts: list[NDArray[np.float64]] = field(default_factory=list)
    instruction: str = ""
    commands: list[tuple[float, NDArray[np.float64], NDArray[np.float64]]] = field(default_factory=list)


def _joint_row(message: Any, names: tuple[str, ...]) -> tuple[NDArray, NDArray, NDArray]:
    index = {name: i for i, name in enumerate(message.name)}
    missing = [name for name in names if name not in index]
    if missing:
        raise DemonstrationError(
            f"joint_states names {list(message.name)} lack the robot's joint(s) {missing}: "
            "is this recording of the robot of --robot?"
        )
    order = [index[name] for name in names]

    def pick(values: Any) -> NDArray:
        values = np.asarray(values, dtype=float)
        return values[order] if len(values) == len(message.name) else np.full(len(names), np.nan)

    return pick(message.position), pick(message.velocity), pick(message.effort)


def _gripper_command(
    message: Any, receipt: float, gripper: GripperSettings
) -> tuple[float, NDArray[np.float64], NDArray[np.float64]] | None:
    """(start, point times from start, commanded widths) of a gripper JointTrajectory; None when it
    does not name the gripper's command joint. A zero stamp means "start on receipt", as
    joint_trajectory_controller reads it."""
    if gripper.command_joint not in message.joint_names:
        return None
    column = list(message.joint_names).index(gripper.command_joint)
    times = np.array([_seconds(point.time_from_start) for point in message.points])
    positions = np.array([point.positions[column] for point in message.points])
    start = _stamp(message) or receipt
    return start, times, gripper.width(positions)


def commanded_widths(
    commands: list[tuple[float, NDArray[np.float64], NDArray[np.float64]]], times: NDArray[np.float64]
) -> NDArray[np.float64]:
    """The commanded gripper width at ``times``: the latest trajectory started by then, at its last point
    due (its first before that); NaN before the first command."""
    widths = np.full(len(times), np.nan)
    starts = np.array([command[0] for command in commands])
    for i, t in enumerate(times):
        latest = int(np.searchsorted(starts, t, side="right")) - 1
        if latest >= 0:
            start, point_times, point_widths = commands[latest]
            due = max(int(np.searchsorted(start + point_times, t, side="right")) - 1, 0)
            widths[i] = point_widths[due]
    return widths


def _first_pass(recording: Recording, topics: DemonstrationTopics, settings: ConversionSettings) -> _Streams:
    streams = _Streams()
    joints = settings.arm_joints + settings.gripper_joints
    names = [
        topics.color,
        topics.depth,
        topics.camera_info,
        topics.camera_pose,
        topics.tf_static,
        topics.joint_states,
        topics.instruction,
        topics.gripper_command,
    ]
    for item in recording.messages(name for name in names if name in recording.topics):
        message = item.message
        if item.topic == topics.color:
            streams.color.append(_stamp(message))
        elif item.topic == topics.depth:
            streams.depth.append(_stamp(message))
        elif item.topic == topics.camera_info and streams.camera_info is None:
            streams.camera_info = message
        elif item.topic == topics.camera_pose:
            streams.camera_pose = message
        elif item.topic == topics.tf_static:
            for transform in message.transforms:
                streams.static_transforms[transform.child_frame_id] = (
                    transform.header.frame_id,
                    _pose_matrix(transform.transform.translation, transform.transform.rotation),
                )
        elif item.topic == topics.joint_states:
            positions, velocities, efforts = _joint_row(message, joints)
            streams.joint_stamps.append(_stamp(message))
            streams.joint_positions.append(positions)
            streams.joint_velocities.append(velocities)
            streams.joint_efforts.append(efforts)
        elif item.topic == topics.instruction:
            streams.instruction = str(message.data)
        elif item.topic == topics.gripper_command and message.points:
            command = _gripper_command(message, item.log_time_ns * _NANO, settings.gripper)
            if command is not None:
                streams.commands.append(command)
    streams.commands.sort(key=lambda command: command[0])
    return streams


def _camera_pose(streams: _Streams, topics: DemonstrationTopics, base_frame: str) -> NDArray[np.float64]:
    """The optical frame in the base frame: the pose topic, else the chain of static transforms."""
    if streams.camera_pose is not None:
        frame = streams.camera_pose.header.frame_id
        if frame != base_frame:
            raise DemonstrationError(
                f"{topics.camera_pose} is in frame {frame!r}, not the base {base_frame!r}"
            )
        return _pose_matrix(streams.camera_pose.pose.position, streams.camera_pose.pose.orientation)
    camera = streams.camera_info.header.frame_id
    chain = np.eye(4)
    frame = camera
    while frame != base_frame:
        if frame not in streams.static_transforms:
            raise DemonstrationError(
                f"no camera pose: neither {topics.camera_pose} nor a {topics.tf_static} chain from "
                f"{base_frame!r} to the camera frame {camera!r} (stopped at {frame!r}) is in the recording"
            )
        parent, parent_from_frame = streams.static_transforms[frame]
        chain = parent_from_frame @ chain
        frame = parent
    return chain


def _intrinsics(info: Any) -> CameraIntrinsics:
    distortion = np.asarray(info.d, dtype=float)
    if distortion.size and np.any(np.abs(distortion) > 1e-9):
        raise DemonstrationError(
            f"the colour camera has lens distortion ({info.distortion_model}, d = {distortion.tolist()}): "
            "record rectified images (image_rect) with zero distortion in camera_info"
        )
    return CameraIntrinsics.from_matrix(
        info.width, info.height, np.asarray(info.k, dtype=float).reshape(3, 3)
    )


def _pair(
    color: NDArray[np.float64], depth: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(colour index, depth index) of the colour frames with a depth image within half a frame period."""
    period = float(np.median(np.diff(color)))
    after = np.clip(np.searchsorted(depth, color), 1, len(depth) - 1)
    nearest = np.where(np.abs(depth[after - 1] - color) <= np.abs(depth[after] - color), after - 1, after)
    paired = np.abs(depth[nearest] - color) <= 0.5 * period
    return np.flatnonzero(paired), nearest[paired]


def _interpolate(times: NDArray, stamps: NDArray, values: NDArray) -> NDArray[np.float64]:
    """Each column of ``values`` (one row per stamp) at ``times``."""
    return np.stack([np.interp(times, stamps, values[:, j]) for j in range(values.shape[1])], axis=1)


def _gripper_open(
    settings: ConversionSettings, widths: NDArray[np.float64], commanded: NDArray[np.float64]
) -> list[bool]:
    """Open or closed by the measured width or by the command (open before the first command)."""
    if settings.gripper_source == "measured":
        return [bool(v) for v in widths >= settings.gripper_open_width]
    return [bool(v) for v in np.where(np.isnan(commanded), True, commanded >= settings.gripper_open_width)]


def _keyframe_samples(
    settings: ConversionSettings,
    times: NDArray[np.float64],
    tcp: NDArray[np.float64],
    velocities: NDArray[np.float64],
    gripper_open: list[bool],
) -> list[int]:
    """The keyframes' indices into the joint samples at ``times`` (TCP poses ``tcp``; see the module
    docstring)."""
    stops = stream_keyframes(
        times,
        gripper_open,
        velocities[:, : len(settings.arm_joints)],
        settings.keyframe_velocity_threshold,
        settings.keyframe_speed_window_s,
    )
    merged = merge_keyposes(
        [tcp[i] for i in stops], [gripper_open[i] for i in stops], settings.keyframe_merge_tolerance
    )
    keyframes = [stops[i] for i in merged]
    while (
        keyframes
        and gripper_open[keyframes[0]] == gripper_open[0]
        and np.allclose(tcp[keyframes[0]], tcp[0], atol=settings.keyframe_merge_tolerance)
    ):
        keyframes.pop(0)  # a rest before the motion starts: nothing to reach
    return keyframes


def convert_recording(
    recording: Recording,
    topics: DemonstrationTopics,
    settings: ConversionSettings,
    tcp_pose: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    instruction: str = "",
) -> Demonstration:
    """The demonstration in ``recording``; ``tcp_pose`` maps arm joint positions to the TCP pose (4x4,
    base frame). ``instruction`` overrides the recorded one (topic, or ``vla-ros record``'s metadata)."""
    required = [topics.color, topics.depth, topics.camera_info, topics.joint_states]
    if settings.gripper_source == "command":
        required.append(topics.gripper_command)
    recording.require(required)
    streams = _first_pass(recording, topics, settings)
    instruction = (
        instruction
        or recording.metadata.get(DEMONSTRATION_METADATA, {}).get("instruction", "")
        or streams.instruction
    )
    if not instruction:
        raise DemonstrationError(
            f"{recording.path}: no instruction (no {topics.instruction} message, no metadata): pass one"
        )
    if streams.camera_info is None:
        raise DemonstrationError(f"{recording.path}: no message on {topics.camera_info}")
    intrinsics = _intrinsics(streams.camera_info)
    base_from_camera = _camera_pose(streams, topics, settings.base_frame)
    color, depth = np.asarray(streams.color), np.asarray(streams.depth)
    joint_stamps = np.asarray(streams.joint_stamps)
    for stamps, what in ((color, topics.color), (depth, topics.depth), (joint_stamps, topics.joint_states)):
        if len(stamps) < 2:
            raise DemonstrationError(f"{what}: {len(stamps)} message(s); a demonstration needs a stream")
    # The demonstration starts when every stream flows (within half a frame period, as images pair): a
    # stale message delivered late is left out.
    start = max(color[0], depth[0], joint_stamps[0]) - 0.5 * float(np.median(np.diff(color)))
    color_ordinals, depth_ordinals = np.flatnonzero(color >= start), np.flatnonzero(depth >= start)
    joints = np.flatnonzero(joint_stamps >= start)
    joint_stamps = joint_stamps[joints]
    for stamps, what in (
        (color[color_ordinals], topics.color),
        (depth[depth_ordinals], topics.depth),
        (joint_stamps, topics.joint_states),
    ):
        _largest_gap(stamps, what, settings.max_gap_s)

    paired_color, paired_depth = _pair(color[color_ordinals], depth[depth_ordinals])
    color_index, depth_index = color_ordinals[paired_color], depth_ordinals[paired_depth]
    inside = (color[color_index] >= joint_stamps[0]) & (color[color_index] <= joint_stamps[-1])
    color_index, depth_index = color_index[inside], depth_index[inside]
    if len(color_index) < 2:
        raise DemonstrationError(
            f"{recording.path}: fewer than two colour frames with a depth image within half a frame "
            "period and joint states around them"
        )
    times = color[color_index]
    arm = len(settings.arm_joints)
    joint_positions = np.stack([streams.joint_positions[i] for i in joints])
    joint_velocities = np.stack([streams.joint_velocities[i] for i in joints])
    if not np.isfinite(joint_positions).all():
        raise DemonstrationError(f"{topics.joint_states}: non-finite joint positions")
    if np.isnan(joint_velocities).any():  # a driver that publishes no velocities: differentiate positions
        joint_velocities = np.gradient(joint_positions, joint_stamps, axis=0)
    positions = _interpolate(times, joint_stamps, joint_positions)
    velocities = _interpolate(times, joint_stamps, joint_velocities)
    efforts = _interpolate(times, joint_stamps, np.stack([streams.joint_efforts[i] for i in joints]))
    command_column = arm + settings.gripper_joints.index(settings.gripper.command_joint)
    width = settings.gripper.width(positions[:, command_column])
    commanded = commanded_widths(streams.commands, times)
    gripper_open = _gripper_open(settings, width, commanded)
    sample_open = _gripper_open(
        settings,
        settings.gripper.width(joint_positions[:, command_column]),
        commanded_widths(streams.commands, joint_stamps),
    )
    if all(state == sample_open[0] for state in sample_open):
        raise DemonstrationError(
            f"{recording.path}: the gripper never changes ({settings.gripper_source} width "
            f"{'>=' if sample_open[0] else '<'} {settings.gripper_open_width} m throughout): a "
            "demonstration's keyframes start at grasps and releases; check --gripper-open-width"
        )
    sample_tcp = np.stack([tcp_pose(row[:arm]) for row in joint_positions])
    samples = _keyframe_samples(settings, joint_stamps, sample_tcp, joint_velocities, sample_open)
    arrivals = np.minimum(np.searchsorted(times, joint_stamps[samples]), len(times) - 1)
    path = hamster_path(
        intrinsics, base_from_camera, sample_tcp[:, :3, 3], sample_open, settings.path_rdp_epsilon
    )
    kept = sorted(
        {0, *arrivals.tolist(), *(range(0, len(times), settings.stride) if settings.stride else ())}
    )
    rgb, depth_m = _decode_frames(recording, topics, color_index[kept], depth_index[kept])
    kept_index = {frame: i for i, frame in enumerate(kept)}
    arrays = {
        "time": times[kept] - times[0],
        "rgb": rgb,
        "depth": depth_units(depth_m, settings.depth_scale),
        "joint_positions": positions[kept],
        "joint_velocities": velocities[kept],
        "joint_efforts": efforts[kept],
        "arm_targets": np.full((len(kept), arm), np.nan),
        "tcp_pose": np.stack([pose_to_vector(tcp_pose(positions[i, :arm])) for i in kept]),
        "gripper_width": width[kept],
        "gripper_command": commanded[kept],
        "gripper_open": np.array([gripper_open[i] for i in kept]),
    }
    expert_keyframes = [
        {
            "tick": int(frame),
            "frame": kept_index[int(frame)],
            "time": float(joint_stamps[sample] - times[0]),
            "tcp_pose": pose_to_vector(sample_tcp[sample]).tolist(),
            "gripper_open": sample_open[sample],
        }
        for sample, frame in zip(samples, arrivals, strict=True)
    ]
    source = {
        "colour_frames": len(color),
        "depth_frames": len(depth),
        "paired_frames": len(times),
        "unpaired_colour_frames": len(color) - len(color_index),
        "start_stamp_s": float(start),
        "camera_rate_hz": float(1.0 / np.median(np.diff(times))),
        "joint_state_rate_hz": float(1.0 / np.median(np.diff(joint_stamps))),
        "gripper_source": settings.gripper_source,
        "gripper_open_width_m": settings.gripper_open_width,
        "stride": settings.stride,
        "duration_s": float(times[-1] - times[0]),
    }
    return Demonstration(
        arrays,
        intrinsics,
        base_from_camera,
        instruction,
        [keyframe["frame"] for keyframe in expert_keyframes],
        expert_keyframes,
        path,
        source,
    )


def _decode_frames(
    recording: Recording, topics: DemonstrationTopics, color_ordinals: NDArray, depth_ordinals: NDArray
) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
    """Second pass: the RGB and depth (m) images of the kept frames, by their order in each stream."""
    wanted_color = {int(o): i for i, o in enumerate(color_ordinals)}
    wanted_depth: dict[int, list[int]] = {}
    for i, o in enumerate(depth_ordinals):
        wanted_depth.setdefault(int(o), []).append(i)
    rgb: list[Any] = [None] * len(color_ordinals)
    depth: list[Any] = [None] * len(depth_ordinals)
    seen = {topics.color: 0, topics.depth: 0}
    try:
        for item in recording.messages([topics.color, topics.depth]):
            ordinal = seen[item.topic]
            seen[item.topic] += 1
            if item.topic == topics.color and ordinal in wanted_color:
                rgb[wanted_color[ordinal]] = rgb_from_message(item.message, "a demonstration")
            elif item.topic == topics.depth and ordinal in wanted_depth:
                image = depth_from_message(item.message)
                for i in wanted_depth[ordinal]:
                    depth[i] = image
    except ImageEncodingError as error:
        raise DemonstrationError(f"{recording.path}: {error}") from error
    if rgb[0].shape[:2] != depth[0].shape:
        raise DemonstrationError(
            f"depth {depth[0].shape[::-1]} is not aligned to colour {rgb[0].shape[1::-1]}: record "
            "the depth aligned to the colour image (aligned_depth_to_color)"
        )
    return np.stack(rgb), np.stack(depth)
