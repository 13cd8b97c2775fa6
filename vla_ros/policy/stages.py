"""The forward pass through both stages, shared by training and inference (RVT-2's coarse-to-fine).

The coarse stage renders the whole workspace cube; the point its heatmaps agree on (lifted) becomes the
centre of the fine stage's cube, ``model.fine_zoom`` times smaller, into which the same cloud is
re-rendered. The fine stage's point is the translation, and the heads read the fine features there.
Training passes the centres (the target, jittered) and the head points (the target) instead of lifting
them, and the target bins the rotation axes are conditioned on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from vla_ros.policy.lifting import lift
from vla_ros.policy.model import HeadOutput, KeyframeNetwork, StageOutput
from vla_ros.policy.observation import render_clouds
from vla_ros.policy.settings import LiftingConfig

Cloud = tuple[torch.Tensor, torch.Tensor]  # points (N, 3) normalised to the workspace cube, features


@dataclass
class TwoStageOutput:
    """Both stages' outputs and what they saw: views (B, V, C, S, S), the fine cube's centres (B, 3, in
    the workspace cube's coordinates), the points the heads read (B, 3, in the fine cube's coordinates)
    and their lifting scores (B,; zeros when the points were given)."""

    coarse_views: torch.Tensor
    coarse: StageOutput
    fine_views: torch.Tensor
    fine: StageOutput
    fine_centres: torch.Tensor
    fine_points: torch.Tensor
    fine_scores: torch.Tensor
    heads: HeadOutput


def to_fine(points: torch.Tensor, centres: torch.Tensor, zoom: float) -> torch.Tensor:
    """Workspace-cube coordinates (B, ..., 3) to those of fine cubes centred on ``centres`` (B, 3)."""
    shape = (centres.shape[0],) + (1,) * (points.dim() - 2) + (3,)
    return (points - centres.reshape(shape)) * zoom


def from_fine(points: torch.Tensor, centres: torch.Tensor, zoom: float) -> torch.Tensor:
    """Inverse of :func:`to_fine` for points (B, 3)."""
    return points / zoom + centres


def heatmap_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """Per-view distributions (B, V, S, S) of heatmap logits."""
    return torch.softmax(logits.flatten(2), dim=-1).reshape(logits.shape)


def run_stages(
    network: KeyframeNetwork,
    clouds: list[Cloud],
    language: torch.Tensor,
    proprio: torch.Tensor,
    lifting: LiftingConfig,
    fine_centres: torch.Tensor | None = None,
    head_points: torch.Tensor | None = None,
    rotation_bins: torch.Tensor | None = None,
    timings: dict[str, float] | None = None,
) -> TwoStageOutput:
    """Both stages on ``clouds`` (see the module docstring); the optional tensors are training's.
    ``timings``, when given, receives the seconds of each stage (rendering, network, lifting; the fine
    stage with the heads)."""
    config = network.config
    started = time.perf_counter()
    coarse_views = render_clouds(clouds, config)
    coarse = network.coarse(coarse_views, language, proprio)
    if fine_centres is None:
        with torch.no_grad():
            fine_centres, _ = lift(heatmap_probabilities(coarse.heatmap_logits), config.views, lifting)
    coarse_done = _synchronised_clock(language)
    zoomed = [
        (to_fine(points[None], centre[None], config.fine_zoom)[0], features)
        for (points, features), centre in zip(clouds, fine_centres, strict=True)
    ]
    fine_views = render_clouds(zoomed, config)
    fine = network.fine(fine_views, language, proprio)
    scores = torch.zeros(len(clouds), device=language.device, dtype=language.dtype)
    if head_points is None:
        with torch.no_grad():
            head_points, scores = lift(heatmap_probabilities(fine.heatmap_logits), config.views, lifting)
    heads = network.heads(fine, head_points, proprio, rotation_bins)
    if timings is not None:
        timings.update(coarse=coarse_done - started, fine=_synchronised_clock(language) - coarse_done)
    return TwoStageOutput(coarse_views, coarse, fine_views, fine, fine_centres, head_points, scores, heads)


def _synchronised_clock(tensor: torch.Tensor) -> float:
    """``time.perf_counter()`` once the work queued on ``tensor``'s device is done."""
    if tensor.is_cuda:
        torch.cuda.synchronize(tensor.device)
    return time.perf_counter()
