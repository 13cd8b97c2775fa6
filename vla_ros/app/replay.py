"""``vla-ros replay RECORDING...``: a regression check of the policy node on your own recordings.

For each recorded demonstration (``vla-ros record``, or any MCAP with the same streams) this converts
it as ``vla-ros dataset from-mcap`` does, starts the keyframe policy node as the graph starts it (your
``policy_checkpoint:=`` and configuration; no robot, no simulator, no other node) and plays the
recording's own frames to it over the node's topics: camera_info, the camera pose, colour + depth and
the joint states of the frame the demonstration started from, and the path label as the planner's path.
When the node answers a keyframe it is "reached" (the executor's echo) and the frame of the
demonstration's keyframe it should have reached is played next, so every prediction sees what the
demonstrator saw there. Each predicted keyframe is compared with the recording's: position error (mm),
rotation error (degrees), gripper state. Writes ``--out`` (JSON): per keyframe and the summary.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import rclpy
from geometry_msgs.msg import PoseStamped
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Header, String

from vla_ros.app.graph import NODES, ROBOT, node_command, resolve_arguments, topic_remappings
from vla_ros.config import load_parameters
from vla_ros.data.demonstration import Demonstration, DemonstrationTopics
from vla_ros.data.geometry import quaternion_to_matrix
from vla_ros.data.recording import Recording, RecordingError
from vla_ros.msg import EpisodeStatus, KeyframeTarget, Path2D
from vla_ros.policy.rotation import rotation_angle
from vla_ros.reports import machine_info
from vla_ros.robot.settings import robot_settings
from vla_ros.ros.images import array_to_image
from vla_ros.ros.messages import matrix_from_pose, pose_from_matrix
from vla_ros.ros.path_messages import path_to_message
from vla_ros.ros.qos import LATCHED, RELIABLE
from vla_ros.sim.conversion import demonstration_from_recording
from vla_ros.sim.settings import load_sim_config

POLICY = next(node for node in NODES if node.name == "keyframe_policy")
FRAME_PERIOD_S = 0.1  # the replayed camera's period
START_TIMEOUT_S = 120.0  # the policy loads its network and the sentence encoder
KEYFRAME_TIMEOUT_S = 60.0  # per predicted keyframe


class ReplayClient:
    """Plays one demonstration's frames to the policy node and collects its keyframes."""

    def __init__(self, node, values: dict[str, str], joint_names: list[str]) -> None:
        self.node = node
        self.joint_names = joint_names
        # the policy node's own topic names (its config's interface), its camera topics remapped as the
        # graph remaps them (camera_namespace)
        topics = load_parameters([values[ROBOT], values[f"{POLICY.name}_config"]], POLICY.name)["interface"]
        remap = dict(topic_remappings(POLICY, values))
        self.keyframes: list[KeyframeTarget] = []
        self.status: list[str] = []
        self.outcomes: list[EpisodeStatus] = []
        node.create_subscription(KeyframeTarget, topics["keyframe_topic"], self.keyframes.append, RELIABLE)
        node.create_subscription(EpisodeStatus, topics["outcome_topic"], self.outcomes.append, RELIABLE)
        node.create_subscription(
            String, f"{POLICY.name}/status", lambda m: self.status.append(m.data), LATCHED
        )

        def publisher(kind, name: str, qos):
            return node.create_publisher(kind, remap.get(topics[name], topics[name]), qos)

        self._info = publisher(CameraInfo, "camera_info_topic", qos_profile_sensor_data)
        self._color = publisher(Image, "color_topic", qos_profile_sensor_data)
        self._depth = publisher(Image, "depth_topic", qos_profile_sensor_data)
        self._pose = publisher(PoseStamped, "camera_pose_topic", LATCHED)
        self._joints = publisher(JointState, "joint_state_topic", qos_profile_sensor_data)
        self._path = publisher(Path2D, "path_topic", LATCHED)
        self._reached = publisher(KeyframeTarget, "keyframe_reached_topic", RELIABLE)
        self.demonstration: Demonstration | None = None
        self._depth_m = np.zeros(0, np.float32)
        self.frame = 0
        node.create_timer(FRAME_PERIOD_S, self._publish_frame)

    def _publish_frame(self) -> None:
        demonstration = self.demonstration
        if demonstration is None:
            return
        arrays, intrinsics = demonstration.arrays, demonstration.intrinsics
        header = Header(stamp=self.node.get_clock().now().to_msg(), frame_id="camera_color_optical_frame")
        info = CameraInfo(header=header, width=intrinsics.width, height=intrinsics.height)
        info.k = intrinsics.matrix.flatten().tolist()
        self._info.publish(info)
        self._color.publish(array_to_image(arrays["rgb"][self.frame], "rgb8", header))
        self._depth.publish(array_to_image(self._depth_m[self.frame], "32FC1", header))
        joints = JointState(header=header, name=self.joint_names)
        joints.position = arrays["joint_positions"][self.frame].tolist()
        self._joints.publish(joints)

    def start(self, demonstration: Demonstration, base_frame: str, depth_scale: float) -> None:
        """Show the demonstration's first frame and its path: the policy predicts keyframe 0."""
        self.keyframes.clear()
        self.outcomes.clear()
        depth = demonstration.arrays["depth"]
        self._depth_m = np.where(depth == 0, np.nan, depth * np.float32(depth_scale)).astype(np.float32)
        self.demonstration, self.frame = demonstration, 0
        pose = PoseStamped(header=Header(frame_id=base_frame))
        pose.pose = pose_from_matrix(demonstration.base_from_camera)
        self._pose.publish(pose)
        header = Header(stamp=self.node.get_clock().now().to_msg(), frame_id="camera_color_optical_frame")
        intrinsics = demonstration.intrinsics
        self._path.publish(
            path_to_message(
                demonstration.path, header, intrinsics.width, intrinsics.height, demonstration.instruction
            )
        )

    def reached(self, target: KeyframeTarget, frame: int) -> None:
        """The keyframe is reached: from now on the frame where the demonstration reached its own."""
        self.frame = frame
        self._reached.publish(target)


