"""The URDF robot_state_publisher gets: the robot's file with every mesh as a URI RViz opens."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from vla_ros.robot.description import RobotDescriptionError, mesh_uri, robot_description
from vla_ros.robot.urdf import resolve_urdf_path

PANDA_URDF = "pybullet_data://franka_panda/panda.urdf"


def mesh_filenames(urdf: str) -> list[str]:
    return re.findall(r'<mesh filename="([^"]+)"', urdf)


def test_default_panda_meshes_become_file_uris_of_the_installed_files():
    original = Path(resolve_urdf_path(PANDA_URDF)).read_text()
    urdf = robot_description(PANDA_URDF)
    meshes = mesh_filenames(urdf)
    assert len(meshes) == len(mesh_filenames(original)) > 0
    for uri in meshes:
        assert uri.startswith("file:///"), uri
        assert os.path.isfile(unquote(urlparse(uri).path)), uri
    assert urdf.count("<joint ") == original.count("<joint ")


def test_mesh_paths_are_resolved_next_to_the_urdf_and_ros_packages_are_kept(tmp_path):
    (tmp_path / "meshes").mkdir()
    (tmp_path / "meshes" / "link.stl").write_text("solid")
    assert mesh_uri("meshes/link.stl", tmp_path) == (tmp_path / "meshes" / "link.stl").as_uri()
    assert mesh_uri("package://meshes/link.stl", tmp_path) == (tmp_path / "meshes" / "link.stl").as_uri()
    for kept in ("package://franka_description/meshes/link0.dae", "file:///opt/link.stl", "https://x/y.stl"):
        assert mesh_uri(kept, tmp_path) == kept
    with pytest.raises(RobotDescriptionError, match=r"mesh 'meshes/missing\.stl' not found"):
        mesh_uri("meshes/missing.stl", tmp_path)


def test_unreadable_or_invalid_urdfs_raise_clear_errors(tmp_path):
    with pytest.raises(RobotDescriptionError, match="cannot read the robot's URDF"):
        robot_description(str(tmp_path / "missing.urdf"))
    broken = tmp_path / "broken.urdf"
    broken.write_text("<robot name='r'><link>")
    with pytest.raises(RobotDescriptionError, match="not valid XML"):
        robot_description(str(broken))
    other = tmp_path / "other.urdf"
    other.write_text("<sdf/>")
    with pytest.raises(RobotDescriptionError, match="not <robot>"):
        robot_description(str(other))
