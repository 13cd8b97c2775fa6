"""``config/planner_training.yaml``: the planner trainer's settings, validated."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vla_ros.config import ConfigError, from_dict, load_parameters
from vla_ros.training.planner.grounding import (
    GroundingConfig,
)
from vla_ros.training.planner.tiny_vlm import (
    TinyVlmSpec,
)

CONFIG_FILE = "planner_training"
NODE_NAME = "planner_training"


class TrainingConfigError(ConfigError):
    """The training parameters are missing, unknown or out of range."""


class TrainingError(RuntimeError):
    """Training cannot start or go on (for example, nothing to resume)."""


@dataclass(frozen=True)
class AugmentationConfig:
    """Random crop-and-resize (labels follow) and brightness/contrast jitter."""

    max_shift: float
    max_zoom: float
    brightness_jitter: float
    contrast_jitter: float

    def __post_init__(self) -> None:
        if not 0 <= self.max_shift < 0.5 or not 0 <= self.max_zoom < 0.5:
            raise ValueError("max_shift and max_zoom must be in [0, 0.5)")
        if not 0 <= self.brightness_jitter < 1 or not 0 <= self.contrast_jitter < 1:
            raise ValueError("brightness_jitter and contrast_jitter must be in [0, 1)")


@dataclass(frozen=True)
class PointingConfig:
    """Pointing turns after the path answer: "point to the red cube" -> "(x, y)" for every object."""

    enabled: bool
    prompt: str

    def __post_init__(self) -> None:
        if "{object}" not in self.prompt:
            raise ValueError(f"the pointing prompt must contain {{object}}, got {self.prompt!r}")


@dataclass(frozen=True)
class ValidationConfig:
    """Validation split and schedule."""

    fraction: float
    every: int
    max_episodes: int

    def __post_init__(self) -> None:
        if not 0 < self.fraction < 1:
            raise ValueError(f"validation fraction must be in (0, 1), got {self.fraction}")
        if self.every < 0 or self.max_episodes < 1:
            raise ValueError("validation every must be >= 0 and max_episodes >= 1")


@dataclass(frozen=True)
class TrainingConfig:
    """``config/planner_training.yaml``: model size, optimiser, schedule, augmentation, validation."""

    model: TinyVlmSpec
    batch_size: int
    learning_rate: float
    weight_decay: float
    warmup_steps: int
    max_steps: int
    grad_clip_norm: float
    checkpoint_every: int
    augmentation: AugmentationConfig
    pointing: PointingConfig
    grounding: GroundingConfig
    validation: ValidationConfig
    resample_points: int
    template_tokens: bool
    coordinate_sigma: float

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.max_steps < 1 or self.checkpoint_every < 1:
            raise ValueError("batch_size, max_steps and checkpoint_every must be at least 1")
        if self.learning_rate <= 0 or self.weight_decay < 0 or self.grad_clip_norm <= 0:
            raise ValueError("learning_rate and grad_clip_norm must be positive, weight_decay not negative")
        if not 0 <= self.warmup_steps < self.max_steps:
            raise ValueError("warmup_steps must be in [0, max_steps)")
        if self.coordinate_sigma < 0:
            raise ValueError(f"coordinate_sigma must not be negative, got {self.coordinate_sigma}")
        if self.resample_points < 2:
            raise ValueError(f"resample_points must be at least 2, got {self.resample_points}")


def load_training_config(file_names: str | Sequence[str] = CONFIG_FILE) -> TrainingConfig:
    """Load and validate the training configuration (default ``config/planner_training.yaml``;
    several files apply in order, later ones overriding earlier ones)."""
    return from_dict(TrainingConfig, load_parameters(file_names, NODE_NAME), NODE_NAME, TrainingConfigError)
