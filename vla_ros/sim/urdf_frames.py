"""Fixed frames of a URDF: the poses of links joined by fixed joints, relative to the root link.

Used to read the camera extrinsics of the workcell description (``urdf/workcell.urdf``) so that the
simulator, the kinematics and RViz take them from one file.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from vla_ros.data.geometry import pose_matrix, rpy_to_matrix


class UrdfFrameError(ValueError):
    """A URDF cannot be read or does not hold the requested fixed frame."""


def _floats(text: str | None, count: int, where: str) -> list[float]:
    values = (text or " ".join(["0"] * count)).split()
    if len(values) != count:
        raise UrdfFrameError(f"{where}: expected {count} numbers, got {text!r}")
    return [float(v) for v in values]


def fixed_frames(urdf_path: Path) -> dict[str, NDArray[np.float64]]:
    """Return ``{link: 4x4 pose in the root link}`` for every link reached from the root by fixed joints."""
    try:
        robot = ElementTree.parse(urdf_path).getroot()
    except (OSError, ElementTree.ParseError) as error:
        raise UrdfFrameError(f"cannot read URDF {urdf_path}: {error}") from error
    links = [link.attrib["name"] for link in robot.findall("link")]
    joints = {}
    for joint in robot.findall("joint"):
        child = joint.find("child")
        parent = joint.find("parent")
        if child is None or parent is None:
            raise UrdfFrameError(f"{urdf_path}: joint {joint.attrib.get('name')} lacks a parent or child")
        joints[child.attrib["link"]] = (joint, parent.attrib["link"])
    roots = [link for link in links if link not in joints]
    if len(roots) != 1:
        raise UrdfFrameError(f"{urdf_path}: expected one root link, found {roots}")
    frames = {roots[0]: np.eye(4)}

    def resolve(link: str) -> NDArray[np.float64] | None:
        if link in frames:
            return frames[link]
        joint, parent = joints[link]
        if joint.attrib.get("type") != "fixed":
            return None
        parent_pose = resolve(parent)
        if parent_pose is None:
            return None
        origin = joint.find("origin")
        where = f"{urdf_path}: joint {joint.attrib.get('name')}"
        xyz = _floats(origin.attrib.get("xyz") if origin is not None else None, 3, where)
        rpy = _floats(origin.attrib.get("rpy") if origin is not None else None, 3, where)
        frames[link] = parent_pose @ pose_matrix(xyz, rpy_to_matrix(*rpy))
        return frames[link]

    for link in links:
        resolve(link)
    return frames


def frame_pose(urdf_path: Path, link: str) -> NDArray[np.float64]:
    """Pose of ``link`` in the URDF's root link; raises :class:`UrdfFrameError` if it is not fixed to it."""
    frames = fixed_frames(urdf_path)
    if link not in frames:
        raise UrdfFrameError(f"{urdf_path}: link {link!r} is not connected to the root by fixed joints")
    return frames[link]
