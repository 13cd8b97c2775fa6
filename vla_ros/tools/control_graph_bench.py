"""``vla-ros bench controller-graph``: the controller node's timing and tracking on the running graph.

Starts the simulator (camera rendering included), the ensembling controller (enabled, at ``--rate``, with
``--driver``) and the chunk executor as separate processes, then drives the arm from a probe node by
sending KeyframeTargets that alternate between two reachable TCP poses, the next one as soon as the
executor reports the previous one reached. After ``--warmup`` s it measures for ``--seconds``:
- the controller's own loop timing (period error, lateness, tick cost: p50/p99/max over exactly the
  measured ticks), read from its ``~/status``;
- the command stream as received by a subscriber (messages per second, inter-arrival error against the
  nominal period: includes DDS transport and the probe's own scheduling);
- the joint tracking error: each measured joint state against the latest commanded state (max over
  joints, rad; the simulator's controllers lag a little behind any moving command);
- keyframes reached.

ROS (rclpy) is imported when the command runs, so the command line works without a ROS environment.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from vla_ros.control.errors import ControlConfigError
from vla_ros.control.kinematics import ArmKinematics
from vla_ros.control.loop import percentiles
from vla_ros.control.settings import MAX_CONTROL_RATE, ExecutorSettings
from vla_ros.reports import machine_info, write_report

DEFAULT_OUT = "results/control_graph_bench.json"
DRIVER_TOPICS = {
    "joint_trajectory": "/arm_controller/joint_trajectory",
    "forward_position": "/forward_position_controller/commands",
}
KEYFRAME_OFFSETS = (np.array([0.06, 0.10, -0.10]), np.array([0.10, -0.10, -0.05]))
"""TCP positions the probe alternates between, relative to the start pose (m)."""
STARTUP_TIMEOUT = 90.0


def _stats(values: list[float] | np.ndarray, scale: float) -> dict[str, float]:
    """The loop's percentiles of ``values`` times ``scale``, and their count (empty for none)."""
    summary = percentiles(values, scale)
    return {**summary, "count": len(values)} if summary else {}


