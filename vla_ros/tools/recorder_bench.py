"""``vla-ros bench recorder``: the demonstration recorder under a camera's load, and the conversion after it.

A publisher process plays a camera (colour rgb8 + aligned depth 16UC1 at ``--rate`` Hz, ``--width`` x
``--height``) with camera_info and pose, ``/joint_states`` at 100 Hz (an arm moving, resting, moving
back) and a gripper command that closes half-way, for ``--seconds``. ``vla-ros record --duration``
records it in its own process, whose resident memory is sampled every second. Then ``vla-ros dataset
from-mcap`` converts the file, its peak memory measured too. Writes the bytes, messages and messages
lost per topic, the recorder's memory over time (bounded: no growth with the recording's length) and
the conversion's time and peak memory to ``--out`` (JSON). The recording is deleted afterwards unless
``--keep``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from vla_ros.reports import machine_info, write_report
from vla_ros.robot.urdf import add_robot_argument

PUBLISHER = """
import sys, time, numpy as np, rclpy
from geometry_msgs.msg import PoseStamped
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Header, String
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint
from vla_ros.config import load_parameters
from vla_ros.robot.settings import load_robot_settings
from vla_ros.ros.qos import LATCHED, RELIABLE
rate, width, height, seconds = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
robot = load_robot_settings(sys.argv[5])
arm = list(robot.arm_joints)
rclpy.init()
node = rclpy.create_node("recorder_bench_camera")
color = node.create_publisher(Image, "camera/color/image_raw", qos_profile_sensor_data)
depth = node.create_publisher(Image, "camera/aligned_depth_to_color/image_raw", qos_profile_sensor_data)
info = node.create_publisher(CameraInfo, "camera/color/camera_info", qos_profile_sensor_data)
joints = node.create_publisher(JointState, "joint_states", qos_profile_sensor_data)
gripper = node.create_publisher(JointTrajectory, "gripper_controller/joint_trajectory", RELIABLE)
pose = node.create_publisher(PoseStamped, "camera/color/camera_pose", LATCHED)
instruction = node.create_publisher(String, "simulator/instruction", LATCHED)
camera_pose = PoseStamped(header=Header(frame_id=robot.base_frame))
camera_pose.pose.position.x, camera_pose.pose.position.z = 0.5, 1.0
camera_pose.pose.orientation.x, camera_pose.pose.orientation.w = 1.0, 0.0  # looking down
pose.publish(camera_pose)
instruction.publish(String(data="lift the block"))
rgb = np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)
mm = np.full((height, width), 900, np.uint16)
home = np.array(robot.home_positions)
motion = np.zeros(len(arm))
motion[:2] = [0.1, 0.05]  # the first two joints move
def image(header, array, encoding, channels, size):
    return Image(header=header, height=height, width=width, encoding=encoding, step=width * channels * size,
                 data=array.tobytes())
def command(width_m):
    message = JointTrajectory(joint_names=[robot.gripper.command_joint])
    message.points = [JointTrajectoryPoint(positions=[float(robot.gripper.position(width_m))])]
    message.points[0].time_from_start.nanosec = 200000000
    gripper.publish(message)
start = time.monotonic()
state = {"frame": 0, "closed": False}
def on_camera():
    header = Header(stamp=node.get_clock().now().to_msg(), frame_id="camera_color_optical_frame")
    k = [0.8 * width, 0, width / 2, 0, 0.8 * width, height / 2, 0, 0, 1]
    info.publish(CameraInfo(header=header, width=width, height=height, k=k, d=[0.0] * 5))
    color.publish(image(header, rgb, "rgb8", 3, 1))
    depth.publish(image(header, mm, "16UC1", 1, 2))
def on_joints():
    t = time.monotonic() - start
    phase = (t % 20.0) / 20.0  # a 20 s cycle: move out (8 s), rest, move back (8 s), rest
    s = min(phase / 0.4, 1.0) - min(max(phase - 0.5, 0.0) / 0.4, 1.0)
    speed = 0.1 / 8.0 if phase < 0.4 else (-0.1 / 8.0 if 0.5 <= phase < 0.9 else 0.0)
    closed = 0.45 <= phase < 0.95
    if closed != state["closed"]:
        state["closed"] = closed
        command(0.0 if closed else 0.08)
    q = home + motion * s
    width_m = 0.04 if closed else 0.08
    message = JointState(header=Header(stamp=node.get_clock().now().to_msg()),
                         name=arm + list(robot.gripper_joints))
    message.position = [*q.tolist(), *robot.gripper_positions(width_m).tolist()]
    message.velocity = [speed * 10.0] * len(arm) + [0.0] * len(robot.gripper_joints)
    joints.publish(message)
