"""``vla-ros bench controller``: cost and timing of the controller's tick, ensembling and IK.

The loop benchmark runs the controller core (ensembler + safety + a streamed preview) in a plain
Python loop at a fixed rate with absolute deadlines (``start + k * period``, slept with
``time.sleep``; a late tick does not shift the later deadlines), while synthetic chunks arrive as
from the executor: every ``1 / chunk_rate`` s a chunk of H steps at dt, stamped at its planning
time and delivered ``arrival_delay`` (+ uniform jitter) later, built from the message layout as the
node's subscription would. It reports per-tick compute time and the achieved period (error against
nominal) and lateness. Separately it times the ensembling of ``live_chunks`` chunks, IK on random
reachable poses seeded near the solution (as from the measured state) and from a far pose, and the
executor's planning of a keyframe (``set_target``) with and without the gripper's twins. An idle
loop with the same scheduling and no work gives the machine's own scheduling jitter for comparison.
``--realtime-priority`` runs both loops under SCHED_FIFO (see :mod:`vla_ros.control.realtime`).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pinocchio as pin

from vla_ros.control.chunk import ActionChunkData
from vla_ros.control.controller import EnsemblingController
from vla_ros.control.ensembler import TemporalEnsembler
from vla_ros.control.errors import ControlConfigError, ControlError, UnreachablePoseError
from vla_ros.control.executor import ChunkExecutor
from vla_ros.control.kinematics import ArmKinematics
from vla_ros.control.limits import JointLimits
from vla_ros.control.loop import FixedRateSchedule
from vla_ros.control.pose import Pose
from vla_ros.control.realtime import RealtimeUnavailableError, set_normal_scheduling, set_realtime_priority
from vla_ros.control.safety import SafetyCommand
from vla_ros.control.settings import MAX_CONTROL_RATE, BenchSettings, ControllerSettings, ExecutorSettings
from vla_ros.data.geometry import pose_matrix, rpy_to_matrix
from vla_ros.reports import machine_info, write_report

DEFAULT_OUT = "results/control_bench.json"
_PERCENTILES = {"p50": 50.0, "p99": 99.0}


def _stats(values: np.ndarray, scale: float) -> dict[str, float]:
    """p50, p99, max and mean of ``values`` multiplied by ``scale`` (e.g. 1e6 for microseconds)."""
    values = np.asarray(values, dtype=float) * scale
    summary = {name: float(np.percentile(values, q)) for name, q in _PERCENTILES.items()}
    summary.update(max=float(values.max()), mean=float(values.mean()), count=int(values.size))
    return summary


def _centre(limits: JointLimits) -> np.ndarray:
    return 0.5 * (limits.lower + limits.upper)


def _synthetic_rows(limits: JointLimits, times: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """A smooth motion around the middle of the joint ranges, slightly different per chunk."""
    phase = np.linspace(0.0, np.pi, limits.lower.size)
    return _centre(limits) + offset + 0.3 * np.sin(0.8 * times[:, None] + phase)


def _chunk_schedule(
    limits: JointLimits, bench: BenchSettings, seconds: float, rng: np.random.Generator
) -> list[tuple[float, dict[str, Any]]]:
    """(arrival time, message-like fields) of every chunk, sorted by arrival."""
    schedule = []
    for index in range(int(seconds * bench.chunk_rate) + 1):
        t0 = index / bench.chunk_rate
        times = t0 + bench.chunk_dt * np.arange(bench.chunk_horizon)
        rows = _synthetic_rows(limits, times, rng.normal(0.0, 0.01, limits.lower.size))
        fields = dict(
            joint_names=list(limits.joint_names),
            t0=t0,
            dt=bench.chunk_dt,
            positions=rows.reshape(-1).tolist(),
            velocities=[],
            gripper=np.ones(bench.chunk_horizon).tolist(),
            chunk_id=index,
            source="bench",
        )
        schedule.append((t0 + bench.arrival_delay + rng.uniform(0.0, bench.arrival_jitter), fields))
    schedule.sort(key=lambda item: item[0])
    return schedule


def run_fixed_rate(rate: float, seconds: float, work: Callable[[float], None]) -> dict[str, Any]:
    """Call ``work(now)`` at absolute deadlines ``start + k / rate`` for ``seconds`` (``time.sleep``).

    A late tick does not shift later deadlines (no drift); when the loop is more than a whole period
    behind it skips the missed deadlines (counted) instead of running them back to back. Returns the
    period error, achieved period and lateness statistics; ``now`` is seconds since the start.
    """
    period = 1.0 / rate
    schedule = FixedRateSchedule(period, time.perf_counter())
    start = schedule.deadline  # time 0 of ``work``
    end = start + (round(seconds * rate) - 0.5) * period  # the last deadline is before it
    wakes, deadlines = [], []
    while schedule.deadline < end:
        remaining = schedule.deadline - time.perf_counter()
        if remaining > 0.0:
            time.sleep(remaining)
        wake = time.perf_counter()
        wakes.append(wake)
        deadlines.append(schedule.deadline)
        work(wake - start)
        schedule.advance(time.perf_counter())
    wake_times, deadline_times = np.array(wakes), np.array(deadlines)
    periods = np.diff(wake_times)
    return {
        "rate_hz": rate,
        "ticks": len(wakes),
        "skipped_deadlines": schedule.skipped,
        "period_error_ms": _stats(np.abs(periods - period), 1e3),
        "achieved_period_ms": _stats(periods, 1e3),
        "lateness_ms": _stats(wake_times - deadline_times, 1e3),
    }


def enable_tracked(controller: EnsemblingController, positions: np.ndarray, now: float) -> None:
    """Measure the arm at rest at ``positions`` and enable actuation there (raises when refused)."""
    controller.observe_joint_state(controller.joint_names, positions, [], now)
    refusal = controller.enable(now)
    if refusal is not None:
        raise ValueError(f"cannot enable: {refusal}")


def tick_tracked(controller: EnsemblingController, now: float) -> SafetyCommand | None:
    """One tick at ``now`` (ROS and steady time alike) with the last command measured back (perfect
    tracking: a robot that follows every command exactly)."""
    limiter = controller.safety.limiter
    controller.observe_joint_state(controller.joint_names, limiter.positions, limiter.velocities, now)
    return controller.tick(now, now)


def run_loop(
    controller: EnsemblingController, bench: BenchSettings, seconds: float, rng: np.random.Generator
) -> dict[str, Any]:
    """Run the controller at its rate for ``seconds`` with synthetic chunk traffic; timing statistics."""
    settings = controller.settings
    limits = controller.safety.limiter.limits
    schedule = _chunk_schedule(limits, bench, seconds, rng)
    enable_tracked(controller, _centre(limits), 0.0)
    compute, preview_compute, live = [], [], []
    statuses: dict[str, int] = {}
    delivered = 0

    def tick_once(now: float) -> None:
        nonlocal delivered
        begin = time.perf_counter()
        while delivered < len(schedule) and schedule[delivered][0] <= now:
            controller.add_chunk(ActionChunkData.from_flat(**schedule[delivered][1]), now)
            delivered += 1
        command = tick_tracked(controller, now)
        ticked = time.perf_counter()
        controller.preview(now, settings.preview.points, settings.preview.step)
        compute.append(ticked - begin)
        preview_compute.append(time.perf_counter() - ticked)
        live.append(len(controller.ensembler.chunks))
        statuses[command.status] = statuses.get(command.status, 0) + 1

    timing = run_fixed_rate(settings.rate, seconds, tick_once)
    return {
        **timing,
        "seconds": seconds,
        "tick_compute_us": _stats(np.array(compute), 1e6),
        "preview_compute_us": _stats(np.array(preview_compute), 1e6),
        "live_chunks": {"mean": float(np.mean(live)), "max": int(np.max(live))},
        "chunks_delivered": delivered,
        "statuses": statuses,
    }


def time_ensembling(limits: JointLimits, bench: BenchSettings, m: float, repeats: int) -> dict[str, Any]:
    """Cost of one ensembler evaluation with ``bench.live_chunks`` chunks all covering the time."""
    ensembler = TemporalEnsembler(limits.joint_names, m)
    rng = np.random.default_rng(bench.random_seed)
    for index in range(bench.live_chunks):
        t0 = index * bench.chunk_dt
        times = t0 + bench.chunk_dt * np.arange(bench.chunk_horizon)
        rows = _synthetic_rows(limits, times, rng.normal(0.0, 0.01, limits.lower.size))
        ensembler.add(
            ActionChunkData(
                limits.joint_names,
                t0,
                bench.chunk_dt,
                rows,
                None,
                np.ones(bench.chunk_horizon),
                index,
                "bench",
            )
        )
    t = (bench.live_chunks - 0.5) * bench.chunk_dt
    assert len(ensembler.evaluate(t).chunk_ids) == bench.live_chunks
    durations = np.empty(repeats)
    for repeat in range(repeats):
        begin = time.perf_counter()
        ensembler.evaluate(t + 1e-6 * (repeat % 7))
        durations[repeat] = time.perf_counter() - begin
    return {
        "live_chunks": bench.live_chunks,
        "horizon": bench.chunk_horizon,
        "joints": limits.lower.size,
        "evaluate_us": _stats(durations, 1e6),
    }


def _time_each(
    items: list[Any], call: Callable[[Any], Any], refusal: type[Exception]
) -> tuple[np.ndarray, list[Any]]:
    """Wall time (s) of ``call(item)`` for each item, and its results (None where it raised ``refusal``)."""
    durations, results = [], []
    for item in items:
        begin = time.perf_counter()
        try:
            results.append(call(item))
        except refusal:
            results.append(None)
        durations.append(time.perf_counter() - begin)
    return np.array(durations), results


def time_ik(
    kinematics: ArmKinematics, executor: ExecutorSettings, poses: int, rng: np.random.Generator
) -> dict[str, Any]:
    """IK time on random reachable poses, seeded near the solution and from the middle of the ranges."""
    limits = kinematics.limits
    results: dict[str, Any] = {}
    samples = [rng.uniform(limits.lower, limits.upper) for _ in range(poses)]
    targets = [(q, kinematics.forward(q)) for q in samples]
    for name, seed_of in (
        ("seed_near_solution", lambda q: limits.clip(q + rng.normal(0.0, 0.2, q.size))),
        ("seed_mid_range", lambda q: _centre(limits)),
    ):
        durations, solutions = _time_each(
            targets,
            lambda item, seed_of=seed_of: kinematics.inverse(item[1], seed_of(item[0]), executor.ik),
            UnreachablePoseError,
        )
        attempts = [solution.attempts for solution in solutions if solution is not None]
        results[name] = {
            "time_ms": _stats(durations, 1e3),
            "failures": solutions.count(None),
            "mean_attempts": float(np.mean(attempts)) if attempts else None,
        }
    return results


def time_keyframe_planning(
    kinematics: ArmKinematics, executor: ExecutorSettings, poses: int, rng: np.random.Generator
) -> dict[str, Any]:
    """The executor's ``set_target`` (IK of the stops, the approach line, the timed plan) on random
    top-down grasps over the workcell's task area from the home pose, with the robot gripper's twins and
    with the keyframe's yaw only: time, refusals and how often a twin was planned."""
    robot = executor.robot
    x, y = robot.workcell_origin_xy
    low, high = np.array([x + 0.3, y - 0.3, 0.02]), np.array([x + 0.7, y + 0.3, 0.2])
    keyframes = []
    for _ in range(poses):
        yaw = rng.uniform(-np.pi, np.pi)
        keyframes.append(
            Pose.from_matrix(pose_matrix(rng.uniform(low, high), rpy_to_matrix(np.pi, 0.0, yaw)))
        )
    home = np.array(robot.home_positions)
    without = dataclasses.replace(robot, gripper=dataclasses.replace(robot.gripper, yaw_symmetry=0.0))

    def plan(item: tuple[ChunkExecutor, Pose]) -> bool:
        """Plan one keyframe; whether a twin of it was planned."""
        planner, keyframe = item
        planner.set_target(keyframe, False, 0.0, home, np.zeros_like(home))
        return planner.target is not keyframe

    results: dict[str, Any] = {"keyframes": poses}
    for name, settings in (
        ("gripper_twins", executor),
        ("keyframe_yaw_only", dataclasses.replace(executor, robot=without)),
    ):
        items = [(ChunkExecutor(kinematics, settings), keyframe) for keyframe in keyframes]
        durations, twins = _time_each(items, plan, ControlError)
        results[name] = {
            "time_ms": _stats(durations, 1e3),
            "refused": twins.count(None),
            "twin_planned": sum(bool(twin) for twin in twins),
        }
    return results


