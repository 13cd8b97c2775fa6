"""The scripted expert solves every task (a few seeds here; expert-eval measures 100 per task)."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.control.kinematics import ArmKinematics
from vla_ros.sim.expert import ExpertCommand, nearest_equivalent_yaw, run_expert_episode, top_down_pose
from vla_ros.sim.tasks import TASKS
from vla_ros.sim.workcell import Workcell


def test_the_experts_ik_reaches_a_top_down_pose(kinematics: ArmKinematics, workcell: Workcell) -> None:
    home = np.array(workcell.config.robot.home_positions)
    expert = workcell.config.expert
    target = top_down_pose(np.array([0.55, -0.15, 0.08]), 0.4)
    solution = kinematics.track(
        target, home, home, expert.ik_iterations, expert.ik_damping, expert.ik_tolerance
    )
    np.testing.assert_allclose(kinematics.forward(solution).to_matrix(), target, atol=2e-3)


def test_sim_tcp_matches_ik_forward_kinematics(kinematics: ArmKinematics, workcell: Workcell) -> None:
    workcell.reset("lift_block", "train", 0)
    measured = workcell.joint_state().positions[:7]
    np.testing.assert_allclose(workcell.tcp_pose(), kinematics.forward(measured).to_matrix(), atol=1e-3)


def test_nearest_equivalent_yaw() -> None:
    assert nearest_equivalent_yaw(np.pi / 2 + 0.1, 0.0, np.pi / 2) == pytest.approx(0.1)
    assert nearest_equivalent_yaw(-3.0, 0.0, np.pi) == pytest.approx(np.pi - 3.0)


def test_expert_lifts_a_block(workcell: Workcell, kinematics: ArmKinematics) -> None:
    outcome = run_expert_episode(workcell, kinematics, "lift_block", "train", 0)
    assert outcome.success, outcome


@pytest.mark.slow
@pytest.mark.parametrize("split", ["train", "heldout"])
@pytest.mark.parametrize("task", list(TASKS))
def test_expert_solves_every_task(
    workcell: Workcell, kinematics: ArmKinematics, task: str, split: str
) -> None:
    for seed in range(3):
        outcome = run_expert_episode(workcell, kinematics, task, split, seed)
        assert outcome.success, outcome


def test_a_recovery_demonstration_spoils_the_first_push_and_then_recovers(
    workcell: Workcell, kinematics: ArmKinematics
) -> None:
    keyposes: list[tuple[bool, bool]] = []  # (spoiled, task achieved when the keypose is reached)

    def on_tick(tick: int, command: ExpertCommand | None) -> None:
        if command is not None and command.keypose:
            keyposes.append((command.spoiled, workcell.success()))

    outcome = run_expert_episode(
        workcell, kinematics, "push_to_target", "train", 2000, on_tick, recovery=True
    )
    assert outcome.success, outcome
    spoiled = [flag for flag, _ in keyposes]
    # pre-push above, fingers set, down, the push: spoiled; the lift after it and the recovery are not
    assert spoiled == [True] * 4 + [False] * (len(keyposes) - 4)
    assert not keyposes[4][1]  # the spoiled push left the cube off the target
    assert len(keyposes) >= 8  # a second push followed
    keyposes.clear()
    assert run_expert_episode(workcell, kinematics, "push_to_target", "train", 2000, on_tick).success
    assert len(keyposes) == 5 and not any(flag for flag, _ in keyposes)  # one clean push without
