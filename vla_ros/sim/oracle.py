"""The simulator's privileged 2D path: what a perfect planner would answer for the current scene.

The scripted expert solves a private copy of the scene (same task, split and seed, so the same
objects and camera), and its TCP trace becomes a HAMSTER path exactly as the dataset's labels do.
"""

from __future__ import annotations

from vla_ros.control.kinematics import ArmKinematics
from vla_ros.data.path_labels import hamster_path
from vla_ros.planning.path import PlannedPath
from vla_ros.sim.expert import run_expert_episode
from vla_ros.sim.settings import SimConfig
from vla_ros.sim.workcell import Workcell


class OracleError(RuntimeError):
    """The expert could not solve the scene, so there is no privileged path."""


class TcpTrace:
    """The measured TCP position and commanded gripper state of every control tick of an episode."""

    def __init__(self, workcell: Workcell) -> None:
        self._workcell = workcell
        self.positions: list = []
        self.gripper_open: list[bool] = []

    def record(self) -> None:
        """Append the workcell's current TCP position and gripper state."""
        workcell = self._workcell
        self.positions.append(workcell.tcp_pose()[:3, 3])
        self.gripper_open.append(workcell.gripper_command() >= workcell.config.gripper.closed_threshold)

    def path(self) -> PlannedPath:
        """The trace as a simplified HAMSTER path in the workcell's camera image."""
        workcell = self._workcell
        return hamster_path(
            workcell.intrinsics,
            workcell.camera_pose(),
            self.positions,
            self.gripper_open,
            workcell.config.recording.path_rdp_epsilon,
        )


def oracle_path(config: SimConfig, task: str, split: str, seed: int) -> PlannedPath:
    """Solve (task, split, seed) with the scripted expert and return its simplified image path."""
    workcell, kinematics = Workcell(config), ArmKinematics.from_settings(config.robot)
    trace = TcpTrace(workcell)
    try:
        outcome = run_expert_episode(
            workcell, kinematics, task, split, seed, on_tick=lambda *_: trace.record()
        )
        if not outcome.success:
            raise OracleError(
                f"the expert failed {task}/{split}/{seed}: {outcome.error or 'task not achieved'}"
            )
        return trace.path()
    finally:
        workcell.close()
