"""Heatmap lifting: the 3D point that every view's heatmap agrees on, found coarse-to-fine.

Candidate points are scored by the sum over views of the log heatmap probability at their projection
(bilinear). A coarse grid over the cube is searched first, then finer grids around the best point, so
the cost is a few thousand heatmap lookups however fine the answer.
"""

from __future__ import annotations

import torch
from torch.nn import functional

from vla_ros.policy.rendering import VIEWS, project
from vla_ros.policy.settings import LiftingConfig

_EPSILON = 1e-12


def score_points(probabilities: torch.Tensor, views: tuple[str, ...], points: torch.Tensor) -> torch.Tensor:
    """Sum over views of log p_view(projection) for candidates ``points`` (B, P, 3); returns (B, P).

    ``probabilities`` (B, V, S, S): each view's heatmap, a distribution over its pixels.
    """
    score = torch.zeros(points.shape[:2], device=points.device, dtype=points.dtype)
    for index, name in enumerate(views):
        u, v, _ = project(points, VIEWS[name])
        grid = torch.stack([u, v], dim=-1)[:, None]  # (B, 1, P, 2)
        sampled = functional.grid_sample(
            probabilities[:, index : index + 1],
            grid,
            mode="bilinear",
            padding_mode="border",
            align_corners=False,
        )
        score = score + torch.log(sampled[:, 0, 0] + _EPSILON)
    return score


def _grid(points_per_axis: int, half_span: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    axis = torch.linspace(-half_span, half_span, points_per_axis, device=device, dtype=dtype)
    return torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1).reshape(-1, 3)


def lift(
    probabilities: torch.Tensor, views: tuple[str, ...], config: LiftingConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """The best 3D point (B, 3) in [-1, 1]^3 and its score (B,) for heatmaps (B, V, S, S)."""
    batch = probabilities.shape[0]
    device, dtype = probabilities.device, probabilities.dtype
    cell = 2.0 / config.coarse_points
    candidates = _grid(config.coarse_points, 1.0 - 0.5 * cell, device, dtype).expand(batch, -1, -1)
    scores = score_points(probabilities, views, candidates)
    best = scores.argmax(dim=1)
    centre = candidates[torch.arange(batch), best]
    best_score = scores[torch.arange(batch), best]
    for _ in range(config.refine_steps):
        offsets = _grid(config.refine_points, cell, device, dtype)
        candidates = (centre[:, None] + offsets[None]).clamp(-1.0, 1.0)
        scores = score_points(probabilities, views, candidates)
        best = scores.argmax(dim=1)
        centre = candidates[torch.arange(batch), best]
        best_score = scores[torch.arange(batch), best]
        cell = 2.0 * cell / (config.refine_points - 1)
    return centre, best_score
