"""PlannedPath: validation, pixel conversions, gripper events and arc-length resampling."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.planning.errors import InvalidImageError, InvalidPathError
from vla_ros.planning.path import PlannedPath


def test_pixel_round_trip_uses_column_over_width_and_row_over_height() -> None:
    path = PlannedPath.from_pixels([(160.0, 120.0), (640.0, 0.0)], width=640, height=480)
    np.testing.assert_allclose(path.points, [(0.25, 0.25), (1.0, 0.0)])
    np.testing.assert_allclose(path.to_pixels(320, 240), [(80.0, 60.0), (320.0, 0.0)])
    assert path.gripper_open.tolist() == [True, True]
    with pytest.raises(InvalidPathError, match=r"\[0, 1\]"):
        PlannedPath.from_pixels([(700.0, 10.0)], width=640, height=480)
    with pytest.raises(InvalidImageError):
        path.to_pixels(0, 480)


@pytest.mark.parametrize(
    ("points", "gripper_open", "message"),
    [
        (np.zeros((0, 2)), [], "non-empty"),
        (np.zeros((3, 3)), [True] * 3, r"\(N, 2\)"),
        ([(0.1, 0.2)], [True, False], "2 entries for 1 points"),
        ([(np.nan, 0.2)], [True], "finite"),
        ([(0.1, -0.2)], [True], r"\[0, 1\]"),
    ],
)
def test_invalid_paths_are_rejected(points: object, gripper_open: list, message: str) -> None:
    with pytest.raises(InvalidPathError, match=message):
        PlannedPath(points, gripper_open)


def test_path_is_read_only_and_compares_by_value() -> None:
    path = PlannedPath([(0.1, 0.2), (0.3, 0.4)], [True, False])
    with pytest.raises(ValueError):
        path.points[0, 0] = 0.5
    assert path == PlannedPath(np.array([(0.1, 0.2), (0.3, 0.4)]), np.array([1, 0]), text="other text")
    assert path != PlannedPath([(0.1, 0.2), (0.3, 0.4)], [True, False], initial_gripper_open=False)


def test_gripper_events_include_a_change_at_the_first_point() -> None:
    path = PlannedPath([(0.1, 0.1), (0.2, 0.2), (0.3, 0.3), (0.4, 0.4)], [False, False, True, True])
    assert path.gripper_events() == [(0, False), (2, True)]
    assert PlannedPath([(0.1, 0.1)], [False], initial_gripper_open=False).gripper_events() == []


def test_resample_is_even_along_arc_length_and_keeps_segment_gripper_states() -> None:
    path = PlannedPath([(0.0, 0.0), (0.3, 0.0), (0.3, 0.1)], [True, False, False])
    points, gripper_open = path.resample(5)
    np.testing.assert_allclose(
        points, [(0.0, 0.0), (0.1, 0.0), (0.2, 0.0), (0.3, 0.0), (0.3, 0.1)], atol=1e-12
    )
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    np.testing.assert_allclose(steps, steps[0])
    assert gripper_open.tolist() == [True, True, True, False, False]
    single, single_open = PlannedPath([(0.5, 0.5)], [True]).resample(3)
    np.testing.assert_allclose(single, [(0.5, 0.5)] * 3)
    assert single_open.tolist() == [True] * 3
    with pytest.raises(InvalidPathError):
        path.resample(0)


def test_resample_can_follow_the_image_proportions() -> None:
    # On a 2:1 image, 0.5 of the width is as long as 1.0 of the height.
    path = PlannedPath([(0.0, 0.0), (0.5, 0.0), (0.5, 1.0)], [True] * 3)
    np.testing.assert_allclose(path.arc_length(aspect=2.0), [0.0, 1.0, 2.0])
    points, _ = path.resample(3, aspect=2.0)
    np.testing.assert_allclose(points, [(0.0, 0.0), (0.5, 0.0), (0.5, 1.0)], atol=1e-12)
    with pytest.raises(InvalidPathError, match="aspect"):
        path.arc_length(aspect=0.0)
