"""The scripted expert solves every task (a few seeds here; expert-eval measures 100 per task)."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.sim.expert import nearest_equivalent_yaw, run_expert_episode, top_down_pose
from vla_ros.sim.ik import PandaIk
from vla_ros.sim.tasks import TASKS
from vla_ros.sim.workcell import Workcell


def test_ik_reaches_a_top_down_pose(panda_ik: PandaIk, workcell: Workcell) -> None:
    home = np.array(workcell.config.robot.home_positions)
    target = top_down_pose(np.array([0.55, -0.15, 0.08]), 0.4)
    solution = panda_ik.solve(target, home)
    np.testing.assert_allclose(panda_ik.forward(solution), target, atol=2e-3)


def test_sim_tcp_matches_ik_forward_kinematics(panda_ik: PandaIk, workcell: Workcell) -> None:
    workcell.reset("lift_block", "train", 0)
    np.testing.assert_allclose(
        workcell.tcp_pose(), panda_ik.forward(workcell.joint_state().positions[:7]), atol=1e-3
    )


def test_nearest_equivalent_yaw() -> None:
    assert nearest_equivalent_yaw(np.pi / 2 + 0.1, 0.0, np.pi / 2) == pytest.approx(0.1)
    assert nearest_equivalent_yaw(-3.0, 0.0, np.pi) == pytest.approx(np.pi - 3.0)


def test_expert_lifts_a_block(workcell: Workcell, panda_ik: PandaIk) -> None:
    outcome = run_expert_episode(workcell, panda_ik, "lift_block", "train", 0)
    assert outcome.success, outcome


@pytest.mark.slow
@pytest.mark.parametrize("split", ["train", "heldout"])
@pytest.mark.parametrize("task", list(TASKS))
def test_expert_solves_every_task(workcell: Workcell, panda_ik: PandaIk, task: str, split: str) -> None:
    for seed in range(3):
        outcome = run_expert_episode(workcell, panda_ik, task, split, seed)
        assert outcome.success, outcome
