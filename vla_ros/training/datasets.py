"""``vla-ros dataset``: training data from recordings made outside the simulator's collector.

``vla-ros dataset to-lerobot DIR --out DIR`` writes a dataset as a LeRobotDataset v3.0 and
``vla-ros dataset from-lerobot DIR --out DIR`` reads such an export back (:mod:`vla_ros.data.lerobot`
says what goes where; the action is the keyframe pose).

``vla-ros dataset from-mcap RECORDING... --out DIR`` turns demonstrations recorded from ROS topics
(``vla-ros record``, or any rosbag2 MCAP recording with the same streams) into the dataset format that
``train-policy``, ``train-planner`` and ``export-vlm`` read (:mod:`vla_ros.data.dataset`), one episode
per recording, by the rules of :mod:`vla_ros.data.demonstration`: the TCP by forward kinematics of the
robot of ``--robot``, keyframes by the simulator demonstrations' rule, HAMSTER path labels
projected with the recorded camera. A recording that cannot be converted is reported with the reason
and skipped; the exit code is 1 if any was.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path
from typing import Any

from vla_ros.data.dataset import add_to_index, camera_meta, write_episode
from vla_ros.data.demonstration import (
    ConversionSettings,
    Demonstration,
    DemonstrationTopics,
)
from vla_ros.data.lerobot import export_lerobot, import_lerobot
from vla_ros.data.path_labels import PathLabelError
from vla_ros.data.recording import DEMONSTRATION_METADATA, Recording, RecordingError
from vla_ros.planning.hamster_format import format_answer
from vla_ros.planning.settings import load_planner_config
from vla_ros.robot.settings import RobotSettings, load_robot_settings
from vla_ros.robot.urdf import add_robot_argument
from vla_ros.sim.conversion import MEASURED_OPEN_SHARE, demonstration_from_recording
from vla_ros.sim.settings import load_sim_config


def episode_meta(
    demonstration: Demonstration,
    recording: Recording,
    robot: RobotSettings,
    task: str,
    split: str,
    answer_decimals: int,
    settings: ConversionSettings,
) -> dict[str, Any]:
    """meta.json of a converted demonstration, with the fields the simulator's collector writes."""
    path = demonstration.path
    return {
        "task": task,
        "split": split,
        "seed": -1,
        "instruction": demonstration.instruction,
        "success": True,
        "source": {"recording": str(recording.path), "complete": recording.complete, **demonstration.source},
        "camera_rate_hz": demonstration.source["camera_rate_hz"],
        "frames": {
            "base": robot.base_frame,
            "tcp": {
                "parent": robot.tcp_parent_link,
                "offset_m": list(robot.tcp_offset_xyz),
                "offset_rpy": list(robot.tcp_offset_rpy),
            },
        },
        "camera": camera_meta(demonstration.intrinsics, demonstration.base_from_camera, settings.depth_scale),
        "joint_names": [*robot.arm_joints, *robot.gripper_joints],
        "arm_joint_names": list(robot.arm_joints),
        "frames_recorded": "keyframes",
        "intermediate_every": settings.stride,
        "keyframes": demonstration.keyframes,
        "expert_keyframes": demonstration.expert_keyframes,
        "path": {
            "points": path.points.tolist(),
            "gripper_open": path.gripper_open.tolist(),
            "initial_gripper_open": path.initial_gripper_open,
            "answer": format_answer(path, answer_decimals),
            "rdp_epsilon": settings.path_rdp_epsilon,
            "image": "first frame; x = column / width, y = row / height from the top-left corner",
        },
    }


def episode_name(recording: Path) -> str:
    """The episode directory of a recording: its file name without suffixes, made path-safe."""
    stem = recording.name.split(".")[0] or "recording"
    return re.sub(r"[^A-Za-z0-9_-]", "_", stem)


