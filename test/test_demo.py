"""`vla-ros demo` runs the graph in the simulated workcell and records what it answered."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.ros


def test_demo_runs_three_instructions_through_a_namespaced_graph(tmp_path):
    # A namespace checks that the nodes find each other by relative names, as on a multi-robot system.
    completed = subprocess.run(
        [sys.executable, "-m", "vla_ros.cli", "demo", "namespace:=robot1", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    summary = json.loads((tmp_path / "demo.json").read_text())
    assert {"simulator", "planner"} <= set(summary["stages_run"])
    assert len(summary["episodes"]) == 3
    for episode in summary["episodes"]:
        assert episode["instruction"] and episode["planner"].startswith("oracle")
        assert episode["path_points"] >= 2 and episode["gripper_events"] >= 1
        assert "<ans>" in episode["answer"]
        overlay = np.asarray(Image.open(tmp_path / episode["overlay"]))
        assert overlay.ndim == 3 and overlay.std() > 10, "the overlay is a camera image with a path on it"
    assert (tmp_path / "simulator.log").is_file() and (tmp_path / "planner.log").is_file()
