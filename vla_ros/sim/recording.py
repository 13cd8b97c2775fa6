"""Records the simulated workcell at camera rate into the dataset format of :mod:`vla_ros.data.dataset`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vla_ros.data.dataset import ARRAYS, DatasetError, camera_meta, depth_units, write_episode
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
        command = workcell.gripper_command()
        row = {
            "time": workcell.sim_time,
            "rgb": frame.rgb,
            "depth": depth_units(frame.depth, workcell.config.recording.depth_scale),
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
        """Write the episode into ``directory`` (:func:`write_episode`): ``meta`` plus the workcell's
        frames, camera and joints."""
        workcell = self._workcell
        config = workcell.config
        write_episode(
            directory,
            self.arrays(),
            {
                **meta,
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
                "camera": camera_meta(
                    workcell.intrinsics, workcell.camera_pose(), config.recording.depth_scale
                ),
                "joint_names": list(workcell.joint_names),
                "arm_joint_names": list(workcell.arm_joint_names),
            },
        )
