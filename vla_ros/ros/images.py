"""sensor_msgs/Image <-> NumPy, through cv_bridge when it is importable.

Without cv_bridge (as in this project's PyPI environment) a NumPy implementation of the same
conversion handles the encodings this package uses: rgb8, bgr8, rgba8, bgra8, mono8, mono16, 16UC1
and 32FC1 (REP 118 depth: 32FC1 in metres, 16UC1 in millimetres with 0 invalid).
"""

from __future__ import annotations

import sys

import numpy as np

try:
    from cv_bridge import CvBridge
except ImportError:  # no cv_bridge: use the NumPy conversion below
    CvBridge = None

# encoding -> (NumPy dtype, channels)
ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    "rgb8": (np.dtype(np.uint8), 3),
    "bgr8": (np.dtype(np.uint8), 3),
    "rgba8": (np.dtype(np.uint8), 4),
    "bgra8": (np.dtype(np.uint8), 4),
    "mono8": (np.dtype(np.uint8), 1),
    "8UC1": (np.dtype(np.uint8), 1),
    "mono16": (np.dtype(np.uint16), 1),
    "16UC1": (np.dtype(np.uint16), 1),
    "32FC1": (np.dtype(np.float32), 1),
}

_BRIDGE = CvBridge() if CvBridge is not None else None


class ImageEncodingError(ValueError):
    """An image message or array cannot be converted (unknown encoding, wrong size or shape)."""


def backend_name() -> str:
    """Which conversion is in use: ``"cv_bridge"`` or ``"numpy"``."""
    return "cv_bridge" if _BRIDGE is not None else "numpy"


def _layout(encoding: str) -> tuple[np.dtype, int]:
    if encoding not in ENCODINGS:
        raise ImageEncodingError(
            f"unsupported image encoding {encoding!r}; expected one of {sorted(ENCODINGS)}"
        )
    return ENCODINGS[encoding]


def image_to_array(msg) -> np.ndarray:
    """Return the pixels of a sensor_msgs/Image as an array (H x W or H x W x C), in its own encoding.

    The array does not share memory with the message.
    """
    dtype, channels = _layout(msg.encoding)
    if _BRIDGE is not None:
        return np.array(_BRIDGE.imgmsg_to_cv2(msg, desired_encoding="passthrough"), copy=True)
    row_bytes = msg.width * channels * dtype.itemsize
    if msg.step < row_bytes or len(msg.data) < msg.step * msg.height:
        raise ImageEncodingError(
            f"{msg.encoding} image {msg.width}x{msg.height}: step {msg.step} and {len(msg.data)} data bytes "
            f"are too small (need step >= {row_bytes} and step * height bytes)"
        )
    buffer = np.frombuffer(bytes(msg.data), dtype=np.uint8).reshape(msg.height, msg.step)[:, :row_bytes]
    byte_order = ">" if msg.is_bigendian else "<"
    pixels = np.ascontiguousarray(buffer).view(dtype.newbyteorder(byte_order))
    pixels = pixels.astype(dtype, copy=False)
    shape = (msg.height, msg.width) if channels == 1 else (msg.height, msg.width, channels)
    return pixels.reshape(shape).copy()


def array_to_image(array: np.ndarray, encoding: str, header=None):
    """Return a sensor_msgs/Image holding ``array`` with the given encoding (and header, if given)."""
    from sensor_msgs.msg import Image

    dtype, channels = _layout(encoding)
    expected_ndim = 2 if channels == 1 else 3
    if array.ndim != expected_ndim or (channels > 1 and array.shape[2] != channels) or array.dtype != dtype:
        raise ImageEncodingError(
            f"{encoding} needs a {dtype} array of shape (H, W{'' if channels == 1 else f', {channels}'}), "
            f"got {array.dtype} {array.shape}"
        )
    if _BRIDGE is not None:
        msg = _BRIDGE.cv2_to_imgmsg(np.ascontiguousarray(array), encoding=encoding)
    else:
        msg = Image()
        msg.height, msg.width = int(array.shape[0]), int(array.shape[1])
        msg.encoding = encoding
        msg.is_bigendian = sys.byteorder == "big"
        msg.step = msg.width * channels * dtype.itemsize
        msg.data = np.ascontiguousarray(array).tobytes()
    if header is not None:
        msg.header = header
    return msg


# Channel order that turns an image of each colour encoding into RGB.
RGB_CHANNELS = {"rgb8": [0, 1, 2], "bgr8": [2, 1, 0], "rgba8": [0, 1, 2], "bgra8": [2, 1, 0]}
# REP 118: 16UC1 depth is in millimetres.
_MILLIMETRE = np.float32(0.001)


def rgb_from_message(msg, consumer: str) -> np.ndarray:
    """The (H, W, 3) uint8 RGB pixels of a colour image message; ImageEncodingError (naming
    ``consumer``, e.g. "the planner") for any other encoding."""
    if msg.encoding not in RGB_CHANNELS:
        raise ImageEncodingError(
            f"{consumer} needs a colour image ({', '.join(RGB_CHANNELS)}), got {msg.encoding!r}"
        )
    return np.ascontiguousarray(image_to_array(msg)[:, :, RGB_CHANNELS[msg.encoding]])


def depth_from_message(msg) -> np.ndarray:
    """Depth in metres (float32, NaN where invalid) of a 32FC1 (m) or 16UC1 (mm, 0 invalid) image."""
    array = image_to_array(msg)
    if msg.encoding == "32FC1":
        return array.astype(np.float32)
    if msg.encoding == "16UC1":
        depth = array.astype(np.float32) * _MILLIMETRE
        depth[array == 0] = np.nan
        return depth
    raise ImageEncodingError(f"depth must be 32FC1 (m) or 16UC1 (mm), got {msg.encoding!r}")
