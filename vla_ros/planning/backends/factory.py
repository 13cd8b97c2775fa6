"""Making the backend the configuration names."""

from __future__ import annotations

from vla_ros.planning.backends.base import PlannerBackend
from vla_ros.planning.backends.oracle import OracleBackend, PathSource
from vla_ros.planning.path import PlannedPath
from vla_ros.planning.settings import PlannerConfig


def make_backend(
    config: PlannerConfig, oracle_source: PlannedPath | PathSource | None = None
) -> PlannerBackend:
    """Make the backend named by ``config.backend``.

    ``oracle_source`` is the oracle's path (or a callable returning it); it can also be set later
    with :meth:`OracleBackend.set_source`. The transformers backend (and torch) is imported only
    when chosen.
    """
    if config.backend == "oracle":
        return OracleBackend(oracle_source, config.answer_decimals)
    if config.backend == "file":
        from vla_ros.planning.backends.file import FileBackend

        return FileBackend(config.file.path, config.answer_decimals)
    if config.backend == "openai":
        from vla_ros.planning.backends.openai_chat import OpenAIChatBackend

        return OpenAIChatBackend(config.openai)
    from vla_ros.planning.backends.transformers_local import TransformersBackend

    return TransformersBackend(config.transformers)
