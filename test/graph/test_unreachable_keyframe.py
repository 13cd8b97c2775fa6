"""A keyframe the executor cannot take is predicted again, then the goal aborts with the reasons, within
seconds, through the whole graph (an executor whose workspace box holds nothing above the table)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from episode_probe import Probe

from vla_ros.app.graph import resolve_arguments
from vla_ros.app.graph_client import GraphSession
from vla_ros.config import config_path

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_an_unreachable_keyframe_is_predicted_again_then_the_goal_aborts(tmp_path):
    control = yaml.safe_load(Path(config_path("control.yaml")).read_text())
    control["/**/chunk_executor"]["ros__parameters"]["workspace"]["upper"][2] = 0.0  # nothing above the table
    executor_config = tmp_path / "control_nothing_reachable.yaml"
    executor_config.write_text(yaml.safe_dump(control))
    values = resolve_arguments(
        {"use_sim_time": "true", "planner": "oracle", "chunk_executor_config": str(executor_config)}
    )
    with GraphSession(values, tmp_path / "logs", images=False) as session:
        probe = Probe(session)
        handle, episode = probe.start("lift_block", "train", 0)
        started = probe.client.now()
        response = probe.client.wait_for_result(handle, 60.0)
        ended, end = probe.end_of(episode)
    message = response.result.message
    assert response.status == 6 and end.state == 2, message  # aborted
    assert message.startswith("keyframe 0 failed 2 times: rejected by the executor:"), message
    assert message.count("outside the workspace box") == 2, message
    assert ended - started < 10.0, f"aborted {ended - started:.1f} s after the goal"
    assert not any(e == episode for _, e in probe.chunks), "nothing moved toward a rejected keyframe"
