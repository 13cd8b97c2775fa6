"""Drawing a path as HAMSTER does (jet colours, event circles, sizes scaled) and as channels."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.planning.drawing import DrawingStyle, draw_path, jet_colormap, rasterize_path_channels
from vla_ros.planning.errors import InvalidImageError
from vla_ros.planning.path import PlannedPath

# Right along y = 0.25, close the gripper at (0.8, 0.25), then down to (0.8, 0.75).
PATH = PlannedPath([(0.2, 0.25), (0.8, 0.25), (0.8, 0.75)], [True, False, False])
STYLE = DrawingStyle()


def _pixel(image: np.ndarray, x: float, y: float) -> np.ndarray:
    height, width = image.shape[:2]
    return image[round(y * height), round(x * width)].astype(int)


def test_jet_colormap_runs_from_blue_to_red() -> None:
    colors = jet_colormap(np.array([0.0, 0.5, 1.0])).astype(int)
    assert colors[0, 2] > 100 and colors[0, :2].max() == 0
    assert colors[1, 1] == 255
    assert colors[2, 0] > 100 and colors[2, 1:].max() == 0


def test_path_pixels_are_coloured_from_blue_at_the_start_to_red_at_the_end() -> None:
    image = np.zeros((512, 512, 3), dtype=np.uint8)
    drawn = draw_path(image, PATH, STYLE)
    assert image.max() == 0  # the input is left alone
    near_start = _pixel(drawn, 0.25, 0.25)
    near_end = _pixel(drawn, 0.8, 0.7)
    assert near_start[2] > 100 and near_start[2] > near_start[0]
    assert near_end[0] > 100 and near_end[0] > near_end[2]
    assert _pixel(drawn, 0.5, 0.6).max() == 0  # far from the path
    drawn_mask = drawn.max(axis=2) > 0
    assert drawn_mask[round(0.9 * 512) :, :].sum() == 0  # nothing below the path's lowest point


def test_circles_mark_the_start_and_the_gripper_event_in_their_colours() -> None:
    drawn = draw_path(np.zeros((512, 512, 3), dtype=np.uint8), PATH, STYLE)
    _, radius = STYLE.sizes(512, 512)
    assert radius == 7
    start_ring = drawn[128 - radius - 1 : 128 - radius + 2, round(0.2 * 512)]
    assert start_ring.min(axis=1).max() > 200  # white ring above the start point
    event_ring = drawn[128 - radius - 1 : 128 - radius + 2, round(0.8 * 512)].astype(int)
    magenta = event_ring[(event_ring[:, 0] > 150) & (event_ring[:, 2] > 150) & (event_ring[:, 1] < 80)]
    assert len(magenta) > 0
    opening = PlannedPath([(0.2, 0.25), (0.8, 0.25)], [False, True], initial_gripper_open=False)
    drawn = draw_path(np.zeros((512, 512, 3), dtype=np.uint8), opening, STYLE)
    green = drawn[128 - radius - 1 : 128 - radius + 2, round(0.8 * 512)].astype(int)
    assert ((green[:, 1] > 150) & (green[:, 0] < 80) & (green[:, 2] < 80)).any()


@pytest.mark.parametrize("size", [256, 512, 1024])
def test_line_width_scales_with_the_image(size: int) -> None:
    drawn = draw_path(np.zeros((size, size, 3), dtype=np.uint8), PATH, STYLE)
    line_width, radius = STYLE.sizes(size, size)
    assert (line_width, radius) == (round(2 * size / 512), round(7 * size / 512))
    column = drawn[:, round(0.5 * size)].max(axis=1)  # crosses the horizontal segment only
    assert line_width <= (column > 0).sum() <= line_width + 3


def test_invalid_images_are_rejected() -> None:
    for image in (np.zeros((8, 8), np.uint8), np.zeros((8, 8, 3), np.float32), np.zeros((8, 8, 4), np.uint8)):
        with pytest.raises(InvalidImageError):
            draw_path(image, PATH, STYLE)


def test_channels_hold_progress_gripper_and_events() -> None:
    channels = rasterize_path_channels(PATH, 480, 640, STYLE)
    assert channels.shape == (480, 640, 3) and channels.dtype == np.float32
    progress, closed, events = (channels[..., index] for index in range(3))
    # Progress follows the image's proportions: 0.5 of the width (of 0.6) is 320 px of 384 + 240 px.
    assert 0.0 < progress[120, round(0.3 * 640)] < progress[120, round(0.7 * 640)]
    assert progress[120, round(0.7 * 640)] == pytest.approx(320 / 624, abs=0.02)
    assert progress[round(0.7 * 480), round(0.8 * 640)] > 0.9
    assert progress[round(0.5 * 480), round(0.5 * 640)] == 0.0
    assert closed[120, round(0.3 * 640)] == 0.0  # open before the event
    assert closed[round(0.5 * 480), round(0.8 * 640)] == 1.0  # closed after it
    assert events[120, round(0.8 * 640)] == 1.0 and events[120, round(0.2 * 640)] == 0.0
    assert set(np.unique(closed)) <= {0.0, 1.0} and set(np.unique(events)) <= {0.0, 1.0}


def test_style_is_validated() -> None:
    with pytest.raises(ValueError):
        DrawingStyle(num_samples=1)
    with pytest.raises(ValueError):
        DrawingStyle(start_color=(300, 0, 0))
