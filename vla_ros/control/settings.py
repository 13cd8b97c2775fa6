"""Validated parameters of ``config/control.yaml``: one dataclass per section, built by
:func:`vla_ros.config.from_dict` (errors name the dotted key)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, TypeVar

from vla_ros.config import check_range, from_dict, load_parameters
from vla_ros.control.errors import ControlConfigError
from vla_ros.robot.settings import RobotSettings
from vla_ros.robot.urdf import DEFAULT_ROBOT, robot_config_path

CONFIG_FILE = "control"
EXECUTOR_NODE = "chunk_executor"
CONTROLLER_NODE = "ensembling_controller"
BENCH_SECTION = "bench_control"
MAX_CONTROL_RATE = 500.0
T = TypeVar("T")


def _settings(kind: type[T], parameters: dict[str, Any], where: str) -> T:
    """``kind`` from a node's nested parameters: its fields' sections (a node has other parameters)."""
    names = {field.name for field in dataclasses.fields(kind)}  # type: ignore[arg-type]
    return from_dict(kind, {k: v for k, v in parameters.items() if k in names}, where, ControlConfigError)


@dataclass(frozen=True)
class IKSettings:
    """Damped-least-squares inverse kinematics."""

    max_iterations: int
    damping: float
    step_size: float
    max_step: float
    position_tolerance: float
    orientation_tolerance: float
    accept_position_tolerance: float
    accept_orientation_tolerance: float
    restarts: int
    random_seed: int

    def __post_init__(self) -> None:
        check_range("max_iterations", self.max_iterations, 1)
        check_range("damping", self.damping, 0.0, 1.0, low_open=True)
        check_range("step_size", self.step_size, 0.0, 1.0, low_open=True)
        check_range("max_step", self.max_step, 0.0, math.pi, low_open=True)
        check_range("position_tolerance", self.position_tolerance, 0.0, 0.1, low_open=True)
        check_range("orientation_tolerance", self.orientation_tolerance, 0.0, 0.5, low_open=True)
        check_range("accept_position_tolerance", self.accept_position_tolerance, 0.0, 0.1, low_open=True)
        check_range(
            "accept_orientation_tolerance", self.accept_orientation_tolerance, 0.0, 0.5, low_open=True
        )
        check_range("restarts", self.restarts, 0)
        check_range("random_seed", self.random_seed, 0)
        if (
            self.position_tolerance > self.accept_position_tolerance
            or self.orientation_tolerance > self.accept_orientation_tolerance
        ):
            raise ValueError("the convergence tolerances must not exceed the accept tolerances")


@dataclass(frozen=True)
class MotionSettings:
    """Fractions of the robot's limits the planner plans within."""

    velocity_scale: float
    acceleration_scale: float
    min_segment_duration: float
    replan_tolerance: float
    tracking_lag: float

    def __post_init__(self) -> None:
        check_range("velocity_scale", self.velocity_scale, 0.0, 1.0, low_open=True)
        check_range("acceleration_scale", self.acceleration_scale, 0.0, 1.0, low_open=True)
        check_range("min_segment_duration", self.min_segment_duration, 0.0, 10.0, low_open=True)
        check_range("replan_tolerance", self.replan_tolerance, 0.0, 1.0)
        check_range("tracking_lag", self.tracking_lag, 0.0, 2.0)


@dataclass(frozen=True)
class GraspSettings:
    """Approach/retreat distances along the TCP z axis and gripper dwell times."""

    approach_distance: float
    retreat_distance: float
    path_step: float
    gripper_close_time: float
    gripper_open_time: float

    def __post_init__(self) -> None:
        check_range("approach_distance", self.approach_distance, 0.0, 0.5)
        check_range("retreat_distance", self.retreat_distance, 0.0, 0.5)
        check_range("path_step", self.path_step, 0.0, 0.1, low_open=True)
        check_range("gripper_close_time", self.gripper_close_time, 0.0, 10.0)
        check_range("gripper_open_time", self.gripper_open_time, 0.0, 10.0)


@dataclass(frozen=True)
class ChunkSettings:
    """Shape and cadence of the chunks the executor publishes."""

    horizon: int
    dt: float
    replan_rate: float
    source: str

    def __post_init__(self) -> None:
        check_range("horizon", self.horizon, 1)
        check_range("dt", self.dt, 0.0, 1.0, low_open=True)
        check_range("replan_rate", self.replan_rate, 0.0, 100.0, low_open=True)
        if not self.source:
            raise ValueError("source must name the chunks' source")


@dataclass(frozen=True)
class KeyframeTolerance:
    """When a keyframe counts as reached."""

    position_tolerance: float
    orientation_tolerance: float
    joint_velocity_tolerance: float

    def __post_init__(self) -> None:
        check_range("position_tolerance", self.position_tolerance, 0.0, 1.0, low_open=True)
        check_range("orientation_tolerance", self.orientation_tolerance, 0.0, math.pi, low_open=True)
        check_range("joint_velocity_tolerance", self.joint_velocity_tolerance, 0.0, 10.0, low_open=True)


@dataclass(frozen=True)
class WorkspaceSettings:
    """Axis-aligned box (base frame, metres) that Cartesian targets must lie in."""

    lower: tuple[float, float, float]
    upper: tuple[float, float, float]

    def __post_init__(self) -> None:
        for value in (*self.lower, *self.upper):
            check_range("workspace bound", value)
        if any(lo >= hi for lo, hi in zip(self.lower, self.upper, strict=True)):
            raise ValueError(f"lower {self.lower} must be below upper {self.upper} on every axis")


