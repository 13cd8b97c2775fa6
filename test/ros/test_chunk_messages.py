"""ActionChunkData <-> ActionChunk: round trip, layout, and malformed messages rejected with the reason."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="needs rclpy: run through `make test` (scripts/env.sh)")

from vla_ros.control.chunk import ActionChunkData
from vla_ros.control.errors import InvalidChunkError
from vla_ros.ros.chunk_messages import chunk_from_message, chunk_to_message

pytestmark = pytest.mark.ros
NAMES = ("a", "b", "c")


def _chunk(velocities: bool = True, gripper: bool = True) -> ActionChunkData:
    rows = np.arange(12, dtype=float).reshape(4, 3) * 0.1
    return ActionChunkData(
        NAMES,
        1234.5678,
        0.02,
        rows,
        -rows if velocities else None,
        np.array([1.0, 0.5, 0.0, 0.0]) if gripper else None,
        7,
        "executor",
    )


@pytest.mark.parametrize(("velocities", "gripper"), [(True, True), (False, False)])
def test_round_trip_keeps_every_field(velocities, gripper):
    chunk = _chunk(velocities, gripper)
    message = chunk_to_message(chunk)
    assert message.horizon == 4 and list(message.joint_names) == list(NAMES)
    assert message.header.stamp.sec == 1234 and abs(message.header.stamp.nanosec - 567_800_000) <= 1
    # step-major layout: positions[i * J + j] is joint j at step i
    assert message.positions[1 * 3 + 2] == chunk.positions[1, 2]
    assert (len(message.velocities) == 12) == velocities and (len(message.gripper) == 4) == gripper
    back = chunk_from_message(message)
    assert back.joint_names == NAMES and (back.chunk_id, back.source) == (7, "executor")
    assert math.isclose(back.t0, chunk.t0, abs_tol=1e-9) and math.isclose(back.dt, 0.02, abs_tol=1e-9)
    np.testing.assert_array_equal(back.positions, chunk.positions)
    assert (back.velocities is None) == (not velocities) and (back.gripper is None) == (not gripper)
    if velocities:
        np.testing.assert_array_equal(back.velocities, chunk.velocities)


def test_horizon_that_does_not_match_the_data_is_rejected():
    message = chunk_to_message(_chunk())
    message.horizon = 5
    with pytest.raises(InvalidChunkError, match="do not make 5 rows of 3 joints"):
        chunk_from_message(message)


def test_nan_and_bad_dt_are_rejected_with_the_reason():
    message = chunk_to_message(_chunk())
    message.positions[4] = float("nan")
    with pytest.raises(InvalidChunkError, match="NaN"):
        chunk_from_message(message)
    message = chunk_to_message(_chunk())
    message.dt.sec, message.dt.nanosec = 0, 0
    with pytest.raises(InvalidChunkError, match="dt > 0"):
        chunk_from_message(message)
    message = chunk_to_message(_chunk())
    message.gripper = [1.0, 1.0]
    with pytest.raises(InvalidChunkError, match="gripper"):
        chunk_from_message(message)
