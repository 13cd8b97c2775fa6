"""The policy's configuration: ``config/policy.yaml`` parsed into validated dataclasses."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from vla_ros.config import ConfigError, from_dict, load_parameters
from vla_ros.planning.drawing import DrawingStyle
from vla_ros.policy.rendering import VIEWS
from vla_ros.robot.urdf import DEFAULT_ROBOT, robot_config_path

CONFIG_FILE = "policy"
NODE_NAME = "keyframe_policy"
# Top-level parameters that belong to the ROS node around the core (parsed there, not here), and the
# shared robot section.
NODE_ONLY_KEYS = ("interface", "use_sim_time", "robot")


class PolicyConfigError(ConfigError):
    """The policy's parameters are missing, unknown or out of range."""


@dataclass(frozen=True)
class SceneConfig:
    """The workspace cube the cloud is cropped to, and the cloud's density."""

    centre: tuple[float, float, float]
    half_size: float
    voxel_size: float
    max_points: int
    min_points: int

    def __post_init__(self) -> None:
        if self.half_size <= 0 or self.voxel_size <= 0:
            raise ValueError("half_size and voxel_size must be positive")
        if not 0 < self.min_points <= self.max_points:
            raise ValueError(f"need 0 < min_points <= max_points, got {self.min_points}, {self.max_points}")


@dataclass(frozen=True)
class PathChannelsConfig:
    """How the 2D path is rasterised into channels on the camera image (see config/policy.yaml)."""

    num_samples: int
    line_width: float
    circle_radius: float
    reference_size: int

    def style(self) -> DrawingStyle:
        """The planner's drawing style with these sizes."""
        return DrawingStyle(self.num_samples, self.line_width, self.circle_radius, self.reference_size)


@dataclass(frozen=True)
class ModelConfig:
    """Views and network sizes (stored in checkpoints; must match at load time)."""

    views: tuple[str, ...]
    image_size: int
    patch_size: int
    width: int
    heads: int
    view_layers: int
    cross_layers: int
    decoder_channels: int
    fine_zoom: float
    rotation_bins: int
    max_keyframes: int
    language_dim: int

    def __post_init__(self) -> None:
        unknown = [view for view in self.views if view not in VIEWS]
        if unknown or len(self.views) < 3 or len(set(self.views)) != len(self.views):
            raise ValueError(f"views must be 3 or more distinct names of {sorted(VIEWS)}, got {self.views}")
        if self.image_size % self.patch_size:
            raise ValueError(
                f"image_size {self.image_size} must be a multiple of patch_size {self.patch_size}"
            )
        if self.width % self.heads:
            raise ValueError(f"width {self.width} must be a multiple of heads {self.heads}")
        if self.fine_zoom <= 1.0:
            raise ValueError(
                f"fine_zoom must be above 1 (the fine cube's shrink factor), got {self.fine_zoom}"
            )
        if self.rotation_bins < 4 or self.max_keyframes < 1 or self.language_dim < 1:
            raise ValueError("rotation_bins >= 4, max_keyframes >= 1 and language_dim >= 1 are needed")


@dataclass(frozen=True)
class LiftingConfig:
    """Coarse-to-fine search for the 3D point that all heatmaps agree on."""

    coarse_points: int
    refine_steps: int
    refine_points: int

    def __post_init__(self) -> None:
        if self.coarse_points < 2 or self.refine_steps < 0 or self.refine_points < 3:
            raise ValueError("need coarse_points >= 2, refine_steps >= 0, refine_points >= 3")


@dataclass(frozen=True)
class EpisodeConfig:
    """Limits of one instruction's execution (node and closed-loop evaluation)."""

    max_keyframes: int
    keyframe_timeout: float
    max_attempts: int
    """Attempts at one keyframe in the ROS graph (a failed prediction, a keyframe the executor rejects or
    does not reach within ``keyframe_timeout`` is re-predicted from a fresh frame) before giving up."""

    def __post_init__(self) -> None:
        if self.max_keyframes < 1 or self.keyframe_timeout <= 0 or self.max_attempts < 1:
            raise ValueError("max_keyframes, keyframe_timeout and max_attempts must be positive")


@dataclass(frozen=True)
class LabelConfig:
    """How training labels are derived from demonstrations."""

    contact_height: float


