"""policy-eval with a planner: the path of each episode comes from the planner core on its first frame."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from vla_ros.planning.errors import EmptyAnswerError
from vla_ros.planning.path import PlannedPath
from vla_ros.policy.inference import KeyframePolicy
from vla_ros.policy.settings import PolicyConfig
from vla_ros.sim.oracle import oracle_path
from vla_ros.training.policy.evaluation import ClosedLoopRunner, EpisodePlanner, planner_config_for

PLANNER_MODEL = Path(__file__).resolve().parents[2] / "models" / "planner"


@pytest.fixture(scope="module")
def runner(policy_config: PolicyConfig) -> Iterator[ClosedLoopRunner]:
    runner = ClosedLoopRunner(KeyframePolicy(policy_config))
    yield runner
    runner.close()


def test_the_planner_choice_sets_the_backend_and_the_model_directory() -> None:
    config = planner_config_for("transformers", "some/model")
    assert config.backend == "transformers" and config.transformers.model_dir == "some/model"
    assert planner_config_for("oracle").backend == "oracle"
    with pytest.raises(ValueError, match="planner must be one of"):
        planner_config_for("openai")


def test_the_oracle_planner_answers_the_episode_oracle_path(runner: ClosedLoopRunner) -> None:
    planner = EpisodePlanner(planner_config_for("oracle"))
    planner.oracle = oracle_path(runner.sim_config, "lift_block", "train", 3)
    path = planner(np.zeros((240, 320, 3), np.uint8), "lift the block")
    assert np.abs(path.points - planner.oracle.points).max() <= 0.005 + 1e-9  # answer_decimals: 2
    assert "oracle" in planner.describe()


def test_the_first_colour_frame_and_the_instruction_go_to_the_planner(runner: ClosedLoopRunner) -> None:
    asked: list[tuple[tuple[int, ...], str]] = []

    def planner(image: np.ndarray, instruction: str) -> PlannedPath:
        asked.append((image.shape, instruction))
        raise EmptyAnswerError("no answer")

    result = runner.run_episode("press_button", "train", 1, planner)
    size = runner.workcell.intrinsics
    assert asked == [((size.height, size.width, 3), result.instruction)]
    assert not result.success and result.keyframes == 0
    assert result.reason.startswith("planner: EmptyAnswerError")


@pytest.mark.skipif(not (PLANNER_MODEL / "config.json").is_file(), reason="no trained planner model")
def test_the_trained_planner_vlm_plans_on_a_workcell_frame(runner: ClosedLoopRunner) -> None:
    planner = EpisodePlanner(planner_config_for("transformers", str(PLANNER_MODEL)))
    scene = runner.workcell.reset("lift_block", "train", 2)
    path = planner(runner.workcell.render().rgb, scene.instruction)
    assert path.points.shape[1] == 2 and path.points.shape[0] >= 2
    assert str(PLANNER_MODEL) in planner.describe()
