"""The temporal-ensembling controller node: every ActionChunk in, safe joint commands out at a fixed rate.

Subscribes (reliable): ``interface.chunk_topic`` (vla_ros/ActionChunk; malformed chunks, unknown joint
names or NaN are rejected with the reason in the log), ``interface.estop_topic`` (std_msgs/Bool, the
state of an e-stop input: true latches the e-stop), ``interface.heartbeat_topic`` (std_msgs/Bool, the
deadman, see below), ``interface.joint_state_topic`` (sensor_msgs/JointState, sensor-data QoS: merged
by joint name from any number of publishers; a sample with mismatched lengths, repeated names or a
non-finite value is refused with a throttled warning) and ``interface.episode_topic``
(vla_ros/EpisodeStatus, latched): only chunks of the active episode are blended (without an active
episode, only chunks without one); when the episode ends the live chunks are dropped, so the arm brakes
within the limits and holds; when the planner (the episode's owner) dies, its liveliness lapses within
``EPISODE_OWNER_LEASE_S`` and the active episode ends here too. An e-stop also ends the running
episode (its reason on ``interface.stop_episode_topic``), so clearing it never resumes the old motion.

Commands through the driver ``driver.arm`` (joint_trajectory_controller, forward_position_controller or
MoveIt Servo) and the gripper through ``driver.gripper`` (see :mod:`vla_ros.ros.command_drivers`).

States (``~/status``, see :mod:`vla_ros.control.safety`): ``active``; the holds ``idle`` (no chunk
since the last stop), ``stale`` (no chunk for ``safety.stale_timeout``), ``no_target``,
``stale_joint_states`` (no joint state of every joint for ``safety.joint_state_timeout``),
``clock_stalled`` (ROS time frozen for ``safety.clock_timeout``), ``deadman`` (with
``safety.heartbeat_timeout`` > 0: no true heartbeat within it, or a false); the latched ``estop`` and
``fault`` (an unexpected error in the control loop); ``disabling`` then ``disabled``. Every hold, the
latches and ``~/disable`` brake within the limits, then hold the position. Watchdogs run on the steady
clock. A resume from a hold at rest starts from the measured state (a hand-moved arm never jumps back).

Services (std_srvs/Trigger): ``~/estop``; ``~/reset_estop`` clears the e-stop and fault latches (refused
while the e-stop input still says true) and leaves actuation disabled; ``~/enable`` starts actuation from
the measured state, only when it is recent, finite, within the limits and at rest (refused with the
reason otherwise); ``~/disable`` brakes, then publishes nothing.

Publishes ``~/status`` (std_msgs/String, latched, JSON: state, reason, enabled, e-stop and fault
reasons, active episode, live chunks, joint-state age, counters (``hold_transitions``: active -> a hold,
motion interrupted while input was expected), and the loop's period error / lateness / tick cost
p50/p99/max over the last ``interface.timing_window`` ticks) every ``interface.status_period`` s and on
every change, the same on ``/diagnostics`` (diagnostic_msgs/DiagnosticArray: OK, WARN on a hold, ERROR
when latched), and ``~/commanded_state`` (sensor_msgs/JointState) with each published command.

Parameters: ``rate``, ``ensembling.m``, the ``safety`` scales and timeouts and ``preview`` change at run
time (``ros2 param set``, validated: a bad value is refused with the reason); every other parameter is
read-only once the node runs.

Behaviour: actuation is off until enabled unless ``safety.enabled_at_start``. The loop runs in its own
thread at absolute deadlines (``start + k * period``; missed deadlines are skipped and counted), under
SCHED_FIFO when ``realtime_priority`` > 0 and allowed; the callback thread then runs one priority level
lower (it holds the GIL the loop needs: without it, any other process could preempt it while it holds
the GIL, a priority inversion), and the GIL switch interval is cut to a fiftieth of the period. While
held and at rest nothing is published: the controllers hold the last command (never zeros, never a
jump).
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Header, String
from std_srvs.srv import Trigger

from vla_ros.config import ConfigError, from_dict
from vla_ros.control.controller import EnsemblingController
from vla_ros.control.errors import ControlError, InvalidChunkError
from vla_ros.control.loop import FixedRateSchedule, LoopTiming
from vla_ros.control.measured import JointStateError
from vla_ros.control.realtime import RealtimeUnavailableError, set_realtime_priority
from vla_ros.control.safety import (
    ACTIVE,
    CLOCK_STALLED,
    DEADMAN,
    DISABLED,
    DISABLING,
    ESTOP,
    FAULT,
    HOLDS,
    IDLE,
    NO_TARGET,
    STALE,
    STALE_JOINT_STATES,
    SafetyCommand,
    severity,
)
from vla_ros.control.settings import CONFIG_FILE, CONTROLLER_NODE, ControllerSettings
from vla_ros.episode import EpisodeGate, state_name
from vla_ros.msg import ActionChunk, EpisodeStatus
from vla_ros.ros.chunk_messages import chunk_from_message
from vla_ros.ros.command_drivers import (
    ArmCommand,
    DriverSettings,
    make_arm_driver,
    make_gripper_driver,
)
from vla_ros.ros.diagnostics import DiagnosticsPublisher
from vla_ros.ros.episode_messages import subscribe_episodes
from vla_ros.ros.messages import stamp_from_seconds
from vla_ros.ros.parameters import apply_runtime_parameters, declare_robot_parameters_from_config
from vla_ros.ros.qos import EPISODE_EVENTS, LATCHED, RELIABLE
from vla_ros.ros.robot_description import declare_robot_kinematics
from vla_ros.ros.spin import run_node

UNINITIALIZED = "waiting_for_joint_states"
RUNTIME_PARAMETERS = (
    "rate",
    "ensembling.m",
    "safety.velocity_scale",
    "safety.acceleration_scale",
    "safety.stale_timeout",
    "safety.joint_state_timeout",
    "safety.clock_timeout",
    "safety.heartbeat_timeout",
    "safety.rest_speed",
    "preview.points",
    "preview.step",
)
DIAGNOSTIC_KEYS = (
    "enabled",
    "estop",
    "fault",
    "episode_id",
    "live_chunks",
    "joint_state_age_s",
    "rate_hz",
    "hold_transitions",
    "chunks_rejected",
    "joint_states_rejected",
    "faults",
)
WARNING_PERIOD_S = 5.0  # throttle of repeated warnings about bad input


@dataclass(frozen=True)
class ControllerInterface:
    """Section ``interface`` of the controller's parameters."""

    chunk_topic: str
    joint_state_topic: str
    estop_topic: str
    heartbeat_topic: str
    episode_topic: str
    stop_episode_topic: str
    status_period: float
    timing_window: int

    def __post_init__(self) -> None:
        if self.status_period <= 0.0 or self.timing_window < 2:
            raise ConfigError("interface.status_period must be > 0 and interface.timing_window >= 2")


