"""`vla-ros demo`: three instructions through the whole graph, reported with timings and image strips."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from vla_ros.app.episode_record import STRIP_ROW_HEIGHT

pytestmark = [pytest.mark.ros, pytest.mark.slow]  # the whole graph, three episodes (~60 s)


def test_demo_runs_three_instructions_through_a_namespaced_graph(tmp_path):
    # A namespace checks that the nodes find each other by relative names, as on a multi-robot system.
    completed = subprocess.run(
        [sys.executable, "-m", "vla_ros.cli", "demo", "namespace:=robot1", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=420,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    summary = json.loads((tmp_path / "demo.json").read_text())
    episodes = summary["episodes"]
    assert [episode["task"] for episode in episodes] == ["pick_place_bowl", "stack_blocks", "press_button"]
    assert f"{summary['task_successes']}/3 tasks achieved" in completed.stdout
    for episode in episodes:
        assert (
            episode["instruction"]
            and episode["planner"].startswith("transformers")
            and "<ans>" in episode["raw_answer"]
        )
        # Every episode ends on its own, well within the demo's 40 s: the policy says done after its last
        # keyframe is reached, or gives a keyframe up (re-predicted, then aborted with the reasons).
        goal = f"{episode['goal_status']}: {episode['goal_message']}"
        assert 0.0 < episode["total_time_s"] < 30.0, goal
        keyframes = episode["keyframes"]
        assert keyframes and [k["index"] for k in keyframes] == list(range(len(keyframes)))
        if episode["goal_status"] == "succeeded":
            assert episode["goal_message"].startswith("task done"), goal
            assert episode["keyframes_reached"] == len(keyframes), "done only once the last one is reached"
        else:
            reasons = (
                "failed 2 times",
                "keyframes reached without the policy saying done",
                "planning failed",
            )
            assert episode["goal_status"] == "aborted", goal
            assert any(reason in episode["goal_message"] for reason in reasons), goal
        assert episode["task_message"] == (
            "task achieved" if episode["task_success"] else "task not achieved"
        )
        assert episode["hold_transitions"] == 0, "the arm moved without stop-and-go"
        assert len(episode["episode_id"]) == 32
        for keyframe in keyframes:
            assert 0.0 < keyframe["predict_s"] < 5.0 and 0.0 < keyframe["camera_to_keyframe_s"] < 5.0
        strip = np.asarray(Image.open(tmp_path / episode["strip"]))
        assert strip.shape[0] == STRIP_ROW_HEIGHT * (1 + len(keyframes)), "the path, then a row per keyframe"
        assert strip.std() > 10
        assert f"{episode['task']}/train/0 '{episode['instruction']}'" in completed.stdout
    assert len({episode["episode_id"] for episode in episodes}) == 3
    assert completed.stdout.count("planning ") == 3 and "kf0: predict" in completed.stdout
    for node in ("simulator", "planner", "keyframe_policy", "chunk_executor", "ensembling_controller"):
        assert (tmp_path / f"{node}.log").is_file()
