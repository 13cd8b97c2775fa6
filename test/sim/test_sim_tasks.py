"""Task suite: reproducible scenes, explicit splits, success checks that are not trivially true."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from vla_ros.sim.settings import SimConfig
from vla_ros.sim.tasks import TASKS, ObjectState, TaskError, is_held_out_combination, sample_scene
from vla_ros.sim.workcell import Workcell


@pytest.mark.parametrize("task", list(TASKS))
def test_same_seed_same_scene_and_seeds_differ(sim_config: SimConfig, task: str) -> None:
    first = sample_scene(sim_config, task, "train", 7)
    assert sample_scene(sim_config, task, "train", 7) == first
    others = [sample_scene(sim_config, task, "train", seed) for seed in range(8, 12)]
    assert all(other.objects != first.objects for other in others)
    assert len({scene.instruction for scene in [first, *others]}) > 1


@pytest.mark.parametrize("task", list(TASKS))
def test_splits_separate_colours_positions_and_distractors(sim_config: SimConfig, task: str) -> None:
    modulus = sim_config.splits.colour_holdout_modulus
    palette = list(sim_config.colours)
    train_range = sim_config.splits.train
    for split, held_out in (("train", False), ("heldout", True)):
        limits = sim_config.splits.get(split).distractors
        for seed in range(10):
            scene = sample_scene(sim_config, task, split, seed)
            indices = tuple(palette.index(scene.role_colours[role]) for role, _ in TASKS[task].roles)
            assert is_held_out_combination(indices, modulus) == held_out
            distractors = [o for o in scene.objects if o.role == "distractor"]
            assert limits[0] <= len(distractors) <= limits[1]
            main = scene.objects[0]
            inside = (
                train_range.x_range[0] <= main.x <= train_range.x_range[1]
                and train_range.y_range[0] <= main.y <= train_range.y_range[1]
            )
            assert inside != held_out
            colours = [o.colour for o in scene.objects]
            assert len(set(colours)) == len(colours)


def test_held_out_rule_covers_both_splits() -> None:
    pairs = list(itertools.permutations(range(8), 2))
    held = [pair for pair in pairs if is_held_out_combination(pair, 4)]
    assert 0 < len(held) < len(pairs)


def test_unknown_task_split_and_bad_seed_are_rejected(sim_config: SimConfig) -> None:
    with pytest.raises(TaskError, match="unknown task"):
        sample_scene(sim_config, "open_drawer", "train", 0)
    with pytest.raises(ValueError, match="unknown split"):
        sample_scene(sim_config, "lift_block", "test", 0)
    with pytest.raises(TaskError, match="seed"):
        sample_scene(sim_config, "lift_block", "train", -1)


@pytest.mark.parametrize("task", list(TASKS))
def test_untouched_scene_is_not_a_success(workcell: Workcell, task: str) -> None:
    workcell.reset(task, "train", 0)
    assert not workcell.success()
    workcell.step(0.5)
    assert not workcell.success()


def test_reset_is_deterministic(workcell: Workcell) -> None:
    def rollout() -> tuple[dict, np.ndarray, np.ndarray]:
        workcell.reset("stack_blocks", "heldout", 5)
        workcell.set_arm_targets(np.array(workcell.config.robot.home_positions) + 0.2)
        workcell.set_gripper_width(0.02)
        workcell.step(0.25)
        states = {name: state.position for name, state in workcell.object_states().items()}
        return states, workcell.joint_state().positions, workcell.render().rgb

    first, second = rollout(), rollout()
    for name in first[0]:
        np.testing.assert_array_equal(first[0][name], second[0][name])
    np.testing.assert_array_equal(first[1], second[1])
    np.testing.assert_array_equal(first[2], second[2])


def _state(name: str, kind: str, position: list[float], yaw: float = 0.0, **extra: object) -> ObjectState:
    values = {"linear_speed": 0.0, "touching_robot": False, "pressed_depth": 0.0, **extra}
    orientation = np.array([0.0, 0.0, np.sin(0.5 * yaw), np.cos(0.5 * yaw)])
    return ObjectState(name, kind, name, "red", np.array(position), orientation, **values)


def test_success_checks_on_constructed_states(sim_config: SimConfig) -> None:
    half = 0.5 * sim_config.objects.cube_size
    bowl = _state("container", "bowl", [0.5, 0.1, 0.0], yaw=0.7)
    check = TASKS["pick_place_bowl"].success
    assert check(
        {"object": _state("object", "cube", [0.52, 0.08, 0.01 + half]), "container": bowl}, sim_config
    )
    assert not check({"object": _state("object", "cube", [0.60, 0.1, half]), "container": bowl}, sim_config)
    held = _state("object", "cube", [0.5, 0.1, 0.01 + half], touching_robot=True)
    assert not check({"object": held, "container": bowl}, sim_config)

    base = _state("base", "cube", [0.4, 0.0, half])
    check = TASKS["stack_blocks"].success
    assert check({"object": _state("object", "cube", [0.405, 0.0, 3 * half]), "base": base}, sim_config)
    assert not check({"object": _state("object", "cube", [0.45, 0.0, half]), "base": base}, sim_config)

    target = _state("target", "target", [0.5, -0.1, 0.0005], yaw=0.3)
    check = TASKS["push_to_target"].success
    assert check({"object": _state("object", "cube", [0.52, -0.12, half]), "target": target}, sim_config)
    assert not check({"object": _state("object", "cube", [0.58, -0.1, half]), "target": target}, sim_config)

    check = TASKS["press_button"].success
    depth = sim_config.objects.button_pressed_depth
    assert check({"button": _state("button", "button", [0.5, 0.0, 0.03], pressed_depth=depth)}, sim_config)
    assert not check(
        {"button": _state("button", "button", [0.5, 0.0, 0.03], pressed_depth=0.5 * depth)}, sim_config
    )

    check = TASKS["lift_block"].success
    lifted = sim_config.success.lift_height + half + 0.01
    assert check({"object": _state("object", "cube", [0.5, 0.0, lifted], touching_robot=True)}, sim_config)
    assert not check({"object": _state("object", "cube", [0.5, 0.0, half])}, sim_config)
