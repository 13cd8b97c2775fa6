"""Episode records, their image strips and the graph evaluation's summary (pure, no ROS)."""

from __future__ import annotations

import argparse
import math

import numpy as np
import pytest

from vla_ros.app.episode_record import (
    STRIP_ROW_HEIGHT,
    EpisodeRecord,
    KeyframeEvent,
    draw_keyframes,
    episode_strip,
    project_keyframes,
)
from vla_ros.app.graph import GraphArgumentError
from vla_ros.app.graph_eval import graph_arguments, markdown_table, summarise
from vla_ros.data.camera import CameraIntrinsics, deproject_pixels


def event(index: int, requested: float, predicted: float, reached: float | None, open_: bool = True):
    return KeyframeEvent(
        index=index,
        requested_at=requested,
        observed_at=requested + 0.05,
        predicted_at=predicted,
        position=(0.5, 0.0, 0.1 + 0.1 * index),
        gripper_open=open_,
        confidence=0.8,
        reached_at=reached,
    )


def record(task: str, success: bool, keyframes: list[KeyframeEvent], total: float = 10.0) -> EpisodeRecord:
    return EpisodeRecord(
        task=task,
        split="train",
        seed=3,
        instruction=f"do {task}",
        goal_status="succeeded" if success else "aborted",
        task_success=success,
        planning_latency_s=0.002,
        path_points=5,
        total_time_s=total,
        keyframes=keyframes,
    )


def test_keyframe_timings_come_from_the_receipt_times():
    first = event(0, requested=1.0, predicted=1.2, reached=2.7)
    assert first.predict_s == pytest.approx(0.2)
    assert first.camera_to_keyframe_s == pytest.approx(0.15)
    assert first.execute_s == pytest.approx(1.5)
    assert event(1, 2.7, 2.9, None).execute_s is None

    episode = record("lift_block", True, [first, event(1, 2.7, 2.9, None)])
    assert episode.keyframes_reached == 1
    data = episode.to_dict()
    assert data["keyframes_reached"] == 1
    assert (
        data["keyframes"][0]["execute_s"] == pytest.approx(1.5) and data["keyframes"][1]["execute_s"] is None
    )
    line = episode.timing_line()
    assert "kf0: predict 200 ms, exec 1.50 s" in line and "kf1: predict 200 ms, not reached" in line
    late = event(2, requested=3.0, predicted=5.5, reached=4.0)
    assert late.delivered_late and not first.delivered_late
    assert (
        "kf2: target received late here, timing unknown" in record("lift_block", True, [late]).timing_line()
    )
    assert "keyframe_latency_ms" in summarise([record("lift_block", True, [first, late])])
    assert summarise([record("lift_block", True, [first, late])])["keyframe_execution_ms"]["execute"][
        "max"
    ] == (pytest.approx(1500.0)), "the late target is left out of the statistics"


def test_keyframes_project_where_their_pixels_deproject():
    intrinsics = CameraIntrinsics.from_vertical_fov(320, 240, 0.96)
    camera_pose = np.eye(4)
    camera_pose[:3, 3] = (0.5, -0.8, 0.6)
    camera_pose[:3, :3] = [[1, 0, 0], [0, 0, 1], [0, -1, 0]]  # optical z along base +y
    pixels = np.array([[100.0, 80.0], [250.0, 200.0]])
    points = deproject_pixels(intrinsics, camera_pose, pixels, np.array([0.7, 1.1]))
    events = [event(index, 0.0, 0.1, None) for index in range(2)]
    for item, point in zip(events, points, strict=True):
        item.position = tuple(point)
    projected = project_keyframes(events, intrinsics.matrix, camera_pose, (320, 240))
    np.testing.assert_allclose(projected, pixels, atol=1e-6)
    assert project_keyframes([], intrinsics.matrix, camera_pose, (320, 240)).shape == (0, 2)

    image = np.zeros((240, 320, 3), dtype=np.uint8)
    drawn = draw_keyframes(image, events, projected)
    assert drawn[75:86, 95:106].any(), "keyframe 0: a ring around its pixel"
    assert drawn[200, 250].any() and not drawn[10, 10].any(), "the last keyframe: a filled disc"

    assert not image.any(), "the input is not drawn on"
    behind = draw_keyframes(image, events[:1], np.array([[math.nan, math.nan]]))
    assert not behind.any(), "a keyframe without a pixel is not drawn"