@dataclass(frozen=True)
class PathNoiseConfig:
    """Planner errors simulated in training: with ``probability`` a sample's path moves, past its start
    point, by one offset drawn per sample plus a jitter per point (both Gaussian, standard deviations
    in normalised image units), so the policy learns to take the path as a hint, not as the target."""

    probability: float
    offset: float
    jitter: float

    def __post_init__(self) -> None:
        if not 0 <= self.probability <= 1 or self.offset < 0 or self.jitter < 0:
            raise ValueError("path_noise probability must be in [0, 1], offset and jitter not negative")


@dataclass(frozen=True)
class TrainingConfig:
    """Optimisation, targets and augmentation of ``vla-ros train-policy``."""

    steps: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    warmup_steps: int
    heatmap_sigma: float
    augment_translation: tuple[float, float, float]
    augment_yaw: float
    colour_jitter: float
    fine_centre_noise: float
    intermediate_every: int
    intermediate_fraction: float
    planner_paths: float
    twin_rotation_loss: bool
    path_noise: PathNoiseConfig
    validation_every: int
    checkpoint_every: int
    seed: int

    def __post_init__(self) -> None:
        if min(self.steps, self.batch_size, self.validation_every, self.checkpoint_every) < 1:
            raise ValueError("steps, batch_size, validation_every and checkpoint_every must be positive")
        if self.learning_rate <= 0 or self.heatmap_sigma <= 0:
            raise ValueError("learning_rate and heatmap_sigma must be positive")
        if min(*self.augment_translation, self.augment_yaw, self.colour_jitter, self.fine_centre_noise) < 0:
            raise ValueError("augmentation ranges and fine_centre_noise must not be negative")
        if self.warmup_steps < 0 or self.intermediate_every < 0:
            raise ValueError("warmup_steps and intermediate_every must not be negative")
        if not 0 < self.intermediate_fraction <= 1:
            raise ValueError(f"intermediate_fraction must be in (0, 1], got {self.intermediate_fraction}")
        if not 0 <= self.planner_paths <= 1:
            raise ValueError(f"planner_paths is a probability, got {self.planner_paths}")


@dataclass(frozen=True)
class PolicyConfig:
    """Everything the ROS-free policy needs."""

    checkpoint: str
    device: str
    cpu_threads: int
    scene: SceneConfig
    path_channels: PathChannelsConfig
    model: ModelConfig
    lifting: LiftingConfig
    episode: EpisodeConfig
    labels: LabelConfig
    training: TrainingConfig

    def __post_init__(self) -> None:
        if not (self.device == "cpu" or self.device.startswith("cuda")):
            raise ValueError(f"device must be cpu, cuda or cuda:N, got {self.device!r}")
        if self.cpu_threads < 0:
            raise ValueError(f"cpu_threads must be 0 (torch's default) or positive, got {self.cpu_threads}")

    def architecture(self) -> dict[str, Any]:
        """The sections a checkpoint must agree on (its inputs and architecture), as plain data."""
        return {name: _plain(asdict(getattr(self, name))) for name in ("scene", "path_channels", "model")}

    @classmethod
    def from_parameters(cls, parameters: dict[str, Any]) -> PolicyConfig:
        """Build and validate from the node's nested parameters (node-only keys are ignored). An empty
        ``checkpoint`` is the robot file's ``robot.policy_checkpoint``: the policy trained for that robot."""
        core = {key: value for key, value in parameters.items() if key not in NODE_ONLY_KEYS}
        if core.get("checkpoint") == "":
            core["checkpoint"] = parameters.get("robot", {}).get("policy_checkpoint", "")
        if core.get("checkpoint") == "":
            raise PolicyConfigError(
                f"{NODE_NAME}.checkpoint is empty and the robot file names no policy_checkpoint"
            )
        return from_dict(cls, core, NODE_NAME, PolicyConfigError)


def _plain(value: Any) -> Any:
    """Tuples to lists, recursively (so a stored architecture compares equal after a JSON round trip)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def load_policy_config(
    file_name: str = CONFIG_FILE, node_name: str = NODE_NAME, robot: str = DEFAULT_ROBOT
) -> PolicyConfig:
    """Load and validate the policy configuration (``robot``'s robot file, then ``file_name``)."""
    return PolicyConfig.from_parameters(
        load_parameters((str(robot_config_path(robot)), file_name), node_name)
    )
