"""Camera model against the renderer: projection within a pixel, depth against known geometry."""

from __future__ import annotations

import numpy as np
import pybullet
import pytest

from vla_ros.data.camera import (
    CameraIntrinsics,
    CameraModelError,
    deproject_pixels,
    linearize_depth,
    opengl_projection,
    project_points,
)
from vla_ros.data.geometry import invert, transform_points
from vla_ros.sim.settings import SimConfig
from vla_ros.sim.workcell import Workcell

_MARKER_RADIUS = 0.008


def _render_marker_centroid(workcell: Workcell, point: np.ndarray) -> np.ndarray:
    """Render a small black sphere at ``point``; return the centroid (u, v) of its pixels."""
    p = workcell.physics_client
    shape = p.createVisualShape(pybullet.GEOM_SPHERE, radius=_MARKER_RADIUS, rgbaColor=[0, 0, 0, 1])
    marker = p.createMultiBody(baseMass=0.0, baseVisualShapeIndex=shape, basePosition=point.tolist())
    try:
        rgb = workcell.render().rgb.astype(int)
    finally:
        p.removeBody(marker)
    rows, cols = np.nonzero(rgb.max(axis=2) < 20)
    assert len(rows) > 3, "marker not visible"
    return np.array([cols.mean(), rows.mean()])


def test_projection_matches_pybullet_fov_matrix(sim_config: SimConfig) -> None:
    camera = sim_config.camera
    intrinsics = CameraIntrinsics.from_vertical_fov(camera.width, camera.height, camera.vertical_fov)
    ours = opengl_projection(intrinsics, camera.near, camera.far)
    theirs = pybullet.computeProjectionMatrixFOV(
        np.degrees(camera.vertical_fov), camera.width / camera.height, camera.near, camera.far
    )
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


@pytest.mark.parametrize("split", ["train", "heldout"])
def test_known_points_project_within_one_pixel(workcell: Workcell, split: str) -> None:
    workcell.reset("lift_block", split, seed=3)
    points = np.array([[0.45, 0.0, 0.10], [0.60, -0.22, 0.02], [0.35, 0.20, 0.25]])
    for point in points:
        expected, _ = project_points(workcell.intrinsics, workcell.camera_pose(), point)
        observed = _render_marker_centroid(workcell, point)
        # the issue asks for one pixel; half a pixel also catches a renderer half-pixel convention slip
        assert np.linalg.norm(observed - expected[0]) < 0.5, (point, observed, expected)


def test_heldout_camera_is_perturbed(workcell: Workcell) -> None:
    workcell.reset("lift_block", "train", seed=3)
    nominal = workcell.camera_pose()
    np.testing.assert_allclose(nominal, workcell.nominal_camera_pose, atol=1e-12)  # entries near 0 too
    workcell.reset("lift_block", "heldout", seed=3)
    assert np.linalg.norm(workcell.camera_pose()[:3, 3] - nominal[:3, 3]) > 1e-3


def test_depth_matches_table_plane(workcell: Workcell) -> None:
    workcell.reset("lift_block", "train", seed=0)
    frame = workcell.render()
    intrinsics, pose = workcell.intrinsics, workcell.camera_pose()
    rows, cols = np.mgrid[0 : intrinsics.height, 0 : intrinsics.width]
    pixels = np.stack([cols.ravel(), rows.ravel()], axis=1).astype(float)
    # analytic depth of the plane z = 0 along every pixel's ray (at unit optical depth)
    rays = deproject_pixels(intrinsics, pose, pixels, np.ones(len(pixels))) - pose[:3, 3]
    plane_depth = -pose[2, 3] / rays[:, 2]
    hits = pose[:3, 3] + plane_depth[:, None] * rays
    # table pixels in front of every object and away from the robot
    table = (hits[:, 0] > 0.8) & (hits[:, 0] < 1.05) & (np.abs(hits[:, 1]) < 0.6) & (plane_depth > 0)
    assert table.sum() > 1000
    rendered = frame.depth.ravel()[table]
    np.testing.assert_allclose(rendered, plane_depth[table], atol=2e-3)


def test_depth_matches_cube_top(workcell: Workcell, sim_config: SimConfig) -> None:
    workcell.reset("lift_block", "train", seed=0)
    cube = workcell.object_states()["object"]
    top = cube.position + np.array([0.0, 0.0, 0.5 * sim_config.objects.cube_size])
    pixel, depth = project_points(workcell.intrinsics, workcell.camera_pose(), top)
    u, v = np.round(pixel[0]).astype(int)
    rendered = workcell.render().depth[v, u]
    # the pixel centre's ray meets the top face within a fraction of a pixel from the cube centre
    recovered = deproject_pixels(workcell.intrinsics, workcell.camera_pose(), [[u, v]], [rendered])[0]
    assert abs(recovered[2] - top[2]) < 2e-3
    assert abs(rendered - depth[0]) < 0.01


def test_depth_invalid_is_nan_and_points_round_trip() -> None:
    depth = linearize_depth(np.array([[0.0, 0.5, 1.0]]), near=0.1, far=2.0)
    assert depth[0, 0] == pytest.approx(0.1)
    assert np.isnan(depth[0, 2])
    intrinsics = CameraIntrinsics.from_vertical_fov(320, 240, 1.0)
    pose = np.eye(4)
    pose[:3, 3] = [0.2, -0.1, 0.5]
    points = np.array([[0.3, 0.0, 1.5], [0.1, -0.3, 2.0]])
    pixels, z = project_points(intrinsics, pose, points)
    np.testing.assert_allclose(deproject_pixels(intrinsics, pose, pixels, z), points, atol=1e-9)
    np.testing.assert_allclose(transform_points(invert(pose), points)[:, 2], z)


def test_invalid_camera_parameters_are_rejected() -> None:
    with pytest.raises(CameraModelError):
        CameraIntrinsics.from_vertical_fov(320, 240, 55.0)
    with pytest.raises(CameraModelError):
        opengl_projection(CameraIntrinsics.from_vertical_fov(32, 24, 1.0), near=1.0, far=0.5)
