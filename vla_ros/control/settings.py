"""Validated parameters of ``config/control.yaml`` (one dataclass per section, clear errors)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from vla_ros.config import load_parameters
from vla_ros.control.errors import ControlConfigError
from vla_ros.robot.urdf import ROBOT_CONFIG_FILE

CONFIG_FILE = "control"
EXECUTOR_NODE = "chunk_executor"
CONTROLLER_NODE = "ensembling_controller"
BENCH_SECTION = "bench_control"
MAX_CONTROL_RATE = 500.0


class _Section:
    """Typed, range-checked access to one mapping of parameters; errors name the full key."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, dict):
            raise ControlConfigError(f"parameter '{path}' must be a mapping, got {type(data).__name__}")
        self._data = data
        self._path = path

    def _key(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def _raw(self, key: str) -> Any:
        if key not in self._data:
            raise ControlConfigError(f"missing parameter '{self._key(key)}'")
        return self._data[key]

    def section(self, key: str) -> _Section:
        return _Section(self._raw(key), self._key(key))

    def number(
        self, key: str, low: float = -math.inf, high: float = math.inf, *, low_open: bool = False
    ) -> float:
        value = self._raw(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ControlConfigError(f"parameter '{self._key(key)}' must be a finite number, got {value!r}")
        if value < low or value > high or (low_open and value == low):
            bound = "(" if low_open else "["
            raise ControlConfigError(
                f"parameter '{self._key(key)}' = {value} is outside {bound}{low}, {high}]"
            )
        return float(value)

    def integer(self, key: str, low: int = 0, high: int | None = None) -> int:
        value = self._raw(key)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < low
            or (high is not None and value > high)
        ):
            bounds = f"in [{low}, {high}]" if high is not None else f">= {low}"
            raise ControlConfigError(
                f"parameter '{self._key(key)}' must be an integer {bounds}, got {value!r}"
            )
        return value

    def text(self, key: str, allow_empty: bool = False) -> str:
        value = self._raw(key)
        if not isinstance(value, str) or (not allow_empty and not value):
            raise ControlConfigError(
                f"parameter '{self._key(key)}' must be a non-empty string, got {value!r}"
            )
        return value

    def flag(self, key: str) -> bool:
        value = self._raw(key)
        if not isinstance(value, bool):
            raise ControlConfigError(f"parameter '{self._key(key)}' must be true or false, got {value!r}")
        return value

    def numbers(self, key: str, length: int | None = None, low: float = -math.inf) -> tuple[float, ...]:
        value = self._raw(key)
        ok = isinstance(value, list) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= low
            for v in value
        )
        if not ok or (length is not None and len(value) != length):
            size = f"{length} " if length is not None else ""
            raise ControlConfigError(
                f"parameter '{self._key(key)}' must be a list of {size}finite numbers >= {low}, got {value!r}"
            )
        return tuple(float(v) for v in value)

    def names(self, key: str) -> tuple[str, ...]:
        value = self._raw(key)
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v for v in value)
            or len(set(value)) != len(value)
        ):
            raise ControlConfigError(
                f"parameter '{self._key(key)}' must be a list of unique names, got {value!r}"
            )
        return tuple(value)


