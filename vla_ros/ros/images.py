"""sensor_msgs/Image <-> NumPy, through cv_bridge when it is importable.

Without cv_bridge (as in this project's PyPI environment) the NumPy conversion of
:mod:`vla_ros.data.image_messages` handles the encodings this package uses; colour and depth
(``rgb_from_message``, ``depth_from_message``) always come from there.
"""

from __future__ import annotations

import sys

import numpy as np

from vla_ros.data.image_messages import (
    ImageEncodingError,
    depth_from_message,
    encoding_layout,
    message_pixels,
    rgb_from_message,
)

try:
    from cv_bridge import CvBridge
except ImportError:  # no cv_bridge: the NumPy conversion of data.image_messages
    CvBridge = None

_BRIDGE = CvBridge() if CvBridge is not None else None


def backend_name() -> str:
    """Which conversion is in use: ``"cv_bridge"`` or ``"numpy"``."""
    return "cv_bridge" if _BRIDGE is not None else "numpy"


def image_to_array(msg) -> np.ndarray:
    """Return the pixels of a sensor_msgs/Image as an array (H x W or H x W x C), in its own encoding.

    The array does not share memory with the message.
    """
    encoding_layout(msg.encoding)
    if _BRIDGE is not None:
        return np.array(_BRIDGE.imgmsg_to_cv2(msg, desired_encoding="passthrough"), copy=True)
    return message_pixels(msg)


def array_to_image(array: np.ndarray, encoding: str, header=None):
    """Return a sensor_msgs/Image holding ``array`` with the given encoding (and header, if given)."""
    from sensor_msgs.msg import Image

    dtype, channels = encoding_layout(encoding)
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


__all__ = [
    "ImageEncodingError",
    "array_to_image",
    "backend_name",
    "depth_from_message",
    "image_to_array",
    "rgb_from_message",
]