def _start(module: str, *parameters: str, log: Path) -> subprocess.Popen:
    arguments = [sys.executable, "-m", module, "--ros-args"]
    for parameter in parameters:
        arguments += ["-p", parameter]
    with log.open("w") as stream:
        return subprocess.Popen(arguments, stdout=stream, stderr=subprocess.STDOUT, env=os.environ)


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_graph_benchmark(
    rate: float, driver: str, seconds: float, warmup: float, realtime_priority: int, log_dir: Path
) -> dict[str, Any]:
    """Run the graph and measure; returns the JSON-ready report."""
    import rclpy
    from geometry_msgs.msg import Point, Quaternion
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray, String
    from trajectory_msgs.msg import JointTrajectory

    from vla_ros.msg import KeyframeTarget

    settings = ExecutorSettings.load()
    kinematics = ArmKinematics.from_settings(settings.robot)
    joints = list(settings.robot.arm_joints)
    log_dir.mkdir(parents=True, exist_ok=True)
    measured_ticks = round(seconds * rate)
    processes = [
        _start("vla_ros.nodes.simulator_node", log=log_dir / "simulator.log"),
        _start(
            "vla_ros.nodes.ensembling_controller_node",
            "safety.enabled_at_start:=true",
            f"rate:={rate}",
            f"driver.arm:={driver}",
            f"realtime_priority:={realtime_priority}",
            f"interface.timing_window:={measured_ticks}",
            "interface.status_period:=0.5",
            log=log_dir / "controller.log",
        ),
        _start("vla_ros.nodes.chunk_executor_node", log=log_dir / "executor.log"),
    ]
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node("control_graph_bench", context=context)
    latched = QoSProfile(
        depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
    )
    reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
    state: dict[str, Any] = {"joints": None, "status": None, "commanded": None, "reached": 0}
    command_arrivals: list[float] = []
    tracking: list[float] = []
    recording = [False]

    def on_joint_state(message: JointState) -> None:
        names = list(message.name)
        state["joints"] = np.array([message.position[names.index(name)] for name in joints])
        if recording[0] and state["commanded"] is not None:
            tracking.append(float(np.max(np.abs(state["joints"] - state["commanded"]))))

    def on_command(message: Any) -> None:
        if recording[0]:
            command_arrivals.append(time.monotonic())

    def on_reached(message: KeyframeTarget) -> None:
        state["reached"] += 1

    command_type = JointTrajectory if driver == "joint_trajectory" else Float64MultiArray
    node.create_subscription(JointState, "/joint_states", on_joint_state, qos_profile_sensor_data)
    node.create_subscription(
        String,
        "/ensembling_controller/status",
        lambda m: state.__setitem__("status", json.loads(m.data)),
        latched,
    )
    node.create_subscription(
        JointState,
        "/ensembling_controller/commanded_state",
        lambda m: state.__setitem__("commanded", np.array(m.position)),
        reliable,
    )
    node.create_subscription(command_type, DRIVER_TOPICS[driver], on_command, reliable)
    node.create_subscription(KeyframeTarget, "/chunk_executor/keyframe_reached", on_reached, reliable)
    keyframes = node.create_publisher(KeyframeTarget, "/policy/keyframe", reliable)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)

    def spin_until(condition, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            executor.spin_once(timeout_sec=0.01)
        return condition()

    try:
        ready = spin_until(
            lambda: (
                state["joints"] is not None
                and state["status"] is not None
                and keyframes.get_subscription_count() > 0
            ),
            STARTUP_TIMEOUT,
        )
        if not ready:
            raise RuntimeError(
                f"the graph did not come up in {STARTUP_TIMEOUT:.0f} s; see the logs in {log_dir}"
            )
        start_tcp = kinematics.forward(state["joints"])
        sent = [0]

        def send_next() -> None:
            position = start_tcp.position + KEYFRAME_OFFSETS[sent[0] % len(KEYFRAME_OFFSETS)]
            message = KeyframeTarget(keyframe_index=sent[0], gripper_open=True, confidence=1.0)
            message.header.frame_id = settings.robot.base_frame
            message.pose.position = Point(x=float(position[0]), y=float(position[1]), z=float(position[2]))
            message.pose.orientation = Quaternion(
                x=float(start_tcp.quaternion[0]),
                y=float(start_tcp.quaternion[1]),
                z=float(start_tcp.quaternion[2]),
                w=float(start_tcp.quaternion[3]),
            )
            keyframes.publish(message)
            sent[0] += 1

        def drive(duration: float) -> None:
            deadline = time.monotonic() + duration
            while time.monotonic() < deadline:
                if state["reached"] >= sent[0]:
                    send_next()
                executor.spin_once(timeout_sec=0.01)

        drive(warmup)
        recording[0] = True
        reached_before = state["reached"]
        begin = time.monotonic()
        drive(seconds)
        elapsed = time.monotonic() - begin
        recording[0] = False
        spin_until(lambda: False, 0.6)  # one more status report, covering the measured ticks
        status = state["status"]
    finally:
        executor.remove_node(node)
        node.destroy_node()
        rclpy.try_shutdown(context=context)
        _stop(processes)
    arrivals = np.diff(command_arrivals)
    return {
        "arguments": {
            "rate": rate,
            "driver": driver,
            "seconds": seconds,
            "warmup": warmup,
            "realtime_priority": realtime_priority,
        },
        "machine": machine_info(),
        "controller_loop": status["timing"],
        "controller_state": {key: status[key] for key in ("state", "chunks_accepted", "chunks_rejected")},
        "commands_received": {
            "count": len(command_arrivals),
            "rate_hz": len(command_arrivals) / elapsed,
            "inter_arrival_error_ms": _stats(np.abs(arrivals - 1.0 / rate), 1e3),
        },
        "tracking_error_rad": _stats(tracking, 1.0),
        "keyframes_reached": state["reached"] - reached_before,
    }


def run(args: argparse.Namespace) -> int:
    """Entry point of ``vla-ros bench controller-graph``."""
    if not 0.0 < args.rate <= MAX_CONTROL_RATE:
        raise ControlConfigError(f"--rate must be in (0, {MAX_CONTROL_RATE:g}] Hz, got {args.rate}")
    if args.seconds <= 0.0 or args.warmup < 0.0:
        raise ControlConfigError("--seconds must be > 0 and --warmup >= 0")
    out = Path(args.out)
    report = run_graph_benchmark(
        args.rate, args.driver, args.seconds, args.warmup, args.realtime_priority, out.with_suffix(".logs")
    )
    write_report(out, report)
    loop, received = report["controller_loop"], report["commands_received"]
    print(
        f"{args.rate:g} Hz {args.driver}: loop period error p50/p99/max {loop['period_error_ms']['p50']:.3f}/"
        f"{loop['period_error_ms']['p99']:.3f}/{loop['period_error_ms']['max']:.3f} ms, "
        f"{loop['skipped_deadlines']} skipped; received {received['rate_hz']:.1f} msg/s; tracking p99 "
        f"{report['tracking_error_rad'].get('p99', float('nan')):.4f} rad; "
        f"{report['keyframes_reached']} keyframes -> {out}"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``controller-graph`` to the ``vla-ros`` command line."""
    parser = subparsers.add_parser(
        "controller-graph",
        help="controller node timing and tracking on the running graph (simulator + controller + executor)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rate", type=float, default=100.0, help="controller rate (Hz)")
    parser.add_argument("--driver", choices=sorted(DRIVER_TOPICS), default="joint_trajectory")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured duration (s)")
    parser.add_argument("--warmup", type=float, default=3.0, help="driven but not measured first (s)")
    parser.add_argument("--realtime-priority", type=int, default=0, help="SCHED_FIFO priority, 0 = normal")
    parser.add_argument("--out", default=DEFAULT_OUT, help="JSON file to write (logs next to it)")
    parser.set_defaults(func=run)
