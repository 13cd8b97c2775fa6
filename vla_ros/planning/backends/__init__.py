"""Planner backends: a local transformers model, an OpenAI-compatible server, an oracle, a file."""

from vla_ros.planning.backends.base import PlannerAnswer, PlannerBackend
from vla_ros.planning.backends.factory import make_backend
from vla_ros.planning.backends.oracle import OracleBackend, PathSource

__all__ = ["OracleBackend", "PathSource", "PlannerAnswer", "PlannerBackend", "make_backend"]
