"""Checks and encodings of the RGB images the planner looks at."""

from __future__ import annotations

import cv2
import numpy as np

from vla_ros.planning.errors import InvalidImageError


def check_rgb_image(image_rgb: np.ndarray) -> np.ndarray:
    """Return the image as a contiguous (H, W, 3) uint8 array, or raise :class:`InvalidImageError`."""
    image = np.asarray(image_rgb)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or image.size == 0:
        raise InvalidImageError(f"expected an (H, W, 3) uint8 RGB image, got {image.dtype} {image.shape}")
    return np.ascontiguousarray(image)


def encode_jpeg(image_rgb: np.ndarray, quality: int) -> bytes:
    """Encode an RGB image as JPEG bytes at the given quality (1-100)."""
    image = check_rgb_image(image_rgb)
    ok, buffer = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise InvalidImageError(f"OpenCV could not encode a {image.shape} image as JPEG")
    return buffer.tobytes()
