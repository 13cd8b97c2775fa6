"""Scripted expert with privileged state: TCP keyposes, executed as joint targets at a fixed control rate.

Every task script is a sequence of top-down TCP keyposes (pre-grasp above, grasp, close, lift, move,
place, open, retreat; pushes and presses likewise). Between keyposes the TCP follows a minimum-jerk
straight line; each control tick solves IK from the previous solution and yields the joint targets.
Scripts read the objects' state when they plan a phase, so pushes are corrected closed-loop.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator

import numpy as np
from numpy.typing import NDArray

from vla_ros.control.errors import ControlError
from vla_ros.control.kinematics import ArmKinematics
from vla_ros.data.geometry import pose_matrix, quaternion_yaw, rpy_to_matrix, wrap_angle, yaw_of
from vla_ros.sim.tasks import ObjectState
from vla_ros.sim.workcell import Workcell, WorkcellError

_CUBE_SYMMETRY = 0.5 * np.pi  # a cube looks the same every quarter turn
_FINGER_HALF_THICKNESS = 0.01  # m, finger extent along the TCP x axis (pushing contact offset)
_PUSH_SPEED_SCALE = 0.4  # pushes run slower than free motion
_PRESS_SPEED_SCALE = 0.3
_PRESS_HOLD_TIME = 0.3  # s
RECOVERY_TASKS = ("push_to_target",)  # tasks whose expert records recovery demonstrations


@dataclasses.dataclass(frozen=True)
class ExpertCommand:
    """Targets for one control tick: arm joint positions (rad), gripper width (m), the commanded TCP
    pose (4x4, base frame), whether the tick ends a keypose phase (a move or a gripper action) and
    whether it belongs to a deliberately spoiled attempt (recovery demonstrations: not to be imitated)."""

    arm_positions: NDArray[np.float64]
    gripper_width: float
    tcp_pose: NDArray[np.float64]
    keypose: bool = False
    spoiled: bool = False


@dataclasses.dataclass(frozen=True)
class EpisodeOutcome:
    """Result of one expert episode."""

    task: str
    split: str
    seed: int
    instruction: str
    success: bool
    sim_time: float
    wall_time: float
    error: str = ""


def top_down_pose(position: NDArray[np.float64], yaw: float) -> NDArray[np.float64]:
    """TCP pose pointing down (z along -z of the base) with its x axis at heading ``yaw``."""
    return pose_matrix(position, rpy_to_matrix(0.0, 0.0, yaw) @ rpy_to_matrix(np.pi, 0.0, 0.0))


def nearest_equivalent_yaw(yaw: float, reference: float, symmetry: float) -> float:
    """The angle ``yaw + k * symmetry`` closest to ``reference``."""
    return reference + float((yaw - reference + 0.5 * symmetry) % symmetry - 0.5 * symmetry)


def _minimum_jerk(s: float) -> float:
    return s * s * s * (10.0 - 15.0 * s + 6.0 * s * s)


class ScriptedExpert:
    """Solves the current episode of a :class:`Workcell` from its privileged object state.

    With ``spoil`` (a random generator) the expert records a recovery demonstration: its first push
    is spoiled, turned off its line by ``expert.recovery_push_turn`` (either side) and stopped
    ``expert.recovery_push_shortfall`` short, and its next attempt recovers from where the cube ended
    (DART's idea: show the states a learner's error leads to, and the way back). The spoiled attempt's
    commands are flagged ``spoiled``; the lift after it is not (lifting clear is right either way).
    """

    def __init__(
        self, workcell: Workcell, kinematics: ArmKinematics, spoil: np.random.Generator | None = None
    ) -> None:
        self._workcell = workcell
        self._spoil = spoil
        self._spoiled = False
        self._kinematics = kinematics
        self._posture = np.array(workcell.config.robot.home_positions)
        # the robot file's turn after which the gripper acts the same (none: a full turn)
        self._gripper_symmetry = workcell.config.robot.gripper.yaw_symmetry or 2.0 * np.pi
        self._config = workcell.config.expert
        self._objects = workcell.config.objects
        self._dt = 1.0 / self._config.control_rate
        self._scripts: dict[str, Callable[[], Iterator[ExpertCommand]]] = {
            "pick_place_bowl": self._pick_place_bowl,
            "stack_blocks": self._stack_blocks,
            "push_to_target": self._push_to_target,
            "press_button": self._press_button,
            "lift_block": self._lift_block,
        }

    @property
    def control_period(self) -> float:
        """Seconds between two commands."""
        return self._dt

    def commands(self) -> Iterator[ExpertCommand]:
        """Commands for the whole episode, one per control tick, ending with a settle phase."""
        scene = self._workcell.scene
        if scene is None:
            raise WorkcellError("no episode: call reset() first")
        self._q = self._workcell.arm_targets()
        self._pose = self._kinematics.forward(self._q).to_matrix()
        self._gripper = self._workcell.gripper_command()
        yield from self._scripts[scene.task]()
        yield from self._wait(self._config.settle_time)

    # ----------------------------------------------------------------------------------- primitives
    def _command(self, keypose: bool = False) -> ExpertCommand:
        return ExpertCommand(self._q.copy(), self._gripper, self._pose.copy(), keypose, self._spoiled)

    def _wait(self, duration: float) -> Iterator[ExpertCommand]:
        for _ in range(max(1, round(duration / self._dt))):
            yield self._command()

    def _grip(self, width: float) -> Iterator[ExpertCommand]:
        if width == self._gripper:
            return
        self._gripper = width
        ticks = max(1, round(self._config.gripper_time / self._dt))
        for tick in range(1, ticks + 1):
            yield self._command(keypose=tick == ticks)

    def _move(
        self, position: NDArray[np.float64], yaw: float, speed_scale: float = 1.0
    ) -> Iterator[ExpertCommand]:
        start = self._pose[:3, 3].copy()
        start_yaw = yaw_of(self._pose[:3, :3])
        turn = wrap_angle(yaw - start_yaw)
        distance = float(np.linalg.norm(position - start))
        duration = max(
            self._config.min_segment_time,
            distance / (self._config.linear_speed * speed_scale),
            abs(turn) / self._config.angular_speed,
        )
        ticks = max(1, round(duration / self._dt))
        for tick in range(1, ticks + 1):
            s = _minimum_jerk(tick / ticks)
            self._pose = top_down_pose(start + s * (position - start), start_yaw + s * turn)
            config = self._config
            self._q = self._kinematics.track(
                self._pose,
                self._q,
                self._posture,
                config.ik_iterations,
                config.ik_damping,
                config.ik_tolerance,
            )
            yield self._command(keypose=tick == ticks)

    def _state(self, name: str) -> ObjectState:
        return self._workcell.object_states()[name]

    def _current_yaw(self) -> float:
        return yaw_of(self._pose[:3, :3])

    # ----------------------------------------------------------------------------------- skills
    def _pick(self, name: str) -> Iterator[ExpertCommand]:
        """Grasp a cube from above and lift it to the approach height."""
        cube = self._state(name)
        yaw = nearest_equivalent_yaw(quaternion_yaw(cube.orientation), self._current_yaw(), _CUBE_SYMMETRY)
        top = cube.position[2] + 0.5 * self._objects.cube_size
        above = np.array([cube.position[0], cube.position[1], top + self._config.approach_height])
        grasp = np.array([cube.position[0], cube.position[1], top - self._config.grasp_depth])
        yield from self._move(above, yaw)
        yield from self._grip(self._workcell.config.gripper.open_width)
        yield from self._move(grasp, yaw)
        yield from self._grip(self._workcell.config.gripper.closed_width)
        yield from self._move(above, yaw)

    def _place(
        self, x: float, y: float, support_height: float, reference_yaw: float
    ) -> Iterator[ExpertCommand]:
        """Carry the held cube above (x, y), lower it onto a surface at ``support_height``, release,
        retreat."""
        yaw = nearest_equivalent_yaw(reference_yaw, self._current_yaw(), _CUBE_SYMMETRY)
        size = self._objects.cube_size
        tcp_above_bottom = size - self._config.grasp_depth
        release_z = support_height + self._config.place_clearance + tcp_above_bottom
        carry_z = max(self._pose[2, 3], support_height + size + self._config.approach_height)
        yield from self._move(np.array([x, y, carry_z]), yaw)
        yield from self._move(np.array([x, y, release_z]), yaw)
        yield from self._grip(self._workcell.config.gripper.open_width)
        yield from self._move(np.array([x, y, carry_z]), yaw)

    def _pick_place_bowl(self) -> Iterator[ExpertCommand]:
        yield from self._pick("object")
        bowl = self._state("container")
        yield from self._place(
            bowl.position[0],
            bowl.position[1],
            bowl.position[2] + self._objects.bowl_wall_thickness,
            quaternion_yaw(bowl.orientation),
        )

    def _stack_blocks(self) -> Iterator[ExpertCommand]:
        yield from self._pick("object")
        base = self._state("base")
        yield from self._place(
            base.position[0],
            base.position[1],
            base.position[2] + 0.5 * self._objects.cube_size,
            quaternion_yaw(base.orientation),
        )

    def _lift_block(self) -> Iterator[ExpertCommand]:
        yield from self._pick("object")
        cube = self._state("object")
        lift_z = (
            self._workcell.config.success.lift_height
            + self._config.approach_height
            + self._objects.cube_size
            - self._config.grasp_depth
        )
        yield from self._move(np.array([cube.position[0], cube.position[1], lift_z]), self._current_yaw())

    def _press_button(self) -> Iterator[ExpertCommand]:
        button = self._state("button")
        top = button.position[2] + 0.5 * self._objects.button_cap_height
        above = np.array([button.position[0], button.position[1], top + self._config.approach_height])
        press = np.array([button.position[0], button.position[1], top - self._config.press_depth])
        yaw = self._current_yaw()
        yield from self._grip(self._workcell.config.gripper.closed_width)
        yield from self._move(above, yaw)
        yield from self._move(press, yaw, _PRESS_SPEED_SCALE)
        yield from self._wait(_PRESS_HOLD_TIME)
        yield from self._move(above, yaw)

    def _push_to_target(self) -> Iterator[ExpertCommand]:
        half = 0.5 * self._objects.cube_size
        high = half * 2.0 + self._config.approach_height
        for attempt in range(self._config.push_attempts):
            if self._workcell.success():
                return
            cube, target = self._state("object"), self._state("target")
            offset = target.position[:2] - cube.position[:2]
            distance = float(np.linalg.norm(offset))
            direction = offset / max(distance, 1e-6)
            aim = target.position[:2]  # where the cube's centre is pushed to
            self._spoiled = attempt == 0 and self._spoil is not None
            if self._spoiled:
                turn = self._spoil.choice((-1.0, 1.0)) * self._spoil.uniform(*self._config.recovery_push_turn)
                direction = rpy_to_matrix(0.0, 0.0, turn)[:2, :2] @ direction
                shortfall = self._spoil.uniform(*self._config.recovery_push_shortfall)
                aim = cube.position[:2] + direction * (distance - shortfall)
            yaw = nearest_equivalent_yaw(
                float(np.arctan2(direction[1], direction[0])), 0.0, self._gripper_symmetry
            )
            start = cube.position[:2] - direction * (half + self._config.push_standoff)
            end = aim - direction * (half + _FINGER_HALF_THICKNESS)
            height = self._config.push_height
            yield from self._move(np.array([*start, high]), yaw)
            yield from self._grip(self._config.push_gripper_width)
            yield from self._move(np.array([*start, height]), yaw)
            yield from self._move(np.array([*end, height]), yaw, _PUSH_SPEED_SCALE)
            self._spoiled = False
            yield from self._move(np.array([*end, high]), yaw)


def run_expert_episode(
    workcell: Workcell,
    kinematics: ArmKinematics,
    task: str,
    split: str,
    seed: int,
    on_tick: Callable[[int, ExpertCommand | None], None] | None = None,
    recovery: bool = False,
) -> EpisodeOutcome:
    """Reset ``workcell`` to (task, split, seed), run the expert to the end, and check success.

    ``on_tick(tick, command)`` is called with tick 0 and no command right after the reset and with
    tick n and the n-th command after its control period has been simulated (for recording).
    ``recovery``: a recovery demonstration (see :class:`ScriptedExpert`), its spoil drawn from ``seed``.
    """
    started = time.perf_counter()
    scene = workcell.reset(task, split, seed)
    expert = ScriptedExpert(workcell, kinematics, np.random.default_rng(seed) if recovery else None)
    limit = workcell.config.expert.max_episode_time
    error = ""
    if on_tick is not None:
        on_tick(0, None)
    try:
        for tick, command in enumerate(expert.commands(), start=1):
            workcell.set_arm_targets(command.arm_positions)
            workcell.set_gripper_width(command.gripper_width)
            workcell.step(expert.control_period)
            if on_tick is not None:
                on_tick(tick, command)
            if workcell.sim_time >= limit:
                error = f"episode exceeded max_episode_time {limit} s"
                break
    except (
        RuntimeError,
        ControlError,
    ) as failure:  # IK failures end the episode as a failure, with the reason
        error = str(failure)
    return EpisodeOutcome(
        task,
        split,
        seed,
        scene.instruction,
        not error and workcell.success(),
        workcell.sim_time,
        time.perf_counter() - started,
        error,
    )
