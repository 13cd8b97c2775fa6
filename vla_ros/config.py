"""The package's configuration: YAML parameter files under ``config/``.

The files use the ROS 2 parameter-file layout, so the launch file and ``--ros-args --params-file``
read them unchanged, and the ROS-free code reads the same values through :func:`load_parameters`::

    /**:                      # applies to every node
      ros__parameters: {...}
    planner:                  # applies to the node named "planner"
      ros__parameters: {...}
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

PACKAGE_NAME = "vla_ros"
CONFIG_DIR_ENV = "VLA_ROS_CONFIG_DIR"
_WILDCARD = "/**"
T = TypeVar("T")
_PARAMETERS_KEY = "ros__parameters"


class ConfigError(ValueError):
    """A configuration file is missing or malformed."""


def config_dir() -> Path:
    """Return the directory that holds the YAML configuration files.

    Looked up, first match wins: ``$VLA_ROS_CONFIG_DIR``; the source tree next to this package
    (also reached through colcon's ``--symlink-install``); ``<prefix>/share/vla_ros/config`` of the
    ament install or of a pip install.
    """
    candidates = []
    if os.environ.get(CONFIG_DIR_ENV):
        candidates.append(Path(os.environ[CONFIG_DIR_ENV]))
    candidates.append(Path(__file__).resolve().parent.parent / "config")
    # <prefix>/lib/pythonX.Y/site-packages/vla_ros/config.py -> <prefix>/share/vla_ros/config
    installed_parents = Path(__file__).parents
    if len(installed_parents) > 4:
        candidates.append(installed_parents[4] / "share" / PACKAGE_NAME / "config")
    candidates.append(Path(sys.prefix) / "share" / PACKAGE_NAME / "config")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise ConfigError(
        "cannot find the vla_ros config directory; looked in "
        + ", ".join(str(c) for c in candidates)
        + f" (set {CONFIG_DIR_ENV} to point at it)"
    )


def resolve_package_path(path: str) -> Path:
    """A path as given when it exists or is absolute, else relative to the package's share directory
    (the parent of :func:`config_dir`), where the shipped models install: ``models/policy/policy.pt``."""
    candidate = Path(path).expanduser()
    if not candidate.is_absolute() and not candidate.exists():
        candidate = config_dir().parent / candidate
    return candidate


def config_path(name: str) -> Path:
    """Return the path of a config file given its name (``"sim"`` or ``"sim.yaml"``) or a path."""
    path = Path(name)
    if path.suffix not in (".yaml", ".yml"):
        path = path.with_suffix(".yaml")
    if not path.is_absolute() and not path.exists():
        path = config_dir() / path
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    return path


def load_yaml(name: str) -> dict[str, Any]:
    """Load a YAML file from the config directory (or a path) as a dict."""
    path = config_path(name)
    with path.open() as stream:
        try:
            data = yaml.safe_load(stream)
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML: {error}") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def load_parameters(names: str | Sequence[str], node_name: str) -> dict[str, Any]:
    """Return the parameters a node gets from one or several parameter files, as a nested dict.

    Files apply in order, later ones overriding earlier ones (as several ``--params-file`` do); in each,
    the ``/**`` section applies first, then the node's own section (by its name, with or without a
    leading slash or namespace), as ROS 2 does when it loads the file.
    """
    files = [names] if isinstance(names, str) else list(names)
    parameters: dict[str, Any] = {}
    matched = False
    for name in files:
        for key, section in load_yaml(name).items():
            key_name = str(key).strip("/").rsplit("/", 1)[-1]
            if key != _WILDCARD and key_name != node_name:
                continue
            if not isinstance(section, dict) or _PARAMETERS_KEY not in section:
                raise ConfigError(f"{config_path(name)}: section {key!r} has no '{_PARAMETERS_KEY}' mapping")
            _merge(parameters, section[_PARAMETERS_KEY] or {})
            matched = True
    if not matched:
        paths = ", ".join(str(config_path(name)) for name in files)
        raise ConfigError(f"{paths}: no parameters for node {node_name!r}")
    return parameters


def flatten(parameters: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested parameters into ROS 2's dotted names: ``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in parameters.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`flatten`: ``{"a.b": 1}`` -> ``{"a": {"b": 1}}``."""
    nested: dict[str, Any] = {}
    for name, value in flat.items():
        *parents, leaf = name.split(".")
        level = nested
        for parent in parents:
            level = level.setdefault(parent, {})
        level[leaf] = value
    return nested


def check_range(
    name: str, value: float, low: float = -math.inf, high: float = math.inf, *, low_open: bool = False
) -> None:
    """Raise ValueError naming ``name`` unless ``value`` is finite and in [low, high] ((low, high] when
    ``low_open``); for ``__post_init__`` checks of dataclasses built by :func:`from_dict`."""
    if not math.isfinite(value) or value < low or value > high or (low_open and value == low):
        bound = "(" if low_open else "["
        raise ValueError(f"{name} = {value} is outside {bound}{low}, {high}]")


def check_names(name: str, names: Sequence[str]) -> None:
    """Raise ValueError naming ``name`` unless ``names`` is a non-empty list of unique non-empty names."""
    if not names or not all(names) or len(set(names)) != len(names):
        raise ValueError(f"{name} must be a non-empty list of unique names, got {list(names)}")


def from_dict(kind: type[T], value: Any, where: str, error: type[ConfigError] = ConfigError) -> T:
    """Build the (frozen) dataclass ``kind`` from nested parameters, checking every key and type.

    Supports dataclass, ``dict[str, X]``, ``tuple[X, ...]``, fixed ``tuple[X, Y]``, bool, int, float
    (ints accepted) and str fields. Missing or unknown keys, values of the wrong type and a ValueError
    from a dataclass's ``__post_init__`` raise ``error`` (a ConfigError) naming the dotted path ``where``.
    """
    origin = typing.get_origin(kind)
    if dataclasses.is_dataclass(kind):
        if not isinstance(value, dict):
            raise error(f"{where}: expected a mapping, got {value!r}")
        hints = typing.get_type_hints(kind)
        names = [field.name for field in dataclasses.fields(kind)]
        missing = [name for name in names if name not in value]
        unknown = [key for key in value if key not in names]
        if missing or unknown:
            raise error(f"{where}: missing keys {missing}, unknown keys {unknown}")
        fields = {name: from_dict(hints[name], value[name], f"{where}.{name}", error) for name in names}
        try:
            return kind(**fields)
        except ConfigError:
            raise
        except ValueError as invalid:
            # "position_margin = 0.7 is outside ..." -> "robot.position_margin = 0.7 is outside ..."
            separator = "." if str(invalid).split(" ", 1)[0] in names else ": "
            raise error(f"{where}{separator}{invalid}") from invalid
    if origin is dict:
        if not isinstance(value, dict):
            raise error(f"{where}: expected a mapping, got {value!r}")
        item_kind = typing.get_args(kind)[1]
        return {str(k): from_dict(item_kind, v, f"{where}.{k}", error) for k, v in value.items()}
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise error(f"{where}: expected a list, got {value!r}")
        arguments = typing.get_args(kind)
        items = arguments[:1] * len(value) if arguments[-1] is Ellipsis else arguments
        if len(items) != len(value):
            raise error(f"{where}: expected {len(items)} items, got {len(value)}")
        return tuple(
            from_dict(item, v, f"{where}[{i}]", error)
            for i, (item, v) in enumerate(zip(items, value, strict=True))
        )
    accepted = {bool: (bool,), int: (int,), float: (int, float), str: (str,)}.get(kind)
    if accepted is None:
        raise error(f"{where}: unsupported setting type {kind}")
    if not isinstance(value, accepted) or (kind is not bool and isinstance(value, bool)):
        raise error(f"{where}: expected {kind.__name__}, got {value!r}")
    return kind(value)


def _merge(base: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
