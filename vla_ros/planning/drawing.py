"""Drawing a planned path as HAMSTER draws it for the low-level policy, and as separate channels.

The path is resampled evenly along its arc length, each segment coloured along a jet colormap from
the start (blue) to the end (red), with circles at the start and wherever the gripper opens or
closes. Line width and circle radius scale with the image (about 2 px and 7 px at 512 px).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vla_ros.planning.errors import InvalidImageError
from vla_ros.planning.images import check_rgb_image
from vla_ros.planning.path import PlannedPath

RGBColor = tuple[int, int, int]
PATH_CHANNELS = ("progress", "gripper_closed", "gripper_events")
_SUBPIXEL_BITS = 4
_SUBPIXEL_SCALE = 1 << _SUBPIXEL_BITS


@dataclass(frozen=True)
class DrawingStyle:
    """How a path is drawn; sizes are given for an image whose larger side is ``reference_size``."""

    num_samples: int = 100
    line_width: float = 2.0
    circle_radius: float = 7.0
    reference_size: int = 512
    start_color: RGBColor = (255, 255, 255)
    open_color: RGBColor = (0, 255, 0)
    close_color: RGBColor = (255, 0, 255)

    def __post_init__(self) -> None:
        if self.num_samples < 2:
            raise ValueError(f"num_samples must be at least 2, got {self.num_samples}")
        if self.line_width <= 0 or self.circle_radius <= 0 or self.reference_size <= 0:
            raise ValueError("line_width, circle_radius and reference_size must be positive")
        for name in ("start_color", "open_color", "close_color"):
            color = getattr(self, name)
            if len(color) != 3 or not all(0 <= int(c) <= 255 for c in color):
                raise ValueError(f"{name} must be three integers in [0, 255], got {color!r}")

    def sizes(self, height: int, width: int) -> tuple[int, int]:
        """Line width and circle radius in pixels for a height x width image (at least 1 px each)."""
        factor = max(height, width) / self.reference_size
        return max(1, round(self.line_width * factor)), max(1, round(self.circle_radius * factor))


def jet_colormap(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] to jet colours (dark blue -> cyan -> yellow -> dark red) as uint8 RGB."""
    t = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)[..., None]
    centres = np.array([3.0, 2.0, 1.0])  # where red, green and blue peak on a 0-4 scale
    rgb = np.clip(1.5 - np.abs(4.0 * t - centres), 0.0, 1.0)
    return np.round(rgb * 255.0).astype(np.uint8)


def draw_path(image_rgb: np.ndarray, path: PlannedPath, style: DrawingStyle | None = None) -> np.ndarray:
    """Return a copy of an (H, W, 3) uint8 RGB image with the path drawn in."""
    style = style or DrawingStyle()
    image = check_rgb_image(image_rgb).copy()
    height, width = image.shape[:2]
    line_width, radius = style.sizes(height, width)
    samples = _to_subpixel(path.resample(style.num_samples, width / height)[0], width, height)
    colors = jet_colormap(np.linspace(0.0, 1.0, len(samples) - 1))
    for index, color in enumerate(colors):
        cv2.line(
            image,
            samples[index],
            samples[index + 1],
            tuple(int(c) for c in color),
            line_width,
            cv2.LINE_AA,
            _SUBPIXEL_BITS,
        )
    for centre, color in _circles(path, width, height, style):
        cv2.circle(image, centre, radius * _SUBPIXEL_SCALE, color, line_width, cv2.LINE_AA, _SUBPIXEL_BITS)
    return image


def rasterize_path_channels(
    path: PlannedPath, height: int, width: int, style: DrawingStyle | None = None
) -> np.ndarray:
    """Render the path as (H, W, 3) float32 channels for the policy's "Concat" conditioning.

    Channels (see :data:`PATH_CHANNELS`): progress along the path in (0, 1] where the path runs
    (0 elsewhere); 1 where the gripper is closed along the path; 1 inside discs at gripper events.
    """
    style = style or DrawingStyle()
    if height <= 0 or width <= 0:
        raise InvalidImageError(f"image size must be positive, got {height}x{width}")
    line_width, radius = style.sizes(height, width)
    resampled, gripper_open = path.resample(style.num_samples, width / height)
    samples = _to_subpixel(resampled, width, height)
    channels = [np.zeros((height, width), dtype=np.float32) for _ in PATH_CHANNELS]
    progress, closed, events = channels
    for index in range(len(samples) - 1):
        ends = (samples[index], samples[index + 1])
        cv2.line(
            progress, *ends, float(index + 1) / (len(samples) - 1), line_width, cv2.LINE_8, _SUBPIXEL_BITS
        )
        if not gripper_open[index]:
            cv2.line(closed, *ends, 1.0, line_width, cv2.LINE_8, _SUBPIXEL_BITS)
    event_indices = [index for index, _ in path.gripper_events()]
    for centre in _to_subpixel(path.points[event_indices], width, height):
        cv2.circle(events, centre, radius * _SUBPIXEL_SCALE, 1.0, -1, cv2.LINE_8, _SUBPIXEL_BITS)
    return np.stack(channels, axis=-1)


def _circles(
    path: PlannedPath, width: int, height: int, style: DrawingStyle
) -> list[tuple[tuple[int, int], RGBColor]]:
    """Centres (sub-pixel) and colours of the circles: the start, then every gripper event."""
    events = path.gripper_events()
    colors = [style.start_color] + [style.open_color if opens else style.close_color for _, opens in events]
    centres = _to_subpixel(path.points[[0] + [index for index, _ in events]], width, height)
    return [(centre, tuple(int(c) for c in color)) for centre, color in zip(centres, colors, strict=True)]


def _to_subpixel(points: np.ndarray, width: int, height: int) -> list[tuple[int, int]]:
    """Normalised points to OpenCV fixed-point pixel coordinates, kept inside the image."""
    pixels = points * np.array([width, height], dtype=np.float64)
    pixels = np.clip(pixels, 0.0, np.array([width - 1, height - 1], dtype=np.float64))
    fixed = np.round(pixels * _SUBPIXEL_SCALE).astype(np.int64)
    return [(int(u), int(v)) for u, v in fixed]
