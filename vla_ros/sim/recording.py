"""Records the simulated workcell at camera rate into the dataset format of :mod:`vla_ros.data.dataset`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from vla_ros.data.dataset import (
    ARRAYS,
    FORMAT_NAME,
    FORMAT_VERSION,
    FRAMES_FILE,
    META_FILE,
    PREVIEW_FILE,
    DatasetError,
)
from vla_ros.data.geometry import pose_to_vector
from vla_ros.sim.workcell import Workcell


class EpisodeRecorder:
    """Collects frames from a workcell at camera rate and writes them as one episode directory."""

    def __init__(self, workcell: Workcell) -> None:
        self._workcell = workcell
        self._rows: dict[str, list[Any]] = {name: [] for name in ARRAYS}

    @property
    def frame_count(self) -> int:
        """Number of frames recorded so far."""
        return len(self._rows["time"])

    def record(self) -> None:
        """Append the current camera image and robot state."""
        workcell = self._workcell
        frame = workcell.render()
        joints = workcell.joint_state()
        scale = workcell.config.recording.depth_scale
        depth = np.nan_to_num(frame.depth / scale, nan=0.0)
        command = workcell.gripper_command()
        row = {
            "time": workcell.sim_time,
            "rgb": frame.rgb,
            "depth": np.clip(np.round(depth), 0, np.iinfo(np.uint16).max).astype(np.uint16),
            "joint_positions": joints.positions,
            "joint_velocities": joints.velocities,
            "joint_efforts": joints.efforts,
            "arm_targets": workcell.arm_targets(),
            "tcp_pose": pose_to_vector(workcell.tcp_pose()),
            "gripper_width": workcell.gripper_width(),
            "gripper_command": command,
            "gripper_open": command >= workcell.config.gripper.closed_threshold,
        }
        for name, value in row.items():
            self._rows[name].append(value)

    def arrays(self) -> dict[str, NDArray[Any]]:
        """The recorded frames as stacked arrays."""
        if self.frame_count == 0:
            raise DatasetError("no frames recorded")
        return {name: np.stack([np.asarray(v) for v in values]) for name, values in self._rows.items()}

    def write(self, directory: Path, meta: dict[str, Any]) -> None:
        """Write ``frames.npz``, ``preview.png`` and ``meta.json`` (``meta`` plus the array and camera
        descriptions) into ``directory``."""
        arrays = self.arrays()
        workcell = self._workcell
        directory.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(directory / FRAMES_FILE, **arrays)
        Image.fromarray(arrays["rgb"][0]).save(directory / PREVIEW_FILE)
        config = workcell.config
        full_meta = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            **meta,
            "num_frames": self.frame_count,
            "camera_rate_hz": config.camera.rate,
            "frames": {
                "base": config.robot.base_frame,
                "camera": config.workcell.camera_optical_frame,
                "tcp": {
                    "parent": config.robot.tcp_parent_link,
                    "offset_m": list(config.robot.tcp_offset_xyz),
                    "offset_rpy": list(config.robot.tcp_offset_rpy),
                },
            },
            "camera": {
                "model": "pinhole, no distortion; (u, v) = (column, row), (0, 0) = top-left pixel centre",
                "width": workcell.intrinsics.width,
                "height": workcell.intrinsics.height,
                "K": workcell.intrinsics.matrix.tolist(),
                "base_from_camera": workcell.camera_pose().tolist(),
                "depth_scale_m": config.recording.depth_scale,
                "depth_invalid_value": 0,
            },
            "joint_names": list(workcell.joint_names),
            "arm_joint_names": list(workcell.arm_joint_names),
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