class EnsemblingControllerNode(Node):
    """Fixed-rate ensembling, safety and command drivers around :class:`EnsemblingController`."""

    def __init__(self, **node_options: Any) -> None:
        """``node_options``: rclpy Node options (e.g. ``context``, ``parameter_overrides``)."""
        super().__init__(CONTROLLER_NODE, **node_options)
        self._thread: threading.Thread | None = None  # destroy_node runs even when __init__ fails
        parameters = declare_robot_parameters_from_config(
            self, CONFIG_FILE, runtime=RUNTIME_PARAMETERS, section=CONTROLLER_NODE
        )
        self.interface = from_dict(
            ControllerInterface, parameters["interface"], f"{CONTROLLER_NODE}.interface"
        )
        self.driver_settings = from_dict(DriverSettings, parameters["driver"], f"{CONTROLLER_NODE}.driver")
        self.settings = ControllerSettings.from_parameters(parameters)
        kinematics = declare_robot_kinematics(self, self.settings.robot, parameters)
        self.core = EnsemblingController(kinematics.limits, self.settings)
        self.arm_driver = make_arm_driver(self, self.driver_settings, kinematics)
        self.gripper_driver = make_gripper_driver(self, self.driver_settings, self.settings.robot.gripper)
        self.timing = LoopTiming(self.interface.timing_window)
        self.schedule = FixedRateSchedule(self.settings.period, time.monotonic())
        self._lock = threading.Lock()
        self._state = UNINITIALIZED
        self._moving = False
        self._estop_input = False
        self._silenced = False  # a fault while braking from a fault: nothing more is commanded
        self.gate = EpisodeGate()
        self._counters = {
            "chunks_accepted": 0,
            "chunks_rejected": 0,
            "chunks_dropped_latched": 0,
            "chunks_dropped_episode": 0,
            "joint_states_rejected": 0,
            "hold_transitions": 0,
            "faults": 0,
        }
        self._last_rejection = ""
        self._last_joint_state_error = ""

        self._status_pub = self.create_publisher(String, "~/status", LATCHED)
        self._diagnostics = DiagnosticsPublisher(self, "safety and control loop")
        self._commanded_pub = self.create_publisher(JointState, "~/commanded_state", RELIABLE)
        self._stop_episode_pub = self.create_publisher(String, self.interface.stop_episode_topic, RELIABLE)
        self.create_subscription(ActionChunk, self.interface.chunk_topic, self._on_chunk, RELIABLE)
        self.create_subscription(
            JointState, self.interface.joint_state_topic, self._on_joint_state, qos_profile_sensor_data
        )
        self.create_subscription(Bool, self.interface.estop_topic, self._on_estop_topic, RELIABLE)
        self.create_subscription(Bool, self.interface.heartbeat_topic, self._on_heartbeat, RELIABLE)
        subscribe_episodes(
            self, self.interface.episode_topic, self._on_episode, EPISODE_EVENTS, lambda: self.gate.active
        )
        self.create_service(Trigger, "~/enable", self._on_enable)
        self.create_service(Trigger, "~/disable", self._on_disable)
        self.create_service(Trigger, "~/estop", self._on_estop_service)
        self.create_service(Trigger, "~/reset_estop", self._on_reset_estop)
        self.create_timer(self.interface.status_period, self.publish_status)
        apply_runtime_parameters(self, parameters, self._apply_parameters)

        if self.settings.realtime_priority > 1:
            # The executor thread (callbacks) shares the GIL with the loop: one level below the loop, so
            # that other processes cannot preempt it while it holds the GIL the loop waits for.
            with contextlib.suppress(RealtimeUnavailableError):  # the loop thread reports a refusal
                set_realtime_priority(self.settings.realtime_priority - 1)
        self._running = True
        self._thread = threading.Thread(target=self._run, name="control_loop", daemon=True)
        self._thread.start()
        safety = self.settings.safety
        self.get_logger().info(
            f"{self.settings.rate:g} Hz, driver {self.driver_settings.arm} -> {self.arm_driver.topic}, "
            f"gripper {self.driver_settings.gripper}, chunks from {self.interface.chunk_topic}, "
            f"speed scales {safety.velocity_scale:g} / {safety.acceleration_scale:g}, "
            f"deadman {safety.heartbeat_timeout or 'off'}, "
            f"actuation {'enabled' if self.settings.safety.enabled_at_start else 'disabled until ~/enable'}"
        )
        self.publish_status()

    def _apply_parameters(self, parameters: dict[str, Any]) -> None:
        """Validate and take run-time parameter changes (raises ConfigError to refuse)."""
        settings = ControllerSettings.from_parameters(parameters)
        with self._lock:
            self.core.apply(settings)
            self.settings = settings
            self.schedule.period = settings.period

    # ------------------------------------------------------------------ inputs
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_episode(self, message: EpisodeStatus) -> None:
        with self._lock:
            change = self.gate.update(message.episode_id, message.state)
            if change is None:
                return
            self.core.stop()
        if change.started:
            self.get_logger().info(f"episode {change.episode_id} started")
        else:
            self.get_logger().info(
                f"episode {change.episode_id} {state_name(change.state)}: braking to a hold"
            )
        self.publish_status()

    def _on_chunk(self, message: ActionChunk) -> None:
        if not self.gate.admits(message.episode_id):
            self._counters["chunks_dropped_episode"] += 1
            self.get_logger().debug(
                f"dropped chunk {message.chunk_id} of episode {message.episode_id!r}: not the active one"
            )
            return
        try:
            chunk = chunk_from_message(message)
            with self._lock:
                accepted = self.core.add_chunk(chunk, time.monotonic())
        except InvalidChunkError as error:
            self._counters["chunks_rejected"] += 1
            self._last_rejection = str(error)
            self.get_logger().error(f"rejected chunk: {error}")
            return
        if accepted:
            self._counters["chunks_accepted"] += 1
        else:
            self._counters["chunks_dropped_latched"] += 1
            self.get_logger().warning(
                f"dropped chunk {message.chunk_id} from '{message.source}': e-stop or fault latched "
                "(~/reset_estop, then ~/enable)",
                throttle_duration_sec=2.0,
            )

    def _on_joint_state(self, message: JointState) -> None:
        try:
            with self._lock:
                self.core.observe_joint_state(
                    message.name, message.position, message.velocity, time.monotonic()
                )
        except JointStateError as error:
            self._counters["joint_states_rejected"] += 1
            self._last_joint_state_error = str(error)
            self.get_logger().warning(
                f"ignoring a joint state: {error}", throttle_duration_sec=WARNING_PERIOD_S
            )

    def _on_heartbeat(self, message: Bool) -> None:
        with self._lock:
            self.core.heartbeat(message.data, time.monotonic())

    def _on_estop_topic(self, message: Bool) -> None:
        self._estop_input = message.data
        if message.data:
            self._estop(f"{self.interface.estop_topic} true")

    def _estop(self, reason: str) -> None:
        with self._lock:
            first = not self.core.safety.estopped
            self.core.trigger_estop(reason)
        if first:
            self.get_logger().error(
                f"E-STOP latched ({reason}): braking to a hold; ~/reset_estop, then ~/enable, resume"
            )
            self._stop_episode_pub.publish(String(data=f"e-stop: {reason}"))
        self.publish_status()

    def _fault(self, error: BaseException) -> None:
        """An unexpected error in the control loop: latch FAULT (brake, hold) and end the episode."""
        reason = f"{type(error).__name__}: {error}"
        with self._lock:
            first = self.core.safety.fault_reason is None
            if not first and self._state == FAULT:
                self._silenced = True  # braking itself failed: command nothing more
            self.core.trigger_fault(reason)
        self._counters["faults"] += 1
        if first:
            self.get_logger().error(
                f"FAULT in the control loop ({reason}): braking to a hold; ~/reset_estop, then ~/enable\n"
                + "".join(traceback.format_exception(error))
            )
            self._stop_episode_pub.publish(String(data=f"controller fault: {reason}"))
        elif self._silenced:
            self.get_logger().error(
                f"FAULT again while braking ({reason}): no more commands; the robot's own controllers hold",
                throttle_duration_sec=WARNING_PERIOD_S,
            )
        self.publish_status()

    # ------------------------------------------------------------------ services
    def _on_enable(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        with self._lock:
            refusal = self.core.enable(time.monotonic())
            if refusal is None:
                self._moving = False
                self._silenced = False
        response.success = refusal is None
        response.message = (
            "actuation enabled from the measured state" if refusal is None else (f"not enabled: {refusal}")
        )
        if refusal is None:
            self.get_logger().info(response.message)
        else:  # rclpy: one severity per call site
            self.get_logger().warning(response.message)
        self.publish_status()
        return response

    def _on_disable(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        with self._lock:
            self.core.safety.disable()
            self.core.stop()
        response.success = True
        response.message = "actuation disabled: braking to rest, then nothing is published"
        self.get_logger().info(response.message)
        if self.gate.active:  # the episode cannot go on without actuation, nor resume on enable
            self._stop_episode_pub.publish(String(data="actuation disabled (~/disable)"))
        self.publish_status()
        return response

    def _on_estop_service(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        self._estop("~/estop service")
        response.success, response.message = True, "e-stop latched"
        return response

    def _on_reset_estop(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if self._estop_input:
            response.success = False
            response.message = f"not reset: the e-stop input {self.interface.estop_topic} still says true"
            self.get_logger().warning(response.message)
            return response
        with self._lock:
            safety = self.core.safety
            was = [reason for reason in (safety.estop_reason, safety.fault_reason) if reason]
            self.core.reset()
        response.success = True
        response.message = (
            f"cleared ({'; '.join(was) if was else 'nothing was latched'}); actuation stays disabled "
            "until ~/enable"
        )
        self.get_logger().info(response.message)
        self.publish_status()
        return response

    # ------------------------------------------------------------------ control loop
    def _run(self) -> None:
        priority = self.settings.realtime_priority
        if priority > 0:
            try:
                set_realtime_priority(priority)
                # The loop thread also needs the GIL: bound how long another thread keeps it while the
                # loop waits to a fiftieth of the period (Python's default switch interval is 5 ms).
                sys.setswitchinterval(min(sys.getswitchinterval(), self.settings.period / 50.0))
                self.get_logger().info(f"control loop under SCHED_FIFO priority {priority}")
            except RealtimeUnavailableError as error:
                self.get_logger().warning(f"{error}; the control loop runs with normal scheduling")
        schedule = self.schedule
        schedule.deadline = time.monotonic() + schedule.period
        while self._running and rclpy.ok(context=self.context):
            remaining = schedule.deadline - time.monotonic()
            if remaining > 0.0:
                time.sleep(remaining)
            wake = time.monotonic()
            try:
                self._tick()
            except Exception as error:
                if not rclpy.ok(context=self.context):
                    return  # Ctrl-C shut the context down during the tick: nothing to report
                self._fault(error)
            done = time.monotonic()
            self.timing.record(schedule.deadline, wake, done, schedule.period)
            schedule.advance(done)

    def _tick(self) -> None:
        now = self._now()
        with self._lock:
            command = self.core.tick(now, time.monotonic())
            state = UNINITIALIZED if command is None else command.status
            publish = (
                command is not None
                and command.publish
                and (command.status == ACTIVE or self._moving)
                and not self._silenced
            )
            preview = None
            if publish and self.arm_driver.needs_preview:
                preview = self.core.preview(now, self.settings.preview.points, self.settings.preview.step)
        if state != self._state:
            self._on_state_change(self._state, state)
        if not publish:
            return
        assert command is not None
        self._send(command, preview, now)

    def _send(self, command: SafetyCommand, preview, now: float) -> None:
        """Send the command computed for ROS time ``now`` (its stamp, also on ~/commanded_state)."""
        header = Header(stamp=stamp_from_seconds(now), frame_id=self.settings.robot.base_frame)
        self.arm_driver.send(ArmCommand(command.positions, command.velocities, preview), header)
        if self.gripper_driver is not None and command.gripper is not None:
            self.gripper_driver.send(command.gripper, time.monotonic())
        self._moving = bool(np.any(command.velocities != 0.0))
        state = JointState(header=header, name=list(self.core.joint_names))
        state.position, state.velocity = command.positions.tolist(), command.velocities.tolist()
        self._commanded_pub.publish(state)

    def _on_state_change(self, previous: str, state: str) -> None:
        self._state = state
        message = f"state {previous} -> {state}"
        if previous == ACTIVE and state in HOLDS:
            self._counters["hold_transitions"] += 1
        if state == ACTIVE or previous == UNINITIALIZED:
            self.get_logger().info(message)
        else:
            self.get_logger().warning(f"{message}: {self._reason(state)}")
        self.publish_status()

    # ------------------------------------------------------------------ status
    def _reason(self, state: str) -> str:
        """Why the controller is in ``state``, for people (call with the lock held or racy-but-harmless)."""
        safety, core = self.core.safety, self.core
        steady = time.monotonic()
        reasons = {
            ACTIVE: "following the live chunks",
            ESTOP: f"e-stop latched: {safety.estop_reason}",
            FAULT: f"fault latched: {safety.fault_reason}",
            DISABLED: "actuation disabled (~/enable)",
            DISABLING: "braking to rest after ~/disable",
            IDLE: "no chunk since the last stop",
            STALE: f"no chunk for over {core.chunks_watchdog.timeout:g} s",
            NO_TARGET: "no live chunk covers now",
            STALE_JOINT_STATES: (
                f"no joint state for {core.measured.stale_joints(steady)} within "
                f"{core.measured.timeout:g} s"
                + (f" (last refused: {self._last_joint_state_error})" if self._last_joint_state_error else "")
            ),
            CLOCK_STALLED: f"ROS time has not advanced for over {core.clock.timeout:g} s",
            DEADMAN: f"no deadman heartbeat on {self.interface.heartbeat_topic} within "
            f"{core.deadman.timeout:g} s",
            UNINITIALIZED: f"no joint state of every joint on {self.interface.joint_state_topic} yet",
        }
        return reasons.get(state, state)

    def status(self) -> dict[str, Any]:
        """The JSON-ready status report of ``~/status``."""
        with self._lock:
            safety = self.core.safety
            report = {
                "state": self._state,
                "reason": self._reason(self._state),
                "enabled": safety.enabled,
                "estop": safety.estop_reason,
                "fault": safety.fault_reason,
                "episode_id": self.gate.active,
                "live_chunks": len(self.core.ensembler.chunks),
                "joint_state_age_s": round(min(self.core.measured.age(time.monotonic()), 1e9), 4),
                "driver": self.driver_settings.arm,
                "rate_hz": self.settings.rate,
                "velocity_scale": self.settings.safety.velocity_scale,
                "acceleration_scale": self.settings.safety.acceleration_scale,
                **self._counters,
                "last_rejection": self._last_rejection,
                "last_joint_state_error": self._last_joint_state_error,
            }
        report["timing"] = self.timing.report(self.schedule.skipped)
        return report

    def publish_status(self) -> None:
        """Publish the status on ``~/status`` and ``/diagnostics``."""
        report = self.status()
        self._status_pub.publish(String(data=json.dumps(report)))
        timing = report["timing"]
        self._diagnostics.publish(
            severity(report["state"]) if report["state"] != UNINITIALIZED else 1,
            f"{report['state']}: {report['reason']}",
            {key: report[key] for key in DIAGNOSTIC_KEYS}
            | {
                "lateness_p99_ms": timing["lateness_ms"].get("p99", ""),
                "period_error_p99_ms": timing["period_error_ms"].get("p99", ""),
                "skipped_deadlines": timing["skipped_deadlines"],
            },
        )

    def destroy_node(self) -> None:
        self._running = False
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=2.0)
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """Entry point of ``ros2 run vla_ros ensembling_controller_node``."""
    return run_node(EnsemblingControllerNode, args, startup_errors=(ConfigError, ControlError))


if __name__ == "__main__":
    sys.exit(main())
