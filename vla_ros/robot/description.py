"""The URDF text robot_state_publisher publishes for RViz: the robot's file, with meshes RViz can open.

RViz resolves ``package://`` URIs through the ament index and ``file://`` URIs as they are, but not a
path relative to the URDF. pybullet_data's robots (the Panda, the xArm) name their meshes
``package://meshes/...``, which pybullet reads relative to the URDF's directory and no ROS package
provides. Such meshes are rewritten to ``file://`` URIs of the installed files; the meshes stay where
they are installed (nothing is copied into this repository).
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

from vla_ros.robot.urdf import resolve_urdf_path

PACKAGE_SCHEME = "package://"
KEPT_SCHEMES = ("file://", "http://", "https://")


class RobotDescriptionError(ValueError):
    """The robot's URDF cannot be read, or names a mesh that does not exist."""


def mesh_uri(filename: str, urdf_dir: Path) -> str:
    """A URI RViz resolves for a URDF mesh ``filename`` of a URDF file in ``urdf_dir``.

    ``file://`` and ``http(s)://`` URIs are kept. A ``package://`` URI whose path exists relative to the
    URDF's directory (pybullet's reading) becomes that file's ``file://`` URI; any other ``package://`` URI
    names a ROS package and is kept. A plain path (relative to ``urdf_dir``, or absolute) becomes a
    ``file://`` URI; a missing file raises :class:`RobotDescriptionError`.
    """
    if filename.startswith(KEPT_SCHEMES):
        return filename
    if filename.startswith(PACKAGE_SCHEME):
        local = urdf_dir / filename[len(PACKAGE_SCHEME) :]
        return local.resolve().as_uri() if local.is_file() else filename
    path = urdf_dir / filename
    if not path.is_file():
        raise RobotDescriptionError(f"mesh {filename!r} not found (looked for {path})")
    return path.resolve().as_uri()


def robot_description(urdf_path: str) -> str:
    """The URDF XML of a robot file's ``urdf_path`` (see :func:`resolve_urdf_path`) with every mesh as an
    RViz URI."""
    path = Path(resolve_urdf_path(urdf_path))
    try:
        root = ElementTree.parse(path).getroot()
    except OSError as error:
        raise RobotDescriptionError(f"cannot read the robot's URDF {path}: {error}") from error
    except ElementTree.ParseError as error:
        raise RobotDescriptionError(f"the robot's URDF {path} is not valid XML: {error}") from error
    if root.tag != "robot":
        raise RobotDescriptionError(f"{path}: the root element is <{root.tag}>, not <robot>")
    for mesh in root.iter("mesh"):
        filename = mesh.get("filename")
        if not filename:
            raise RobotDescriptionError(f"{path}: a <mesh> without a filename")
        mesh.set("filename", mesh_uri(filename, path.parent))
    return ElementTree.tostring(root, encoding="unicode")