@dataclass(frozen=True)
class ExecutorSettings:
    """Everything the action-chunk executor needs."""

    robot: RobotSettings
    ik: IKSettings
    motion: MotionSettings
    grasp: GraspSettings
    chunk: ChunkSettings
    keyframe_reached: KeyframeTolerance
    workspace: WorkspaceSettings

    @classmethod
    def from_parameters(cls, parameters: dict[str, Any]) -> ExecutorSettings:
        """Parse the node's nested parameters (as :func:`vla_ros.config.load_parameters` returns)."""
        return _settings(cls, parameters, EXECUTOR_NODE)

    @classmethod
    def load(
        cls, file_name: str = CONFIG_FILE, node_name: str = EXECUTOR_NODE, robot: str = DEFAULT_ROBOT
    ) -> ExecutorSettings:
        """Load from ``robot``'s robot file and a parameter file under ``config/``."""
        return cls.from_parameters(load_parameters((str(robot_config_path(robot)), file_name), node_name))


@dataclass(frozen=True)
class SafetySettings:
    """Command limits and the conditions under which the controller holds."""

    velocity_scale: float
    acceleration_scale: float
    stale_timeout: float
    joint_state_timeout: float
    clock_timeout: float
    heartbeat_timeout: float
    rest_speed: float
    enabled_at_start: bool

    def __post_init__(self) -> None:
        check_range("velocity_scale", self.velocity_scale, 0.0, 1.0, low_open=True)
        check_range("acceleration_scale", self.acceleration_scale, 0.0, 1.0, low_open=True)
        check_range("stale_timeout", self.stale_timeout, 0.0, 10.0, low_open=True)
        check_range("joint_state_timeout", self.joint_state_timeout, 0.0, 10.0, low_open=True)
        check_range("clock_timeout", self.clock_timeout, 0.0, 10.0, low_open=True)
        check_range("heartbeat_timeout", self.heartbeat_timeout, 0.0, 10.0)
        check_range("rest_speed", self.rest_speed, 0.0, 1.0, low_open=True)


@dataclass(frozen=True)
class EnsemblingSettings:
    """ACT's temporal ensembling: weights exp(-m * age) over the live chunks' predictions for now."""

    m: float

    def __post_init__(self) -> None:
        check_range("m", self.m, -10.0, 10.0)


@dataclass(frozen=True)
class PreviewSettings:
    """Future ensembled points streamed to joint_trajectory_controller."""

    points: int
    step: float

    def __post_init__(self) -> None:
        check_range("points", self.points, 1)
        check_range("step", self.step, 0.0, 1.0, low_open=True)


@dataclass(frozen=True)
class ControllerSettings:
    """Everything the temporal-ensembling controller needs."""

    robot: RobotSettings
    rate: float
    realtime_priority: int
    ensembling: EnsemblingSettings
    safety: SafetySettings
    preview: PreviewSettings

    def __post_init__(self) -> None:
        check_range("rate", self.rate, 0.0, MAX_CONTROL_RATE, low_open=True)
        check_range("realtime_priority", self.realtime_priority, 0, 99)

    @property
    def period(self) -> float:
        """Tick period (s)."""
        return 1.0 / self.rate

    @classmethod
    def from_parameters(cls, parameters: dict[str, Any]) -> ControllerSettings:
        """Parse the node's nested parameters (as :func:`vla_ros.config.load_parameters` returns)."""
        return _settings(cls, parameters, CONTROLLER_NODE)

    @classmethod
    def load(
        cls, file_name: str = CONFIG_FILE, node_name: str = CONTROLLER_NODE, robot: str = DEFAULT_ROBOT
    ) -> ControllerSettings:
        """Load from ``robot``'s robot file and a parameter file under ``config/``."""
        return cls.from_parameters(load_parameters((str(robot_config_path(robot)), file_name), node_name))


@dataclass(frozen=True)
class BenchSettings:
    """Synthetic chunk traffic and sample sizes of ``vla-ros bench controller``."""

    chunk_rate: float
    chunk_horizon: int
    chunk_dt: float
    arrival_delay: float
    arrival_jitter: float
    live_chunks: int
    ensemble_repeats: int
    ik_poses: int
    random_seed: int

    def __post_init__(self) -> None:
        check_range("chunk_rate", self.chunk_rate, 0.0, 100.0, low_open=True)
        check_range("chunk_horizon", self.chunk_horizon, 2)
        check_range("chunk_dt", self.chunk_dt, 0.0, 1.0, low_open=True)
        check_range("arrival_delay", self.arrival_delay, 0.0, 10.0)
        check_range("arrival_jitter", self.arrival_jitter, 0.0, 10.0)
        for name in ("live_chunks", "ensemble_repeats", "ik_poses"):
            check_range(name, getattr(self, name), 1)
        check_range("random_seed", self.random_seed, 0)

    @classmethod
    def load(cls, file_name: str = CONFIG_FILE, section_name: str = BENCH_SECTION) -> BenchSettings:
        """Load from a parameter file under ``config/``."""
        return _settings(cls, load_parameters(file_name, section_name), section_name)