@dataclass(frozen=True)
class RobotSettings:
    """The arm: URDF, controlled joints, TCP definition and acceleration limits."""

    urdf_path: str
    base_frame: str
    arm_joints: tuple[str, ...]
    tcp_parent_link: str
    tcp_offset_xyz: tuple[float, float, float]
    tcp_offset_rpy: tuple[float, float, float]
    acceleration_limits: tuple[float, ...]
    position_margin: float

    @classmethod
    def from_section(cls, section: _Section) -> RobotSettings:
        joints = section.names("arm_joints")
        accelerations = section.numbers("acceleration_limits", len(joints))
        if min(accelerations) <= 0.0:
            raise ControlConfigError("parameter 'robot.acceleration_limits' must be > 0 for every joint")
        return cls(
            urdf_path=section.text("urdf_path", allow_empty=True),
            base_frame=section.text("base_frame"),
            arm_joints=joints,
            tcp_parent_link=section.text("tcp_parent_link"),
            tcp_offset_xyz=section.numbers("tcp_offset_xyz", 3),  # type: ignore[arg-type]
            tcp_offset_rpy=section.numbers("tcp_offset_rpy", 3),  # type: ignore[arg-type]
            acceleration_limits=accelerations,
            position_margin=section.number("position_margin", 0.0, 0.5),
        )


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

    @classmethod
    def from_section(cls, section: _Section) -> IKSettings:
        settings = cls(
            max_iterations=section.integer("max_iterations", 1),
            damping=section.number("damping", 0.0, 1.0, low_open=True),
            step_size=section.number("step_size", 0.0, 1.0, low_open=True),
            max_step=section.number("max_step", 0.0, math.pi, low_open=True),
            position_tolerance=section.number("position_tolerance", 0.0, 0.1, low_open=True),
            orientation_tolerance=section.number("orientation_tolerance", 0.0, 0.5, low_open=True),
            accept_position_tolerance=section.number("accept_position_tolerance", 0.0, 0.1, low_open=True),
            accept_orientation_tolerance=section.number(
                "accept_orientation_tolerance", 0.0, 0.5, low_open=True
            ),
            restarts=section.integer("restarts", 0),
            random_seed=section.integer("random_seed", 0),
        )
        if (
            settings.position_tolerance > settings.accept_position_tolerance
            or settings.orientation_tolerance > settings.accept_orientation_tolerance
        ):
            raise ControlConfigError("ik: the convergence tolerances must not exceed the accept tolerances")
        return settings


@dataclass(frozen=True)
class MotionSettings:
    """Fractions of the robot's limits the planner plans within."""

    velocity_scale: float
    acceleration_scale: float
    min_segment_duration: float
    replan_tolerance: float
    tracking_lag: float

    @classmethod
    def from_section(cls, section: _Section) -> MotionSettings:
        return cls(
            velocity_scale=section.number("velocity_scale", 0.0, 1.0, low_open=True),
            acceleration_scale=section.number("acceleration_scale", 0.0, 1.0, low_open=True),
            min_segment_duration=section.number("min_segment_duration", 0.0, 10.0, low_open=True),
            replan_tolerance=section.number("replan_tolerance", 0.0, 1.0),
            tracking_lag=section.number("tracking_lag", 0.0, 2.0),
        )


@dataclass(frozen=True)
class GraspSettings:
    """Approach/retreat distances along the TCP z axis and gripper dwell times."""

    approach_distance: float
    retreat_distance: float
    path_step: float
    gripper_close_time: float
    gripper_open_time: float

    @classmethod
    def from_section(cls, section: _Section) -> GraspSettings:
        return cls(
            approach_distance=section.number("approach_distance", 0.0, 0.5),
            retreat_distance=section.number("retreat_distance", 0.0, 0.5),
            path_step=section.number("path_step", 0.0, 0.1, low_open=True),
            gripper_close_time=section.number("gripper_close_time", 0.0, 10.0),
            gripper_open_time=section.number("gripper_open_time", 0.0, 10.0),
        )


@dataclass(frozen=True)
class ChunkSettings:
    """Shape and cadence of the chunks the executor publishes."""

    horizon: int
    dt: float
    replan_rate: float
    source: str

    @classmethod
    def from_section(cls, section: _Section) -> ChunkSettings:
        return cls(
            horizon=section.integer("horizon", 1),
            dt=section.number("dt", 0.0, 1.0, low_open=True),
            replan_rate=section.number("replan_rate", 0.0, 100.0, low_open=True),
            source=section.text("source"),
        )


@dataclass(frozen=True)
class KeyframeTolerance:
    """When a keyframe counts as reached."""

    position_tolerance: float
    orientation_tolerance: float
    joint_velocity_tolerance: float

    @classmethod
    def from_section(cls, section: _Section) -> KeyframeTolerance:
        return cls(
            position_tolerance=section.number("position_tolerance", 0.0, 1.0, low_open=True),
            orientation_tolerance=section.number("orientation_tolerance", 0.0, math.pi, low_open=True),
            joint_velocity_tolerance=section.number("joint_velocity_tolerance", 0.0, 10.0, low_open=True),
        )


