"""Where the robot's files are: its robot file and its URDF.

A robot is a file (``config/robots/<name>.yaml``, or any path): the ``robot`` section every node and
tool shares (URDF, joints, base frame, TCP, gripper, limits). The simulator, the executor and the
controller read the same file (as a ``/**`` section, merged before their own parameter file), so the
simulated arm and the kinematics cannot disagree.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from vla_ros.config import ConfigError, config_dir, config_path

DEFAULT_ROBOT = "panda"
# The node parameter naming the robot file a node reads its ``robot`` section from (launch: ``robot:=``).
ROBOT_FILE_PARAMETER = "robot_file"
# The node parameter (and launch argument) naming a topic the executor and the controller read the
# URDF from at start-up (robot_state_publisher's robot_description), instead of the robot file's.
DESCRIPTION_TOPIC_PARAMETER = "robot_description_topic"
ROBOTS_DIR = "robots"
# A URDF path with this prefix is relative to pybullet_data's directory, read at run time (its robots
# are never copied into this repository).
PYBULLET_DATA_SCHEME = "pybullet_data://"


def available_robots() -> list[str]:
    """The names of the robot files shipped in ``config/robots/``."""
    return sorted(path.stem for path in (config_dir() / ROBOTS_DIR).glob("*.yaml"))


def robot_config_path(robot: str) -> Path:
    """The robot file of ``robot``: a name of ``config/robots/`` (``panda``) or a path to a robot file."""
    if not robot:
        raise ConfigError(f"no robot given: name one of {available_robots()} or a robot file")
    if os.sep in robot or robot.endswith((".yaml", ".yml")):
        return config_path(robot)
    path = config_dir() / ROBOTS_DIR / f"{robot}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown robot {robot!r}: config/{ROBOTS_DIR} has {available_robots()}")
    return path


def add_robot_argument(parser: argparse.ArgumentParser) -> None:
    """``--robot NAME|FILE`` of the command-line tools (default: the default robot)."""
    parser.add_argument(
        "--robot",
        default=DEFAULT_ROBOT,
        help=f"robot: a name of config/robots/ ({', '.join(available_robots())}) or a robot file",
    )


def resolve_urdf_path(urdf_path: str) -> str:
    """The URDF file to load: ``urdf_path``, with ``pybullet_data://`` resolved to pybullet_data's copy."""
    if not urdf_path:
        raise ConfigError("robot.urdf_path is empty: the robot file must name its URDF")
    if urdf_path.startswith(PYBULLET_DATA_SCHEME):
        import pybullet_data

        return os.path.join(pybullet_data.getDataPath(), urdf_path[len(PYBULLET_DATA_SCHEME) :])
    return urdf_path