def from_mcap(args: argparse.Namespace) -> int:
    robot = load_robot_settings(args.robot)
    sim = load_sim_config(robot=args.robot)
    answer_decimals = load_planner_config().answer_decimals
    topics = DemonstrationTopics(
        **{
            name[len("topic_") :]: value
            for name, value in vars(args).items()
            if name.startswith("topic_") and value
        }
    )
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    saved, failed = [], []
    for path in args.recordings:
        try:
            recording = Recording(path)
            demonstration, settings = demonstration_from_recording(
                recording,
                topics,
                robot,
                sim,
                args.gripper_source,
                args.gripper_open_width,
                args.stride,
                args.max_gap,
                args.instruction,
            )
            task = args.task or recording.metadata.get(DEMONSTRATION_METADATA, {}).get("task", "")
            name = episode_name(path)
            meta = episode_meta(demonstration, recording, robot, task, args.split, answer_decimals, settings)
            write_episode(args.out / name, demonstration.arrays, meta)
        except (RecordingError, PathLabelError, ValueError) as error:
            print(f"{path}: not converted: {error}")
            failed.append({"recording": str(path), "error": str(error)})
            continue
        if not recording.complete:
            print(f"{path}: the recording was cut short (no footer); converted what it holds")
        print(
            f"{path} -> {args.out / name}: {len(demonstration.keyframes)} keyframes, "
            f"{len(demonstration.arrays['time'])} frames kept of {demonstration.source['paired_frames']}"
        )
        saved.append(name)
    add_to_index(
        args.out,
        saved,
        {
            "from_mcap": [str(path) for path in args.recordings],
            "saved": len(saved),
            "failed": failed,
            "wall_time_s": time.perf_counter() - started,
        },
    )
    print(f"converted {len(saved)} of {len(args.recordings)} recordings into {args.out}")
    return 0 if not failed else 1


def to_lerobot(args: argparse.Namespace) -> int:
    info = export_lerobot(args.dataset, args.out, args.camera, args.robot_type)
    print(
        f"wrote {info['total_episodes']} episodes ({info['total_frames']} frames at {info['fps']} Hz, "
        f"{info['total_tasks']} tasks) to {args.out} (LeRobot {info['codebase_version']})"
    )
    return 0


def from_lerobot(args: argparse.Namespace) -> int:
    names = import_lerobot(args.dataset, args.out)
    print(f"read {len(names)} episodes into {args.out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``dataset`` subcommand and its conversions."""
    parser = subparsers.add_parser("dataset", description=__doc__)
    conversions = parser.add_subparsers(dest="conversion", required=True)
    mcap = conversions.add_parser("from-mcap", help="episodes from MCAP demonstrations (vla-ros record)")
    mcap.add_argument("recordings", nargs="+", type=Path, help="MCAP files or rosbag2 directories")
    mcap.add_argument("--out", type=Path, required=True, help="dataset directory (added to)")
    mcap.add_argument("--task", default="", help="task label (default: the recording's metadata)")
    mcap.add_argument("--instruction", default="", help="instruction (default: the recording's)")
    mcap.add_argument("--split", default="train", help="split label written into each episode")
    mcap.add_argument(
        "--gripper-source",
        default="auto",
        choices=("auto", "measured", "command"),
        help="gripper open/closed from the finger joints or the gripper command (auto: the command "
        "where it was recorded)",
    )
    mcap.add_argument(
        "--gripper-open-width",
        type=float,
        help="m, open at or above this width (default: command: gripper.closed_threshold of "
        f"config/sim.yaml; measured: {MEASURED_OPEN_SHARE} x gripper.open_width)",
    )
    mcap.add_argument("--stride", type=int, default=0, help="also keep every N-th frame (0: keyframes only)")
    mcap.add_argument("--max-gap", type=float, default=0.5, help="s, the longest silence of a stream allowed")
    add_robot_argument(mcap)
    defaults = DemonstrationTopics()
    for name, topic in vars(defaults).items():
        mcap.add_argument(f"--topic-{name.replace('_', '-')}", dest=f"topic_{name}", help=f"default: {topic}")
    mcap.set_defaults(func=from_mcap)
    to = conversions.add_parser(
        "to-lerobot", help="a LeRobotDataset v3.0 (parquet + mp4) of a dataset recorded at every camera frame"
    )
    to.add_argument("dataset", type=Path, help="our dataset directory")
    to.add_argument("--out", type=Path, required=True, help="the LeRobot dataset's root directory (new)")
    to.add_argument("--camera", default="front", help="camera name in the feature keys")
    to.add_argument("--robot-type", default="", help="info.json robot_type")
    to.set_defaults(func=to_lerobot)
    back = conversions.add_parser("from-lerobot", help="our episodes from a dataset written by to-lerobot")
    back.add_argument("dataset", type=Path, help="the LeRobot dataset's root directory")
    back.add_argument("--out", type=Path, required=True, help="our dataset directory")
    back.set_defaults(func=from_lerobot)