def _spin_until(node, condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        rclpy.spin_once(node, timeout_sec=0.05)
    return condition()


def replay_one(
    client: ReplayClient, demonstration: Demonstration, base_frame: str, depth_scale: float
) -> list[dict[str, Any]]:
    """Predict every keyframe of the demonstration through the node; the comparison per keyframe."""
    client.start(demonstration, base_frame, depth_scale)
    rows = []
    for index, expected in enumerate(demonstration.expert_keyframes):
        answered = _spin_until(
            client.node, lambda i=index: len(client.keyframes) > i or client.outcomes, KEYFRAME_TIMEOUT_S
        )
        if not answered or len(client.keyframes) <= index:
            reason = (
                f"the policy ended the episode after {index} keyframes: {client.outcomes[-1].reason}"
                if client.outcomes
                else f"no keyframe within {KEYFRAME_TIMEOUT_S:.0f} s; status: {client.status[-3:]}"
            )
            rows.append({"keyframe": index, "error": reason})
            break
        target = client.keyframes[index]
        predicted = matrix_from_pose(target.pose)
        expected_position = np.array(expected["tcp_pose"][:3])
        expected_rotation = quaternion_to_matrix(expected["tcp_pose"][3:])
        rows.append(
            {
                "keyframe": index,
                "position_error_mm": 1000.0 * float(np.linalg.norm(predicted[:3, 3] - expected_position)),
                "rotation_error_deg": math.degrees(rotation_angle(predicted[:3, :3], expected_rotation)),
                "gripper_correct": bool(target.gripper_open) == bool(expected["gripper_open"]),
                "predicted_position": predicted[:3, 3].tolist(),
                "expected_position": expected_position.tolist(),
            }
        )
        client.reached(target, expected["frame"])
    return rows


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    scored = [row for row in rows if "position_error_mm" in row]
    if not scored:
        return {"keyframes": 0}
    position = np.array([row["position_error_mm"] for row in scored])
    rotation = np.array([row["rotation_error_deg"] for row in scored])
    return {
        "keyframes": len(scored),
        "unanswered": len(rows) - len(scored),
        "position_error_mm_median": float(np.median(position)),
        "position_error_mm_max": float(np.max(position)),
        "rotation_error_deg_median": float(np.median(rotation)),
        "rotation_error_deg_max": float(np.max(rotation)),
        "gripper_accuracy": float(np.mean([row["gripper_correct"] for row in scored])),
    }


def run(args: argparse.Namespace) -> int:
    from vla_ros.app.bringup import parse_overrides

    values = resolve_arguments({**parse_overrides(args.arguments), "sim": "false", "use_sim_time": "false"})
    robot = robot_settings(load_parameters(values[ROBOT], POLICY.name))
    sim = load_sim_config(robot=values[ROBOT])
    demonstrations: list[tuple[Path, Demonstration]] = []
    depth_scale = sim.recording.depth_scale
    for path in args.recordings:
        try:
            recording = Recording(path)
            demonstration, _ = demonstration_from_recording(
                recording, DemonstrationTopics(), robot, sim, max_gap=args.max_gap
            )
            demonstrations.append((path, demonstration))
        except (RecordingError, ValueError) as error:
            print(f"{path}: cannot replay: {error}", file=sys.stderr)
    if not demonstrations:
        return 1
    report: dict[str, Any] = {"recordings": [], "graph": values}
    with tempfile.TemporaryDirectory(prefix="vla_ros_replay_") as directory:
        log = Path(directory) / "keyframe_policy.log"
        with log.open("w") as stream:
            policy = subprocess.Popen(
                node_command(POLICY, values, Path(directory)), stdout=stream, stderr=subprocess.STDOUT
            )
        rclpy.init(args=[])  # the command line's name:=value pairs are launch arguments, not remaps
        node = rclpy.create_node("vla_ros_replay", namespace=values["namespace"] or "/")
        try:
            client = ReplayClient(node, values, [*robot.arm_joints, *robot.gripper_joints])
            ready = _spin_until(
                node,
                lambda: any(s.startswith("ready") for s in client.status) or policy.poll() is not None,
                START_TIMEOUT_S,
            )
            if not ready or policy.poll() is not None:
                print(f"the policy node did not start:\n{log.read_text()[-3000:]}", file=sys.stderr)
                return 1
            for path, demonstration in demonstrations:
                rows = replay_one(client, demonstration, robot.base_frame, depth_scale)
                report["recordings"].append(
                    {"recording": str(path), "summary": _summary(rows), "keyframes": rows}
                )
                print(f"{path}: {json.dumps(_summary(rows))}")
        finally:
            node.destroy_node()
            rclpy.try_shutdown()
            policy.terminate()
            policy.wait(timeout=10.0)
    all_rows = [row for entry in report["recordings"] for row in entry["keyframes"]]
    report["summary"] = _summary(all_rows)
    report["machine"] = machine_info()
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if report["summary"].get("unanswered", 1) == 0 else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``replay`` subcommand."""
    parser = subparsers.add_parser("replay", description=__doc__)
    parser.add_argument("recordings", nargs="+", type=Path, help="MCAP recordings (vla-ros record)")
    parser.add_argument("--out", type=Path, help="JSON report")
    parser.add_argument(
        "--max-gap", type=float, default=0.5, help="s, the longest silence of a stream allowed"
    )
    parser.add_argument(
        "arguments", nargs="*", metavar="name:=value", help="launch arguments (policy_checkpoint:=...)"
    )
    parser.set_defaults(func=run)
