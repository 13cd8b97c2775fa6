"""Pinhole camera model shared by the renderer, the recorder and the path labels.

Pixel coordinates follow OpenCV and ROS ``CameraInfo``: (u, v) = (column, row), the centre of the
top-left pixel is (0, 0), the camera frame is the optical frame (z forward, x right, y down).
The OpenGL matrices for PyBullet's renderer are built from the same intrinsics, so projecting a
point with ``K`` lands where the renderer draws it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vla_ros.data.geometry import invert, transform_points

# OpenGL cameras look along -z with y up; the optical frame looks along +z with y down.
_OPTICAL_TO_OPENGL = np.diag([1.0, -1.0, -1.0, 1.0])
# PyBullet's TinyRenderer draws a point projected to (u, v) at (u + 0.5, v - 0.5) of its output image
# (measured: it samples at integer pixel corners and flips rows); the projection matrix undoes this
# so that the rendered image obeys the intrinsics exactly (test_sim_camera checks it to < 1 px).
RENDERER_PIXEL_SHIFT = (0.5, -0.5)


class CameraModelError(ValueError):
    """Invalid camera parameters or inputs."""


@dataclasses.dataclass(frozen=True)
class CameraIntrinsics:
    """Image size and pinhole parameters in pixels (no distortion)."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def from_vertical_fov(cls, width: int, height: int, vertical_fov: float) -> CameraIntrinsics:
        """Square pixels, principal point at the image centre, given the vertical field of view (rad)."""
        if width <= 0 or height <= 0 or not 0.0 < vertical_fov < np.pi:
            raise CameraModelError(f"invalid camera size {width}x{height} or field of view {vertical_fov}")
        focal = 0.5 * height / np.tan(0.5 * vertical_fov)
        return cls(width, height, focal, focal, 0.5 * (width - 1), 0.5 * (height - 1))

    @classmethod
    def from_matrix(cls, width: int, height: int, matrix: NDArray[np.float64]) -> CameraIntrinsics:
        """The intrinsics of an image of ``width`` x ``height`` pixels with camera matrix K ``matrix``."""
        return cls(int(width), int(height), matrix[0, 0], matrix[1, 1], matrix[0, 2], matrix[1, 2])

    @property
    def matrix(self) -> NDArray[np.float64]:
        """The 3x3 camera matrix K."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])


def opengl_projection(
    intrinsics: CameraIntrinsics, near: float, far: float, pixel_shift: tuple[float, float] = (0.0, 0.0)
) -> list[float]:
    """Column-major OpenGL projection matrix (as PyBullet takes it) equivalent to the intrinsics.

    With the default ``pixel_shift`` this is the textbook matrix (pixel centres at +0.5 in window
    coordinates); pass :data:`RENDERER_PIXEL_SHIFT` to compensate the TinyRenderer's convention.
    """
    if not 0.0 < near < far:
        raise CameraModelError(f"need 0 < near < far, got near={near}, far={far}")
    w, h = intrinsics.width, intrinsics.height
    cx = intrinsics.cx - pixel_shift[0]
    cy = intrinsics.cy - pixel_shift[1]
    projection = np.zeros((4, 4))
    projection[0, 0] = 2.0 * intrinsics.fx / w
    projection[0, 2] = 1.0 - 2.0 * (cx + 0.5) / w
    projection[1, 1] = 2.0 * intrinsics.fy / h
    projection[1, 2] = 2.0 * (cy + 0.5) / h - 1.0
    projection[2, 2] = -(far + near) / (far - near)
    projection[2, 3] = -2.0 * far * near / (far - near)
    projection[3, 2] = -1.0
    return projection.T.reshape(-1).tolist()


def opengl_view(base_from_optical: ArrayLike) -> list[float]:
    """Column-major OpenGL view matrix for a camera whose optical frame has the given pose."""
    view = invert(np.asarray(base_from_optical, dtype=float) @ _OPTICAL_TO_OPENGL)
    return view.T.reshape(-1).tolist()


def linearize_depth(depth_buffer: ArrayLike, near: float, far: float) -> NDArray[np.float32]:
    """Metric depth along the optical axis from an OpenGL depth buffer in [0, 1].

    Pixels at the far plane (nothing rendered) are NaN, as REP 118 allows for 32FC1 images.
    """
    buffer = np.asarray(depth_buffer, dtype=np.float64)
    depth = far * near / (far - (far - near) * buffer)
    depth[buffer >= 1.0 - 1e-7] = np.nan
    return depth.astype(np.float32)


def project_points(
    intrinsics: CameraIntrinsics, base_from_optical: ArrayLike, points: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Project points given in the base frame; returns pixel coordinates (N, 2) and depths (N,)."""
    in_camera = transform_points(invert(base_from_optical), np.atleast_2d(points))
    depth = in_camera[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = intrinsics.fx * in_camera[:, 0] / depth + intrinsics.cx
        v = intrinsics.fy * in_camera[:, 1] / depth + intrinsics.cy
    return np.stack([u, v], axis=1), depth


def deproject_pixels(
    intrinsics: CameraIntrinsics, base_from_optical: ArrayLike, pixels: ArrayLike, depth: ArrayLike
) -> NDArray[np.float64]:
    """Base-frame points of pixels (N, 2) at depths (N,) along the optical axis."""
    pixels = np.atleast_2d(np.asarray(pixels, dtype=float))
    depth = np.asarray(depth, dtype=float)
    x = (pixels[:, 0] - intrinsics.cx) / intrinsics.fx * depth
    y = (pixels[:, 1] - intrinsics.cy) / intrinsics.fy * depth
    return transform_points(base_from_optical, np.stack([x, y, depth], axis=1))
