"""Our episodes as a LeRobotDataset v3.0, and back.

The layout is LeRobot's v3.0 (``meta/info.json`` with ``codebase_version: "v3.0"``, ``meta/tasks.parquet``,
``meta/episodes/chunk-000/file-000.parquet``, ``meta/stats.json``, ``data/chunk-000/file-000.parquet``,
``videos/<key>/chunk-000/file-000.mp4``: episodes one after another in each file, located by
``dataset_from_index``/``dataset_to_index`` and ``from_timestamp``/``to_timestamp``). What goes where:

- ``observation.images.<camera>``: the colour frames as H.264 video (yuv420p, every 2nd frame a key
  frame as LeRobot encodes for random access): lossy, a grey level or two (more on sharp colour edges).
- ``observation.depth.<camera>``: depth as an ``image`` column of 16-bit PNGs in millimetres (0 = no
  return), inside the data parquet: lossless. (LeRobot's own depth video, a 12-bit log-quantised HEVC
  stream, would lose depth precision; this column is read by any parquet reader.)
- ``observation.state``: the measured joint positions (arm, then gripper joints); ``observation.velocity``,
  ``observation.effort``; ``observation.tcp_pose`` (x y z qx qy qz qw, base frame);
  ``observation.gripper_width`` (m) and ``observation.gripper_open``.
- ``action``: **the keyframe pose**, as RVT and PerAct learn it: the TCP pose and gripper state
  (x y z qx qy qz qw open) of the next keyframe, the one a keyframe policy predicts from this frame.
  ``action.arm_targets``: the commanded arm joints (NaN where the recording has none) and
  ``action.gripper_command`` (m) are kept too, for policies that learn joint targets.
- ``keyframe``: whether the frame is a keyframe's arrival.
- the task is the instruction. Each episode row of ``meta/episodes`` also carries ``vla_ros/meta``: the
  rest of our meta.json (camera, path label, keyframes, task label, source), so that the way back
  restores the episode.

Only episodes with every camera frame (a constant frame period) are exported: LeRobot's frames are a
stream at ``fps``; a dataset of keyframes only is refused with how to record it densely.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray
from PIL import Image

from vla_ros.data.dataset import (
    DatasetError,
    EpisodeReader,
    add_to_index,
    depth_units,
    list_episodes,
    write_episode,
)

CODEBASE_VERSION = "v3.0"
CHUNK_FILE = "chunk-{chunk_index:03d}/file-{file_index:03d}"
DATA_PATH = "data/" + CHUNK_FILE + ".parquet"
VIDEO_PATH = "videos/{video_key}/" + CHUNK_FILE + ".mp4"
EPISODES_PATH = "meta/episodes/" + CHUNK_FILE + ".parquet"
TASKS_PATH = "meta/tasks.parquet"
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
CHUNKS_SIZE = 1000
DATA_FILE_MB = 100
VIDEO_FILE_MB = 200
VIDEO_CODEC, VIDEO_ENCODER, PIX_FMT, GOP, CRF = "h264", "libx264", "yuv420p", 2, 10
META_COLUMN = "vla_ros/meta"
QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
MILLIMETRE_M = 0.001  # the depth column's unit
DEFAULT_FEATURES = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}
POSE_NAMES = ["x", "y", "z", "qx", "qy", "qz", "qw"]


class LeRobotFormatError(DatasetError):
    """A dataset that cannot be written to, or read from, the LeRobot v3.0 layout."""


def _dense(reader: EpisodeReader) -> float:
    """The episode's frame rate; LeRobotFormatError when its frames are not a stream at that rate."""
    rate = float(reader.meta["camera_rate_hz"])
    times = reader.arrays["time"]
    if len(times) < 2 or np.max(np.abs(np.diff(times) - 1.0 / rate)) > 0.5 / rate:
        raise LeRobotFormatError(
            f"{reader.directory.name}: its frames are not every camera frame at {rate:g} Hz (keyframes "
            "only?); a LeRobot dataset is a stream: collect with --frames camera, or from-mcap --stride 1"
        )
    return rate


def keyframe_actions(reader: EpisodeReader) -> NDArray[np.float32]:
    """Per frame, the pose and gripper state (8) of the next keyframe (the last one's from then on)."""
    keyframes = reader.meta["expert_keyframes"]
    count = len(reader.arrays["time"])
    actions = np.zeros((count, 8), np.float32)
    start = 0
    for keyframe in keyframes:
        actions[start:] = [*keyframe["tcp_pose"], float(keyframe["gripper_open"])]
        start = keyframe["frame"]
    return actions


