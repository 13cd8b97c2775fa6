"""``vla-ros policy-eval``: closed-loop success of the keyframe policy in the simulated workcell.

ROS-free and in lock-step: per episode the planner core (:class:`~vla_ros.planning.Planner`, set up
from config/planner.yaml as the planner node does) answers a path on the episode's first colour frame
and that path conditions the policy. ``--planner oracle`` (the default) gives the simulator's oracle
path (the scripted expert's trace) as the oracle backend answers it; ``--planner transformers`` asks
the trained planner VLM (``--planner-model``), so its closed-loop success can be set beside the
oracle's on the same seeds. An answer that does not parse fails the episode. Seeds the expert cannot
solve are skipped with either planner. Every predicted keyframe goes to the same
:class:`~vla_ros.control.executor.ChunkExecutor` the chunk_executor node runs (IK, grasp structure,
timing), whose plan drives the workcell at the expert's control rate until the keyframe is reached
(:class:`~vla_ros.control.keyframe.KeyframeReachedDetector`, as the node decides it) or times out.
An episode ends with success as soon as the task check passes after a keyframe (as RLBench
evaluations end), and as a failure when the policy says done without success, a keyframe is
unreachable or times out, or ``episode.max_keyframes`` is used up. ``--until done`` runs the ROS
graph's protocol instead: the episode goes on until the policy says done (or fails), and the task is
checked then, as ``vla-ros eval`` checks it after the goal ends.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from vla_ros.control.errors import ControlError
from vla_ros.control.executor import ChunkExecutor
from vla_ros.control.keyframe import KeyframeReachedDetector
from vla_ros.control.kinematics import ArmKinematics
from vla_ros.control.pose import Pose
from vla_ros.control.settings import ExecutorSettings
from vla_ros.planning.errors import PlannerError
from vla_ros.planning.path import PlannedPath
from vla_ros.planning.planner import Planner
from vla_ros.planning.settings import PlannerConfig, load_planner_config
from vla_ros.policy.errors import PolicyInputError
from vla_ros.policy.inference import KeyframePolicy
from vla_ros.policy.observation import PolicyObservation
from vla_ros.policy.settings import CONFIG_FILE, PolicyConfig, load_policy_config
from vla_ros.reports import machine_info, timing_statistics, write_report
from vla_ros.robot.urdf import DEFAULT_ROBOT, add_robot_argument
from vla_ros.sim.oracle import OracleError, oracle_path
from vla_ros.sim.settings import SPLIT_NAMES, load_sim_config
from vla_ros.sim.tasks import TASKS
from vla_ros.sim.workcell import Workcell

PLANNER_CHOICES = ("oracle", "transformers")
# Plans an episode's path from its first colour frame and its instruction.
PathPlanner = Callable[[np.ndarray, str], PlannedPath]


@dataclass
class EpisodeResult:
    """Outcome of one closed-loop episode."""

    task: str
    seed: int
    instruction: str
    success: bool
    reason: str
    keyframes: int
    sim_time_s: float
    policy_timings_s: list[dict[str, float]] = field(default_factory=list)  # per prediction, per stage


class ClosedLoopRunner:
    """Runs policy episodes in a workcell with the executor core, in lock-step."""

    def __init__(
        self, policy: KeyframePolicy, sim_config_file: str = "sim.yaml", robot: str = DEFAULT_ROBOT
    ) -> None:
        self.policy = policy
        self.sim_config = load_sim_config(sim_config_file, robot)
        self.workcell = Workcell(self.sim_config)
        self.executor_settings = ExecutorSettings.load(robot=robot)
        self.kinematics = ArmKinematics.from_settings(self.executor_settings.robot)
        self.dt = 1.0 / self.sim_config.expert.control_rate

    def close(self) -> None:
        """Release the simulator."""
        self.workcell.close()

    def _arm_state(self) -> tuple[np.ndarray, np.ndarray]:
        state = self.workcell.joint_state()
        arm = len(self.workcell.arm_joint_names)
        return state.positions[:arm], state.velocities[:arm]

    def _drive(self, executor: ChunkExecutor, detector: KeyframeReachedDetector, timeout: float) -> bool:
        """Follow the executor's plan until the keyframe is reached (True) or ``timeout`` passes."""
        gripper = self.sim_config.gripper
        replan_period = 1.0 / self.executor_settings.chunk.replan_rate
        start = next_replan = self.workcell.sim_time
        while self.workcell.sim_time - start < timeout:
            now = self.workcell.sim_time
            positions, velocities = self._arm_state()
            if now >= next_replan:
                with contextlib.suppress(ControlError):  # as the node: the current plan goes on
                    executor.update(now, positions, velocities)
                detector.not_before = executor.keyframe_done_time
                next_replan = now + replan_period
            if detector.update(now, self.kinematics.forward(positions), velocities):
                return True
            assert executor.plan is not None
            commanded, _, opening = executor.plan.sample(np.array([now + self.dt]))
            self.workcell.set_arm_targets(commanded[0])
            width = gripper.closed_width + float(opening[0]) * (gripper.open_width - gripper.closed_width)
            self.workcell.set_gripper_width(width)
            self.workcell.step(self.dt)
        return False

    def run_episode(
        self, task: str, split: str, seed: int, path: PlannedPath | PathPlanner, until: str = "success"
    ) -> EpisodeResult:
        """Reset to (task, split, seed) and run the policy conditioned on ``path``, or on the path a
        :data:`PathPlanner` answers on the first colour frame (a planner error fails the episode).

        ``until``: ``success`` ends the episode at the first keyframe after which the task check passes;
        ``done`` only when the policy says done (the task is checked then)."""
        scene = self.workcell.reset(task, split, seed)
        config: PolicyConfig = self.policy.config
        executor = ChunkExecutor(self.kinematics, self.executor_settings)
        detector = KeyframeReachedDetector(self.executor_settings.keyframe_reached)
        result = EpisodeResult(task, seed, scene.instruction, False, "", 0, 0.0)
        if not isinstance(path, PlannedPath):
            try:
                path = path(self.workcell.render().rgb, scene.instruction)
            except PlannerError as error:
                result.reason = f"planner: {type(error).__name__}: {error}"
                return result
        gripper_open = True
        intrinsics = self.workcell.intrinsics.matrix
        for index in range(config.episode.max_keyframes):
            frame = self.workcell.render()
            observation = PolicyObservation(
                frame.rgb,
                frame.depth,
                intrinsics,
                self.workcell.camera_pose(),
                path,
                scene.instruction,
                gripper_open,
                index,
            )
            try:
                prediction = self.policy.predict(observation)
            except PolicyInputError as error:
                result.reason = f"keyframe {index}: no prediction: {error}"
                break
            result.policy_timings_s.append(prediction.timings)
            keyframe = prediction.keyframe
            positions, velocities = self._arm_state()
            try:
                pose = Pose.from_matrix(keyframe.pose)
                executor.set_target(
                    pose, keyframe.gripper_open, self.workcell.sim_time, positions, velocities
                )
            except ControlError as error:
                result.reason = f"keyframe {index}: {error}"
                break
            assert executor.target is not None
            detector.set_target(executor.target, executor.keyframe_done_time)
            result.keyframes = index + 1
            reached = self._drive(executor, detector, config.episode.keyframe_timeout)
            gripper_open = keyframe.gripper_open
            if until == "success" and self.workcell.success():
                result.success, result.reason = True, "task check passed"
                break
            if not reached:
                result.reason = f"keyframe {index} not reached within {config.episode.keyframe_timeout} s"
                break
            if keyframe.done:
                result.success = self.workcell.success()
                result.reason = f"policy said done after {index + 1} keyframes; task check " + (
                    "passed" if result.success else "failed"
                )
                break
        else:
            result.reason = f"no success after {config.episode.max_keyframes} keyframes"
        result.sim_time_s = self.workcell.sim_time
        return result


