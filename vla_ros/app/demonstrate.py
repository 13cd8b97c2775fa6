"""``vla-ros demonstrate``: teleoperation's stand-in in simulation, recorded as a person's would be.

Starts the graph in the simulated workcell and the demonstration recorder beside it (as its own
process, driven through its ``~/start`` and ``~/stop`` services as a teleop pendant would). For each
episode it resets the scene, asks the scripted expert for its motion in a lock-step copy of the same
scene (the stand-in for the person's intent), and sends that motion to the robot through the graph's
own command topics: one joint trajectory for the arm (``arm_controller/joint_trajectory``) and one for
the gripper (``gripper_controller/joint_trajectory``), as a leader arm or MoveIt Servo streams them to
ros2_control. The recorder keeps what a real robot's topics carry (camera, joint states, commands,
instruction); nothing of the simulator's state goes into the recording. A demonstration whose task
check fails in the graph is deleted, as ``vla-ros collect`` skips the expert's failures.

Then ``vla-ros dataset from-mcap DIR/*.mcap --out DATASET`` makes training data of it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from vla_ros.app.graph import ROBOT, resolve_arguments
from vla_ros.app.graph_client import GraphClient, GraphError, GraphSession
from vla_ros.config import from_dict, load_parameters
from vla_ros.control.kinematics import ArmKinematics
from vla_ros.control.settings import CONTROLLER_NODE
from vla_ros.reports import machine_info
from vla_ros.ros.command_drivers import DriverSettings, trajectory_topic
from vla_ros.ros.messages import duration_from_seconds
from vla_ros.ros.qos import RELIABLE
from vla_ros.sim.expert import run_expert_episode
from vla_ros.sim.settings import SPLIT_NAMES, load_sim_config
from vla_ros.sim.tasks import TASKS
from vla_ros.sim.workcell import Workcell

TRAJECTORY_RATE_HZ = 25.0  # points per second of the trajectories sent (linear interpolation between)
SETTLE_S = 0.5  # simulated seconds recorded after the motion ends
RECORD_LEAD_S = 0.5  # simulated seconds recorded before the motion starts
RECORDER_START_S = 30.0  # s to wait for the recorder's services (it starts beside the graph)
RECORDER_STOP_S = 20.0  # s the recorder may take to close its node after SIGTERM


@dataclass(frozen=True)
class ExpertMotion:
    """The expert's commanded arm joint positions and gripper widths, sampled at ``times`` (s)."""

    times: np.ndarray
    arm: np.ndarray
    gripper_width: np.ndarray
    instruction: str


def expert_motion(
    workcell: Workcell, kinematics: ArmKinematics, task: str, split: str, seed: int
) -> ExpertMotion:
    """The scripted expert's motion for (task, split, seed), run in a lock-step workcell; RuntimeError
    when the expert fails there."""
    rows: list[tuple[float, np.ndarray, float]] = []

    def on_tick(_tick: int, command) -> None:
        if command is not None:
            rows.append((workcell.sim_time, command.arm_positions.copy(), command.gripper_width))

    outcome = run_expert_episode(workcell, kinematics, task, split, seed, on_tick)
    if not outcome.success:
        raise RuntimeError(f"the expert fails {task}/{split}/{seed}: {outcome.error or 'task check failed'}")
    times = np.array([row[0] for row in rows])
    samples = np.arange(times[0], times[-1], 1.0 / TRAJECTORY_RATE_HZ)
    picks = np.minimum(np.searchsorted(times, samples), len(times) - 1)
    return ExpertMotion(
        samples - samples[0] + 1.0 / TRAJECTORY_RATE_HZ,
        np.stack([rows[i][1] for i in picks]),
        np.array([rows[i][2] for i in picks]),
        outcome.instruction,
    )


def _trajectory(joint_names: list[str], times: np.ndarray, positions: np.ndarray) -> JointTrajectory:
    message = JointTrajectory(joint_names=joint_names)  # header stamp zero: start on receipt
    message.points = [
        JointTrajectoryPoint(positions=row.tolist(), time_from_start=duration_from_seconds(float(t)))
        for t, row in zip(times, positions, strict=True)
    ]
    return message


