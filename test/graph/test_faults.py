"""Faults injected into the whole graph (simulated workcell, oracle planner, simulated time at half real
time), judged by the same criteria as ``vla-ros faults``: braking from speed on an e-stop and a
disable, enabling after the arm was moved by hand, bad, reordered and stale /joint_states.

The rest of the fault table (dead nodes, a stalled clock, bad chunks, a dead planner server, ...) runs
in ``vla-ros faults`` (results/faults.md): each needs restarts too long for the test suite.
"""

from __future__ import annotations

import pytest

from vla_ros.app.faults import FAULTS, FaultBench, run_fault
from vla_ros.app.graph import resolve_arguments
from vla_ros.app.graph_client import GraphSession

pytestmark = [pytest.mark.ros, pytest.mark.slow]
TESTED = (
    "estop_at_speed",
    "enable_after_hand_move",
    "disable_during_motion",
    "nan_joint_states",
    "short_joint_states",
    "second_publisher_reordered",
    "stale_joint_states",
)


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    values = resolve_arguments({"use_sim_time": "true", "planner": "oracle", "real_time_factor": "0.5"})
    log_dir = tmp_path_factory.mktemp("faults")
    with GraphSession(values, log_dir, images=False) as session:
        yield FaultBench(session, log_dir)


@pytest.mark.parametrize("name", TESTED)
def test_fault_is_handled(bench, name):
    fault = next(fault for fault in FAULTS if fault.name == name)
    verdict = run_fault(bench, fault, clean_check=False)
    assert verdict.passed, f"{verdict.failures}; {verdict}"
