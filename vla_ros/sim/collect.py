"""``vla-ros collect``: record expert demonstrations, with keyframes and path labels.

``--frames camera`` records every camera frame (camera rate); ``--frames keyframes`` records the first
frame and one on arrival at every expert keypose (about ten a demonstration, ten times faster to
collect); ``--intermediate N`` adds every N-th camera frame to it, the frames between keyframes that
the keyframe policy also trains on (each targets the next keyframe, as PerAct and RVT sample). Both
write the expert's keyframes (commanded TCP pose and gripper state, and the frame recorded on arrival)
and the HAMSTER path label of the whole control-rate TCP trace (as the simulator's oracle planner
computes it).

Episode ``i`` of a task uses seed ``--seed + i``; an episode the expert fails is not saved (it is
counted in ``dataset.json``) and the next seed is tried, up to twice the requested number of seeds.

``--recovery P`` records a share P of the episodes as recovery demonstrations (pushes): the expert's
first attempt is spoiled on purpose and its next attempt recovers from where that left the scene, so
the policy sees what its own errors lead to and how to go on instead of saying done. The spoiled
keyframes are flagged (``spoiled``) and not trained on; the path label of such an episode draws the
spoiled attempt too, so the policy trains on the planner's path for it (``vla-ros policy-paths``).
"""

from __future__ import annotations

import argparse
import bisect
import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from vla_ros.control.kinematics import ArmKinematics
from vla_ros.data.dataset import DatasetError, add_to_index
from vla_ros.data.geometry import pose_to_vector
from vla_ros.data.keyframes import discover_keyframes, merge_keyposes
from vla_ros.planning.hamster_format import format_answer
from vla_ros.planning.settings import load_planner_config
from vla_ros.robot.urdf import DEFAULT_ROBOT, add_robot_argument
from vla_ros.sim.expert import RECOVERY_TASKS, ExpertCommand, run_expert_episode
from vla_ros.sim.oracle import TcpTrace
from vla_ros.sim.recording import EpisodeRecorder
from vla_ros.sim.settings import SPLIT_NAMES, SimConfig, load_sim_config
from vla_ros.sim.tasks import TASKS
from vla_ros.sim.workcell import Workcell

_MAX_ATTEMPTS_FACTOR = 2
_KEYPOSE_MERGE_TOLERANCE = 1e-6
FRAME_MODES = ("camera", "keyframes")


def episode_name(task: str, split: str, seed: int) -> str:
    """Directory name of an episode."""
    return f"{task}_{split}_{seed:06d}"


def frame_period_ticks(config: SimConfig) -> int:
    """Control ticks per camera frame; the control rate must be a multiple of the camera rate."""
    ratio = config.expert.control_rate / config.camera.rate
    if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
        raise DatasetError(
            f"expert.control_rate {config.expert.control_rate} Hz is not a multiple of "
            f"camera.rate {config.camera.rate} Hz"
        )
    return round(ratio)