class Demonstrator:
    """Sends expert motions to the graph's command topics, as the controller's driver configuration
    (config/control.yaml ``driver``) names them, and drives the recorder's services."""

    def __init__(self, client: GraphClient, values: dict[str, str], recorder: str) -> None:
        sim = load_sim_config(robot=values[ROBOT])
        controller_config = values[f"{CONTROLLER_NODE}_config"]
        parameters = load_parameters([values[ROBOT], controller_config], CONTROLLER_NODE)
        self.driver = from_dict(DriverSettings, parameters["driver"], f"{CONTROLLER_NODE}.driver")
        self.client = client
        self.arm_joints = list(sim.robot.arm_joints)
        self.gripper = sim.robot.gripper
        prefix = values["namespace"].rstrip("/")
        arm_topic = trajectory_topic(self.driver.joint_trajectory_controller)
        gripper_topic = trajectory_topic(self.driver.gripper_trajectory_controller)
        self._arm = client.node.create_publisher(JointTrajectory, f"{prefix}/{arm_topic}", RELIABLE)
        self._gripper = client.node.create_publisher(JointTrajectory, f"{prefix}/{gripper_topic}", RELIABLE)
        self._start = f"{recorder}/start"
        self._stop = f"{recorder}/stop"

    def recorder_call(self, service: str) -> str:
        response = self.client.call(Trigger, service, Trigger.Request(), RECORDER_START_S)
        if not response.success:
            raise GraphError(f"{service}: {response.message}")
        return response.message

    def demonstrate(self, motion: ExpertMotion) -> dict[str, Any]:
        """Record one demonstration of ``motion`` (the scene reset); returns the recorder's summary."""
        path = self.recorder_call(self._start)
        try:
            # as a person presses record, then moves: the recorder subscribes as it discovers publishers
            lead_end = self.client.now() + RECORD_LEAD_S
            self.client.spin_until(lambda: self.client.now() >= lead_end, 30.0, "the recording's start")
            start = self.client.now()
            self._arm.publish(_trajectory(self.arm_joints, motion.times, motion.arm))
            gripper = self.gripper.position(motion.gripper_width)[:, None]  # the command joint's positions
            self._gripper.publish(_trajectory([self.gripper.command_joint], motion.times, gripper))
            end = start + motion.times[-1] + SETTLE_S
            self.client.spin_until(
                lambda: self.client.now() >= end, 10.0 * (end - start) + 30.0, "the motion"
            )
        finally:
            summary = json.loads(self.recorder_call(self._stop))
        summary["started"] = path
        return summary


def _recorder_process(out: Path, values: dict[str, str], log: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "vla_ros.nodes.demonstration_recorder_node",
        "--ros-args",
        "-p",
        f"out_dir:={out}",
        "-p",
        f"use_sim_time:={values['use_sim_time']}",
    ]
    if values["namespace"]:
        command += ["-r", f"__ns:={values['namespace']}"]
    with log.open("w") as stream:
        return subprocess.Popen(command, stdout=stream, stderr=subprocess.STDOUT)


def run(args: argparse.Namespace) -> int:
    from vla_ros.app.bringup import parse_overrides

    values = resolve_arguments({**parse_overrides(args.arguments), "sim": "true", "use_sim_time": "true"})
    sim = load_sim_config(robot=values[ROBOT])
    workcell = Workcell(sim)
    kinematics = ArmKinematics.from_settings(sim.robot)
    args.record.mkdir(parents=True, exist_ok=True)
    logs = args.record / "logs"
    logs.mkdir(exist_ok=True)
    recorder = _recorder_process(args.record, values, logs / "demonstration_recorder.log")
    kept: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    started = time.monotonic()
    try:
        with GraphSession(values, logs, images=False) as session:
            client = session.client
            name = f"{values['namespace'].rstrip('/')}/demonstration_recorder"
            demonstrator = Demonstrator(client, values, name)
            for task in args.task:
                saved = 0
                # as vla-ros collect: the next seed after a failure, up to twice the seeds asked for
                for seed in range(args.seed, args.seed + 2 * args.episodes):
                    if saved == args.episodes:
                        break
                    try:
                        motion = expert_motion(workcell, kinematics, task, args.split, seed)
                    except RuntimeError as error:
                        failed.append({"task": task, "seed": seed, "error": str(error)})
                        continue
                    client.reset(task, args.split, seed)
                    summary = demonstrator.demonstrate(motion)
                    success, message = client.check_success()
                    entry = {"task": task, "split": args.split, "seed": seed, **summary}
                    if not success:
                        Path(summary["file"]).unlink(missing_ok=True)
                        failed.append({**entry, "error": f"task check failed in the graph: {message}"})
                        print(f"{task}/{seed}: failed in the graph ({message}); recording deleted")
                        continue
                    kept.append(entry)
                    saved += 1
                    print(f"{task}/{seed}: {summary['file']} ({summary['bytes'] / 1e6:.1f} MB)")
    except GraphError as error:
        print(f"vla-ros demonstrate: {error}", file=sys.stderr)
        failed.append({"error": str(error)})
    finally:
        recorder.terminate()
        try:
            recorder.wait(timeout=RECORDER_STOP_S)
        except subprocess.TimeoutExpired:  # a loaded machine: the report is written all the same
            print(
                f"vla-ros demonstrate: the recorder did not exit in {RECORDER_STOP_S} s; killed",
                file=sys.stderr,
            )
            recorder.kill()
            recorder.wait()
        workcell.close()
    report = {
        "demonstrations": kept,
        "failed": failed,
        "wall_time_s": time.monotonic() - started,
        "graph": values,
        "machine": machine_info(),
    }
    (args.record / "demonstrations.json").write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"{len(kept)} demonstrations in {args.record} ({len(failed)} failed) in {report['wall_time_s']:.0f} s"
    )
    return 0 if len(kept) == args.episodes * len(args.task) else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demonstrate`` subcommand."""
    parser = subparsers.add_parser("demonstrate", description=__doc__)
    parser.add_argument("--task", nargs="+", required=True, choices=list(TASKS), help="task(s)")
    parser.add_argument("--episodes", type=int, default=1, help="successful demonstrations per task")
    parser.add_argument("--split", default="train", choices=SPLIT_NAMES, help="variation split")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first episode")
    parser.add_argument("--record", type=Path, required=True, help="directory of the recordings")
    parser.add_argument("arguments", nargs="*", metavar="name:=value", help="launch arguments of the graph")
    parser.set_defaults(func=run)
