"""The robot's URDF: read from its file or expanded from xacro, for the kinematics, for the simulator (a
file pybullet loads) and for robot_state_publisher (meshes RViz can open).

A ``urdf_path`` ending in ``.xacro`` is expanded by the ``xacro`` package where it is installed (apt
``ros-$ROS_DISTRO-xacro``, or ``pip install xacro``), with the robot file's ``xacro_arguments``
(``name:=value`` pairs, as on xacro's command line).

RViz resolves ``package://`` URIs through the ament index and ``file://`` URIs as they are, but not a
path relative to the URDF. pybullet_data's robots (the Panda, the xArm) name their meshes
``package://meshes/...``, which pybullet reads relative to the URDF's directory and no ROS package
provides. Such meshes are rewritten to ``file://`` URIs of the installed files; the meshes stay where
they are installed (nothing is copied into this repository).
"""

from __future__ import annotations

import hashlib
import tempfile
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from pathlib import Path

from vla_ros.robot.urdf import resolve_urdf_path

PACKAGE_SCHEME = "package://"
KEPT_SCHEMES = ("file://", "http://", "https://")
XACRO_SUFFIX = ".xacro"
# Where xacro expansions are written for loaders that take a file (pybullet), one per content.
EXPANDED_DIR = Path(tempfile.gettempdir()) / "vla_ros_urdf"


class RobotDescriptionError(ValueError):
    """The robot's URDF cannot be read or expanded, or names a mesh that does not exist."""


def xacro_mappings(arguments: str) -> dict[str, str]:
    """``"name:=value name2:=value2"`` (xacro's command-line arguments) as a dict."""
    mappings = {}
    for token in arguments.split():
        name, separator, value = token.partition(":=")
        if not separator or not name:
            raise RobotDescriptionError(f"xacro argument {token!r} is not name:=value")
        mappings[name] = value
    return mappings


def expand_xacro(path: Path, arguments: str = "") -> str:
    """The URDF XML of the xacro file ``path`` with ``arguments`` (see :func:`xacro_mappings`)."""
    mappings = xacro_mappings(arguments)
    try:
        import xacro
    except ImportError as error:
        raise RobotDescriptionError(
            f"{path} is a xacro file and the xacro package is not installed (apt: ros-$ROS_DISTRO-xacro; "
            "pip: xacro); install it, or give robot.urdf_path an expanded URDF"
        ) from error
    try:
        return xacro.process_file(str(path), mappings=mappings).toxml()
    except Exception as error:  # xacro raises its own exceptions, XML and OS errors
        raise RobotDescriptionError(f"xacro cannot expand {path}: {type(error).__name__}: {error}") from error


def robot_urdf(urdf_path: str, xacro_arguments: str = "") -> str:
    """The robot's URDF XML as its file says: ``urdf_path`` (see :func:`resolve_urdf_path`), expanded
    by xacro when it ends in ``.xacro``."""
    path = Path(resolve_urdf_path(urdf_path))
    if path.suffix == XACRO_SUFFIX:
        return expand_xacro(path, xacro_arguments)
    if xacro_arguments:
        raise RobotDescriptionError(f"robot.xacro_arguments are given, but {path} is not a xacro file")
    try:
        return path.read_text()
    except OSError as error:
        raise RobotDescriptionError(f"cannot read the robot's URDF {path}: {error}") from error


def _parse(xml: str, path: Path) -> ElementTree.Element:
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as error:
        raise RobotDescriptionError(f"the robot's URDF {path} is not valid XML: {error}") from error
    if root.tag != "robot":
        raise RobotDescriptionError(f"{path}: the root element is <{root.tag}>, not <robot>")
    return root


def _with_meshes(
    urdf_path: str, xacro_arguments: str, rename: Callable[[str, Path], str]
) -> ElementTree.Element:
    """The robot's URDF (:func:`robot_urdf`) parsed, every mesh filename replaced by ``rename(filename,
    the URDF's directory)``."""
    path = Path(resolve_urdf_path(urdf_path))
    root = _parse(robot_urdf(urdf_path, xacro_arguments), path)
    for mesh in root.iter("mesh"):
        filename = mesh.get("filename")
        if not filename:
            raise RobotDescriptionError(f"{path}: a <mesh> without a filename")
        mesh.set("filename", rename(filename, path.parent))
    return root


def urdf_file(urdf_path: str, xacro_arguments: str = "") -> str:
    """A URDF file of the robot for loaders that read files (pybullet): the robot's file itself, or a
    xacro file's expansion written under ``EXPANDED_DIR`` with its mesh files as absolute paths (so
    that they do not depend on where the expansion lies)."""
    path = Path(resolve_urdf_path(urdf_path))
    if path.suffix != XACRO_SUFFIX:
        robot_urdf(urdf_path, xacro_arguments)  # the same checks as every other reader
        return str(path)
    root = _with_meshes(urdf_path, xacro_arguments, mesh_path)
    ElementTree.indent(root)  # pybullet's XML reader fails on very long lines
    xml = ElementTree.tostring(root, encoding="unicode")
    expanded = EXPANDED_DIR / f"{path.stem}_{hashlib.sha256(xml.encode()).hexdigest()[:16]}.urdf"
    if not expanded.is_file():
        EXPANDED_DIR.mkdir(parents=True, exist_ok=True)
        scratch = expanded.with_suffix(".partial")
        scratch.write_text(xml)
        scratch.replace(expanded)
    return str(expanded)


def local_mesh_file(filename: str, urdf_dir: Path) -> Path | None:
    """The installed file of a URDF mesh ``filename`` of a URDF file in ``urdf_dir``, or None for a URI
    that stays as it is.

    ``file://`` and ``http(s)://`` URIs stay. A ``package://`` URI whose path exists relative to the
    URDF's directory (pybullet's reading) is that file; any other ``package://`` URI names a ROS package
    and stays. A plain path is relative to ``urdf_dir`` (or absolute); a missing file raises
    :class:`RobotDescriptionError`.
    """
    if filename.startswith(KEPT_SCHEMES):
        return None
    if filename.startswith(PACKAGE_SCHEME):
        local = urdf_dir / filename[len(PACKAGE_SCHEME) :]
        return local.resolve() if local.is_file() else None
    path = urdf_dir / filename
    if not path.is_file():
        raise RobotDescriptionError(f"mesh {filename!r} not found (looked for {path})")
    return path.resolve()


def mesh_path(filename: str, urdf_dir: Path) -> str:
    """A path pybullet opens for a URDF mesh ``filename`` wherever the URDF lies: its installed file's
    absolute path (see :func:`local_mesh_file`), or the URI as it is."""
    local = local_mesh_file(filename, urdf_dir)
    return filename if local is None else str(local)


def mesh_uri(filename: str, urdf_dir: Path) -> str:
    """A URI RViz resolves for a URDF mesh ``filename``: its installed file's ``file://`` URI (see
    :func:`local_mesh_file`), or the URI as it is."""
    local = local_mesh_file(filename, urdf_dir)
    return filename if local is None else local.as_uri()


def robot_description(urdf_path: str, xacro_arguments: str = "") -> str:
    """The URDF XML of a robot file's ``urdf_path`` (see :func:`robot_urdf`) with every mesh as an RViz
    URI."""
    return ElementTree.tostring(_with_meshes(urdf_path, xacro_arguments, mesh_uri), encoding="unicode")