class EpisodeTrace:
    """Everything recorded during one expert episode: frames, the TCP trace and the keyposes."""

    def __init__(self, workcell: Workcell, frames: str, ticks_per_frame: int, intermediate: int = 0) -> None:
        if frames not in FRAME_MODES:
            raise DatasetError(f"frames must be one of {FRAME_MODES}, got {frames!r}")
        if intermediate < 0 or (intermediate and frames != "keyframes"):
            raise DatasetError("intermediate frames (a positive stride) go with frames=keyframes only")
        self.recorder = EpisodeRecorder(workcell)
        self.tcp = TcpTrace(workcell)
        self._workcell = workcell
        self._frames = frames
        self._ticks_per_frame = ticks_per_frame
        self._intermediate_ticks = intermediate * ticks_per_frame
        self._recorded_ticks: list[int] = []
        self._keyposes: list[tuple[int, ExpertCommand]] = []

    def on_tick(self, tick: int, command: ExpertCommand | None) -> None:
        """Record what tick ``tick`` (0 = after the reset) shows, as :func:`run_expert_episode` calls it."""
        self.tcp.record()
        keypose = command is not None and command.keypose
        if self._frames == "keyframes":
            periodic = self._intermediate_ticks > 0 and tick % self._intermediate_ticks == 0
            record = tick == 0 or keypose or periodic
        else:
            record = tick % self._ticks_per_frame == 0
        if record:
            self.recorder.record()
            self._recorded_ticks.append(tick)
        if keypose:
            self._keyposes.append((tick, command))

    def expert_keyframes(self) -> list[dict[str, Any]]:
        """The expert's keyframes: tick, frame recorded on arrival, commanded TCP pose, gripper state."""
        threshold = self._workcell.config.gripper.closed_threshold
        commands = [command for _, command in self._keyposes]
        kept = merge_keyposes(
            [c.tcp_pose for c in commands],
            [c.gripper_width >= threshold for c in commands],
            _KEYPOSE_MERGE_TOLERANCE,
        )
        last = len(self._recorded_ticks) - 1
        keyframes = []
        for index in kept:
            tick, command = self._keyposes[index]
            frame = min(bisect.bisect_left(self._recorded_ticks, tick), last)
            keyframes.append(
                {
                    "tick": tick,
                    "frame": frame,
                    "tcp_pose": pose_to_vector(command.tcp_pose).tolist(),
                    "gripper_open": bool(command.gripper_width >= threshold),
                    "spoiled": command.spoiled,
                }
            )
        return keyframes

    def labels(self, answer_decimals: int) -> dict[str, Any]:
        """Keyframes and HAMSTER path label (``answer_decimals`` decimals) of the episode."""
        expert_keyframes = self.expert_keyframes()
        if self._frames == "keyframes":
            keyframes = [keyframe["frame"] for keyframe in expert_keyframes]
        else:
            arrays = self.recorder.arrays()
            recording = self._workcell.config.recording
            arm = len(self._workcell.arm_joint_names)
            keyframes = discover_keyframes(
                [bool(v) for v in arrays["gripper_open"]],
                arrays["joint_velocities"][:, :arm],
                recording.keyframe_velocity_threshold,
                recording.keyframe_stop_buffer,
            )
        path = self.tcp.path()
        return {
            "frames_recorded": self._frames,
            "intermediate_every": self._intermediate_ticks // self._ticks_per_frame,
            "keyframes": keyframes,
            "expert_keyframes": expert_keyframes,
            "path": {
                "points": path.points.tolist(),
                "gripper_open": path.gripper_open.tolist(),
                "initial_gripper_open": path.initial_gripper_open,
                "answer": format_answer(path, answer_decimals),
                "rdp_epsilon": self._workcell.config.recording.path_rdp_epsilon,
                "image": "first frame; x = column / width, y = row / height from the top-left corner",
            },
        }


