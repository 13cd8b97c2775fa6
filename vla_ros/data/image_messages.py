"""The pixels of a sensor_msgs/Image-shaped message as NumPy arrays, without ROS.

Reads any object with the message's fields (``height``, ``width``, ``encoding``, ``is_bigendian``,
``step``, ``data``): a live rclpy message or one decoded from a recording. Handles the encodings this
package uses: rgb8, bgr8, rgba8, bgra8, mono8, mono16, 16UC1 and 32FC1 (REP 118 depth: 32FC1 in
metres, 16UC1 in millimetres with 0 invalid).
"""

from __future__ import annotations

from typing import Any

import numpy as np

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
# Channel order that turns an image of each colour encoding into RGB.
RGB_CHANNELS = {"rgb8": [0, 1, 2], "bgr8": [2, 1, 0], "rgba8": [0, 1, 2], "bgra8": [2, 1, 0]}
# REP 118: 16UC1 depth is in millimetres.
MILLIMETRE = np.float32(0.001)


class ImageEncodingError(ValueError):
    """An image message or array cannot be converted (unknown encoding, wrong size or shape)."""


def encoding_layout(encoding: str) -> tuple[np.dtype, int]:
    """(dtype, channels) of an encoding; ImageEncodingError for one this package does not handle."""
    if encoding not in ENCODINGS:
        raise ImageEncodingError(
            f"unsupported image encoding {encoding!r}; expected one of {sorted(ENCODINGS)}"
        )
    return ENCODINGS[encoding]


def message_pixels(msg: Any) -> np.ndarray:
    """The pixels of an image message (H x W or H x W x C) in its own encoding, in a new array."""
    dtype, channels = encoding_layout(msg.encoding)
    row_bytes = msg.width * channels * dtype.itemsize
    if msg.step < row_bytes or len(msg.data) < msg.step * msg.height:
        raise ImageEncodingError(
            f"{msg.encoding} image {msg.width}x{msg.height}: step {msg.step} and {len(msg.data)} data bytes "
            f"are too small (need step >= {row_bytes} and step * height bytes)"
        )
    buffer = np.frombuffer(bytes(msg.data), dtype=np.uint8)[: msg.step * msg.height]
    buffer = buffer.reshape(msg.height, msg.step)[:, :row_bytes]
    byte_order = ">" if msg.is_bigendian else "<"
    pixels = np.ascontiguousarray(buffer).view(dtype.newbyteorder(byte_order))
    pixels = pixels.astype(dtype, copy=False)
    shape = (msg.height, msg.width) if channels == 1 else (msg.height, msg.width, channels)
    return pixels.reshape(shape).copy()


def rgb_from_message(msg: Any, consumer: str) -> np.ndarray:
    """The (H, W, 3) uint8 RGB pixels of a colour image message; ImageEncodingError (naming
    ``consumer``, e.g. "the planner") for any other encoding."""
    if msg.encoding not in RGB_CHANNELS:
        raise ImageEncodingError(
            f"{consumer} needs a colour image ({', '.join(RGB_CHANNELS)}), got {msg.encoding!r}"
        )
    return np.ascontiguousarray(message_pixels(msg)[:, :, RGB_CHANNELS[msg.encoding]])


def depth_from_message(msg: Any) -> np.ndarray:
    """Depth in metres (float32, NaN where invalid) of a 32FC1 (m) or 16UC1 (mm, 0 invalid) image."""
    if msg.encoding not in ("32FC1", "16UC1"):
        raise ImageEncodingError(f"depth must be 32FC1 (m) or 16UC1 (mm), got {msg.encoding!r}")
    array = message_pixels(msg)
    if msg.encoding == "32FC1":
        return array.astype(np.float32)
    depth = array.astype(np.float32) * MILLIMETRE
    depth[array == 0] = np.nan
    return depth