def _features(reader: EpisodeReader, camera: str, fps: float) -> dict[str, Any]:
    arrays = reader.arrays
    height, width = arrays["rgb"].shape[1:3]
    joints = list(reader.meta["joint_names"])
    arm = list(reader.meta["arm_joint_names"])

    def vector(names: list[str]) -> dict[str, Any]:
        return {"dtype": "float32", "shape": [len(names)], "names": names}

    return {
        f"observation.images.{camera}": {
            "dtype": "video",
            "shape": [int(height), int(width), 3],
            "names": ["height", "width", "channels"],
            "info": {
                "video.height": int(height),
                "video.width": int(width),
                "video.codec": VIDEO_CODEC,
                "video.pix_fmt": PIX_FMT,
                "video.fps": round(fps),
                "video.channels": 3,
                "video.g": GOP,
                "video.crf": CRF,
                "has_audio": False,
                "is_depth_map": False,
            },
        },
        f"observation.depth.{camera}": {
            "dtype": "image",
            "shape": [int(height), int(width), 1],
            "names": ["height", "width", "channels"],
            "info": {"encoding": "16-bit PNG", "depth_unit": "mm", "invalid_value": 0},
        },
        "observation.state": vector(joints),
        "observation.velocity": vector(joints),
        "observation.effort": vector(joints),
        "observation.tcp_pose": vector(POSE_NAMES),
        "observation.gripper_width": {"dtype": "float32", "shape": [1], "names": None},
        "observation.gripper_open": {"dtype": "bool", "shape": [1], "names": None},
        "action": vector([*POSE_NAMES, "gripper_open"]),
        "action.arm_targets": vector(arm),
        "action.gripper_command": {"dtype": "float32", "shape": [1], "names": None},
        "keyframe": {"dtype": "bool", "shape": [1], "names": None},
        **DEFAULT_FEATURES,
    }


def _png16(depth_mm: NDArray[np.uint16]) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(depth_mm.astype(np.uint16)).save(buffer, format="PNG")
    return buffer.getvalue()


def _chunk_file(number: int) -> dict[str, int]:
    """The chunk and file index of the ``number``-th data or video file."""
    return {"chunk_index": number // CHUNKS_SIZE, "file_index": number % CHUNKS_SIZE}


def _episode_table(
    reader: EpisodeReader,
    depth_mm: NDArray[np.uint16],
    camera: str,
    episode_index: int,
    first_index: int,
    task_index: int,
) -> pa.Table:
    arrays = reader.arrays
    count = len(arrays["time"])
    fps = float(reader.meta["camera_rate_hz"])
    keyframe_frames = {keyframe["frame"] for keyframe in reader.meta["expert_keyframes"]}

    def vectors(values: NDArray) -> pa.Array:
        values = np.asarray(values, np.float32)
        return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), values.shape[1])

    columns = {
        f"observation.depth.{camera}": pa.array(
            [{"bytes": _png16(image), "path": None} for image in depth_mm],
            pa.struct([("bytes", pa.binary()), ("path", pa.string())]),
        ),
        "observation.state": vectors(arrays["joint_positions"]),
        "observation.velocity": vectors(arrays["joint_velocities"]),
        "observation.effort": vectors(arrays["joint_efforts"]),
        "observation.tcp_pose": vectors(arrays["tcp_pose"]),
        "observation.gripper_width": pa.array(arrays["gripper_width"].astype(np.float32)),
        "observation.gripper_open": pa.array(arrays["gripper_open"].astype(bool)),
        "action": vectors(keyframe_actions(reader)),
        "action.arm_targets": vectors(arrays["arm_targets"]),
        "action.gripper_command": pa.array(arrays["gripper_command"].astype(np.float32)),
        "keyframe": pa.array([frame in keyframe_frames for frame in range(count)]),
        "timestamp": pa.array((np.arange(count) / fps).astype(np.float32)),
        "frame_index": pa.array(np.arange(count, dtype=np.int64)),
        "episode_index": pa.array(np.full(count, episode_index, np.int64)),
        "index": pa.array(np.arange(first_index, first_index + count, dtype=np.int64)),
        "task_index": pa.array(np.full(count, task_index, np.int64)),
    }
    return pa.table(columns)