node.create_timer(1.0 / rate, on_camera)
node.create_timer(0.01, on_joints)
command(0.08)
from rclpy.executors import ExternalShutdownException
try:
    while rclpy.ok() and time.monotonic() - start < seconds:
        rclpy.spin_once(node, timeout_sec=0.01)
except (KeyboardInterrupt, ExternalShutdownException):
    pass
node.destroy_node()
rclpy.try_shutdown()
"""


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def _peak_rss_mb(command: list[str]) -> tuple[float, float, str]:
    """(wall time s, peak resident MB, output) of a command, by GNU time."""
    started = time.perf_counter()
    completed = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)
    wall = time.perf_counter() - started
    peak = next(
        (
            int(line.split()[-1]) / 1024.0
            for line in completed.stderr.splitlines()
            if "Maximum resident" in line
        ),
        float("nan"),
    )
    return wall, peak, completed.stdout[-1500:]


def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    out_dir = Path(tempfile.mkdtemp(prefix="vla_ros_recorder_bench_"))
    vla_ros = [sys.executable, "-m", "vla_ros.cli"]
    record = subprocess.Popen(
        [*vla_ros, "record", "--out", str(out_dir), "--duration", str(args.seconds), "--wait", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    time.sleep(1.0)
    camera = subprocess.Popen(
        [
            sys.executable,
            "-c",
            PUBLISHER,
            str(args.rate),
            str(args.width),
            str(args.height),
            str(args.seconds + 6),
            args.robot,
        ]
    )
    memory: list[tuple[float, float]] = []
    started = time.monotonic()
    while record.poll() is None:
        rss = _rss_mb(record.pid)
        if rss is not None:
            memory.append((time.monotonic() - started, rss))
        time.sleep(1.0)
    output = record.communicate()[0]
    camera.terminate()
    camera.wait(timeout=10)
    summaries = json.loads((out_dir / "recordings.json").read_text())
    if not summaries:
        raise RuntimeError(f"the recorder saved nothing:\n{output[-2000:]}")
    summary = summaries[0]
    recording = Path(summary["file"])
    wall, peak, convert_output = _peak_rss_mb(
        [
            *vla_ros,
            "dataset",
            "from-mcap",
            str(recording),
            "--out",
            str(out_dir / "dataset"),
            "--robot",
            args.robot,
        ]
    )
    frames = summary["messages"].get("/camera/color/image_raw", 0)
    lost = summary["dropped"].get("/camera/color/image_raw")
    if lost is not None:
        lost += summary["overflowed"].get("/camera/color/image_raw", 0)
    report = {
        "camera": {"rate_hz": args.rate, "width": args.width, "height": args.height},
        "seconds": args.seconds,
        "recording": summary,
        "bytes_per_second": summary["bytes"] / args.seconds,
        "colour_frames_lost_share": (lost / (frames + lost)) if lost is not None and frames + lost else None,
        "recorder_rss_mb": {
            "samples": [[round(t, 1), round(m, 1)] for t, m in memory],
            "peak": max((m for _, m in memory), default=float("nan")),
            "first_10s_peak": max((m for t, m in memory if t <= 10.0), default=float("nan")),
        },
        "from_mcap": {"wall_time_s": wall, "peak_rss_mb": peak, "output": convert_output},
        "machine": machine_info(),
    }
    if not args.keep:
        recording.unlink(missing_ok=True)
    return report


def _run(args: argparse.Namespace) -> int:
    report = run_benchmark(args)
    write_report(args.out, report)
    print(
        f"{report['recording']['bytes'] / 1e9:.2f} GB in {args.seconds:.0f} s; colour frames lost: "
        f"{report['colour_frames_lost_share']}; recorder peak {report['recorder_rss_mb']['peak']:.0f} MB; "
        f"from-mcap {report['from_mcap']['wall_time_s']:.0f} s, "
        f"peak {report['from_mcap']['peak_rss_mb']:.0f} MB"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``bench recorder``."""
    parser = subparsers.add_parser("recorder", description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the recorded demonstration")
    parser.add_argument("--rate", type=float, default=30.0, help="camera rate (Hz)")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--keep", action="store_true", help="keep the recording")
    parser.add_argument("--out", type=Path, required=True, help="JSON report")
    add_robot_argument(parser)
    parser.set_defaults(func=_run)
