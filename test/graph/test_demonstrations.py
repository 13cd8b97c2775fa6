"""The data loop through the graph: ``vla-ros demonstrate`` drives the simulated robot through its
trajectory topics while the recorder records; ``vla-ros dataset from-mcap`` turns the recording into an
episode whose keyframes and path label match those the simulator's collector writes for the same scene,
although the recording holds only what a real robot's topics carry; ``vla-ros replay`` plays it to the
policy node, whose keyframes land on the demonstration's."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from vla_ros.data.dataset import EpisodeReader
from vla_ros.sim.collect import collect, episode_name

pytestmark = [pytest.mark.ros, pytest.mark.slow]  # the whole graph (about a minute)
TASK, SEED = "lift_block", 7


def run_cli(*args: str, timeout: float) -> subprocess.CompletedProcess:
    completed = subprocess.run(
        [sys.executable, "-m", "vla_ros.cli", *args], capture_output=True, text=True, timeout=timeout
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return completed


def test_a_demonstration_recorded_through_the_graph_matches_the_collected_one(tmp_path):
    recordings = tmp_path / "recordings"
    run_cli(
        *("demonstrate", "--task", TASK, "--episodes", "1", "--seed", str(SEED)),
        *("--record", str(recordings), "real_time_factor:=0.25"),  # headroom: few frames dropped
        timeout=300,
    )
    report = json.loads((recordings / "demonstrations.json").read_text())
    (demonstration,) = report["demonstrations"]
    assert demonstration["file"] == str(recordings / "demo_0000.mcap")
    assert demonstration["messages"]["/arm_controller/joint_trajectory"] == 1
    assert demonstration["messages"]["/camera/color/camera_pose"] == 1

    # A loaded machine loses camera frames before the recorder (not joint states): allow gaps of 2 s.
    converted = run_cli(
        *("dataset", "from-mcap", demonstration["file"], "--out", str(tmp_path / "dataset")),
        *("--max-gap", "2.0"),
        timeout=120,
    )
    assert "converted 1 of 1" in converted.stdout, converted.stdout[-2000:] + converted.stderr[-2000:]
    recorded = EpisodeReader(tmp_path / "dataset" / "demo_0000")
    collect([TASK], 1, "train", SEED, tmp_path / "collected", progress=False, frames="keyframes")
    collected = EpisodeReader(tmp_path / "collected" / episode_name(TASK, "train", SEED))

    assert recorded.instruction == collected.instruction
    assert recorded.camera_pose == pytest.approx(collected.camera_pose)
    ours, theirs = recorded.meta["expert_keyframes"], collected.meta["expert_keyframes"]
    # The recorded keyframes are the expert's (measured at rest against commanded), in order, with their
    # gripper states: the stops are found on the joint-state stream, which the loaded machine does not
    # thin as it thins the camera's frames.
    assert len(ours) == len(theirs) >= 3
    for mine, expert in zip(ours, theirs, strict=True):
        distance = np.linalg.norm(np.subtract(mine["tcp_pose"][:3], expert["tcp_pose"][:3]))
        assert distance < 0.003, (mine, expert)
        assert mine["gripper_open"] == expert["gripper_open"]
    # the path label starts and ends where the expert's does (its middle points depend on the frames
    # that arrived, through the simplification)
    path, expert_path = np.array(recorded.meta["path"]["points"]), np.array(collected.meta["path"]["points"])
    assert path[0] == pytest.approx(expert_path[0], abs=0.02) and path[-1] == pytest.approx(
        expert_path[-1], abs=0.02
    )
    assert recorded.meta["path"]["gripper_open"][-1] == collected.meta["path"]["gripper_open"][-1]

    # the shipped policy, fed the recording's frames over its topics, finds the demonstration's keyframes
    # (it may say done before a last rest the recording marks: replay then exits 1 and says so)
    replay = [sys.executable, "-m", "vla_ros.cli", "replay", demonstration["file"], "--max-gap", "2.0"]
    subprocess.run([*replay, "--out", str(tmp_path / "r.json")], capture_output=True, timeout=300)
    summary = json.loads((tmp_path / "r.json").read_text())["summary"]
    assert summary["keyframes"] >= len(ours) - 1 and summary["position_error_mm_median"] < 20.0