def _statistics(values: NDArray) -> dict[str, Any]:
    """min, max, mean, std, count and quantiles per dimension, over the finite values (0 for a dimension
    without any, e.g. commanded joints a recording lacks)."""
    values = np.asarray(values, np.float64).reshape(len(values), -1)
    finite = np.where(np.isfinite(values), values, np.nan)
    finite[:, np.isnan(finite).all(axis=0)] = 0.0
    quantiles = {
        f"q{round(q * 100):02d}": np.nan_to_num(np.nanquantile(finite, q, axis=0)).tolist() for q in QUANTILES
    }
    return {
        "min": np.nan_to_num(np.nanmin(finite, axis=0)).tolist(),
        "max": np.nan_to_num(np.nanmax(finite, axis=0)).tolist(),
        "mean": np.nan_to_num(np.nanmean(finite, axis=0)).tolist(),
        "std": np.nan_to_num(np.nanstd(finite, axis=0)).tolist(),
        "count": [len(values)],
        **quantiles,
    }


def _image_statistics(images: NDArray, scale: float) -> dict[str, Any]:
    """Per channel, of the pixels times ``scale``, shaped (C, 1, 1) as LeRobot keeps image statistics
    (colour in [0, 1]; depth in its unit, as LeRobot leaves depth maps)."""
    channels = images.shape[-1] if images.ndim == 4 else 1
    pixels = images.reshape(-1, channels).astype(np.float64) * scale
    stats = _statistics(pixels)
    shaped = {key: [[[v]] for v in value] for key, value in stats.items() if key != "count"}
    return {**shaped, "count": [len(images)]}


