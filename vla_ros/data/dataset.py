"""On-disk demonstration format: one directory per episode, self-describing.

::

    DATASET/
      dataset.json               index: format, episodes, collection statistics
      episode_000000/
        meta.json                format name and version, task, split, seed, instruction, success,
                                 camera model (K, size, pose of the optical frame in the base frame),
                                 frames, joint names, units and shape of every array, keyframes,
                                 HAMSTER path label
        frames.npz               compressed arrays, one row per camera frame (see ARRAYS)
        preview.png              the first RGB frame

Depth is stored as uint16 in units of ``depth_scale`` metres (0 = no return) and read back as float32
metres with NaN where invalid. Poses are (x, y, z, qx, qy, qz, qw) in the robot's base frame.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from vla_ros.data.camera import CameraIntrinsics

FORMAT_NAME = "vla_ros.sim.episode"
FORMAT_VERSION = 1
META_FILE = "meta.json"
FRAMES_FILE = "frames.npz"
PREVIEW_FILE = "preview.png"
INDEX_FILE = "dataset.json"

# name -> (unit, description); shapes and dtypes are written into meta.json when an episode is saved
ARRAYS: dict[str, tuple[str, str]] = {
    "time": ("s", "simulation time of the frame"),
    "rgb": ("", "colour image, RGB, row-major (T, H, W, 3)"),
    "depth": ("depth_scale m", "depth along the optical axis aligned to colour; 0 = invalid"),
    "joint_positions": ("rad | m", "measured positions of joint_names (fingers in m)"),
    "joint_velocities": ("rad/s | m/s", "measured velocities of joint_names"),
    "joint_efforts": ("N m | N", "measured efforts of joint_names"),
    "arm_targets": ("rad", "commanded arm joint positions (arm_joint_names)"),
    "tcp_pose": ("m, quaternion xyzw", "TCP pose in the base frame"),
    "gripper_width": ("m", "measured distance between the fingers"),
    "gripper_command": ("m", "commanded distance between the fingers"),
    "gripper_open": ("bool", "commanded gripper state: width >= gripper.closed_threshold"),
}


class DatasetError(ValueError):
    """A dataset directory or episode is missing, malformed or of an unknown format version."""


class EpisodeReader:
    """Reads one episode directory (written by ``vla_ros.sim.recording.EpisodeRecorder``)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        meta_path = self.directory / META_FILE
        if not meta_path.is_file():
            raise DatasetError(f"{self.directory} is not an episode: no {META_FILE}")
        self.meta: dict[str, Any] = json.loads(meta_path.read_text())
        if self.meta.get("format") != FORMAT_NAME or self.meta.get("format_version") != FORMAT_VERSION:
            raise DatasetError(
                f"{meta_path}: format {self.meta.get('format')!r} version "
                f"{self.meta.get('format_version')!r}, expected {FORMAT_NAME!r} {FORMAT_VERSION}"
            )
        self._arrays: dict[str, NDArray[Any]] | None = None

    @property
    def arrays(self) -> dict[str, NDArray[Any]]:
        """All arrays of ``frames.npz`` (loaded on first use)."""
        if self._arrays is None:
            with np.load(self.directory / FRAMES_FILE) as data:
                self._arrays = {name: data[name] for name in data.files}
        return self._arrays

    @property
    def instruction(self) -> str:
        """The episode's language instruction."""
        return str(self.meta["instruction"])

    @property
    def recovery(self) -> bool:
        """A recovery demonstration (``vla-ros collect --recovery``): its first attempt was spoiled on
        purpose, and its path label draws that attempt too (not a planner's label)."""
        return bool(self.meta.get("recovery", False))

    def planner_label(self) -> str:
        """The path label as the planner answers it (HAMSTER's format): what a planner learns to say.
        A recovery demonstration has none (DatasetError): its label draws the spoiled attempt too."""
        if self.recovery:
            raise DatasetError(
                f"{self.directory}: a recovery demonstration's path label draws its spoiled attempt and "
                "is no planner label (record the planner's data without --recovery)"
            )
        return str(self.meta["path"]["answer"])

    @property
    def intrinsics_matrix(self) -> NDArray[np.float64]:
        """The 3x3 camera matrix K."""
        return np.array(self.meta["camera"]["K"])

    @property
    def camera_pose(self) -> NDArray[np.float64]:
        """Pose (4x4) of the camera's optical frame in the base frame."""
        return np.array(self.meta["camera"]["base_from_camera"])

    def depth_metres(self) -> NDArray[np.float32]:
        """Depth images as float32 metres, NaN where invalid."""
        raw = self.arrays["depth"]
        depth = raw.astype(np.float32) * np.float32(self.meta["camera"]["depth_scale_m"])
        depth[raw == self.meta["camera"]["depth_invalid_value"]] = np.nan
        return depth