def summarise(results: list[EpisodeResult]) -> dict[str, Any]:
    """Success rate, keyframes, times and policy latency (median and p95 per stage, ms) over ``results``."""
    timings = [timing for result in results for timing in result.policy_timings_s]
    return {
        "episodes": len(results),
        "successes": sum(result.success for result in results),
        "success_rate": float(np.mean([result.success for result in results])) if results else 0.0,
        "mean_keyframes": float(np.mean([result.keyframes for result in results])) if results else 0.0,
        "mean_sim_time_s": float(np.mean([result.sim_time_s for result in results])) if results else 0.0,
        "policy_latency_ms": timing_statistics(timings),
        "predictions": len(timings),
    }


class EpisodePlanner:
    """The planner core as the planner node sets it up; the oracle backend reads :attr:`oracle`."""

    def __init__(self, config: PlannerConfig) -> None:
        self.config = config
        self.oracle: PlannedPath | None = None
        self.planner = Planner.from_config(config, self._oracle_path)

    def _oracle_path(self) -> PlannedPath:
        if self.oracle is None:
            raise RuntimeError("no oracle path set for this episode")
        return self.oracle

    def __call__(self, image_rgb: np.ndarray, instruction: str) -> PlannedPath:
        """The planned path for the episode's first colour frame and instruction."""
        return self.planner.plan(image_rgb, instruction).path

    def describe(self) -> str:
        """The planner in words, for the report."""
        if self.config.backend == "oracle":
            return "oracle (the scripted expert's path, through the oracle backend)"
        if self.config.backend == "transformers":
            return f"transformers ({self.config.transformers.model_dir})"
        return self.config.backend


