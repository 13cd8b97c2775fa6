"""Rendering, lifting, rotation bins and the point cloud: the policy's geometry without a network."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from vla_ros.data.geometry import rpy_to_matrix
from vla_ros.planning.path import PlannedPath
from vla_ros.policy.errors import PolicyInputError
from vla_ros.policy.lifting import lift
from vla_ros.policy.observation import heatmap_targets, render_clouds
from vla_ros.policy.pointcloud import FEATURE_CHANNELS, camera_points, normalise, scene_cloud
from vla_ros.policy.rendering import VIEWS, pixel_index, project
from vla_ros.policy.rotation import bins_to_matrix, matrix_to_bins, rotation_angle
from vla_ros.policy.settings import ModelConfig, load_policy_config

SIZE = 64


def test_render_puts_a_point_at_its_pixel_with_its_depth_in_every_view() -> None:
    point = torch.tensor([[0.3, -0.5, 0.2]])
    features = torch.tensor([[0.9, 0.1, 0.2, 0.0, 1.0, 0.0]])
    views = tuple(VIEWS)
    images = render_clouds([(point, features)], _model(views))
    expected_pixels = {  # (row, col): row from v, column from u, both (coordinate + 1) / 2 * 64
        "top": (pixel(-0.3), pixel(0.5)),  # u = -y, v = -x
        "front": (pixel(-0.2), pixel(-0.5)),  # u = y, v = -z
        "side": (pixel(-0.2), pixel(-0.3)),  # u = -x, v = -z
        "back": (pixel(-0.2), pixel(0.5)),  # u = -y, v = -z
        "right": (pixel(-0.2), pixel(0.3)),  # u = x, v = -z
    }
    expected_depth = {"top": 0.4, "front": 0.35, "side": 0.75, "back": 0.65, "right": 0.25}
    for index, name in enumerate(views):
        image = images[0, index]
        occupancy = image[FEATURE_CHANNELS + 4]
        rows, cols = torch.nonzero(occupancy, as_tuple=True)
        assert (int(rows[0]), int(cols[0])) == expected_pixels[name], name
        assert len(rows) == 1
        row, col = expected_pixels[name]
        assert image[:3, row, col].tolist() == pytest.approx([0.9, 0.1, 0.2])
        assert float(image[FEATURE_CHANNELS, row, col]) == pytest.approx(expected_depth[name])
        assert image[FEATURE_CHANNELS + 1 : FEATURE_CHANNELS + 4, row, col].tolist() == pytest.approx(
            [0.3, -0.5, 0.2]
        )


def test_render_keeps_the_point_nearest_to_the_viewer() -> None:
    points = torch.tensor([[0.0, 0.0, -0.5], [0.0, 0.0, 0.5]])  # same top-view pixel, the second higher
    features = torch.tensor([[1.0, 0, 0, 0, 0, 0], [0.0, 1.0, 0, 0, 0, 0]])
    images = render_clouds([(points, features)], _model(("top", "front", "side")))
    row = col = pixel(0.0)
    assert images[0, 0, :2, row, col].tolist() == [0.0, 1.0]


def test_lifting_recovers_a_point_from_its_heatmaps_within_one_grid_cell(policy_config) -> None:
    config = policy_config
    model = _model(config.model.views)
    target = torch.tensor([[0.237, -0.512, 0.081], [-0.7, 0.33, -0.2]])
    heatmaps = heatmap_targets(target, model, sigma=1.5)
    found, _ = lift(heatmaps, model.views, config.lifting)
    cell = 2.0 / SIZE
    assert torch.all((found - target).abs() <= cell), (found, target)


def test_gaussian_targets_peak_at_the_projection() -> None:
    model = _model(("top", "front", "side"))
    target = torch.tensor([[0.51, 0.27, -0.73]])  # not on a pixel edge
    heatmaps = heatmap_targets(target, model, sigma=1.0)
    for index, name in enumerate(model.views):
        u, v, _ = project(target, VIEWS[name])
        flat = int(heatmaps[0, index].argmax())
        assert divmod(flat, SIZE) == (int(pixel_index(v, SIZE)), int(pixel_index(u, SIZE)))
        assert float(heatmaps[0, index].sum()) == pytest.approx(1.0)


@pytest.mark.parametrize("yaw", [0.0, 0.4, -2.9, math.pi / 2])
def test_rotation_bins_round_trip(yaw: float) -> None:
    rotation = rpy_to_matrix(0.0, 0.0, yaw) @ rpy_to_matrix(math.pi, 0.0, 0.0)  # a top-down grasp
    bins = matrix_to_bins(rotation, 72)
    assert rotation_angle(bins_to_matrix(bins, 72), rotation) <= math.radians(2.5 * math.sqrt(3))
    assert np.array_equal(matrix_to_bins(bins_to_matrix(bins, 72), 72), bins)


def test_a_top_down_grasp_has_its_roll_at_a_bin_centre() -> None:
    rotation = rpy_to_matrix(math.pi, 0.0, 0.0)
    assert rotation_angle(bins_to_matrix(matrix_to_bins(rotation, 72), 72), rotation) < 1e-9


def test_camera_points_invert_the_pinhole_projection() -> None:
    intrinsics = np.array([[200.0, 0, 80], [0, 200.0, 60], [0, 0, 1]])
    pose = np.eye(4)
    pose[:3, 3] = [0.1, 0.2, 0.3]
    depth = np.full((120, 160), 2.0, dtype=np.float32)
    depth[0, 0] = np.nan
    points = camera_points(depth, intrinsics, pose)
    assert np.all(np.isnan(points[0]))
    row, col = 60, 100  # 20 px right of the principal point: x = 20 / 200 * 2 m
    assert points[row * 160 + col] == pytest.approx([0.1 + 0.2, 0.2, 0.3 + 2.0])


def test_scene_cloud_crops_to_the_workspace_and_carries_the_path(policy_config) -> None:
    rgb, depth, intrinsics, pose = _table_view()
    path = PlannedPath([[0.0, 0.5], [1.0, 0.5]], [True, True])
    cloud = scene_cloud(
        rgb,
        depth,
        intrinsics,
        pose,
        path,
        policy_config.scene,
        policy_config.path_channels,
        np.random.default_rng(0),
    )
    assert len(cloud.points) >= policy_config.scene.min_points
    assert np.all(np.abs(normalise(cloud.points, policy_config.scene)) <= 1.0 + 1e-6)
    assert cloud.features.shape == (len(cloud.points), FEATURE_CHANNELS)
    assert cloud.features[:, 3].max() > 0.0  # the path's progress channel reached some points


def test_scene_cloud_rejects_all_nan_depth_and_an_empty_workspace(policy_config) -> None:
    rgb, depth, intrinsics, pose = _table_view()
    path = PlannedPath([[0.0, 0.5], [1.0, 0.5]], [True, True])
    arguments = (policy_config.scene, policy_config.path_channels, np.random.default_rng(0))
    with pytest.raises(PolicyInputError, match="no valid pixel"):
        scene_cloud(rgb, np.full_like(depth, np.nan), intrinsics, pose, path, *arguments)
    far = pose.copy()
    far[:3, 3] += [5.0, 0.0, 0.0]
    with pytest.raises(PolicyInputError, match="workspace cube"):
        scene_cloud(rgb, depth, intrinsics, far, path, *arguments)
    with pytest.raises(PolicyInputError, match="do not match"):
        scene_cloud(rgb[:10], depth, intrinsics, pose, path, *arguments)


def pixel(coordinate: float) -> int:
    """The pixel a normalised coordinate falls in (64 px)."""
    return int((coordinate + 1.0) / 2.0 * SIZE)


def _model(views: tuple[str, ...]) -> ModelConfig:
    return replace(load_policy_config().model, views=tuple(views), image_size=SIZE)


def _table_view() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A camera 1 m above the table centre looking straight down at it (depth 1 m everywhere)."""
    intrinsics = np.array([[100.0, 0, 40], [0, 100.0, 30], [0, 0, 1]])
    pose = np.eye(4)
    pose[:3, :3] = rpy_to_matrix(math.pi, 0.0, 0.0)  # optical z pointing down
    pose[:3, 3] = [0.5, 0.0, 1.0]
    depth = np.full((60, 80), 1.0, dtype=np.float32)
    rgb = np.full((60, 80, 3), 128, dtype=np.uint8)
    return rgb, depth, intrinsics, pose
