"""The HAMSTER-style planner core (no ROS): prompt, backends, answer parsing and path drawing.

Typical use::

    config = load_planner_config()              # config/planner.yaml
    planner = Planner.from_config(config)
    result = planner.plan(image_rgb, "put the red cube in the bowl")
    overlay = draw_path(image_rgb, result.path, config.drawing)
"""

from vla_ros.planning.backends import OracleBackend, PlannerAnswer, PlannerBackend, make_backend
from vla_ros.planning.drawing import DrawingStyle, draw_path, jet_colormap, rasterize_path_channels
from vla_ros.planning.errors import (
    BackendError,
    PathParseError,
    PlannerError,
    PlanningFailedError,
)
from vla_ros.planning.hamster_format import ParseOptions, build_prompt, format_answer, parse_answer
from vla_ros.planning.path import PlannedPath
from vla_ros.planning.planner import Planner, PlanResult, PlanStats
from vla_ros.planning.settings import PlannerConfig, PlannerConfigError, load_planner_config

__all__ = [
    "BackendError",
    "DrawingStyle",
    "OracleBackend",
    "ParseOptions",
    "PathParseError",
    "PlanResult",
    "PlanStats",
    "PlannedPath",
    "Planner",
    "PlannerAnswer",
    "PlannerBackend",
    "PlannerConfig",
    "PlannerConfigError",
    "PlannerError",
    "PlanningFailedError",
    "build_prompt",
    "draw_path",
    "format_answer",
    "jet_colormap",
    "load_planner_config",
    "make_backend",
    "parse_answer",
    "rasterize_path_channels",
]
