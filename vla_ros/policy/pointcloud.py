"""RGB-D (+ the 2D path as channels) -> a coloured point cloud in the base frame, cropped to the
workspace cube, thinned on a voxel grid, and normalised to [-1, 1]^3."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vla_ros.planning.drawing import PATH_CHANNELS, rasterize_path_channels
from vla_ros.planning.path import PlannedPath
from vla_ros.policy.errors import PolicyInputError
from vla_ros.policy.settings import PathChannelsConfig, SceneConfig

FEATURE_CHANNELS = 3 + len(PATH_CHANNELS)  # RGB in [0, 1], then the path channels


@dataclass(frozen=True)
class SceneCloud:
    """Points (N, 3) in the base frame (m) and their features (N, FEATURE_CHANNELS), float32."""

    points: np.ndarray
    features: np.ndarray


def camera_points(depth: np.ndarray, intrinsics: np.ndarray, base_from_camera: np.ndarray) -> np.ndarray:
    """Base-frame points (H*W, 3) of a depth image (m along the optical axis; NaN, inf or <= 0 invalid
    give NaN points). ``intrinsics`` is K (3x3), ``base_from_camera`` the optical frame's 4x4 pose."""
    height, width = depth.shape
    fx, fy, cx, cy = intrinsics[0, 0], intrinsics[1, 1], intrinsics[0, 2], intrinsics[1, 2]
    z = np.where(np.isfinite(depth) & (depth > 0.0), depth, np.nan).astype(np.float32).reshape(-1)
    cols, rows = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    x = (cols.reshape(-1) - cx) / fx * z
    y = (rows.reshape(-1) - cy) / fy * z
    camera = np.stack([x, y, z], axis=1)
    rotation = base_from_camera[:3, :3].astype(np.float32)
    return camera @ rotation.T + base_from_camera[:3, 3].astype(np.float32)


def scene_cloud(
    rgb: np.ndarray,
    depth: np.ndarray,
    intrinsics: np.ndarray,
    base_from_camera: np.ndarray,
    path: PlannedPath,
    scene: SceneConfig,
    path_channels: PathChannelsConfig,
    rng: np.random.Generator,
) -> SceneCloud:
    """The cropped, thinned cloud of one RGB-D frame with colour and path channels.

    Raises :class:`PolicyInputError` when depth and colour disagree in size, when no depth pixel is
    valid, or when fewer than ``scene.min_points`` points lie in the workspace cube.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[:2] != depth.shape:
        raise PolicyInputError(f"colour {rgb.shape} and depth {depth.shape} images do not match")
    height, width = depth.shape
    points = camera_points(depth, intrinsics, base_from_camera)
    valid = np.all(np.isfinite(points), axis=1)
    if not np.any(valid):
        raise PolicyInputError("the depth image has no valid pixel (all NaN, zero or infinite)")
    centre = np.asarray(scene.centre, dtype=np.float32)
    inside = valid & np.all(np.abs(np.nan_to_num(points - centre, nan=np.inf)) <= scene.half_size, axis=1)
    count = int(inside.sum())
    if count < scene.min_points:
        raise PolicyInputError(
            f"only {count} depth points lie in the workspace cube (centre {list(scene.centre)}, half size "
            f"{scene.half_size} m); need {scene.min_points}: check the camera pose and the depth image"
        )
    keep = np.flatnonzero(inside)
    cells = int(np.ceil(2.0 * scene.half_size / scene.voxel_size)) + 1
    voxels = np.floor((points[keep] - centre + scene.half_size) / scene.voxel_size).astype(np.int64)
    _, first = np.unique((voxels[:, 0] * cells + voxels[:, 1]) * cells + voxels[:, 2], return_index=True)
    keep = keep[first]
    if len(keep) > scene.max_points:
        keep = rng.choice(keep, scene.max_points, replace=False)
    colour = rgb.reshape(-1, 3)[keep].astype(np.float32) / 255.0
    raster = rasterize_path_channels(path, height, width, path_channels.style())
    channels = raster.reshape(-1, len(PATH_CHANNELS))[keep]
    return SceneCloud(points[keep], np.concatenate([colour, channels], axis=1))


def normalise(points: np.ndarray, scene: SceneConfig) -> np.ndarray:
    """Base-frame points (m) to the workspace cube's [-1, 1]^3."""
    return (
        np.asarray(points, dtype=np.float32) - np.asarray(scene.centre, dtype=np.float32)
    ) / scene.half_size


def denormalise(points: np.ndarray, scene: SceneConfig) -> np.ndarray:
    """Inverse of :func:`normalise`."""
    return np.asarray(points, dtype=np.float64) * scene.half_size + np.asarray(scene.centre, dtype=np.float64)
