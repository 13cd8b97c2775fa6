"""Validated settings of the simulated workcell, parsed from ``config/sim.yaml`` (node ``simulator``)."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

from vla_ros.config import ConfigError, config_dir, from_dict, load_parameters
from vla_ros.robot.settings import RobotSettings
from vla_ros.robot.urdf import DEFAULT_ROBOT, robot_config_path

SIM_CONFIG_FILE = "sim.yaml"
SIM_NODE_NAME = "simulator"


class SimConfigError(ConfigError):
    """The simulator configuration has a missing or invalid value."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise SimConfigError(message)


def _is_interval(value: tuple[float, ...]) -> bool:
    """Whether ``value`` is ``[low, high]`` with ``low <= high``."""
    return len(value) == 2 and value[0] <= value[1]


@dataclasses.dataclass(frozen=True)
class PhysicsConfig:
    """Physics engine settings."""

    time_step: float
    solver_iterations: int
    gravity: float
    joint_position_gain: float
    joint_velocity_gain: float

    def __post_init__(self) -> None:
        _require(
            0.0 < self.time_step <= 0.02, f"physics.time_step must be in (0, 0.02] s, got {self.time_step}"
        )
        _require(self.solver_iterations > 0, "physics.solver_iterations must be positive")
        _require(self.joint_position_gain > 0.0, "physics.joint_position_gain must be positive")


@dataclasses.dataclass(frozen=True)
class GripperConfig:
    """The open / closed commands of the robot's gripper (its range, speed and force: the robot file)."""

    closed_width: float
    open_width: float
    closed_threshold: float

    def __post_init__(self) -> None:
        for name in ("closed_width", "open_width", "closed_threshold"):
            _require(getattr(self, name) >= 0.0, f"gripper.{name} must be >= 0")


@dataclasses.dataclass(frozen=True)
class WorkcellConfig:
    """The workcell description file and the names of its frames."""

    urdf: str
    table_link: str
    camera_link: str
    camera_optical_frame: str

    def urdf_path(self) -> Path:
        """Absolute path of the workcell URDF (``urdf/`` next to the config directory)."""
        path = Path(self.urdf)
        return path if path.is_absolute() else config_dir().parent / "urdf" / path


@dataclasses.dataclass(frozen=True)
class CameraConfig:
    """Pinhole RGB-D camera rendered by PyBullet's CPU renderer."""

    width: int
    height: int
    vertical_fov: float
    near: float
    far: float
    rate: float

    def __post_init__(self) -> None:
        _require(self.width > 0 and self.height > 0, "camera.width and camera.height must be positive")
        _require(
            0.05 < self.vertical_fov < 3.0, f"camera.vertical_fov must be in radians, got {self.vertical_fov}"
        )
        _require(0.0 < self.near < self.far, "camera.near must be positive and below camera.far")
        _require(self.rate > 0.0, "camera.rate must be positive")


@dataclasses.dataclass(frozen=True)
class ObjectsConfig:
    """Sizes and physical properties of the task objects."""

    friction: float
    cube_size: float
    cube_mass: float
    bowl_inner_size: float
    bowl_wall_height: float
    bowl_wall_thickness: float
    bowl_mass: float
    target_size: float
    button_base_size: float
    button_base_height: float
    button_cap_radius: float
    button_cap_height: float
    button_travel: float
    button_spring_force: float
    button_pressed_depth: float

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            _require(getattr(self, field.name) > 0.0, f"objects.{field.name} must be positive")
        _require(self.bowl_inner_size > self.cube_size * 1.5, "objects.bowl_inner_size must fit a cube")
        _require(
            self.button_pressed_depth < self.button_travel,
            "objects.button_pressed_depth must be below objects.button_travel",
        )


@dataclasses.dataclass(frozen=True)
class SplitConfig:
    """One variation split: placement ranges, distractor count, colours and camera perturbation."""

    held_out_colours: bool
    x_range: tuple[float, ...]
    y_range: tuple[float, ...]
    outside_train_range: bool
    distractors: tuple[int, ...]
    camera_translation: float
    camera_rotation: float

    def __post_init__(self) -> None:
        for name in ("x_range", "y_range", "distractors"):
            value = getattr(self, name)
            _require(_is_interval(value), f"split {name} must be [low, high], got {value}")
        _require(self.distractors[0] >= 0, "split distractors must be non-negative")
        _require(
            self.camera_translation >= 0.0 and self.camera_rotation >= 0.0,
            "split camera perturbations must be non-negative",
        )


@dataclasses.dataclass(frozen=True)
class SplitsConfig:
    """The train and held-out splits and the rules shared by both."""

    colour_holdout_modulus: int
    train: SplitConfig
    heldout: SplitConfig
    min_separation: float
    min_goal_distance: float

    def __post_init__(self) -> None:
        _require(self.colour_holdout_modulus >= 2, "splits.colour_holdout_modulus must be at least 2")

    def get(self, name: str) -> SplitConfig:
        """Return the split called ``name`` (``train`` or ``heldout``)."""
        if name not in SPLIT_NAMES:
            raise SimConfigError(f"unknown split {name!r}; expected one of {', '.join(SPLIT_NAMES)}")
        return typing.cast(SplitConfig, getattr(self, name))


