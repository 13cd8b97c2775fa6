"""Orthographic virtual views of a point cloud, rendered with a z-buffer in plain torch (CPU or GPU).

Points live in the normalised workspace cube [-1, 1]^3 (see :mod:`vla_ros.policy.pointcloud`). A view
looks at the cube along one axis: image column ``u`` and row ``v`` are two other axes (normalised, -1
at the left/top edge, +1 at the right/bottom edge, as ``torch.nn.functional.grid_sample`` with
``align_corners=False`` reads them) and depth grows away from the viewer, 0 at the cube face nearest
to it and 1 at the far face. Every point covers the one pixel it falls in; the nearest point wins.

Rendered channels, in order: the points' features, depth, the visible point's x, y, z, occupancy
(1 where a point was rendered), and the pixel's own u and v.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ViewSpec:
    """Axes (0 = x, 1 = y, 2 = z) and signs of a view: image column, image row, and the viewing axis
    (``depth_sign`` +1: the viewer sits on the + side of ``depth_axis``, looking toward -)."""

    u_axis: int
    u_sign: float
    v_axis: int
    v_sign: float
    depth_axis: int
    depth_sign: float


VIEWS: dict[str, ViewSpec] = {
    # from above, looking down; the robot base at the bottom edge of the image, +x up
    "top": ViewSpec(1, -1.0, 0, -1.0, 2, 1.0),
    # from in front of the robot (+x), looking back at it; +y to the right, +z up
    "front": ViewSpec(1, 1.0, 2, -1.0, 0, 1.0),
    # from the robot's left (+y), looking right; +x to the left, +z up
    "side": ViewSpec(0, -1.0, 2, -1.0, 1, 1.0),
    # from behind the robot base (-x); +y to the left, +z up
    "back": ViewSpec(1, -1.0, 2, -1.0, 0, -1.0),
    # from the robot's right (-y); +x to the right, +z up
    "right": ViewSpec(0, 1.0, 2, -1.0, 1, -1.0),
}
GEOMETRY_CHANNELS = 7  # depth, x, y, z, occupancy, u, v


def rendered_channels(feature_channels: int) -> int:
    """Channels of a rendered view for points with ``feature_channels`` features."""
    return feature_channels + GEOMETRY_CHANNELS


def project(points: torch.Tensor, view: ViewSpec) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Normalised image coordinates ``u``, ``v`` in [-1, 1] and depth in [0, 1] of points (..., 3)."""
    u = view.u_sign * points[..., view.u_axis]
    v = view.v_sign * points[..., view.v_axis]
    depth = 0.5 * (1.0 - view.depth_sign * points[..., view.depth_axis])
    return u, v, depth


def pixel_index(coordinate: torch.Tensor, size: int) -> torch.Tensor:
    """The pixel (0..size-1) a normalised coordinate in [-1, 1] falls in."""
    return ((coordinate + 1.0) * (0.5 * size)).floor().long().clamp_(0, size - 1)


def render_views(
    points: torch.Tensor,
    features: torch.Tensor,
    batch_index: torch.Tensor,
    batch_size: int,
    views: tuple[str, ...],
    size: int,
) -> torch.Tensor:
    """Render a batch of clouds into (B, V, C, size, size) images (C = :func:`rendered_channels`).

    ``points`` (N, 3) in [-1, 1]^3, ``features`` (N, F), ``batch_index`` (N,) the cloud each point
    belongs to. Points outside the cube must have been removed.
    """
    device, dtype = points.device, points.dtype
    pixels = size * size
    channels = rendered_channels(features.shape[1])
    images = []
    for name in views:
        u, v, depth = project(points, VIEWS[name])
        flat = batch_index * pixels + pixel_index(v, size) * size + pixel_index(u, size)
        nearest = torch.full((batch_size * pixels,), float("inf"), device=device, dtype=dtype)
        nearest.scatter_reduce_(0, flat, depth, reduce="amin")
        visible = depth <= nearest[flat]
        values = torch.cat([features, depth[:, None], points, torch.ones_like(depth)[:, None]], dim=1)[
            visible
        ]
        image = torch.zeros(batch_size * pixels, channels - 2, device=device, dtype=dtype)
        image[flat[visible]] = values
        images.append(image.view(batch_size, size, size, channels - 2))
    stacked = torch.stack(images, dim=1).permute(0, 1, 4, 2, 3)
    grid = (torch.arange(size, device=device, dtype=dtype) + 0.5) * (2.0 / size) - 1.0
    rows, cols = torch.meshgrid(grid, grid, indexing="ij")
    coords = torch.stack([cols, rows]).expand(batch_size, len(views), 2, size, size)
    return torch.cat([stacked, coords], dim=2).contiguous()