def collect(
    tasks: list[str],
    episodes: int,
    split: str,
    seed: int,
    out: Path,
    config_file: str = "sim.yaml",
    progress: bool = True,
    planner_config_file: str = "planner.yaml",
    frames: str = "camera",
    intermediate: int = 0,
    robot: str = DEFAULT_ROBOT,
    recovery: float = 0.0,
    camera_perturbation: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """Record ``episodes`` successful demonstrations per task into ``out``; returns the index written.

    ``frames``: ``camera`` (every camera frame) or ``keyframes`` (the first frame and the keyframes,
    plus every ``intermediate``-th camera frame when it is positive). ``recovery``: the share of
    episodes recorded as recovery demonstrations (a spoiled first attempt, its keyframes flagged
    ``spoiled``, then the expert's recovery; :class:`~vla_ros.sim.expert.ScriptedExpert`), drawn from
    ``seed``; for the tasks in :data:`~vla_ros.sim.expert.RECOVERY_TASKS` only.
    ``camera_perturbation``: (translation m, rotation rad) replacing the split's camera perturbation
    (each episode's camera moved uniformly within it; the offset is in each episode's ``scene``).

    Path labels are written with the planner's answer format and ``answer_decimals``.
    """
    if not 0.0 <= recovery <= 1.0:
        raise DatasetError(f"recovery is a share of the episodes in [0, 1], got {recovery}")
    if recovery > 0.0 and set(tasks) - set(RECOVERY_TASKS):
        raise DatasetError(
            f"recovery demonstrations exist for {', '.join(RECOVERY_TASKS)} only, not for "
            f"{', '.join(sorted(set(tasks) - set(RECOVERY_TASKS)))}"
        )
    recovery_draws = np.random.default_rng(seed)
    config = load_sim_config(config_file, robot)
    if camera_perturbation is not None:
        config = config.with_camera_perturbation(split, *camera_perturbation)
    answer_decimals = load_planner_config(planner_config_file).answer_decimals
    ticks_per_frame = frame_period_ticks(config)
    workcell = Workcell(config)
    kinematics = ArmKinematics.from_settings(config.robot)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    saved, failed = [], []
    try:
        for task in tasks:
            bar = tqdm(total=episodes, desc=f"collect {task}", disable=not progress)
            task_saved = 0
            for episode_seed in range(seed, seed + _MAX_ATTEMPTS_FACTOR * episodes):
                if task_saved == episodes:
                    break
                trace = EpisodeTrace(workcell, frames, ticks_per_frame, intermediate)
                recovery_episode = bool(recovery_draws.random() < recovery)
                outcome = run_expert_episode(
                    workcell, kinematics, task, split, episode_seed, trace.on_tick, recovery_episode
                )
                if not outcome.success:
                    failed.append({"task": task, "seed": episode_seed, "error": outcome.error})
                    continue
                name = episode_name(task, split, episode_seed)
                scene = workcell.scene
                meta = {
                    "task": task,
                    "split": split,
                    "seed": episode_seed,
                    "instruction": outcome.instruction,
                    "success": outcome.success,
                    "recovery": recovery_episode,
                    "sim_time_s": outcome.sim_time,
                    "scene": {
                        "role_colours": scene.role_colours,
                        "objects": [dataclasses.asdict(o) for o in scene.objects],
                        "camera_offset": list(scene.camera_offset),
                    },
                    **trace.labels(answer_decimals),
                }
                trace.recorder.write(out / name, meta)
                saved.append(name)
                task_saved += 1
                bar.update(1)
            bar.close()
    finally:
        workcell.close()
    elapsed = time.perf_counter() - started
    return add_to_index(
        out,
        saved,
        {
            "tasks": tasks,
            "split": split,
            "first_seed": seed,
            "requested_per_task": episodes,
            "frames": frames,
            "intermediate_every": intermediate,
            "recovery": recovery,
            "camera_perturbation": {
                "translation": config.splits.get(split).camera_translation,
                "rotation": config.splits.get(split).camera_rotation,
            },
            "saved": len(saved),
            "failed": failed,
            "wall_time_s": elapsed,
            "demos_per_minute": 60.0 * len(saved) / elapsed if elapsed > 0 else 0.0,
            "camera": {
                "width": config.camera.width,
                "height": config.camera.height,
                "rate_hz": config.camera.rate,
            },
        },
    )


def _run(args: argparse.Namespace) -> int:
    index = collect(
        args.task,
        args.episodes,
        args.split,
        args.seed,
        args.out,
        args.config,
        planner_config_file=args.planner_config,
        frames=args.frames,
        intermediate=args.intermediate,
        robot=args.robot,
        recovery=args.recovery,
        camera_perturbation=args.camera_perturbation,
    )
    last = index["collections"][-1]
    print(
        f"saved {last['saved']} episodes ({len(last['failed'])} expert failures skipped) to {args.out} "
        f"in {last['wall_time_s']:.0f} s: {last['demos_per_minute']:.1f} demos/min"
    )
    return 0 if last["saved"] == args.episodes * len(args.task) else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``collect`` subcommand."""
    parser = subparsers.add_parser("collect", description=__doc__)
    parser.add_argument("--task", nargs="+", required=True, choices=list(TASKS), help="task(s) to record")
    parser.add_argument("--episodes", type=int, default=10, help="successful episodes per task")
    parser.add_argument("--split", default="train", choices=SPLIT_NAMES, help="variation split")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first episode")
    parser.add_argument(
        "--frames",
        default="camera",
        choices=FRAME_MODES,
        help="record every camera frame, or only the first frame and the keyframes",
    )
    parser.add_argument(
        "--intermediate",
        type=int,
        default=0,
        help="with --frames keyframes, also record every N-th camera frame (0: none)",
    )
    parser.add_argument(
        "--recovery",
        type=float,
        default=0.0,
        help="share of episodes recorded as recovery demonstrations: a spoiled first push, then the "
        "expert's recovery (push_to_target only; the spoiled keyframes are not trained on)",
    )
    parser.add_argument(
        "--camera-perturbation",
        type=float,
        nargs=2,
        metavar=("TRANSLATION", "ROTATION"),
        help="move each episode's camera uniformly within +/-TRANSLATION m and +/-ROTATION rad per axis "
        "instead of the split's values (training data for a planner robust to camera mounting)",
    )
    parser.add_argument("--config", default="sim.yaml", help="simulator parameter file")
    add_robot_argument(parser)
    parser.add_argument(
        "--planner-config", default="planner.yaml", help="planner parameter file (answer format)"
    )
    parser.add_argument("--out", type=Path, required=True, help="dataset directory")
    parser.set_defaults(func=_run)