def planner_config_for(
    choice: str, model_dir: str = "", config_file: str = "planner.yaml", robot: str = DEFAULT_ROBOT
) -> PlannerConfig:
    """config/planner.yaml with its backend set to ``choice`` (and the transformers model directory;
    empty: the parameter file's, else ``robot``'s planner_model)."""
    if choice not in PLANNER_CHOICES:
        raise ValueError(f"planner must be one of {PLANNER_CHOICES}, got {choice!r}")
    config = load_planner_config(config_file, robot=robot)
    if choice == "transformers":
        model_dir = model_dir or config.transformers.model_dir
        if not model_dir:
            raise ValueError("the transformers planner needs a model directory (--planner-model)")
        config = replace(config, transformers=replace(config.transformers, model_dir=model_dir))
    return replace(config, backend=choice)


def evaluate(
    tasks: list[str],
    split: str,
    episodes: int,
    first_seed: int,
    config: PolicyConfig,
    progress: bool = True,
    planner_config: PlannerConfig | None = None,
    until: str = "success",
    robot: str = DEFAULT_ROBOT,
) -> dict[str, Any]:
    """Run ``episodes`` episodes of every task with ``robot`` and return the JSON-ready report.

    ``planner_config`` (default: config/planner.yaml with the oracle backend) sets up the planner;
    ``until`` is :meth:`ClosedLoopRunner.run_episode`'s.
    """
    planner = EpisodePlanner(planner_config or planner_config_for("oracle"))
    policy = KeyframePolicy(config)
    runner = ClosedLoopRunner(policy, robot=robot)
    started = time.perf_counter()
    per_task: dict[str, Any] = {}
    all_results: list[EpisodeResult] = []
    try:
        for task in tasks:
            results: list[EpisodeResult] = []
            skipped: list[dict[str, Any]] = []
            for seed in tqdm(range(first_seed, first_seed + episodes), desc=task, disable=not progress):
                try:
                    planner.oracle = oracle_path(runner.sim_config, task, split, seed)
                except OracleError as error:
                    skipped.append({"seed": seed, "reason": str(error)})
                    continue
                results.append(runner.run_episode(task, split, seed, planner, until))
            all_results += results
            per_task[task] = {
                **summarise(results),
                "oracle_unsolved": skipped,
                "failures": [
                    {
                        "seed": r.seed,
                        "instruction": r.instruction,
                        "keyframes": r.keyframes,
                        "reason": r.reason,
                    }
                    for r in results
                    if not r.success
                ],
            }
    finally:
        runner.close()
    return {
        "split": split,
        "seeds": [first_seed, first_seed + episodes - 1],
        "planner": planner.describe(),
        "until": until,
        "checkpoint": config.checkpoint,
        "device": config.device,
        "tasks": per_task,
        "mean_success_rate": float(np.mean([t["success_rate"] for t in per_task.values()])),
        "overall": summarise(all_results),
        "wall_time_s": time.perf_counter() - started,
        "checkpoint_training": policy.training_record,
        "machine": machine_info(),
    }


