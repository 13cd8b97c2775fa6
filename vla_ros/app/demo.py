"""``vla-ros demo``: start the graph in the simulated workcell and run three instructions through it.

Each instruction goes through the interfaces a user's program would use (:mod:`vla_ros.app.graph_client`):
the simulator's ``~/reset`` sets up the scene, the planner's ``ExecuteInstruction`` action takes the
instruction, the planner, policy, executor and controller carry it out, and the simulator's
``~/check_success`` says whether the task was achieved. The demo prints each instruction's outcome and
timings (planning, each keyframe's prediction and execution, total), writes an image strip per episode
(the planned path; per keyframe the camera frame with the keyframes and each view's heatmap) and
``demo.json`` under ``--out``. It exits non-zero only when the graph itself fails (a node dies, a
service or the action does not answer), never because the robot failed a task: that is reported.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vla_ros.app.episode_record import save_strip
from vla_ros.app.graph import GraphArgumentError, resolve_arguments
from vla_ros.app.graph_client import GraphError, GraphSession
from vla_ros.reports import machine_info, write_report

# (task, split, seed) of the three demo episodes.
EPISODES = (("pick_place_bowl", "train", 0), ("stack_blocks", "train", 0), ("press_button", "train", 0))
EPISODE_TIMEOUT_S = 40.0  # graph seconds: every episode ends by then, on its own or timed out


def run(args: argparse.Namespace) -> int:
    """Entry point of the subcommand."""
    from vla_ros.app.bringup import parse_overrides

    try:
        values = resolve_arguments(parse_overrides(args.arguments))
    except GraphArgumentError as error:
        print(f"vla-ros demo: {error}", file=sys.stderr)
        return 2
    if values["sim"] != "true":
        print("vla-ros demo: the demo runs in the simulated workcell (sim:=true)", file=sys.stderr)
        return 2
    episodes = []
    try:
        with GraphSession(values, args.out) as session:
            print(f"[demo] graph up in {session.startup_s:.1f} s: {', '.join(session.processes)}", flush=True)
            for task, split, seed in EPISODES:
                record, images = session.client.run_episode(task, split, seed, EPISODE_TIMEOUT_S)
                strip = save_strip(record, images, args.out)
                outcome = "SUCCESS" if record.task_success else "failure"
                print(
                    f"[demo] {task}/{split}/{seed} '{record.instruction}': {outcome} "
                    f"({record.task_message}; goal {record.goal_status}: {record.goal_message}), "
                    f"{record.keyframes_reached} keyframes\n[demo]   {record.timing_line()}\n"
                    f"[demo]   {args.out / strip if strip else 'no path: no image strip'}",
                    flush=True,
                )
                episodes.append({**record.to_dict(), "strip": strip})
    except GraphError as error:
        print(f"[demo] the graph failed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("[demo] interrupted (Ctrl-C or SIGTERM): the graph is stopped", file=sys.stderr)
        return 130
    successes = sum(episode["task_success"] for episode in episodes)
    write_report(
        args.out / "demo.json",
        {"episodes": episodes, "task_successes": successes, "graph": values, "machine": machine_info()},
    )
    print(f"[demo] {successes}/{len(episodes)} tasks achieved; wrote {args.out / 'demo.json'}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("arguments", nargs="*", metavar="name:=value", help="launch arguments of the graph")
    parser.add_argument(
        "--out", type=Path, default=Path("outputs/demo"), help="output folder (default outputs/demo)"
    )
    parser.set_defaults(func=run)
