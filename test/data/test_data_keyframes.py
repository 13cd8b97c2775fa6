"""PerAct/RVT keyframe discovery on synthetic traces: camera-rate frames and a fast joint-state stream."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.data.keyframes import KeyframeError, discover_keyframes, merge_keyposes, stream_keyframes


def _trace() -> tuple[list[bool], np.ndarray]:
    """30 frames: move, stop (8-11), move, close the gripper at 16 (arm still), move, stop at 25-26, move."""
    speed = np.full(30, 0.5)
    speed[8:12] = 0.0  # a stop lasting four frames
    speed[14:18] = 0.0  # still while the gripper closes at frame 16
    speed[25:27] = 0.01
    gripper_open = [True] * 16 + [False] * 14
    return gripper_open, np.outer(speed, np.ones(7))


def test_keyframes_of_synthetic_trace() -> None:
    gripper_open, velocities = _trace()
    keyframes = discover_keyframes(gripper_open, velocities, velocity_threshold=0.1, stop_buffer=4)
    # 8: the stop (9-11 suppressed by the buffer); 14: the arm stops before the grasp (15-17 are
    # too close to the gripper change); 16: the gripper closes; 25: the second stop; 29: the last frame
    assert keyframes == [8, 14, 16, 25, 29]


def test_long_stop_gives_one_keyframe_per_buffer_length() -> None:
    gripper_open = [True] * 20
    velocities = np.zeros((20, 7))
    velocities[:5] = 1.0
    keyframes = discover_keyframes(gripper_open, velocities, velocity_threshold=0.1, stop_buffer=4)
    assert keyframes == [5, 10, 15, 19]


def test_adjacent_final_keyframes_collapse() -> None:
    velocities = np.ones((10, 7))
    # a gripper change on the frame before last would be a keyframe next to the last one: dropped
    assert discover_keyframes([True] * 8 + [False] * 2, velocities, 0.1, 4) == [9]
    # the frame before last is never a stop; a stop two frames before the end is kept
    velocities[7:9] = 0.0
    assert discover_keyframes([True] * 10, velocities, 0.1, 4) == [7, 9]


def test_first_frame_is_never_a_keyframe_and_shapes_are_checked() -> None:
    assert discover_keyframes([True, True, True], np.zeros((3, 7)), 0.1, 4) == [2]
    with pytest.raises(KeyframeError):
        discover_keyframes([True, False], np.zeros((3, 7)), 0.1, 4)


def test_a_gripper_action_merges_with_the_move_before_it() -> None:
    above, grasp = np.eye(4), np.eye(4)
    above[2, 3], grasp[2, 3] = 0.2, 0.05
    # move above, move down, close there (same pose), move back up
    poses = [above, grasp, grasp.copy(), above]
    assert merge_keyposes(poses, [True, True, False, False], 1e-6) == [0, 2, 3]
    with pytest.raises(KeyframeError):
        merge_keyposes(poses, [True], 1e-6)


def test_stops_on_a_fast_stream_are_runs_marked_at_their_slowest():
    times = np.arange(0.0, 3.0, 0.01)  # 100 Hz
    speed = np.full(len(times), 0.5)
    speed[:50] = 0.0  # at rest before the motion: no stop
    speed[100:110] = [0.09, 0.06, 0.04, 0.025, 0.01, 0.015, 0.03, 0.05, 0.07, 0.09]  # slowest: 1.04 s
    speed[150] = 0.05  # one noisy sample: no stop
    speed[200:] = 0.0  # a rest to the end, the gripper closed at 2.3 s
    velocities = np.stack([speed, -speed], axis=1)
    gripper_open = [t < 2.3 for t in times]
    keyframes = stream_keyframes(times, gripper_open, velocities, 0.1, 0.05)
    assert abs(keyframes[0] - 104) <= 2  # within 20 ms of the slowest (speeds are median-filtered)
    assert keyframes[1:] == [200, 230, len(times) - 1]


def test_a_fast_stream_needs_a_time_and_a_velocity_row_per_sample():
    with pytest.raises(KeyframeError, match="one time and one joint velocity row"):
        stream_keyframes([0.0, 0.1], [True, True, False], np.zeros((3, 2)), 0.1, 0.05)


def test_a_push_slowing_noisily_in_contact_is_one_stop():
    times = np.arange(0.0, 2.0, 0.01)
    speed = np.full(len(times), 0.5)
    speed[100:150] = np.where(np.arange(50) % 3 == 0, 0.15, 0.08)  # around the threshold, noisily
    speed[150:] = np.linspace(0.05, 0.0, 50)  # then to a rest
    keyframes = stream_keyframes(times, [True] * len(times), np.stack([speed], axis=1), 0.1, 0.05)
    rest = int(np.argmax(speed[150:] <= 0.01)) + 150
    assert len(keyframes) == 2 and abs(keyframes[0] - rest) <= 2 and keyframes[1] == len(times) - 1