def markdown_table(report: dict[str, Any]) -> str:
    """The report's per-task results as a Markdown table."""
    lines = [
        f"Split `{report['split']}`, planner: {report['planner']}, "
        f"seeds {report['seeds'][0]}-{report['seeds'][1]}.",
        "",
        "| task | success | episodes | keyframes | sim time (s) | policy latency median / p95 (ms) |",
        "|---|---|---|---|---|---|",
    ]
    for task, row in {**report["tasks"], "**mean over tasks**": None}.items():
        if row is None:
            overall = report["overall"]
            lines.append(
                f"| {task} | {report['mean_success_rate']:.0%} | {overall['episodes']} | "
                f"{overall['mean_keyframes']:.1f} | {overall['mean_sim_time_s']:.1f} | "
                f"{_latency(overall)} |"
            )
            continue
        lines.append(
            f"| {task} | {row['success_rate']:.0%} | {row['episodes']} | {row['mean_keyframes']:.1f} | "
            f"{row['mean_sim_time_s']:.1f} | {_latency(row)} |"
        )
    return "\n".join(lines) + "\n"


def _latency(row: dict[str, Any]) -> str:
    total = row["policy_latency_ms"].get("total")
    return f"{total['median']:.0f} / {total['p95']:.0f}" if total else "-"


def _run(args: argparse.Namespace) -> int:
    config = load_policy_config(args.config, robot=args.robot)
    overrides = {"device": args.device} if args.device else {}
    if args.checkpoint:
        overrides["checkpoint"] = args.checkpoint
    if overrides:
        config = replace(config, **overrides)
    planner_config = planner_config_for(args.planner, args.planner_model, args.planner_config, args.robot)
    report = evaluate(
        args.tasks,
        args.split,
        args.episodes,
        args.seed,
        config,
        planner_config=planner_config,
        until=args.until,
        robot=args.robot,
    )
    write_report(args.out, report)
    table = markdown_table(report)
    args.out.with_suffix(".md").write_text(table)
    print(table)
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``policy-eval`` subcommand."""
    parser = subparsers.add_parser(
        "policy-eval",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS), help="tasks")
    parser.add_argument("--split", default="train", choices=SPLIT_NAMES, help="variation split")
    parser.add_argument("--episodes", type=int, default=25, help="episodes per task")
    parser.add_argument("--seed", type=int, default=50000, help="seed of the first episode")
    parser.add_argument("--checkpoint", default="", help="checkpoint (default: the config's)")
    parser.add_argument("--device", default="", help="cpu, cuda or cuda:N (default: the config's)")
    parser.add_argument("--config", default=CONFIG_FILE, help="policy parameter file")
    add_robot_argument(parser)
    parser.add_argument(
        "--planner",
        default="oracle",
        choices=PLANNER_CHOICES,
        help="planner backend answering each episode's path on its first colour frame",
    )
    parser.add_argument(
        "--planner-model",
        default="",
        help="model directory of the transformers planner (default: the config's model_dir)",
    )
    parser.add_argument("--planner-config", default="planner.yaml", help="planner parameter file")
    parser.add_argument(
        "--until",
        choices=("success", "done"),
        default="success",
        help="end an episode at the first keyframe after which the task check passes (success, as "
        "RLBench does), or when the policy says done, as the ROS graph does (done)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("results/policy/eval_train.json"), help="JSON report"
    )
    parser.set_defaults(func=_run)
