"""PlannedPath <-> Path2D: points, gripper states (the initial one included), metadata."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("std_msgs", reason="needs the ROS message packages: run through `make test`")

from builtin_interfaces.msg import Time
from std_msgs.msg import Header

from vla_ros.msg import Path2D, PathPoint2D
from vla_ros.planning.errors import InvalidPathError
from vla_ros.planning.hamster_format import parse_answer
from vla_ros.planning.path import PlannedPath
from vla_ros.ros.path_messages import path_from_message, path_to_message

pytestmark = pytest.mark.ros
HEADER = Header(stamp=Time(sec=12, nanosec=500), frame_id="camera_color_optical_frame")
# Coordinates exact in float32, so the round trip is exact.
POINTS = [(0.25, 0.5), (0.5, 0.375), (0.75, 0.125)]


def round_trip(path: PlannedPath) -> tuple[PlannedPath, Path2D]:
    message = path_to_message(path, HEADER, 320, 240, "put it there", "oracle", 0.25)
    return path_from_message(message), message


@pytest.mark.parametrize(
    ("gripper_open", "initial_open"),
    [
        ([True, True, True], True),  # no event
        ([True, False, True], True),  # close at point 1, open at point 2
        ([False, False, True], False),  # closed from the start, opens at point 2
        ([False, False, True], True),  # closes at point 0
        ([True, True, False], False),  # opens at point 0
    ],
)
def test_round_trip_keeps_points_and_every_gripper_event(gripper_open, initial_open):
    path = PlannedPath(np.array(POINTS), gripper_open, initial_open, "<ans>...</ans>")
    back, message = round_trip(path)
    assert back == path
    assert back.gripper_events() == path.gripper_events()
    assert [point.gripper_open for point in message.points] == gripper_open
    assert message.initial_gripper_open == initial_open
    assert [(point.x, point.y) for point in message.points] == POINTS


def test_a_hamster_answer_with_a_grasp_at_the_first_point_survives_the_message():
    answer = "<ans>[(0.25, 0.5), <action>Close Gripper</action>, (0.75, 0.125)]</ans>"
    path = parse_answer(answer)
    assert path.gripper_events() == [(0, False)]
    back, message = round_trip(path)
    assert back.gripper_events() == [(0, False)] and back.text == answer
    assert len(message.points) == 2 and message.initial_gripper_open


def test_metadata_is_carried():
    path = PlannedPath(np.array(POINTS), [True] * 3, True, "raw text")
    message = path_to_message(path, HEADER, 320, 240, "put it there", "file:/tmp/a.txt", 0.25)
    assert message.header == HEADER
    assert (message.image_width, message.image_height) == (320, 240)
    assert (message.instruction, message.planner, message.raw_answer) == (
        "put it there",
        "file:/tmp/a.txt",
        "raw text",
    )
    assert message.latency == pytest.approx(0.25)


def test_coordinates_come_back_rounded_to_float32():
    path = PlannedPath(np.array([(0.1, 0.2), (0.3, 0.7)]), [True, True])
    back, _ = round_trip(path)
    np.testing.assert_allclose(back.points, path.points, atol=1e-7)
    assert back.points.dtype == np.float64


def test_a_message_that_is_no_path_raises_a_typed_error():
    with pytest.raises(InvalidPathError, match="non-empty"):
        path_from_message(Path2D())
    outside = Path2D(points=[PathPoint2D(x=0.5, y=0.5), PathPoint2D(x=1.5, y=0.5)])
    with pytest.raises(InvalidPathError, match=r"\[0, 1\]"):
        path_from_message(outside)
