"""The robot every node shares: ``config/robot.yaml`` (URDF, joints, base frame, TCP, limits).

The simulator, the executor and the controller read the same file (as a ``/**`` section, merged
before their own parameter file), so the simulated arm and the kinematics cannot disagree.
"""

from __future__ import annotations

import os

ROBOT_CONFIG_FILE = "robot.yaml"


def resolve_urdf_path(urdf_path: str) -> str:
    """The URDF file to load: ``urdf_path``, or the Panda shipped with pybullet_data when it is empty.

    pybullet_data's file is read at run time, never copied into this repository.
    """
    if urdf_path:
        return urdf_path
    import pybullet_data

    return os.path.join(pybullet_data.getDataPath(), "franka_panda", "panda.urdf")
