"""The whole graph in one test: an instruction through the action ends in task success in the
simulator; a graph started with a bad parameter fails fast, saying why."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory

from vla_ros.app.graph import resolve_arguments
from vla_ros.app.graph_client import GraphSession

pytestmark = [pytest.mark.ros, pytest.mark.slow]  # the whole graph each (15-30 s)
EPISODE_LIMIT_S = 60.0  # of simulated time; the expert needs about 8 s, the policy's episodes about 9 s


def test_an_instruction_through_the_action_ends_in_task_success(tmp_path):
    values = resolve_arguments({"use_sim_time": "true"})
    recording = tmp_path / "episode.mcap"
    topics = ["planner/path", "policy/keyframe", "chunk_executor/keyframe_reached", "joint_states"]
    with GraphSession(values, tmp_path, images=False) as session:
        record, _ = session.client.run_episode(
            "lift_block", "train", 0, EPISODE_LIMIT_S, recording=(recording, topics)
        )
    assert record.task_success, f"{record.task_message}; goal {record.goal_status}: {record.goal_message}"
    assert record.goal_status == "succeeded" and "task done" in record.goal_message
    assert record.planner.startswith("transformers") and record.path_points >= 2
    assert record.keyframes_reached == len(record.keyframes) >= 3, "approach, grasp, lift: each reached"
    assert [event.index for event in record.keyframes] == list(range(len(record.keyframes)))
    assert 0.0 < record.total_time_s < EPISODE_LIMIT_S

    # The episode's MCAP recording (vla-ros eval --record) holds what the graph said.
    counts = record.recording["messages"]
    assert record.recording["file"] == "episode.mcap" and not record.recording["missing_topics"]
    assert counts["/planner/path"] == 1 and counts["/policy/keyframe"] == len(record.keyframes)
    assert counts["/chunk_executor/keyframe_reached"] == record.keyframes_reached
    assert counts["/joint_states"] > 100 * record.total_time_s * 0.5
    with recording.open("rb") as stream:
        keyframes = [
            message.decoded_message.keyframe_index
            for message in make_reader(stream, decoder_factories=[DecoderFactory()]).iter_decoded_messages(
                topics=["/policy/keyframe"]
            )
        ]
    assert keyframes == [event.index for event in record.keyframes]


@pytest.mark.parametrize(
    ("argument", "node", "reason"),
    [
        ("policy_checkpoint:=/nonexistent/policy.pt", "keyframe_policy", "policy checkpoint not found"),
        ("controller:=warp_drive", "ensembling_controller", "warp_drive"),
    ],
)
def test_a_bad_parameter_stops_the_demo_at_once_with_the_reason(tmp_path, argument, node, reason):
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "vla_ros.cli", "demo", argument, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 1, completed.stdout[-2000:] + completed.stderr[-2000:]
    assert f"{node} exited with code 1" in completed.stderr and reason in completed.stderr
    assert time.monotonic() - started < 60.0
    assert not (tmp_path / "demo.json").exists()


def test_eval_reports_the_episodes_run_before_the_graph_failed(tmp_path):
    completed = subprocess.run(
        [
            *(sys.executable, "-m", "vla_ros.cli", "eval", "policy_checkpoint:=/nonexistent/policy.pt"),
            *("--tasks", "lift_block", "--episodes", "1", "--out", str(tmp_path)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 1, completed.stdout[-2000:] + completed.stderr[-2000:]
    report = json.loads((tmp_path / "eval.json").read_text())
    assert "keyframe_policy exited with code 1" in report["graph_error"]
    assert (
        report["overall"]["episodes"] == 0 and "| lift_block | - | 0 |" in (tmp_path / "eval.md").read_text()
    )
    assert "stopped early" in completed.stderr