def run_benchmark(
    rate: float | None, seconds: float, config: str, realtime_priority: int | None = None
) -> dict[str, Any]:
    """All control benchmarks; returns the JSON-ready report.

    ``rate`` and ``realtime_priority`` (SCHED_FIFO for the loops, 0 = normal) default to the
    controller's configuration; a refused real-time request is recorded and the loops run normally.
    """
    executor = ExecutorSettings.load(config)
    controller_settings = ControllerSettings.load(config)
    if rate is not None:
        if not 0.0 < rate <= MAX_CONTROL_RATE:
            raise ControlConfigError(f"--rate must be in (0, {MAX_CONTROL_RATE:g}] Hz, got {rate}")
        controller_settings = dataclasses.replace(controller_settings, rate=rate)
    bench = BenchSettings.load(config)
    rng = np.random.default_rng(bench.random_seed)
    kinematics = ArmKinematics.from_settings(executor.robot)
    controller = EnsemblingController(kinematics.limits, controller_settings)
    priority = controller_settings.realtime_priority if realtime_priority is None else realtime_priority
    scheduling, realtime = "normal", False
    if priority > 0:
        try:
            set_realtime_priority(priority)
            scheduling, realtime = f"SCHED_FIFO {priority}", True
        except RealtimeUnavailableError as error:
            scheduling = f"normal ({error})"
    try:
        loop = run_loop(controller, bench, seconds, rng)
        idle_loop = run_fixed_rate(controller_settings.rate, seconds, lambda now: None)
        ensembling = time_ensembling(
            kinematics.limits, bench, controller_settings.ensembling.m, bench.ensemble_repeats
        )
    finally:
        if realtime:
            set_normal_scheduling()
    return {
        "arguments": {"rate": controller_settings.rate, "seconds": seconds, "config": config},
        "scheduling": scheduling,
        "machine": {**machine_info(), "numpy": np.__version__, "pinocchio": pin.__version__},
        "traffic": dataclasses.asdict(bench),
        "loop": loop,
        "idle_loop": idle_loop,
        "ensembling": ensembling,
        "ik": time_ik(kinematics, executor, bench.ik_poses, rng),
        "keyframe_planning": time_keyframe_planning(kinematics, executor, bench.ik_poses, rng),
    }