SPLIT_NAMES: tuple[str, ...] = ("train", "heldout")


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """Language templates of one task (``{role}`` placeholders are filled with colour names)."""

    phrasings: tuple[str, ...]

    def __post_init__(self) -> None:
        _require(len(self.phrasings) > 0, "every task needs at least one phrasing")


@dataclasses.dataclass(frozen=True)
class SuccessConfig:
    """Tolerances of the success checks."""

    lift_height: float
    stack_xy_tolerance: float
    stack_z_tolerance: float


@dataclasses.dataclass(frozen=True)
class ExpertConfig:
    """The scripted expert: control rate, speeds, keypose offsets, IK and timing."""

    control_rate: float
    linear_speed: float
    angular_speed: float
    min_segment_time: float
    approach_height: float
    grasp_depth: float
    place_clearance: float
    push_gripper_width: float
    push_standoff: float
    push_height: float
    push_attempts: int
    recovery_push_turn: tuple[float, ...]
    recovery_push_shortfall: tuple[float, ...]
    press_depth: float
    gripper_time: float
    settle_time: float
    ik_iterations: int
    ik_damping: float
    ik_tolerance: float
    max_episode_time: float

    def __post_init__(self) -> None:
        _require(
            self.control_rate > 0.0 and self.linear_speed > 0.0 and self.angular_speed > 0.0,
            "expert rates and speeds must be positive",
        )
        _require(self.push_attempts >= 1 and self.ik_iterations >= 1, "expert counts must be at least 1")
        for name in ("recovery_push_turn", "recovery_push_shortfall"):
            low_high = getattr(self, name)
            _require(
                _is_interval(low_high) and low_high[0] >= 0.0,
                f"expert.{name} must be [low, high] with 0 <= low <= high, got {list(low_high)}",
            )


@dataclasses.dataclass(frozen=True)
class RecordingConfig:
    """Dataset recording and labelling settings."""

    depth_scale: float
    keyframe_velocity_threshold: float
    keyframe_stop_buffer: int
    path_rdp_epsilon: float

    def __post_init__(self) -> None:
        _require(self.depth_scale > 0.0, "recording.depth_scale must be positive")


@dataclasses.dataclass(frozen=True)
class SimConfig:
    """Everything the workcell, the task suite, the expert and the recorder are configured with."""

    physics: PhysicsConfig
    robot: RobotSettings
    gripper: GripperConfig
    workcell: WorkcellConfig
    camera: CameraConfig
    objects: ObjectsConfig
    colours: dict[str, tuple[float, ...]]
    splits: SplitsConfig
    tasks: dict[str, TaskConfig]
    success: SuccessConfig
    expert: ExpertConfig
    recording: RecordingConfig

    def __post_init__(self) -> None:
        max_width = self.robot.gripper.max_width
        for name in ("closed_width", "open_width", "closed_threshold"):
            value = getattr(self.gripper, name)
            _require(
                value <= max_width,
                f"gripper.{name} = {value} exceeds the robot's widest opening {max_width} m",
            )
        _require(len(self.colours) >= 4, "colours must name at least 4 colours")
        for name, rgba in self.colours.items():
            _require(
                len(rgba) == 4 and all(0.0 <= c <= 1.0 for c in rgba),
                f"colours.{name} must be RGBA in [0, 1], got {rgba}",
            )

    def with_camera_perturbation(self, split: str, translation: float, rotation: float) -> SimConfig:
        """This configuration with ``split``'s camera perturbation replaced (m and rad, uniform per axis).

        For training data only (a planner that tolerates a camera mounted a little off): the splits'
        own values in sim.yaml are what evaluation uses.
        """
        changed = dataclasses.replace(
            self.splits.get(split), camera_translation=translation, camera_rotation=rotation
        )
        return dataclasses.replace(self, splits=dataclasses.replace(self.splits, **{split: changed}))


# top-level parameters that belong to the ROS node around the core (parsed there, not here)
NODE_ONLY_KEYS: tuple[str, ...] = ("interface", "faults", "use_sim_time")


def sim_config_from_dict(parameters: dict[str, Any]) -> SimConfig:
    """Parse and validate the simulator's parameters (as returned by ``load_parameters``).

    The keys in :data:`NODE_ONLY_KEYS` are left to the node; any other unknown key is an error.
    """
    core = {key: value for key, value in parameters.items() if key not in NODE_ONLY_KEYS}
    return from_dict(SimConfig, core, SIM_NODE_NAME, SimConfigError)


def load_sim_config(file_name: str = SIM_CONFIG_FILE, robot: str = DEFAULT_ROBOT) -> SimConfig:
    """Load and validate the simulator configuration: ``robot``'s robot file, then ``file_name``."""
    return sim_config_from_dict(load_parameters((str(robot_config_path(robot)), file_name), SIM_NODE_NAME))