@dataclass(frozen=True)
class WorkspaceSettings:
    """Axis-aligned box (base frame, metres) that Cartesian targets must lie in."""

    lower: tuple[float, float, float]
    upper: tuple[float, float, float]

    @classmethod
    def from_section(cls, section: _Section) -> WorkspaceSettings:
        lower = section.numbers("lower", 3)
        upper = section.numbers("upper", 3)
        if any(lo >= hi for lo, hi in zip(lower, upper, strict=True)):
            raise ControlConfigError(f"workspace: lower {lower} must be below upper {upper} on every axis")
        return cls(lower=lower, upper=upper)  # type: ignore[arg-type]


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
        root = _Section(parameters, "")
        return cls(
            robot=RobotSettings.from_section(root.section("robot")),
            ik=IKSettings.from_section(root.section("ik")),
            motion=MotionSettings.from_section(root.section("motion")),
            grasp=GraspSettings.from_section(root.section("grasp")),
            chunk=ChunkSettings.from_section(root.section("chunk")),
            keyframe_reached=KeyframeTolerance.from_section(root.section("keyframe_reached")),
            workspace=WorkspaceSettings.from_section(root.section("workspace")),
        )

    @classmethod
    def load(cls, file_name: str = CONFIG_FILE, node_name: str = EXECUTOR_NODE) -> ExecutorSettings:
        """Load from a parameter file under ``config/``."""
        return cls.from_parameters(load_parameters((ROBOT_CONFIG_FILE, file_name), node_name))


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

    @classmethod
    def from_section(cls, section: _Section) -> SafetySettings:
        return cls(
            velocity_scale=section.number("velocity_scale", 0.0, 1.0, low_open=True),
            acceleration_scale=section.number("acceleration_scale", 0.0, 1.0, low_open=True),
            stale_timeout=section.number("stale_timeout", 0.0, 10.0, low_open=True),
            joint_state_timeout=section.number("joint_state_timeout", 0.0, 10.0, low_open=True),
            clock_timeout=section.number("clock_timeout", 0.0, 10.0, low_open=True),
            heartbeat_timeout=section.number("heartbeat_timeout", 0.0, 10.0),
            rest_speed=section.number("rest_speed", 0.0, 1.0, low_open=True),
            enabled_at_start=section.flag("enabled_at_start"),
        )


@dataclass(frozen=True)
class PreviewSettings:
    """Future ensembled points streamed to joint_trajectory_controller."""

    points: int
    step: float

    @classmethod
    def from_section(cls, section: _Section) -> PreviewSettings:
        return cls(points=section.integer("points", 1), step=section.number("step", 0.0, 1.0, low_open=True))


@dataclass(frozen=True)
class ControllerSettings:
    """Everything the temporal-ensembling controller needs."""

    robot: RobotSettings
    rate: float
    realtime_priority: int
    m: float
    safety: SafetySettings
    preview: PreviewSettings

    @property
    def period(self) -> float:
        """Tick period (s)."""
        return 1.0 / self.rate

    @classmethod
    def from_parameters(cls, parameters: dict[str, Any]) -> ControllerSettings:
        """Parse the node's nested parameters (as :func:`vla_ros.config.load_parameters` returns)."""
        root = _Section(parameters, "")
        return cls(
            robot=RobotSettings.from_section(root.section("robot")),
            rate=root.number("rate", 0.0, MAX_CONTROL_RATE, low_open=True),
            realtime_priority=root.integer("realtime_priority", 0, 99),
            m=root.section("ensembling").number("m", -10.0, 10.0),
            safety=SafetySettings.from_section(root.section("safety")),
            preview=PreviewSettings.from_section(root.section("preview")),
        )

    @classmethod
    def load(cls, file_name: str = CONFIG_FILE, node_name: str = CONTROLLER_NODE) -> ControllerSettings:
        """Load from a parameter file under ``config/``."""
        return cls.from_parameters(load_parameters((ROBOT_CONFIG_FILE, file_name), node_name))


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

    @classmethod
    def load(cls, file_name: str = CONFIG_FILE, section_name: str = BENCH_SECTION) -> BenchSettings:
        """Load from a parameter file under ``config/``."""
        section = _Section(load_parameters((ROBOT_CONFIG_FILE, file_name), section_name), "")
        return cls(
            chunk_rate=section.number("chunk_rate", 0.0, 100.0, low_open=True),
            chunk_horizon=section.integer("chunk_horizon", 2),
            chunk_dt=section.number("chunk_dt", 0.0, 1.0, low_open=True),
            arrival_delay=section.number("arrival_delay", 0.0, 10.0),
            arrival_jitter=section.number("arrival_jitter", 0.0, 10.0),
            live_chunks=section.integer("live_chunks", 1),
            ensemble_repeats=section.integer("ensemble_repeats", 1),
            ik_poses=section.integer("ik_poses", 1),
            random_seed=section.integer("random_seed", 0),
        )