class _VideoWriter:
    """One mp4 of a video key: the episodes' frames one after another at ``fps``."""

    def __init__(self, path: Path, fps: int, width: int, height: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.container = av.open(str(path), mode="w")
        self.stream = self.container.add_stream(VIDEO_ENCODER, rate=fps)
        self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, PIX_FMT
        self.stream.options = {"crf": str(CRF), "g": str(GOP), "bf": "0"}
        self.fps = fps
        self.frames = 0

    def add(self, images: NDArray[np.uint8]) -> tuple[float, float]:
        """Append an episode's frames; its (from, to) timestamps in the file."""
        start = self.frames
        for image in images:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts = self.frames
            self.frames += 1
            for packet in self.stream.encode(frame):
                self.container.mux(packet)
        return start / self.fps, self.frames / self.fps

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()


def export_lerobot(dataset: Path, out: Path, camera: str = "front", robot_type: str = "") -> dict[str, Any]:
    """Write the episodes of ``dataset`` (our format) as a LeRobot v3.0 dataset in ``out``; its info."""
    readers = [EpisodeReader(path) for path in list_episodes(dataset)]
    if not readers:
        raise LeRobotFormatError(f"{dataset} has no episodes")
    for reader in readers:
        if reader.recovery:
            raise LeRobotFormatError(
                f"{reader.directory.name}: a recovery demonstration; its spoiled attempt would be imitated "
                "as a demonstration (export datasets recorded without --recovery)"
            )
    rates = [_dense(reader) for reader in readers]
    fps = rates[0]
    for reader, rate in zip(readers, rates, strict=True):
        if rate != fps:
            raise LeRobotFormatError(f"{reader.directory.name}: {rate} Hz, the others {fps} Hz")
    if (out / INFO_PATH).exists():
        raise LeRobotFormatError(f"{out} already holds a LeRobot dataset")
    features = _features(readers[0], camera, fps)
    video_key = f"observation.images.{camera}"
    tasks: dict[str, int] = {}
    episode_rows: list[dict[str, Any]] = []
    numeric: dict[str, list[NDArray]] = {}
    sampled_rgb: list[NDArray[np.uint8]] = []
    sampled_depth_mm: list[NDArray[np.float64]] = []
    data_file, video_file, data_bytes = 0, 0, 0
    writer: pq.ParquetWriter | None = None
    video: _VideoWriter | None = None
    index = 0
    height, width = readers[0].arrays["rgb"].shape[1:3]
    try:
        for episode_index, reader in enumerate(readers):
            if features != _features(reader, camera, fps):
                raise LeRobotFormatError(
                    f"{reader.directory.name}: other joints or image size than the first"
                )
            task_index = tasks.setdefault(reader.instruction, len(tasks))
            depth_mm = depth_units(reader.depth_metres(), MILLIMETRE_M)
            table = _episode_table(reader, depth_mm, camera, episode_index, index, task_index)
            if writer is not None and data_bytes + table.nbytes > DATA_FILE_MB * 1e6:
                writer.close()
                writer, data_file, data_bytes = None, data_file + 1, 0
            if writer is None:
                path = out / DATA_PATH.format(**_chunk_file(data_file))
                path.parent.mkdir(parents=True, exist_ok=True)
                writer = pq.ParquetWriter(path, table.schema, compression="snappy")
            writer.write_table(table)
            data_bytes += table.nbytes
            rgb = reader.arrays["rgb"]
            if video is not None and video.path.stat().st_size > VIDEO_FILE_MB * 1e6:
                video.close()
                video, video_file = None, video_file + 1
            if video is None:
                path = out / VIDEO_PATH.format(video_key=video_key, **_chunk_file(video_file))
                video = _VideoWriter(path, round(fps), int(width), int(height))
            from_ts, to_ts = video.add(rgb)
            count = len(rgb)
            meta = {key: value for key, value in reader.meta.items() if key != "arrays"}
            episode_rows.append(
                {
                    "episode_index": episode_index,
                    "tasks": [reader.instruction],
                    "length": count,
                    **{f"data/{key}": value for key, value in _chunk_file(data_file).items()},
                    "dataset_from_index": index,
                    "dataset_to_index": index + count,
                    **{f"videos/{video_key}/{key}": value for key, value in _chunk_file(video_file).items()},
                    f"videos/{video_key}/from_timestamp": from_ts,
                    f"videos/{video_key}/to_timestamp": to_ts,
                    "meta/episodes/chunk_index": 0,
                    "meta/episodes/file_index": 0,
                    META_COLUMN: json.dumps({"name": reader.directory.name, **meta}),
                }
            )
            for name in table.column_names:
                if name in features and features[name]["dtype"] in ("float32", "int64", "bool"):
                    column = table.column(name).combine_chunks()
                    values = column.flatten() if pa.types.is_fixed_size_list(column.type) else column
                    numeric.setdefault(name, []).append(
                        np.asarray(values.to_numpy(zero_copy_only=False)).reshape(count, -1)
                    )
            step = max(1, count // 20)
            sampled_rgb.append(rgb[::step, ::4, ::4])
            depth_sample = depth_mm[::step, ::4, ::4].astype(np.float64)
            sampled_depth_mm.append(np.where(depth_sample > 0, depth_sample, np.nan))
            index += count
    finally:
        if writer is not None:
            writer.close()
        if video is not None:
            video.close()
    _write_tasks(out / TASKS_PATH, tasks)
    episodes_path = out / EPISODES_PATH.format(chunk_index=0, file_index=0)
    episodes_path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(episode_rows), episodes_path, compression="snappy")
    stats = {name: _statistics(np.concatenate(chunks)) for name, chunks in numeric.items()}
    stats[video_key] = _image_statistics(np.concatenate(sampled_rgb), 1.0 / 255.0)
    stats[f"observation.depth.{camera}"] = _image_statistics(np.concatenate(sampled_depth_mm), 1.0)
    (out / STATS_PATH).write_text(json.dumps(stats, indent=4) + "\n")
    info = {
        "codebase_version": CODEBASE_VERSION,
        "robot_type": robot_type or None,
        "total_episodes": len(readers),
        "total_frames": index,
        "total_tasks": len(tasks),
        "chunks_size": CHUNKS_SIZE,
        "data_files_size_in_mb": DATA_FILE_MB,
        "video_files_size_in_mb": VIDEO_FILE_MB,
        "fps": round(fps),
        "splits": {"train": f"0:{len(readers)}"},
        "data_path": DATA_PATH,
        "video_path": VIDEO_PATH,
        "features": features,
    }
    (out / INFO_PATH).write_text(json.dumps(info, indent=4) + "\n")
    return info


def _write_tasks(path: Path, tasks: dict[str, int]) -> None:
    """meta/tasks.parquet as pandas writes a frame indexed by the task string (LeRobot reads it so)."""
    ordered = sorted(tasks.items(), key=lambda item: item[1])
    table = pa.table(
        {"task_index": pa.array([i for _, i in ordered], pa.int64()), "task": [t for t, _ in ordered]}
    )
    pandas_meta = {
        "index_columns": ["task"],
        "column_indexes": [],
        "columns": [
            {
                "name": "task_index",
                "field_name": "task_index",
                "pandas_type": "int64",
                "numpy_type": "int64",
                "metadata": None,
            },
            {
                "name": "task",
                "field_name": "task",
                "pandas_type": "unicode",
                "numpy_type": "object",
                "metadata": None,
            },
        ],
        "creator": {"library": "pyarrow", "version": pa.__version__},
        "pandas_version": "2.2.3",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.replace_schema_metadata({"pandas": json.dumps(pandas_meta)}), path)


def _decoded_frames(path: Path) -> Iterator[tuple[int, NDArray[np.uint8]]]:
    """(frame number by timestamp, RGB) of every frame of an mp4."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or stream.guessed_rate)
        for frame in container.decode(stream):
            yield round(float(frame.pts * frame.time_base) * rate), frame.to_ndarray(format="rgb24")


def import_lerobot(source: Path, out: Path) -> list[str]:
    """Our episodes from a LeRobot v3.0 dataset written by :func:`export_lerobot`; their names."""
    info = json.loads((source / INFO_PATH).read_text())
    if not str(info.get("codebase_version", "")).startswith("v3."):
        raise LeRobotFormatError(
            f"{source}: codebase_version {info.get('codebase_version')!r}, expected v3.x"
        )
    episodes = pq.read_table(source / "meta/episodes").to_pylist()
    if not episodes or META_COLUMN not in episodes[0]:
        raise LeRobotFormatError(
            f"{source}: its episodes carry no {META_COLUMN} (camera, path label, keyframes): only datasets "
            "written by vla-ros dataset to-lerobot can be read back"
        )
    video_key = next(key for key, feature in info["features"].items() if feature["dtype"] == "video")
    depth_key = next(key for key, feature in info["features"].items() if feature["dtype"] == "image")
    data = pq.read_table(source / "data").to_pydict()
    fps = float(info["fps"])
    names = []
    frames_by_file: dict[tuple[int, int], dict[int, NDArray[np.uint8]]] = {}
    for episode in sorted(episodes, key=lambda row: row["episode_index"]):
        meta = json.loads(episode[META_COLUMN])
        name = meta.pop("name")
        rows = range(episode["dataset_from_index"], episode["dataset_to_index"])
        file_key = (episode[f"videos/{video_key}/chunk_index"], episode[f"videos/{video_key}/file_index"])
        if file_key not in frames_by_file:
            path = source / info["video_path"].format(
                video_key=video_key, chunk_index=file_key[0], file_index=file_key[1]
            )
            frames_by_file[file_key] = dict(_decoded_frames(path))
        first = round(episode[f"videos/{video_key}/from_timestamp"] * fps)
        video = frames_by_file[file_key]
        missing = [i for i in range(len(rows)) if first + i not in video]
        if missing:
            raise LeRobotFormatError(f"{name}: the video lacks {len(missing)} of its {len(rows)} frames")
        rgb = np.stack([video[first + i] for i in range(len(rows))])

        def column(key: str, dtype: type = np.float64, rows: range = rows) -> NDArray:
            return np.asarray([data[key][row] for row in rows], dtype)

        depth_mm = np.stack(
            [np.asarray(Image.open(io.BytesIO(data[depth_key][row]["bytes"])), np.uint16) for row in rows]
        )
        arrays = {
            "time": column("timestamp"),
            "rgb": rgb,
            "depth": depth_units(
                np.where(depth_mm == 0, np.nan, depth_mm * MILLIMETRE_M),
                float(meta["camera"]["depth_scale_m"]),
            ),
            "joint_positions": column("observation.state"),
            "joint_velocities": column("observation.velocity"),
            "joint_efforts": column("observation.effort"),
            "arm_targets": column("action.arm_targets"),
            "tcp_pose": column("observation.tcp_pose"),
            "gripper_width": column("observation.gripper_width"),
            "gripper_command": column("action.gripper_command"),
            "gripper_open": column("observation.gripper_open", bool),
        }
        write_episode(
            out / name, arrays, {**meta, "source": {**meta.get("source", {}), "lerobot": str(source)}}
        )
        names.append(name)
    add_to_index(out, names, {"from_lerobot": str(source), "saved": len(names)})
    return names
