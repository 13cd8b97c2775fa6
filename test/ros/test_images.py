"""sensor_msgs/Image <-> NumPy conversion (cv_bridge when present, the NumPy fallback always)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sensor_msgs", reason="needs the ROS message packages: run through `make test`")

from std_msgs.msg import Header

from vla_ros.ros import images

pytestmark = pytest.mark.ros
RNG = np.random.default_rng(0)
SAMPLES = {
    "rgb8": RNG.integers(0, 255, (6, 5, 3), dtype=np.uint8),
    "bgra8": RNG.integers(0, 255, (6, 5, 4), dtype=np.uint8),
    "mono8": RNG.integers(0, 255, (6, 5), dtype=np.uint8),
    "16UC1": RNG.integers(0, 65535, (6, 5), dtype=np.uint16),
    "32FC1": np.where(RNG.random((6, 5)) < 0.2, np.nan, RNG.random((6, 5)) * 3).astype(np.float32),
}


@pytest.fixture(params=["numpy", "cv_bridge"])
def backend(request, monkeypatch):
    """Run each test with the NumPy conversion, and with cv_bridge where it is installed."""
    if request.param == "numpy":
        monkeypatch.setattr(images, "_BRIDGE", None)
    elif images.backend_name() != "cv_bridge":
        pytest.skip("cv_bridge is not installed here")
    return request.param


@pytest.mark.parametrize("encoding", sorted(SAMPLES))
def test_roundtrip_keeps_pixels_shape_and_header(backend, encoding):
    array = SAMPLES[encoding]
    header = Header(frame_id="camera_color_optical_frame")
    msg = images.array_to_image(array, encoding, header)
    assert (msg.width, msg.height, msg.encoding, msg.header.frame_id) == (5, 6, encoding, header.frame_id)
    back = images.image_to_array(msg)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_padded_rows_and_big_endian_depth_are_decoded(backend):
    depth = np.arange(12, dtype=np.uint16).reshape(3, 4) * 1000
    msg = images.array_to_image(depth, "16UC1")
    msg.is_bigendian = True
    msg.step = 4 * 2 + 6  # 6 bytes of padding per row, as some drivers send
    rows = [depth[r].astype(">u2").tobytes() + b"\0" * 6 for r in range(3)]
    msg.data = b"".join(rows)
    if backend == "cv_bridge":
        pytest.skip("padding and byte order are cv_bridge's own business")
    np.testing.assert_array_equal(images.image_to_array(msg), depth)


def test_bad_input_is_a_clear_error(backend):
    with pytest.raises(images.ImageEncodingError, match="unsupported image encoding 'yuv422'"):
        images.array_to_image(SAMPLES["rgb8"], "yuv422")
    with pytest.raises(images.ImageEncodingError, match=r"rgb8 needs a uint8 array of shape \(H, W, 3\)"):
        images.array_to_image(SAMPLES["mono8"], "rgb8")
    msg = images.array_to_image(SAMPLES["rgb8"], "rgb8")
    msg.data = bytes(msg.data)[:-7]
    if backend == "numpy":
        with pytest.raises(images.ImageEncodingError, match="too small"):
            images.image_to_array(msg)
