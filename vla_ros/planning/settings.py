"""The planner's configuration: ``config/planner.yaml`` parsed into validated dataclasses.

Every key of the file is required and unknown keys are rejected, so the YAML file stays the one
source of the values the planner runs with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vla_ros.config import ConfigError, from_dict, load_parameters
from vla_ros.planning.drawing import DrawingStyle
from vla_ros.planning.hamster_format import INSTRUCTION_PLACEHOLDER, ParseOptions
from vla_ros.robot.urdf import DEFAULT_ROBOT, robot_config_path

BACKENDS = ("transformers", "openai", "oracle", "file")
DTYPES = ("auto", "float32", "float16", "bfloat16")
CONFIG_FILE = "planner"
NODE_NAME = "planner"
# Top-level parameters that belong to the ROS node around the core (parsed there, not here).
NODE_ONLY_KEYS = ("interface", "use_sim_time", "robot")


class PlannerConfigError(ConfigError):
    """The planner's parameters are missing, unknown or out of range."""


@dataclass(frozen=True)
class TransformersBackendConfig:
    """A local image-text-to-text model directory and how to run it."""

    model_dir: str
    device: str
    dtype: str
    max_new_tokens: int
    do_sample: bool
    temperature: float
    retry_temperature: float
    cpu_threads: int

    def __post_init__(self) -> None:
        if self.cpu_threads < 0:
            raise ValueError(f"cpu_threads must be 0 (torch's default) or positive, got {self.cpu_threads}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if self.do_sample and self.temperature <= 0:
            raise ValueError("temperature must be positive when do_sample is true")
        if self.retry_temperature < 0:
            raise ValueError(
                f"retry_temperature must be 0 (no sampled retry) or positive, got {self.retry_temperature}"
            )


@dataclass(frozen=True)
class OpenAIBackendConfig:
    """An OpenAI-compatible chat-completions server (vLLM, SGLang, HAMSTER's own server)."""

    base_url: str
    endpoint: str
    model: str
    api_key_env: str
    timeout_s: float
    max_retries: int
    retry_backoff_s: float
    temperature: float
    max_tokens: int
    jpeg_quality: int

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {self.base_url!r}")
        if not self.endpoint.startswith("/"):
            raise ValueError(f"endpoint must start with '/', got {self.endpoint!r}")
        if self.timeout_s <= 0 or self.retry_backoff_s < 0 or self.max_retries < 0:
            raise ValueError("timeout_s must be positive, retry_backoff_s and max_retries not negative")
        if self.max_tokens < 1 or self.temperature < 0:
            raise ValueError("max_tokens must be at least 1 and temperature not negative")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be in [1, 100], got {self.jpeg_quality}")


@dataclass(frozen=True)
class FileBackendConfig:
    """A recorded answer to replay: a text file with the answer, or JSON (see FileBackend)."""

    path: str


@dataclass(frozen=True)
class PlannerConfig:
    """Everything the planner core needs: backend choice, prompt, parsing, retries and drawing."""

    backend: str
    max_attempts: int
    prompt_template: str
    answer_decimals: int
    parser: ParseOptions
    drawing: DrawingStyle
    transformers: TransformersBackendConfig
    openai: OpenAIBackendConfig
    file: FileBackendConfig

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if INSTRUCTION_PLACEHOLDER not in self.prompt_template:
            raise ValueError(f"prompt_template must hold the {INSTRUCTION_PLACEHOLDER} placeholder")
        if not 0 <= self.answer_decimals <= 6:
            raise ValueError(f"answer_decimals must be in [0, 6], got {self.answer_decimals}")

    @classmethod
    def from_parameters(cls, parameters: dict[str, Any]) -> PlannerConfig:
        """Build and validate the configuration from the planner node's (nested) parameters.

        The keys of :data:`NODE_ONLY_KEYS` are left to the node; any other unknown key is an error. An
        empty ``transformers.model_dir`` is the robot file's ``robot.planner_model``: the planner trained
        on that robot's images.
        """
        core = {key: value for key, value in parameters.items() if key not in NODE_ONLY_KEYS}
        transformers = core.get("transformers")
        if isinstance(transformers, dict) and transformers.get("model_dir") == "":
            robot_model = parameters.get("robot", {}).get("planner_model", "")
            core["transformers"] = {**transformers, "model_dir": robot_model}
        config = from_dict(cls, core, "planner", PlannerConfigError)
        if config.backend == "transformers" and not config.transformers.model_dir:
            raise PlannerConfigError(
                "planner.transformers.model_dir is empty and the robot file names no planner_model"
            )
        return config


def load_planner_config(
    file_name: str = CONFIG_FILE, node_name: str = NODE_NAME, robot: str = DEFAULT_ROBOT
) -> PlannerConfig:
    """Load and validate the planner configuration from ``robot``'s robot file and a YAML parameter file
    (default planner.yaml)."""
    files = (str(robot_config_path(robot)), file_name)
    return PlannerConfig.from_parameters(load_parameters(files, node_name))
