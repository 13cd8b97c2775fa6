"""The simulated workcell as a ROS 2 node that looks like real hardware to the rest of the graph.

Publishes (names relative to the node's namespace; the camera under ``interface.camera_namespace``):
- ``<camera>/color/image_raw`` (rgb8), ``<camera>/color/camera_info``,
  ``<camera>/aligned_depth_to_color/image_raw`` (32FC1 metres or 16UC1 millimetres, REP 118) and its
  ``camera_info``: sensor-data QoS, at ``camera.rate``; the layout of realsense2_camera.
- ``<camera>/color/camera_pose`` (geometry_msgs/PoseStamped, latched): the colour optical frame in the
  robot base frame; also on TF (static) where tf2_ros is installed.
- ``/joint_states`` at ``interface.joint_state_rate``; ``/clock`` (sim time) when ``interface.publish_clock``.
- ``~/instruction`` (std_msgs/String, latched): the current task's instruction.
- ``~/status`` (std_msgs/String, latched, JSON, every ``STATUS_PERIOD_S`` of simulated time): the
  simulated time, the camera frames published and dropped (the camera fell behind real time), and how
  often the physics fell behind real time and went on from there (the machine cannot sustain
  ``interface.real_time_factor``).
- ``~/oracle_path`` (vla_ros/Path2D, latched): the privileged path of the current scene (the scripted
  expert's TCP trace on a private copy of the scene), for the planner's ``oracle`` backend.

Accepts commands as ros2_control controllers do: joint_trajectory_controller semantics on
``interface.arm_trajectory_topic`` and ``interface.gripper_trajectory_topic``, forward_position_controller
semantics (std_msgs/Float64MultiArray in joint order) on ``interface.arm_forward_topic`` and
``interface.gripper_forward_topic``. Rejected commands are logged with the reason.

Fault injection (parameters ``faults.*``, settable at run time with ``ros2 param set``): pause
``/joint_states``, blind the depth camera (see config/sim.yaml); every other parameter is read-only.

Services: ``~/reset`` (vla_ros/srv/ResetTask) and ``~/check_success`` (std_srvs/Trigger). A reset is
one of the ways an episode ends: it first sends its reason on ``interface.stop_episode_topic`` (the
planner ends the active episode and the arm brakes), waits up to ``interface.reset_settle_timeout`` for
the arm to be at rest, then resets the scene.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
from dataclasses import dataclass

import numpy as np
import rclpy
from geometry_msgs.msg import PoseStamped
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from rclpy.task import Future
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Float64MultiArray, Header, String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from vla_ros.config import ConfigError, from_dict
from vla_ros.hardware.joint_trajectory import (
    JointTrajectoryCommand,
    JointTrajectoryFollower,
    TrajectoryRejectedError,
)
from vla_ros.msg import Path2D
from vla_ros.ros.images import array_to_image
from vla_ros.ros.messages import pose_from_matrix, seconds_from_stamp, stamp_from_seconds
from vla_ros.ros.parameters import apply_runtime_parameters, declare_robot_parameters_from_config
from vla_ros.ros.path_messages import path_to_message
from vla_ros.ros.qos import LATCHED, RELIABLE
from vla_ros.ros.spin import run_node
from vla_ros.ros.tf import StaticTransformPublisher
from vla_ros.sim.oracle import OracleError, oracle_path
from vla_ros.sim.render_process import RenderProcess
from vla_ros.sim.settings import SIM_NODE_NAME, SimConfig, sim_config_from_dict
from vla_ros.sim.workcell import Workcell, WorkcellError
from vla_ros.srv import ResetTask

CONFIG_FILE = "sim.yaml"
MAX_LAG_S = 0.1  # the physics loop re-anchors to real time when it falls further behind
RESTING_SPEED = 0.02  # rad/s (m/s for the fingers): every joint slower than this is at rest
SETTLE_POLL_S = 0.1  # s of simulated time between two looks at the arm while a reset waits
STATUS_PERIOD_S = 1.0  # s of simulated time between two reports on ~/status


@dataclass(frozen=True)
class SimulatorInterface:
    """The node's ROS-facing settings (section ``interface`` of config/sim.yaml)."""

    camera_namespace: str
    depth_encoding: str
    joint_state_rate: float
    publish_clock: bool
    real_time_factor: float
    arm_trajectory_topic: str
    arm_forward_topic: str
    gripper_trajectory_topic: str
    gripper_forward_topic: str
    stop_episode_topic: str
    reset_settle_timeout: float
    task: str
    split: str
    seed: int

    def __post_init__(self) -> None:
        if self.depth_encoding not in ("32FC1", "16UC1"):
            raise ConfigError(f"interface.depth_encoding must be 32FC1 or 16UC1, got {self.depth_encoding!r}")
        if self.joint_state_rate <= 0.0 or self.real_time_factor < 0.0:
            raise ConfigError("interface.joint_state_rate must be > 0 and interface.real_time_factor >= 0")