def test_the_strip_has_the_path_row_then_one_row_per_keyframe():
    overlay = np.full((240, 320, 3), 90, dtype=np.uint8)
    frames = [np.full((240, 320, 3), 30, dtype=np.uint8), None]
    heatmaps = [{"top": np.zeros((256, 256, 3), np.uint8), "front": np.zeros((256, 256, 3), np.uint8)}, {}]
    episode = record("stack_blocks", False, [event(0, 0.0, 0.2, 1.0), event(1, 1.0, 1.3, None, open_=False)])
    strip = episode_strip(episode, overlay, frames, heatmaps, np.array([[160.0, 120.0], [50.0, 50.0]]))
    assert strip.shape == (3 * STRIP_ROW_HEIGHT, 320 + 2 * 240, 3) and strip.dtype == np.uint8
    assert (strip[STRIP_ROW_HEIGHT + 120, 160] == (40, 220, 40)).all(), "keyframe 0 (open) drawn green"


def test_summary_and_table_per_task():
    records = [
        record("lift_block", True, [event(0, 0.0, 0.2, 1.0), event(1, 1.0, 1.4, 2.0)], total=8.0),
        record("lift_block", False, [event(0, 0.0, 0.3, None)], total=12.0),
        record("press_button", True, [event(0, 0.0, 0.1, 0.5)], total=4.0),
    ]
    summary = summarise(records[:2])
    assert summary["episodes"] == 2 and summary["successes"] == 1 and summary["success_rate"] == 0.5
    assert summary["mean_keyframes"] == 1.0 and summary["mean_episode_time_s"] == 10.0
    assert summary["keyframe_latency_ms"]["predict"]["median"] == pytest.approx(300.0)
    assert summary["keyframe_execution_ms"]["execute"]["max"] == pytest.approx(800.0)
    assert summary["goal_outcomes"] == {"aborted": 1, "succeeded": 1}
    assert summarise([]) == {"episodes": 0, "successes": 0, "success_rate": 0.0}

    report = {
        "split": "train",
        "planner": "oracle",
        "seeds": [3, 4],
        "real_time_factor": 1.0,
        "tasks": {"lift_block": summary, "press_button": summarise(records[2:]), "push": summarise([])},
        "overall": summarise(records),
    }
    table = markdown_table(report)
    assert "| lift_block | 50% | 2 | 1.0 | 10.0 / 12.0 | 0 | 2 | 300 / " in table
    assert "| press_button | 100% | 1 |" in table and "| push | - | 0 |" in table
    assert "| **all tasks** | 67% | 3 |" in table


def test_the_evaluated_graph_runs_the_simulator_on_its_clock():
    args = argparse.Namespace(arguments=["namespace:=r1"], planner="transformers", planner_model="/m")
    values = graph_arguments(args)
    assert values["sim"] == "true" and values["use_sim_time"] == "true" and values["namespace"] == "r1"
    assert (values["planner"], values["planner_model"]) == ("transformers", "/m")
    values = graph_arguments(
        argparse.Namespace(arguments=["use_sim_time:=false"], planner="", planner_model="")
    )
    assert values["use_sim_time"] == "false" and values["planner"] == ""
    with pytest.raises(GraphArgumentError, match="unknown launch arguments"):
        graph_arguments(argparse.Namespace(arguments=["nope:=1"], planner="", planner_model=""))
