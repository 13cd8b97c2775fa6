"""`vla-ros demo`: three instructions through the whole graph, reported with timings and image strips."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from vla_ros.episode_record import STRIP_ROW_HEIGHT

pytestmark = pytest.mark.ros


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
        assert episode["goal_status"] in ("succeeded", "aborted"), episode["goal_message"]
        assert episode["task_message"] in ("task achieved", "task not achieved")
        keyframes = episode["keyframes"]
        assert keyframes and [k["index"] for k in keyframes] == list(range(len(keyframes)))
        assert episode["keyframes_reached"] >= len(keyframes) - 1, "all reached but maybe the last"
        for keyframe in keyframes:
            assert 0.0 < keyframe["predict_s"] < 5.0 and 0.0 < keyframe["camera_to_keyframe_s"] < 5.0
        assert 0.0 < episode["total_time_s"] <= 90.0
        strip = np.asarray(Image.open(tmp_path / episode["strip"]))
        assert strip.shape[0] == STRIP_ROW_HEIGHT * (1 + len(keyframes)), "the path, then a row per keyframe"
        assert strip.std() > 10
        assert f"{episode['task']}/train/0 '{episode['instruction']}'" in completed.stdout
    assert completed.stdout.count("planning ") == 3 and "kf0: predict" in completed.stdout
    for node in ("simulator", "planner", "keyframe_policy", "chunk_executor", "ensembling_controller"):
        assert (tmp_path / f"{node}.log").is_file()