@dataclass(frozen=True)
class SimulatorFaults:
    """Faults to inject (section ``faults``, settable at run time): what a real cell may do."""

    joint_states_paused: bool
    depth_blind: bool


RUNTIME_PARAMETERS = ("faults.joint_states_paused", "faults.depth_blind")


class SimulatorNode(Node):
    """Runs the workcell in a thread of its own and exchanges its state and commands with the graph."""

    def __init__(self) -> None:
        super().__init__(SIM_NODE_NAME)
        parameters = declare_robot_parameters_from_config(
            self, CONFIG_FILE, runtime=RUNTIME_PARAMETERS, section=SIM_NODE_NAME
        )
        apply_runtime_parameters(self, parameters, self._apply_parameters)
        self.faults = from_dict(SimulatorFaults, parameters.pop("faults"), "simulator.faults")
        self.interface = from_dict(SimulatorInterface, parameters.pop("interface"), "simulator.interface")
        self.config: SimConfig = sim_config_from_dict(parameters)
        self.workcell = Workcell(self.config)
        # The camera renders a mirror of the workcell in a child process (fed by a thread of this one),
        # so that a 40 ms render, which holds the GIL, does not hold up physics and /joint_states.
        self._camera_mirror = RenderProcess(self.config)
        self._render_lock = threading.Lock()
        self._frames: queue.Queue = queue.Queue(maxsize=1)
        self.frames_dropped = 0
        self.frames_published = 0
        self.fell_behind = 0  # times the physics fell behind real time and went on from there
        self._scene = 0  # increases at every reset; a frame of an older scene is not rendered
        self._tick_period = self._whole_physics_steps(1.0 / self.interface.joint_state_rate)
        self._frame_period = self._whole_physics_steps(1.0 / self.config.camera.rate)
        self._lock = threading.Lock()
        self._running = True
        self._sim_time = 0.0  # s since start, across resets: what /clock publishes

        # The gripper's controller commands its command joint (robot file), as a real cell's does.
        self._gripper_map = self.config.robot.gripper
        self._arm = JointTrajectoryFollower(self.workcell.arm_joint_names, self.workcell.arm_targets())
        self._gripper = JointTrajectoryFollower(
            (self._gripper_map.command_joint,), [self._gripper_position()]
        )

        camera = self.interface.camera_namespace.rstrip("/")
        self._color_pub = self.create_publisher(Image, f"{camera}/color/image_raw", qos_profile_sensor_data)
        self._color_info_pub = self.create_publisher(
            CameraInfo, f"{camera}/color/camera_info", qos_profile_sensor_data
        )
        self._depth_pub = self.create_publisher(
            Image, f"{camera}/aligned_depth_to_color/image_raw", qos_profile_sensor_data
        )
        self._depth_info_pub = self.create_publisher(
            CameraInfo, f"{camera}/aligned_depth_to_color/camera_info", qos_profile_sensor_data
        )
        self._camera_pose_pub = self.create_publisher(PoseStamped, f"{camera}/color/camera_pose", LATCHED)
        self._joint_state_pub = self.create_publisher(JointState, "joint_states", qos_profile_sensor_data)
        self._clock_pub = self.create_publisher(Clock, "/clock", 10) if self.interface.publish_clock else None
        self._instruction_pub = self.create_publisher(String, "~/instruction", LATCHED)
        self._status_pub = self.create_publisher(String, "~/status", LATCHED)
        self._oracle_pub = self.create_publisher(Path2D, "~/oracle_path", LATCHED)
        self._stop_episode_pub = self.create_publisher(String, self.interface.stop_episode_topic, RELIABLE)
        self._tf = StaticTransformPublisher(self)

        self.create_subscription(
            JointTrajectory, self.interface.arm_trajectory_topic, self._on_arm_trajectory, RELIABLE
        )
        self.create_subscription(
            JointTrajectory, self.interface.gripper_trajectory_topic, self._on_gripper_trajectory, RELIABLE
        )
        self.create_subscription(
            Float64MultiArray, self.interface.arm_forward_topic, self._on_arm_forward, RELIABLE
        )
        self.create_subscription(
            Float64MultiArray, self.interface.gripper_forward_topic, self._on_gripper_forward, RELIABLE
        )
        # Its own group: a reset waits (as a coroutine) for the arm to settle without holding the others.
        self.create_service(ResetTask, "~/reset", self._on_reset, callback_group=ReentrantCallbackGroup())
        self.create_service(Trigger, "~/check_success", self._on_check_success)
        self.create_timer(STATUS_PERIOD_S, self._publish_status)

        self._reset(self.interface.task, self.interface.split, self.interface.seed)
        self._thread = threading.Thread(
            target=self._guarded, args=(self._loop,), name="workcell", daemon=True
        )
        self._render_thread = threading.Thread(
            target=self._guarded, args=(self._render_loop,), name="camera", daemon=True
        )
        self._thread.start()
        self._render_thread.start()

    def _apply_parameters(self, parameters: dict) -> None:
        """Take a run-time change of the injected faults (raises ConfigError to refuse it)."""
        self.faults = from_dict(SimulatorFaults, parameters["faults"], "simulator.faults")
        self.get_logger().warning(f"injected faults now: {self.faults}")

    # ------------------------------------------------------------------ simulation loop
    def _whole_physics_steps(self, period: float) -> float:
        step = self.config.physics.time_step
        return max(1, round(period / step)) * step

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _guarded(self, loop) -> None:
        """Run one of the node's loops; an error in it is fatal for the node, and said so."""
        try:
            loop()
        except Exception as error:
            if not rclpy.ok(context=self.context):
                return  # the graph is shutting down under the loop: nothing to report
            self.get_logger().fatal(f"workcell loop stopped: {type(error).__name__}: {error}")
            self.context.try_shutdown()

    def _loop(self) -> None:
        """Step physics in real time (scaled by real_time_factor; 0 = as fast as possible)."""
        factor = self.interface.real_time_factor
        frames_every = max(1, round(self._frame_period / self._tick_period))
        tick = 0
        start_wall, start_sim = time.monotonic(), self._sim_time
        while self._running and rclpy.ok(context=self.context):
            with self._lock:
                self._publish_clock()
                self._apply_commands(self._now())
                self.workcell.step(self._tick_period)
                self._sim_time += self._tick_period
                self._publish_joint_state()
                if tick % frames_every == 0:
                    self._hand_frame_to_camera(lock_step=factor == 0.0)
            tick += 1
            if factor > 0.0:
                delay = start_wall + (self._sim_time - start_sim) / factor - time.monotonic()
                if delay > 0.0:
                    time.sleep(delay)
                elif delay < -MAX_LAG_S:
                    # Behind real time (a slow reset or render, a loaded CPU): go on from now rather
                    # than catch up in a burst, which would run the robot faster than the nodes see.
                    start_wall, start_sim = time.monotonic(), self._sim_time
                    self.fell_behind += 1
                    self.get_logger().warn(
                        f"simulation fell {-delay:.2f} s behind real time; continuing from now",
                        throttle_duration_sec=5.0,
                    )

    def _apply_commands(self, now: float) -> None:
        self.workcell.set_arm_targets(self._arm.sample(now))
        self.workcell.set_gripper_width(float(self._gripper_map.width(self._gripper.sample(now)[0])))

    # ------------------------------------------------------------------ publishing
    def _header(self, frame_id: str) -> Header:
        return Header(stamp=self.get_clock().now().to_msg(), frame_id=frame_id)

    def _publish_clock(self) -> None:
        if self._clock_pub is not None:
            self._clock_pub.publish(Clock(clock=stamp_from_seconds(self._sim_time)))

    def _publish_joint_state(self) -> None:
        if self.faults.joint_states_paused:
            return
        state = self.workcell.joint_state()
        msg = JointState(header=self._header(""), name=list(state.names))
        msg.position, msg.velocity, msg.effort = (
            state.positions.tolist(),
            state.velocities.tolist(),
            state.efforts.tolist(),
        )
        self._joint_state_pub.publish(msg)

    def _hand_frame_to_camera(self, lock_step: bool) -> None:
        """Give the camera thread this instant to render. In real time a frame the camera has not
        started yet is replaced (dropped, counted); in lock-step the physics waits for the camera."""
        item = (
            self._scene,
            self._header(self.config.workcell.camera_optical_frame),
            self.workcell.snapshot(),
        )
        if lock_step:
            while self._running:
                try:
                    self._frames.put(item, timeout=0.1)
                    return
                except queue.Full:
                    continue
        while True:  # the camera thread may take the waiting frame at any moment: no put/get can assume
            try:
                self._frames.put_nowait(item)
                return
            except queue.Full:
                pass
            try:
                self._frames.get_nowait()
            except queue.Empty:
                continue
            self.frames_dropped += 1
            self.get_logger().warn(
                f"camera falls behind real time: {self.frames_dropped} frames dropped so far "
                "(lower camera.rate or the resolution)",
                throttle_duration_sec=5.0,
            )

    def _render_loop(self) -> None:
        while self._running and rclpy.ok(context=self.context):
            try:
                scene, header, snapshot = self._frames.get(timeout=0.1)
            except queue.Empty:
                continue
            with self._render_lock:
                if scene != self._scene:
                    continue  # taken just before a reset
                frame = self._camera_mirror.render(snapshot)
            self._publish_camera(frame, header)
            self.frames_published += 1

    def _publish_status(self) -> None:
        report = {
            "sim_time": self._sim_time,
            "real_time_factor": self.interface.real_time_factor,
            "frames_published": self.frames_published,
            "frames_dropped": self.frames_dropped,
            "fell_behind": self.fell_behind,
        }
        self._status_pub.publish(String(data=json.dumps(report)))

    def _publish_camera(self, frame, header: Header) -> None:
        info = self._camera_info(header)
        depth = np.full_like(frame.depth, np.nan) if self.faults.depth_blind else frame.depth
        if self.interface.depth_encoding == "16UC1":
            depth = (
                np.nan_to_num(np.round(depth * 1000.0), nan=0.0, posinf=0.0).clip(0, 65535).astype(np.uint16)
            )
        self._color_pub.publish(array_to_image(frame.rgb, "rgb8", header))
        self._depth_pub.publish(array_to_image(depth, self.interface.depth_encoding, header))
        self._color_info_pub.publish(info)
        self._depth_info_pub.publish(info)

    def _camera_info(self, header: Header) -> CameraInfo:
        k = self.workcell.intrinsics.matrix
        info = CameraInfo(header=header, width=self.config.camera.width, height=self.config.camera.height)
        info.distortion_model = "plumb_bob"
        info.d = [0.0] * 5
        info.k = k.flatten().tolist()
        info.r = np.eye(3).flatten().tolist()
        info.p = np.hstack([k, np.zeros((3, 1))]).flatten().tolist()
        return info

    def _publish_scene(self, instruction: str) -> None:
        pose = PoseStamped(header=self._header(self.config.robot.base_frame))
        pose.pose = pose_from_matrix(self.workcell.camera_pose())
        self._camera_pose_pub.publish(pose)
        self._tf.send(pose, self.config.workcell.camera_optical_frame)
        self._instruction_pub.publish(String(data=instruction))

    # ------------------------------------------------------------------ commands
    def _gripper_position(self) -> float:
        """The gripper command joint's position for the opening the workcell is commanded now."""
        return float(self._gripper_map.position(self.workcell.gripper_command()))

    def _on_arm_trajectory(self, msg: JointTrajectory) -> None:
        self._accept_trajectory(self._arm, msg, "arm")

    def _on_gripper_trajectory(self, msg: JointTrajectory) -> None:
        self._accept_trajectory(self._gripper, msg, "gripper")

    def _accept_trajectory(self, follower: JointTrajectoryFollower, msg: JointTrajectory, what: str) -> None:
        with self._lock:
            try:
                follower.accept(trajectory_command(msg), self._now())
            except TrajectoryRejectedError as error:
                self.get_logger().error(f"rejected {what} trajectory: {error}")

    def _on_arm_forward(self, msg: Float64MultiArray) -> None:
        self._hold(self._arm, msg.data, "arm")

    def _on_gripper_forward(self, msg: Float64MultiArray) -> None:
        self._hold(self._gripper, msg.data, "gripper")

    def _hold(self, follower: JointTrajectoryFollower, data, what: str) -> None:
        with self._lock:
            try:
                follower.hold(np.asarray(data, dtype=float))
            except TrajectoryRejectedError as error:
                self.get_logger().error(f"rejected {what} forward command: {error}")

    # ------------------------------------------------------------------ services
    def _reset(self, task: str, split: str, seed: int) -> str:
        with self._lock:
            scene = self.workcell.reset(task, split, seed)
            with self._render_lock:
                self._camera_mirror.reset(task, split, seed)
                self._scene += 1
                while not self._frames.empty():
                    self._frames.get_nowait()
            self._arm.hold(self.workcell.arm_targets())
            self._gripper.hold([self._gripper_position()])
            self._publish_scene(scene.instruction)
        self.get_logger().info(f"scene {task}/{split}/{seed}: {scene.instruction}")
        self._publish_oracle_path(task, split, seed, scene.instruction)
        return scene.instruction

    def _publish_oracle_path(self, task: str, split: str, seed: int, instruction: str) -> None:
        """Solve a private copy of the scene with the expert and publish its path (latched)."""
        try:
            path = oracle_path(self.config, task, split, seed)
        except OracleError as error:
            self.get_logger().error(f"no oracle path: {error}")
            return
        header = self._header(self.config.workcell.camera_optical_frame)
        camera = self.config.camera
        self._oracle_pub.publish(
            path_to_message(path, header, camera.width, camera.height, instruction, "oracle:simulator")
        )

    def _arm_at_rest(self) -> bool:
        with self._lock:
            velocities = self.workcell.joint_state().velocities
        return bool(np.max(np.abs(velocities)) < RESTING_SPEED)

    async def _settle(self) -> None:
        """Wait (simulated time) for the arm to come to rest, at most ``reset_settle_timeout``."""
        waited = 0.0
        while waited < self.interface.reset_settle_timeout:
            await self._sleep(SETTLE_POLL_S)
            waited += SETTLE_POLL_S
            if self._arm_at_rest():
                return

    async def _sleep(self, seconds: float) -> None:
        """Let ``seconds`` of ROS time pass (in a coroutine callback; the executor goes on meanwhile)."""
        pause = Future()
        timer = self.create_timer(seconds, lambda: pause.done() or pause.set_result(None))
        await pause
        self.destroy_timer(timer)

    async def _on_reset(self, request: ResetTask.Request, response: ResetTask.Response) -> ResetTask.Response:
        # A reset ends the running episode: the robot stops first, then the scene changes under it.
        self._stop_episode_pub.publish(
            String(data=f"simulator reset to {request.task}/{request.split}/{request.seed}")
        )
        await self._settle()
        try:
            response.instruction = self._reset(request.task, request.split, int(request.seed))
        except (ValueError, WorkcellError) as error:
            response.success, response.message = False, f"reset failed: {error}"
            self.get_logger().error(response.message)
            return response
        response.success, response.message = True, f"{request.task}/{request.split}/{request.seed}"
        return response

    def _on_check_success(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        with self._lock:
            response.success = self.workcell.success()
        response.message = "task achieved" if response.success else "task not achieved"
        return response

    def destroy_node(self) -> None:
        self._running = False
        for name in ("_thread", "_render_thread"):  # absent when __init__ failed part-way
            thread = getattr(self, name, None)
            # A loop that fails shuts the context down from its own thread, which then lands here.
            if thread is not None and thread.is_alive() and thread is not threading.current_thread():
                thread.join(timeout=5.0)
        for name in ("workcell", "_camera_mirror"):
            if hasattr(self, name):
                getattr(self, name).close()
        super().destroy_node()


def trajectory_command(msg: JointTrajectory) -> JointTrajectoryCommand:
    """A trajectory_msgs/JointTrajectory as the follower's command; raises TrajectoryRejectedError."""
    joints = len(msg.joint_names)
    for index, point in enumerate(msg.points):
        if len(point.positions) != joints or len(point.velocities) not in (0, joints):
            raise TrajectoryRejectedError(
                f"point {index} has {len(point.positions)} positions and {len(point.velocities)} velocities "
                f"for {joints} joints"
            )
    with_velocities = bool(msg.points) and all(len(point.velocities) for point in msg.points)
    return JointTrajectoryCommand(
        joint_names=tuple(msg.joint_names),
        start_time=seconds_from_stamp(msg.header.stamp),
        times=np.array([seconds_from_stamp(point.time_from_start) for point in msg.points]),
        positions=np.array([point.positions for point in msg.points], dtype=float).reshape(
            len(msg.points), joints
        ),
        velocities=np.array([point.velocities for point in msg.points], dtype=float)
        if with_velocities
        else None,
    )


def main(args: list[str] | None = None) -> int:
    """Entry point of ``ros2 run vla_ros simulator_node``."""
    return run_node(SimulatorNode, args, startup_errors=(ConfigError, WorkcellError))


if __name__ == "__main__":
    sys.exit(main())
