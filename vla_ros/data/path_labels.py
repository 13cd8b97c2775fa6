"""HAMSTER-style 2D path labels: TCP positions projected into the first image, simplified with
Ramer-Douglas-Peucker, with the gripper state at every point, as the planner's
:class:`~vla_ros.planning.path.PlannedPath` (so labels and planner answers share one answer format).

Image coordinates of the labels are normalised: x = column / width, y = row / height, in [0, 1],
measured from the image's top-left corner (pixel centre u maps to (u + 0.5) / width).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vla_ros.data.camera import CameraIntrinsics, project_points
from vla_ros.planning.path import PlannedPath


class PathLabelError(ValueError):
    """Inconsistent inputs for a path label."""


def rdp(points: ArrayLike, epsilon: float) -> list[int]:
    """Indices of the points kept by Ramer-Douglas-Peucker simplification (always the first and last).

    A point is dropped when it lies within ``epsilon`` of the segment joining the kept points around it.
    """
    pts = np.asarray(points, dtype=float)
    if pts.ndim != 2 or len(pts) == 0:
        raise PathLabelError(f"rdp needs an (N, D) array of points with N > 0, got shape {pts.shape}")
    if epsilon < 0.0:
        raise PathLabelError(f"rdp epsilon must be non-negative, got {epsilon}")
    keep = np.zeros(len(pts), dtype=bool)
    keep[[0, -1]] = True
    stack = [(0, len(pts) - 1)]
    while stack:
        first, last = stack.pop()
        if last - first < 2:
            continue
        chord = pts[last] - pts[first]
        offsets = pts[first + 1 : last] - pts[first]
        # distance to the chord as a segment (not its infinite line), so that a path that goes out and
        # comes back along the same line keeps its turning point
        squared_length = float(chord @ chord)
        along = np.clip(offsets @ chord / squared_length, 0.0, 1.0) if squared_length > 1e-24 else 0.0
        distances = np.linalg.norm(offsets - np.outer(along, chord), axis=1)
        farthest = int(np.argmax(distances))
        if distances[farthest] > epsilon:
            split = first + 1 + farthest
            keep[split] = True
            stack.extend([(first, split), (split, last)])
    return [int(i) for i in np.flatnonzero(keep)]


def normalised_image_points(
    intrinsics: CameraIntrinsics, base_from_optical: ArrayLike, points: ArrayLike
) -> NDArray[np.float64]:
    """Base-frame points as normalised image coordinates (x, y) in [0, 1] (clipped at the border)."""
    pixels, depth = project_points(intrinsics, base_from_optical, points)
    if np.any(depth <= 0.0):
        raise PathLabelError("a path point lies behind the camera")
    size = np.array([intrinsics.width, intrinsics.height], dtype=float)
    return np.clip((pixels + 0.5) / size, 0.0, 1.0)


def hamster_path(
    intrinsics: CameraIntrinsics,
    base_from_optical: ArrayLike,
    tcp_positions: ArrayLike,
    gripper_open: Sequence[bool],
    epsilon: float,
) -> PlannedPath:
    """The simplified image path of a demonstration, with the gripper state at every kept point.

    The trace is cut at every gripper state change; each piece is simplified on its own, so the last
    point before a change (where the gripper acts) is kept, and that point carries the new state (as
    HAMSTER writes the action right after it). Written out by
    :func:`vla_ros.planning.hamster_format.format_answer`.
    """
    positions = np.asarray(tcp_positions, dtype=float)
    if positions.ndim != 2 or positions.shape[1] != 3 or len(positions) != len(gripper_open):
        raise PathLabelError(
            f"need (T, 3) TCP positions and T gripper states, got {positions.shape}, {len(gripper_open)}"
        )
    if len(positions) == 0:
        raise PathLabelError("empty trace")
    image = normalised_image_points(intrinsics, base_from_optical, positions)
    count = len(positions)
    changes = [i for i in range(1, count) if gripper_open[i] != gripper_open[i - 1]]
    bounds = [0, *changes, count]
    frames: list[int] = []
    for start, end in itertools.pairwise(bounds):
        # each piece starts at the last frame of the previous one, so the path stays connected
        first = max(start - 1, 0)
        kept = [first + index for index in rdp(image[first:end], epsilon)]
        frames.extend(frame for frame in kept if not frames or frame > frames[-1])
    states = [bool(gripper_open[f + 1]) if f + 1 in changes else bool(gripper_open[f]) for f in frames]
    return PlannedPath(image[frames], np.array(states), bool(gripper_open[0]))
