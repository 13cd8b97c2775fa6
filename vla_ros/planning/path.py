"""The planner's output: a 2D gripper path on the image with gripper open/close states."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vla_ros.planning.errors import InvalidImageError, InvalidPathError


@dataclass(frozen=True, eq=False)
class PlannedPath:
    """A path of the gripper on the image, in normalised image coordinates.

    ``points`` is an (N, 2) array of (x, y) with x = column / width and y = row / height, both in
    [0, 1] ((0, 0) is the top-left corner of the image). ``gripper_open[i]`` is the gripper state
    from point i on (after any open/close event at that point); ``initial_gripper_open`` is the
    state before the first point, so an event at point 0 is representable. ``text`` is the raw
    answer the path was parsed from ("" when built otherwise).
    """

    points: np.ndarray
    gripper_open: np.ndarray
    initial_gripper_open: bool = True
    text: str = ""

    def __post_init__(self) -> None:
        points = np.array(self.points, dtype=np.float64)
        if points.ndim != 2 or points.shape[0] == 0 or points.shape[1] != 2:
            raise InvalidPathError(f"points must be a non-empty (N, 2) array, got shape {points.shape}")
        gripper_open = np.array(self.gripper_open, dtype=bool).reshape(-1)
        if gripper_open.shape[0] != points.shape[0]:
            raise InvalidPathError(
                f"gripper_open has {gripper_open.shape[0]} entries for {points.shape[0]} points"
            )
        if not np.all(np.isfinite(points)):
            raise InvalidPathError("points must be finite")
        if points.min() < 0.0 or points.max() > 1.0:
            raise InvalidPathError(
                f"normalised points must lie in [0, 1], got range [{points.min():.4g}, {points.max():.4g}]"
            )
        points.setflags(write=False)
        gripper_open.setflags(write=False)
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "gripper_open", gripper_open)
        object.__setattr__(self, "initial_gripper_open", bool(self.initial_gripper_open))

    def __eq__(self, other: object) -> bool:
        """Paths are equal when points, gripper states and initial state are (exactly) equal."""
        if not isinstance(other, PlannedPath):
            return NotImplemented
        return (
            self.initial_gripper_open == other.initial_gripper_open
            and np.array_equal(self.points, other.points)
            and np.array_equal(self.gripper_open, other.gripper_open)
        )

    __hash__ = None  # holds arrays: not hashable

    def __len__(self) -> int:
        return int(self.points.shape[0])

    @classmethod
    def from_pixels(
        cls,
        pixels: np.ndarray,
        width: int,
        height: int,
        gripper_open: np.ndarray | None = None,
        initial_gripper_open: bool = True,
    ) -> PlannedPath:
        """Build a path from (N, 2) pixel coordinates (u = column, v = row) on a width x height image.

        Pixel coordinates map to normalised ones as x = u / width, y = v / height; points outside
        the image raise :class:`InvalidPathError`. ``gripper_open`` defaults to the initial state
        for every point.
        """
        _check_image_size(width, height)
        pixels = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
        if gripper_open is None:
            gripper_open = np.full(pixels.shape[0], bool(initial_gripper_open))
        return cls(pixels / np.array([width, height], dtype=np.float64), gripper_open, initial_gripper_open)

    def to_pixels(self, width: int, height: int) -> np.ndarray:
        """Return the (N, 2) float pixel coordinates (u = x * width, v = y * height) of the points."""
        _check_image_size(width, height)
        return self.points * np.array([width, height], dtype=np.float64)

    def gripper_events(self) -> list[tuple[int, bool]]:
        """Return (point index, opens) for every change of the gripper state along the path."""
        previous = np.concatenate([[self.initial_gripper_open], self.gripper_open[:-1]])
        changed = np.flatnonzero(previous != self.gripper_open)
        return [(int(index), bool(self.gripper_open[index])) for index in changed]

    def arc_length(self, aspect: float = 1.0) -> np.ndarray:
        """Return the cumulative arc length at each point, starting at 0.

        Lengths are in units of the image height, with x stretched by ``aspect`` (image width /
        height), so that they follow the image's proportions; the default 1 measures in
        normalised units.
        """
        if aspect <= 0:
            raise InvalidPathError(f"aspect must be positive, got {aspect}")
        steps = np.linalg.norm(np.diff(self.points, axis=0) * np.array([aspect, 1.0]), axis=1)
        return np.concatenate([[0.0], np.cumsum(steps)])

    def resample(self, num_points: int, aspect: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Resample the path to ``num_points`` points evenly spaced along its arc length.

        ``aspect`` (image width / height) measures lengths in the image's proportions, see
        :meth:`arc_length`. Returns (points (num_points, 2), gripper_open (num_points,)); a
        resampled point takes the gripper state of the original segment it lies on. A one-point
        (or zero-length) path repeats its first point.
        """
        if num_points < 1:
            raise InvalidPathError(f"num_points must be at least 1, got {num_points}")
        cumulative = self.arc_length(aspect)
        total = cumulative[-1]
        if len(self) == 1 or total <= 0.0:
            return np.repeat(self.points[:1], num_points, axis=0), np.repeat(
                self.gripper_open[:1], num_points
            )
        targets = np.linspace(0.0, total, num_points)
        points = np.stack([np.interp(targets, cumulative, self.points[:, axis]) for axis in range(2)], axis=1)
        segment = np.clip(np.searchsorted(cumulative, targets, side="right") - 1, 0, len(self) - 1)
        return points, self.gripper_open[segment].copy()


def _check_image_size(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise InvalidImageError(f"image size must be positive, got width={width}, height={height}")
