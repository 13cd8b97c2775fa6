"""What the policy looks at (one RGB-D frame, the path, the instruction, proprioception) and how a batch
of clouds becomes the network's rendered views and heatmap targets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vla_ros.planning.path import PlannedPath
from vla_ros.policy.rendering import VIEWS, project, render_views
from vla_ros.policy.settings import ModelConfig


@dataclass(frozen=True)
class PolicyObservation:
    """One observation: colour (H, W, 3) uint8, depth (H, W) float32 metres (NaN invalid), K (3x3),
    the camera optical frame's pose in the base frame (4x4), the planner's path, the instruction, the
    gripper state last commanded (True = open) and the 0-based index of the keyframe to predict."""

    rgb: np.ndarray
    depth: np.ndarray
    intrinsics: np.ndarray
    base_from_camera: np.ndarray
    path: PlannedPath
    instruction: str
    gripper_open: bool
    keyframe_index: int


def proprioception(gripper_open: bool, keyframe_index: int, model: ModelConfig) -> np.ndarray:
    """The proprioceptive input: gripper open (0/1) and progress (keyframe index / max_keyframes, <= 1)."""
    progress = min(keyframe_index, model.max_keyframes) / model.max_keyframes
    return np.array([float(gripper_open), progress], dtype=np.float32)


def render_clouds(clouds: list[tuple[torch.Tensor, torch.Tensor]], model: ModelConfig) -> torch.Tensor:
    """Render normalised clouds ``[(points (N, 3) in [-1, 1]^3, features (N, F)), ...]`` into views
    (B, V, C, S, S); points outside the cube are dropped."""
    points, features, index = [], [], []
    for batch_index, (cloud_points, cloud_features) in enumerate(clouds):
        inside = torch.all(cloud_points.abs() <= 1.0, dim=1)
        points.append(cloud_points[inside])
        features.append(cloud_features[inside])
        index.append(
            torch.full((int(inside.sum()),), batch_index, dtype=torch.long, device=cloud_points.device)
        )
    return render_views(
        torch.cat(points), torch.cat(features), torch.cat(index), len(clouds), model.views, model.image_size
    )


def heatmap_targets(targets: torch.Tensor, model: ModelConfig, sigma: float) -> torch.Tensor:
    """Gaussian distributions (B, V, S, S) around the projections of ``targets`` (B, 3) in [-1, 1]^3;
    ``sigma`` in pixels."""
    size = model.image_size
    centres = (torch.arange(size, device=targets.device, dtype=targets.dtype) + 0.5) * (2.0 / size) - 1.0
    spread = 2.0 * (sigma * 2.0 / size) ** 2
    maps = []
    for name in model.views:
        u, v, _ = project(targets, VIEWS[name])
        column = torch.exp(-((centres[None] - u[:, None]) ** 2) / spread)
        row = torch.exp(-((centres[None] - v[:, None]) ** 2) / spread)
        gaussian = row[:, :, None] * column[:, None, :]
        maps.append(gaussian / gaussian.sum(dim=(1, 2), keepdim=True))
    return torch.stack(maps, dim=1)
