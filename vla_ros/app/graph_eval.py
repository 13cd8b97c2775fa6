"""``vla-ros eval``: closed-loop episodes through the real ROS graph, the nodes the demo runs.

Starts the graph in the simulated workcell (every node on the simulator's clock, ``use_sim_time``),
and for each task and seed resets the scene, sends its instruction through the planner's
``ExecuteInstruction`` action, waits for the goal to end (task done, keyframe limit or timeout) and
asks the simulator whether the task was achieved. Unlike ``vla-ros policy-eval`` (the policy alone,
lock-step, no ROS), everything counts here: the planner backend, topics and QoS, the camera's rate,
inference while the robot waits, the executor's chunks and the ensembling controller.

Writes ``--out``/eval.json (per episode and per task: success, keyframes, episode time, planner and
policy latency) and ``--out``/eval.md (the table), optionally an image strip per episode
(``--strips``) and an MCAP recording of each episode's topics (``--record``: camera, joint states,
path, keyframes, chunks, commands, heatmaps; replay with ``ros2 bag play FILE.mcap`` or open it in
Foxglove).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from vla_ros.app.episode_record import EpisodeRecord, save_strip
from vla_ros.app.graph import ROBOT, GraphArgumentError, resolve_arguments
from vla_ros.app.graph_client import GraphError, GraphSession
from vla_ros.config import load_parameters
from vla_ros.reports import machine_info, timing_statistics, write_report
from vla_ros.sim.settings import load_sim_config

PLANNERS = ("oracle", "transformers", "openai", "file")
# What --record writes per episode (relative to the graph's namespace; "camera" is the camera
# namespace): the topics a user would record with rosbag2 to replay or debug an episode.
RECORDED_TOPICS = (
    "camera/color/image_raw",
    "camera/color/camera_info",
    "camera/color/camera_pose",
    "camera/aligned_depth_to_color/image_raw",
    "joint_states",
    "simulator/instruction",
    "planner/path",
    "planner/overlay",
    "policy/keyframe",
    "chunk_executor/chunk",
    "chunk_executor/keyframe_reached",
    "arm_controller/joint_trajectory",
    "gripper_controller/joint_trajectory",
    "planner/episode",
    "policy/outcome",
    "keyframe_policy/heatmaps/top",
    "keyframe_policy/heatmaps/front",
    "keyframe_policy/heatmaps/side",
)


def summarise(records: list[EpisodeRecord]) -> dict[str, Any]:
    """Success rate, keyframes, episode time and latencies (median / p95 / max, ms) over ``records``."""
    if not records:
        return {"episodes": 0, "successes": 0, "success_rate": 0.0}
    # Targets that reached the client after their own echo have no meaningful receipt time.
    keyframes = [event for record in records for event in record.keyframes if not event.delivered_late]
    return {
        "episodes": len(records),
        "successes": sum(record.task_success for record in records),
        "success_rate": float(np.mean([record.task_success for record in records])),
        "mean_keyframes": float(np.mean([record.keyframes_reached for record in records])),
        "mean_episode_time_s": float(np.mean([record.total_time_s for record in records])),
        "max_episode_time_s": float(np.max([record.total_time_s for record in records])),
        "hold_transitions": sum(record.hold_transitions for record in records),
        "frames_dropped": sum(record.frames_dropped for record in records),
        "frames_published": sum(record.frames_published for record in records),
        # simulated over wall time: below the configured real-time factor, the machine did not keep up
        "achieved_real_time_factor": float(
            sum(record.total_time_s for record in records) / sum(record.wall_time_s for record in records)
        ),
        "planning_latency_ms": timing_statistics([{"planner": r.planning_latency_s} for r in records]),
        "keyframe_latency_ms": timing_statistics(
            [{"predict": e.predict_s, "camera_to_keyframe": e.camera_to_keyframe_s} for e in keyframes]
        ),
        "keyframe_execution_ms": timing_statistics(
            [{"execute": e.execute_s} for e in keyframes if e.execute_s is not None]
        ),
        "goal_outcomes": {
            status: sum(record.goal_status == status for record in records)
            for status in sorted({record.goal_status for record in records})
        },
        "episode_ends": {
            end: sum(record.episode_end == end for record in records)
            for end in sorted({record.episode_end for record in records})
        },
    }


def markdown_table(report: dict[str, Any]) -> str:
    """The report's per-task results as a Markdown table."""
    lines = [
        f"Through the ROS graph: split `{report['split']}`, planner `{report['planner']}`, "
        f"seeds {report['seeds'][0]}-{report['seeds'][1]}, real-time factor {report['real_time_factor']} "
        f"(achieved {report['overall'].get('achieved_real_time_factor', 0.0):.2f}; camera frames dropped "
        f"{report['overall'].get('frames_dropped', 0)} of {report['overall'].get('frames_published', 0)}).",
        "",
        "| task | success | episodes | keyframes | episode time mean / max (s) | holds | planner (ms) "
        "| keyframe predict median / p95 (ms) | camera-to-keyframe median (ms) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    rows = {**report["tasks"], "**all tasks**": report["overall"]}
    for task, row in rows.items():
        if not row["episodes"]:
            lines.append(f"| {task} | - | 0 | - | - | - | - | - | - |")
            continue
        predict = row["keyframe_latency_ms"].get("predict")
        camera = row["keyframe_latency_ms"].get("camera_to_keyframe")
        planner = row["planning_latency_ms"]["planner"]
        lines.append(
            f"| {task} | {row['success_rate']:.0%} | {row['episodes']} | {row['mean_keyframes']:.1f} | "
            f"{row['mean_episode_time_s']:.1f} / {row['max_episode_time_s']:.1f} | "
            f"{row['hold_transitions']} | {planner['median']:.0f} | "
            + (
                f"{predict['median']:.0f} / {predict['p95']:.0f} | {camera['median']:.0f} |"
                if predict
                else "- | - |"
            )
        )
    return "\n".join(lines) + "\n"


def graph_arguments(args: argparse.Namespace) -> dict[str, str]:
    """The launch arguments of the evaluated graph: the user's, then the evaluation's own."""
    from vla_ros.app.bringup import parse_overrides

    overrides = parse_overrides(args.arguments)
    overrides.setdefault("use_sim_time", "true")
    overrides["sim"] = "true"
    if args.planner:
        overrides["planner"] = args.planner
    if args.planner_model:
        overrides["planner_model"] = args.planner_model
    return resolve_arguments(overrides)


def recorded_topics(values: dict[str, str]) -> list[str]:
    """:data:`RECORDED_TOPICS` with the graph's camera namespace."""
    camera = (values["camera_namespace"] or "camera").strip("/")
    return [
        camera + topic[len("camera") :] if topic.startswith("camera/") else topic for topic in RECORDED_TOPICS
    ]


def evaluate(args: argparse.Namespace, values: dict[str, str]) -> dict[str, Any]:
    """Run the episodes; returns the JSON-ready report. When the graph fails, the report holds the
    episodes run until then and ``graph_error`` says why."""
    seeds = range(args.seed, args.seed + args.episodes)
    runs = [(task, seed) for task in args.tasks for seed in seeds]
    records: list[EpisodeRecord] = []
    episodes: list[dict[str, Any]] = []
    graph_error = ""
    started = time.monotonic()
    try:
        with GraphSession(values, args.out / "logs", images=args.strips) as session:
            progress = tqdm(runs, desc="eval", unit="episode")
            for task, seed in progress:
                recording = None
                if args.record:
                    recording = (args.out / f"{task}_{args.split}_{seed:03d}.mcap", recorded_topics(values))
                record, images = session.client.run_episode(
                    task, args.split, seed, args.timeout, args.max_keyframes, recording
                )
                records.append(record)
                strip = save_strip(record, images, args.out) if args.strips else ""
                episodes.append({**record.to_dict(), "strip": strip})
                successes = sum(r.task_success for r in records)
                progress.set_postfix_str(
                    f"{task}/{seed} {'ok' if record.task_success else 'fail'}, {successes}/{len(records)}"
                )
    except GraphError as error:
        graph_error = str(error)
    except KeyboardInterrupt:
        graph_error = "interrupted (Ctrl-C or SIGTERM)"
    planner = next((record.planner for record in records if record.planner), values["planner"])
    per_task = {task: summarise([r for r in records if r.task == task]) for task in args.tasks}
    simulator = load_parameters([values[ROBOT], values["simulator_config"]], "simulator")
    return {
        "split": args.split,
        "seeds": [seeds[0], seeds[-1]],
        "planner": planner,
        "real_time_factor": float(values["real_time_factor"] or simulator["interface"]["real_time_factor"]),
        "graph": values,
        "tasks": per_task,
        "mean_success_rate": float(np.mean([row["success_rate"] for row in per_task.values()])),
        "overall": summarise(records),
        "episodes": episodes,
        "wall_time_s": time.monotonic() - started,
        "graph_error": graph_error,
        "machine": machine_info(),
    }


def run(args: argparse.Namespace) -> int:
    """Entry point of the subcommand."""
    try:
        values = graph_arguments(args)
    except GraphArgumentError as error:
        print(f"vla-ros eval: {error}", file=sys.stderr)
        return 2
    unknown = sorted(set(args.tasks) - set(load_sim_config().tasks))
    if unknown:
        print(f"vla-ros eval: unknown tasks {unknown}; config/sim.yaml has {sorted(load_sim_config().tasks)}")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    report = evaluate(args, values)
    write_report(args.out / "eval.json", report)
    table = markdown_table(report)
    (args.out / "eval.md").write_text(table)
    print(table)
    print(f"wrote {args.out / 'eval.json'} and {args.out / 'eval.md'}")
    if report["graph_error"]:
        print(f"vla-ros eval: stopped early: {report['graph_error']}", file=sys.stderr)
        return 1
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``eval`` subcommand."""
    sim_config = load_sim_config()
    parser = subparsers.add_parser(
        "eval",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("arguments", nargs="*", metavar="name:=value", help="launch arguments of the graph")
    parser.add_argument("--tasks", nargs="+", default=list(sim_config.tasks), help="tasks (default: all)")
    parser.add_argument("--split", choices=("train", "heldout"), default="train")
    parser.add_argument("--episodes", type=int, default=10, help="episodes per task (default 10)")
    parser.add_argument("--seed", type=int, default=50000, help="first scene seed (default 50000)")
    parser.add_argument(
        "--planner", choices=PLANNERS, default="", help="planner backend (default: planner.yaml's)"
    )
    parser.add_argument("--planner-model", default="", help="model directory of the transformers planner")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds per episode (graph time)")
    parser.add_argument(
        "--max-keyframes", type=int, default=0, help="keyframes per episode (0: planner.yaml's)"
    )
    parser.add_argument("--strips", action="store_true", help="also write each episode's image strip")
    parser.add_argument(
        "--record", action="store_true", help="also record each episode's topics to MCAP (about 8 MB/s)"
    )
    parser.add_argument("--out", type=Path, default=Path("outputs/eval"), help="output folder")
    parser.set_defaults(func=run)
