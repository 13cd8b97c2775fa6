"""Keyframe discovery as in PerAct and RVT: gripper state changes, stops of the arm, and the last frame."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike


class KeyframeError(ValueError):
    """Inconsistent inputs to keyframe discovery."""


def _gripper_steady(gripper_open: Sequence[bool], index: int) -> bool:
    """The gripper state is the same from two frames before ``index`` to one frame after it."""
    if index < 2 or index + 1 >= len(gripper_open):
        return False
    window = gripper_open[index - 2 : index + 2]
    return all(state == window[0] for state in window)


def discover_keyframes(
    gripper_open: Sequence[bool], joint_velocities: ArrayLike, velocity_threshold: float, stop_buffer: int
) -> list[int]:
    """Indices of keyframes of a demonstration.

    A frame (other than the first) is a keyframe when the gripper's open/closed state differs from the
    previous frame's, when it is the last frame, or when the arm has stopped: every joint speed is below
    ``velocity_threshold``, the gripper is steady around it, it is not the second-to-last frame, and no
    stop was detected in the previous ``stop_buffer`` frames (a stop lasts several frames; one keyframe
    marks it). When the last two keyframes are adjacent frames the earlier one is dropped.
    """
    velocities = np.asarray(joint_velocities, dtype=float)
    count = len(gripper_open)
    if velocities.ndim != 2 or velocities.shape[0] != count:
        raise KeyframeError(f"need one joint velocity row per frame: {velocities.shape} for {count} frames")
    keyframes: list[int] = []
    frames_since_stop = stop_buffer
    for index in range(count):
        still = bool(np.all(np.abs(velocities[index]) < velocity_threshold))
        stopped = (
            still
            and frames_since_stop >= stop_buffer
            and index != count - 2
            and _gripper_steady(gripper_open, index)
        )
        frames_since_stop = 0 if stopped else frames_since_stop + 1
        changed = index > 0 and gripper_open[index] != gripper_open[index - 1]
        if index > 0 and (changed or stopped or index == count - 1):
            keyframes.append(index)
    if len(keyframes) > 1 and keyframes[-1] - keyframes[-2] == 1:
        keyframes.pop(-2)
    return keyframes


def stream_keyframes(
    times: ArrayLike,
    gripper_open: Sequence[bool],
    joint_velocities: ArrayLike,
    velocity_threshold: float,
    speed_window_s: float,
) -> list[int]:
    """Indices of keyframes of a demonstration sampled much faster than its camera (a joint-state stream
    at ``times``, seconds).

    As :func:`discover_keyframes`, a keyframe is where the gripper state changes, the last sample, and
    each stop of the arm. Here the arm's speed is the largest joint speed, median-filtered over
    ``speed_window_s`` (measured speeds are noisy, most of all in contact); a stop begins where it falls
    below ``velocity_threshold`` and ends where it is back above twice that (hysteresis: a push slowing
    in contact is one stop). One keyframe per stop (so no stop buffer), at its first sample within a
    tenth of the threshold of its slowest: the bottom of a pass through a waypoint, the start of a rest.
    A stop from the first sample (the arm not yet moving) is none.
    """
    stamps = np.asarray(times, dtype=float)
    velocities = np.asarray(joint_velocities, dtype=float)
    count = len(gripper_open)
    if velocities.ndim != 2 or velocities.shape[0] != count or stamps.shape != (count,):
        raise KeyframeError(
            f"need one time and one joint velocity row per sample: {stamps.shape}, {velocities.shape} "
            f"for {count} samples"
        )
    raw = np.abs(velocities).max(axis=1, initial=0.0)
    lower = np.searchsorted(stamps, stamps - 0.5 * speed_window_s, side="left")
    upper = np.searchsorted(stamps, stamps + 0.5 * speed_window_s, side="right")
    speed = np.array([np.median(raw[a:b]) for a, b in zip(lower, upper, strict=True)])
    still = np.zeros(count, dtype=bool)
    for index in range(count):
        limit = 2.0 * velocity_threshold if index and still[index - 1] else velocity_threshold
        still[index] = speed[index] < limit
    keyframes: set[int] = {count - 1} if count > 1 else set()
    keyframes.update(i for i in range(1, count) if gripper_open[i] != gripper_open[i - 1])
    for begin, end in _runs(still):
        if begin > 0:
            run = speed[begin:end]
            keyframes.add(begin + int(np.argmax(run <= run.min() + 0.1 * velocity_threshold)))
    return sorted(keyframes)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(begin, end) of every run of True in ``mask``, end exclusive."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def merge_keyposes(poses: Sequence[ArrayLike], gripper_open: Sequence[bool], tolerance: float) -> list[int]:
    """Indices of the keyposes that are keyframes of an expert demonstration.

    The expert marks the end of every move and every gripper action; a gripper action ends where the
    move before it ended, so the two are one keyframe (the pose, reached with the new gripper state):
    a keypose is dropped when the next one has the same TCP pose (4x4) within ``tolerance`` (metres of
    position, and of the rotation matrix entries).
    """
    if len(poses) != len(gripper_open):
        raise KeyframeError(f"{len(poses)} keyposes but {len(gripper_open)} gripper states")
    matrices = [np.asarray(pose, dtype=float) for pose in poses]
    return [
        index
        for index in range(len(matrices))
        if index + 1 == len(matrices) or not np.allclose(matrices[index], matrices[index + 1], atol=tolerance)
    ]
