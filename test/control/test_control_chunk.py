"""ActionChunkData: validation, message layout, column reordering, interpolation by time."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.control.chunk import ActionChunkData
from vla_ros.control.errors import InvalidChunkError, JointNamesError

NAMES = ("a", "b", "c")


def _chunk(**changes) -> ActionChunkData:
    fields = dict(
        joint_names=NAMES,
        t0=1.0,
        dt=0.1,
        positions=np.arange(12.0).reshape(4, 3),
        velocities=None,
        gripper=np.array([1.0, 1.0, 0.0, 0.0]),
        chunk_id=3,
        source="test",
    )
    fields.update(changes)
    return ActionChunkData(**fields)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"dt": 0.0}, "dt > 0"),
        ({"t0": float("nan")}, "finite stamp"),
        ({"positions": np.zeros((4, 2))}, "H x 3"),
        ({"positions": np.zeros((0, 3))}, "H >= 1"),
        ({"positions": np.full((4, 3), np.nan)}, "NaN"),
        ({"velocities": np.zeros((3, 3))}, "velocities"),
        ({"gripper": np.ones(3)}, "gripper must be 4"),
        ({"gripper": np.array([1.0, 2.0, 0.0, 0.0])}, r"\[0, 1\]"),
    ],
)
def test_malformed_chunks_are_refused_with_the_reason(changes, message):
    with pytest.raises(InvalidChunkError, match=message):
        _chunk(**changes)


def test_duplicate_joint_names_are_refused():
    with pytest.raises(JointNamesError, match="unique"):
        _chunk(joint_names=("a", "a", "c"))


def test_from_flat_uses_the_message_layout():
    chunk = ActionChunkData.from_flat(NAMES, 2.0, 0.05, list(range(6)), [], [], 9, "executor", horizon=2)
    np.testing.assert_array_equal(chunk.positions, [[0, 1, 2], [3, 4, 5]])
    assert chunk.velocities is None and chunk.gripper is None
    assert chunk.end_time == pytest.approx(2.05)
    with pytest.raises(InvalidChunkError, match="rows of 3"):
        ActionChunkData.from_flat(NAMES, 2.0, 0.05, list(range(5)), [], [], 9, "executor")
    with pytest.raises(InvalidChunkError, match="velocity values"):
        ActionChunkData.from_flat(NAMES, 2.0, 0.05, list(range(6)), [1.0], [], 9, "executor")


def test_reordering_by_name_and_refusing_other_joints():
    chunk = _chunk()
    reordered = chunk.reordered(("c", "a", "b"))
    np.testing.assert_array_equal(reordered.positions[:, 0], chunk.positions[:, 2])
    np.testing.assert_array_equal(reordered.positions[:, 1], chunk.positions[:, 0])
    with pytest.raises(JointNamesError, match=r"missing \['d'\], unexpected \['c'\]"):
        chunk.reordered(("a", "b", "d"))


def test_sampling_interpolates_by_time_and_clamps():
    chunk = _chunk()
    np.testing.assert_allclose(chunk.sample(1.0).positions, [0, 1, 2])
    np.testing.assert_allclose(chunk.sample(1.125).positions, [3.75, 4.75, 5.75])
    np.testing.assert_allclose(chunk.sample(1.3).positions, [9, 10, 11])
    np.testing.assert_allclose(chunk.sample(5.0).positions, [9, 10, 11])
    assert chunk.sample(1.15).gripper == pytest.approx(0.5)
    assert chunk.covers(1.3) and not chunk.covers(1.31) and not chunk.covers(0.99)
    single = _chunk(positions=np.ones((1, 3)), gripper=None)
    np.testing.assert_allclose(single.sample(1.0).positions, 1.0)