def depth_units(depth_m: NDArray[np.floating], depth_scale: float) -> NDArray[np.uint16]:
    """Depth in metres (NaN where invalid) as the stored uint16 in units of ``depth_scale`` metres
    (0 = invalid), the inverse of :meth:`EpisodeReader.depth_metres`."""
    units = np.nan_to_num(np.asarray(depth_m, np.float64) / depth_scale, nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(np.round(units), 0, np.iinfo(np.uint16).max).astype(np.uint16)


def list_episodes(dataset: Path) -> list[Path]:
    """Episode directories of a dataset, sorted by name."""
    dataset = Path(dataset)
    if not dataset.is_dir():
        raise DatasetError(f"dataset directory not found: {dataset}")
    return sorted(path.parent for path in dataset.glob(f"*/{META_FILE}"))


def camera_meta(
    intrinsics: CameraIntrinsics, base_from_camera: NDArray[np.float64], depth_scale: float
) -> dict[str, Any]:
    """The ``camera`` entry of an episode's meta.json."""
    return {
        "model": "pinhole, no distortion; (u, v) = (column, row), (0, 0) = top-left pixel centre",
        "width": intrinsics.width,
        "height": intrinsics.height,
        "K": intrinsics.matrix.tolist(),
        "base_from_camera": np.asarray(base_from_camera).tolist(),
        "depth_scale_m": depth_scale,
        "depth_invalid_value": 0,
    }


def write_episode(directory: Path, arrays: dict[str, NDArray[Any]], meta: dict[str, Any]) -> None:
    """Write one episode: ``frames.npz`` (``arrays``, every name of :data:`ARRAYS`), ``preview.png`` and
    ``meta.json`` (format, ``meta``, the frame count and every array's shape, dtype and unit).

    ``meta.json`` is written last, so a directory without it is no episode (:class:`EpisodeReader`).
    """
    missing = sorted(set(ARRAYS) - set(arrays))
    if missing:
        raise DatasetError(f"an episode needs the arrays {missing}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(directory / FRAMES_FILE, **arrays)
    Image.fromarray(arrays["rgb"][0]).save(directory / PREVIEW_FILE)
    full_meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        **meta,
        "num_frames": len(arrays["time"]),
        "arrays": {
            name: {
                "shape": list(arrays[name].shape),
                "dtype": str(arrays[name].dtype),
                "unit": unit,
                "description": description,
            }
            for name, (unit, description) in ARRAYS.items()
        },
    }
    (directory / META_FILE).write_text(json.dumps(full_meta, indent=2) + "\n")


def read_index(dataset: Path) -> dict[str, Any]:
    """The dataset's ``dataset.json`` (a new, empty index where there is none yet)."""
    path = Path(dataset) / INDEX_FILE
    if path.is_file():
        return json.loads(path.read_text())
    return {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "episodes": [], "collections": []}


def add_to_index(dataset: Path, episodes: list[str], collection: dict[str, Any]) -> dict[str, Any]:
    """Record ``episodes`` and how they were made (``collection``) in the dataset's ``dataset.json``."""
    index = read_index(dataset)
    index["episodes"] = sorted(set(index["episodes"]) | set(episodes))
    index["collections"].append(collection)
    Path(dataset).mkdir(parents=True, exist_ok=True)
    (Path(dataset) / INDEX_FILE).write_text(json.dumps(index, indent=2) + "\n")
    return index