def run(args: argparse.Namespace) -> int:
    """Entry point of ``vla-ros bench controller``."""
    if args.seconds <= 0.0:
        raise ControlConfigError(f"--seconds must be > 0, got {args.seconds}")
    report = run_benchmark(args.rate, args.seconds, args.config, args.realtime_priority)
    out = Path(args.out)
    write_report(out, report)
    loop, ensembling, ik = report["loop"], report["ensembling"], report["ik"]["seed_near_solution"]
    planning = report["keyframe_planning"]["gripper_twins"]
    idle_p99 = report["idle_loop"]["period_error_ms"]["p99"]
    print(
        f"{loop['rate_hz']:.0f} Hz, {report['scheduling']}: "
        f"tick compute p50/p99 {loop['tick_compute_us']['p50']:.0f}/"
        f"{loop['tick_compute_us']['p99']:.0f} us; period error p99/max {loop['period_error_ms']['p99']:.3f}/"
        f"{loop['period_error_ms']['max']:.3f} ms (idle loop p99 {idle_p99:.3f} ms); "
        f"ensembling of {ensembling['live_chunks']} chunks p50 "
        f"{ensembling['evaluate_us']['p50']:.0f} us; IK p50 {ik['time_ms']['p50']:.2f} ms; keyframe planning "
        f"p50 {planning['time_ms']['p50']:.1f} ms -> {out}"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``controller`` to the ``vla-ros`` command line."""
    parser = subparsers.add_parser(
        "controller",
        help="time the controller tick (ensembling + safety) at a fixed rate, ensembling and IK",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="loop rate in Hz (default: the controller's rate in config/control.yaml)",
    )
    parser.add_argument(
        "--realtime-priority",
        type=int,
        default=None,
        help="SCHED_FIFO priority 1-99 for the loops, 0 for normal scheduling (default: config)",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of the loop run (s)")
    parser.add_argument("--config", default="control", help="parameter file (name under config/ or path)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="JSON file to write")
    parser.set_defaults(func=run)
