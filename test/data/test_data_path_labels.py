"""Ramer-Douglas-Peucker and HAMSTER path labels (written in the planner's answer format)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from vla_ros.data.camera import CameraIntrinsics, project_points
from vla_ros.data.geometry import pose_matrix, rpy_to_matrix
from vla_ros.data.path_labels import PathLabelError, hamster_path, rdp
from vla_ros.planning.hamster_format import format_answer


def test_rdp_drops_collinear_points_and_keeps_corners() -> None:
    line = np.stack([np.linspace(0, 1, 11), np.zeros(11)], axis=1)
    assert rdp(line, 0.01) == [0, 10]
    corner = np.array([[0, 0], [0.5, 0.01], [1, 0], [1, 0.5], [1, 1]], dtype=float)
    assert rdp(corner, 0.05) == [0, 2, 4]
    assert rdp(corner, 0.0) == [0, 1, 2, 4]  # exactly collinear points go even at zero tolerance


def test_rdp_keeps_the_turning_point_of_a_back_and_forth_move() -> None:
    # down to a press and back up, all on one image line: the turning point is kept
    out_and_back = np.array([[0.5, 0.1], [0.5, 0.3], [0.5, 0.5], [0.5, 0.6], [0.5, 0.5], [0.5, 0.4]])
    assert rdp(out_and_back, 0.01) == [0, 3, 5]


def test_rdp_handles_tiny_inputs_and_loops() -> None:
    assert rdp(np.array([[0.3, 0.3]]), 0.1) == [0]
    assert rdp(np.array([[0.0, 0.0], [1.0, 1.0]]), 0.1) == [0, 1]
    loop = np.array([[0, 0], [1, 0], [1, 1], [0, 0]], dtype=float)  # start == end
    assert rdp(loop, 0.1) == [0, 1, 2, 3]
    with pytest.raises(PathLabelError):
        rdp(np.zeros((0, 2)), 0.1)


def _looking_down_camera() -> tuple[CameraIntrinsics, np.ndarray]:
    intrinsics = CameraIntrinsics.from_vertical_fov(200, 100, 1.2)
    return intrinsics, pose_matrix([0.5, 0.0, 1.0], rpy_to_matrix(np.pi, 0.0, 0.0))


def test_hamster_path_puts_gripper_events_after_the_point_where_they_happen() -> None:
    intrinsics, camera = _looking_down_camera()
    # down to a grasp at frame 10 (closes at 11), across, release at frame 30 (opens at 31), up
    down = np.linspace([0.4, 0.1, 0.3], [0.4, 0.1, 0.05], 11)
    across = np.linspace([0.4, 0.1, 0.05], [0.6, -0.1, 0.05], 21)[1:]
    up = np.linspace([0.6, -0.1, 0.05], [0.6, -0.1, 0.3], 11)[1:]
    trace = np.concatenate([down, across, up])
    gripper_open = [True] * 11 + [False] * 20 + [True] * 10
    path = hamster_path(intrinsics, camera, trace, gripper_open, epsilon=0.01)
    # the camera looks straight down: vertical moves collapse, leaving start, grasp, release, end
    expected, _ = project_points(intrinsics, camera, trace[[0, 10, 30, 40]])
    np.testing.assert_allclose(path.points, (expected + 0.5) / [200, 100], atol=1e-9)
    assert path.initial_gripper_open
    assert path.gripper_events() == [(1, False), (2, True)]
    assert format_answer(path, 2).count("<action>") == 2
    answer = format_answer(path, 2)
    assert answer.index("Close Gripper") < answer.index("Open Gripper")
    assert re.fullmatch(r"<ans>\[\(0\.\d\d, 0\.\d\d\), \(.*\)\]</ans>", answer)


def test_hamster_path_keeps_the_grasp_point_of_a_curved_approach() -> None:
    intrinsics, camera = _looking_down_camera()
    arc = np.stack(
        [
            0.5 + 0.1 * np.cos(np.linspace(0, np.pi, 15)),
            0.1 * np.sin(np.linspace(0, np.pi, 15)),
            np.full(15, 0.1),
        ],
        axis=1,
    )
    gripper_open = [True] * 8 + [False] * 7
    path = hamster_path(intrinsics, camera, arc, gripper_open, epsilon=0.005)
    grasp, _ = project_points(intrinsics, camera, arc[7])
    index = path.gripper_events()[0][0]
    np.testing.assert_allclose(path.points[index], (grasp[0] + 0.5) / [200, 100], atol=1e-9)
    assert 3 < len(path) < 15


def test_bad_traces_are_rejected() -> None:
    intrinsics, camera = _looking_down_camera()
    with pytest.raises(PathLabelError, match="T gripper states"):
        hamster_path(intrinsics, camera, np.zeros((3, 3)), [True, True], 0.01)
    with pytest.raises(PathLabelError, match="behind the camera"):
        hamster_path(intrinsics, camera, np.array([[0.5, 0.0, 2.0]]), [True], 0.01)
