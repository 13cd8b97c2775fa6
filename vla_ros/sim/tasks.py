"""The task suite: roles, scene sampling per split and seed, instructions and success checks.

Sampling is pure (numpy only): the same task, split and seed always give the same :class:`SceneSpec`.
Success checks are pure functions of the objects' privileged state (:class:`ObjectState`).
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from vla_ros.data.geometry import invert, pose_matrix, transform_points
from vla_ros.sim.objects import footprint_radius
from vla_ros.sim.settings import SimConfig, SplitConfig

_MAX_SAMPLING_ATTEMPTS = 200
_PLACEMENT_TRIES = 200
_PUSH_CORRIDOR_BEHIND = 0.10  # m behind the pushed cube kept free for the approach
_PUSH_CORRIDOR_CLEARANCE = 0.03  # m extra clearance of distractors from the push corridor
_RESTING_SPEED = 0.05  # m/s, an object moving slower than this counts as resting


class TaskError(ValueError):
    """Unknown task, or a scene that cannot be sampled."""


@dataclasses.dataclass(frozen=True)
class ObjectSpec:
    """One object of a sampled scene: name, kind, role (``distractor`` for distractors), colour, pose."""

    name: str
    kind: str
    role: str
    colour: str
    x: float
    y: float
    yaw: float


@dataclasses.dataclass(frozen=True)
class SceneSpec:
    """A fully determined episode: objects, instruction and camera perturbation."""

    task: str
    split: str
    seed: int
    instruction: str
    role_colours: dict[str, str]
    objects: tuple[ObjectSpec, ...]
    camera_offset: tuple[float, ...]  # (dx, dy, dz, droll, dpitch, dyaw) in the camera_link frame


@dataclasses.dataclass(frozen=True)
class ObjectState:
    """Privileged state of an object, as the expert and the success checks see it."""

    name: str
    kind: str
    role: str
    colour: str
    position: NDArray[np.float64]
    orientation: NDArray[np.float64]  # quaternion (x, y, z, w)
    linear_speed: float
    touching_robot: bool
    pressed_depth: float  # buttons: deepest travel of the cap so far this episode (m); else 0

    @property
    def pose(self) -> NDArray[np.float64]:
        """4x4 pose in the base frame."""
        return pose_matrix(self.position, self.orientation)


SuccessCheck = Callable[[dict[str, ObjectState], SimConfig], bool]


@dataclasses.dataclass(frozen=True)
class TaskDefinition:
    """What a task is made of: its roles (name, kind), the kinds of its distractors and its success check."""

    name: str
    roles: tuple[tuple[str, str], ...]
    distractor_kinds: tuple[str, ...]
    success: SuccessCheck


def _in_frame(state: ObjectState, reference: ObjectState) -> NDArray[np.float64]:
    return transform_points(invert(reference.pose), state.position[None])[0]


def _released_and_resting(state: ObjectState) -> bool:
    return not state.touching_robot and state.linear_speed < _RESTING_SPEED


def _cube_in_bowl(objects: dict[str, ObjectState], config: SimConfig) -> bool:
    cube, bowl = objects["object"], objects["container"]
    local = _in_frame(cube, bowl)
    inner = 0.5 * config.objects.bowl_inner_size
    return bool(
        np.all(np.abs(local[:2]) < inner)
        and local[2] < config.objects.bowl_wall_height
        and _released_and_resting(cube)
    )


def _cube_stacked(objects: dict[str, ObjectState], config: SimConfig) -> bool:
    top, base = objects["object"], objects["base"]
    offset = top.position - base.position
    return bool(
        np.linalg.norm(offset[:2]) < config.success.stack_xy_tolerance
        and abs(offset[2] - config.objects.cube_size) < config.success.stack_z_tolerance
        and _released_and_resting(top)
    )


def _cube_on_target(objects: dict[str, ObjectState], config: SimConfig) -> bool:
    cube, target = objects["object"], objects["target"]
    local = _in_frame(cube, target)
    on_table = cube.position[2] < config.objects.cube_size
    return bool(np.all(np.abs(local[:2]) < 0.5 * config.objects.target_size) and on_table)


def _button_pressed(objects: dict[str, ObjectState], config: SimConfig) -> bool:
    return objects["button"].pressed_depth >= config.objects.button_pressed_depth


def _cube_lifted(objects: dict[str, ObjectState], config: SimConfig) -> bool:
    cube = objects["object"]
    bottom = cube.position[2] - 0.5 * config.objects.cube_size
    return bool(bottom > config.success.lift_height)


TASKS: dict[str, TaskDefinition] = {
    task.name: task
    for task in (
        TaskDefinition(
            "pick_place_bowl", (("object", "cube"), ("container", "bowl")), ("cube", "bowl"), _cube_in_bowl
        ),
        TaskDefinition("stack_blocks", (("object", "cube"), ("base", "cube")), ("cube",), _cube_stacked),
        TaskDefinition(
            "push_to_target", (("object", "cube"), ("target", "target")), ("cube", "target"), _cube_on_target
        ),
        TaskDefinition("press_button", (("button", "button"),), ("button", "cube"), _button_pressed),
        TaskDefinition("lift_block", (("object", "cube"),), ("cube",), _cube_lifted),
    )
}


def get_task(name: str) -> TaskDefinition:
    """The task called ``name``; raises :class:`TaskError` listing the known tasks otherwise."""
    if name not in TASKS:
        raise TaskError(f"unknown task {name!r}; expected one of {', '.join(TASKS)}")
    return TASKS[name]


def is_held_out_combination(indices: tuple[int, ...], modulus: int) -> bool:
    """Whether a combination of palette indices (one per role) belongs to the held-out split."""
    return sum((j + 1) * i for j, i in enumerate(indices)) % modulus == modulus - 1


def _rng(task: str, split: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(task.encode()), zlib.crc32(split.encode())])


def _sample_colours(
    rng: np.random.Generator, task: TaskDefinition, config: SimConfig, split: SplitConfig, count: int
) -> list[int]:
    palette_size = len(config.colours)
    for _ in range(_MAX_SAMPLING_ATTEMPTS):
        indices = [int(i) for i in rng.permutation(palette_size)[:count]]
        role_indices = tuple(indices[: len(task.roles)])
        if (
            is_held_out_combination(role_indices, config.splits.colour_holdout_modulus)
            == split.held_out_colours
        ):
            return indices
    raise TaskError(f"cannot sample colours for {task.name}: check colours and colour_holdout_modulus")


def _inside(x: float, y: float, split: SplitConfig) -> bool:
    return split.x_range[0] <= x <= split.x_range[1] and split.y_range[0] <= y <= split.y_range[1]


def _distance_to_segment(
    point: NDArray[np.float64], start: NDArray[np.float64], end: NDArray[np.float64]
) -> float:
    direction = end - start
    t = np.clip(np.dot(point - start, direction) / max(np.dot(direction, direction), 1e-12), 0.0, 1.0)
    return float(np.linalg.norm(point - (start + t * direction)))


def _place_objects(
    rng: np.random.Generator, task: TaskDefinition, kinds: list[str], config: SimConfig, split: SplitConfig
) -> list[tuple[float, float]] | None:
    train = config.splits.train
    radii = [footprint_radius(kind, config.objects) for kind in kinds]
    placed: list[tuple[float, float]] = []
    for index, radius in enumerate(radii):
        for _ in range(_PLACEMENT_TRIES):
            x = float(rng.uniform(*split.x_range))
            y = float(rng.uniform(*split.y_range))
            if index == 0 and split.outside_train_range and _inside(x, y, train):
                continue
            clear = all(
                np.hypot(x - px, y - py) >= radius + radii[j] + config.splits.min_separation
                for j, (px, py) in enumerate(placed)
            )
            if clear and index >= len(task.roles) and task.name == "push_to_target":
                cube, goal = np.array(placed[0]), np.array(placed[1])
                behind = cube - _PUSH_CORRIDOR_BEHIND * (goal - cube) / np.linalg.norm(goal - cube)
                clear = (
                    _distance_to_segment(np.array([x, y]), behind, goal) >= radius + _PUSH_CORRIDOR_CLEARANCE
                )
            if clear:
                placed.append((x, y))
                break
        else:
            return None
    if (
        len(task.roles) == 2
        and np.hypot(*np.subtract(placed[0], placed[1])) < config.splits.min_goal_distance
    ):
        return None
    return placed


def sample_scene(config: SimConfig, task_name: str, split_name: str, seed: int) -> SceneSpec:
    """Sample the scene of ``task_name`` in split ``split_name`` for ``seed`` (deterministic)."""
    task = get_task(task_name)
    split = config.splits.get(split_name)
    if seed < 0:
        raise TaskError(f"seed must be non-negative, got {seed}")
    rng = _rng(task_name, split_name, seed)
    distractor_count = int(rng.integers(split.distractors[0], split.distractors[1] + 1))
    kinds = [kind for _, kind in task.roles]
    kinds += [str(rng.choice(task.distractor_kinds)) for _ in range(distractor_count)]
    if len(kinds) > len(config.colours):
        raise TaskError(f"{task_name}: {len(kinds)} objects but only {len(config.colours)} colours")
    colour_names = list(config.colours)
    colours = [colour_names[i] for i in _sample_colours(rng, task, config, split, len(kinds))]
    for _ in range(_MAX_SAMPLING_ATTEMPTS):
        positions = _place_objects(rng, task, kinds, config, split)
        if positions is not None:
            break
    else:
        raise TaskError(f"cannot place {len(kinds)} objects for {task_name} in split {split_name}")
    yaws = rng.uniform(-np.pi, np.pi, size=len(kinds))
    roles = [role for role, _ in task.roles] + ["distractor"] * distractor_count
    names = [role for role, _ in task.roles] + [f"distractor_{i}" for i in range(distractor_count)]
    # the workcell (table, camera, task area) sits where the robot reaches it: positions in the base frame
    dx, dy = config.robot.workcell_origin_xy
    objects = tuple(
        ObjectSpec(
            names[i],
            kinds[i],
            roles[i],
            colours[i],
            positions[i][0] + dx,
            positions[i][1] + dy,
            float(yaws[i]),
        )
        for i in range(len(kinds))
    )
    role_colours = {role: colours[i] for i, (role, _) in enumerate(task.roles)}
    phrasings = config.tasks[task_name].phrasings
    instruction = phrasings[int(rng.integers(len(phrasings)))].format(**role_colours)
    camera_offset = np.concatenate(
        [
            rng.uniform(-1.0, 1.0, 3) * split.camera_translation,
            rng.uniform(-1.0, 1.0, 3) * split.camera_rotation,
        ]
    )
    return SceneSpec(
        task_name,
        split_name,
        seed,
        instruction,
        role_colours,
        objects,
        tuple(float(v) for v in camera_offset),
    )
