"""``vla-ros doctor``: what this machine has for vla_ros, and which ROS adapters are real or fallbacks."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import platform
import sys
from dataclasses import asdict, dataclass

from vla_ros.config import ConfigError, config_dir


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    ok: bool
    detail: str
    required: bool


# Python modules of ROS packages that a ROS install has and this project's PyPI environment lacks;
# each is used behind an adapter in vla_ros.ros when importable.
OPTIONAL_ROS_MODULES = {
    "cv_bridge": "image conversion (fallback: vla_ros.ros.images)",
    "tf2_ros": "TF broadcasting and lookup",
    "launch_ros": "ros2 launch (fallback: vla-ros bringup)",
    "control_msgs": "ros2_control messages",
    "moveit_msgs": "MoveIt Servo messages",
}

ML_MODULES = ("torch", "numpy", "cv2", "pybullet", "pinocchio", "transformers", "yaml", "transforms3d")


def _module_version(name: str) -> str:
    module = importlib.import_module(name)
    return str(getattr(module, "__version__", "present"))


def _import_check(name: str, required: bool, note: str = "") -> Check:
    try:
        version = _module_version(name)
    except Exception as error:  # any import failure is what the report is about
        return Check(name, False, f"{type(error).__name__}: {error}".strip()[:200], required)
    return Check(name, True, f"{version} {note}".strip(), required)


def run_checks() -> list[Check]:
    """Run every check; returns them in report order."""
    checks = [Check("python", sys.version_info >= (3, 10), platform.python_version(), True)]
    for name in ML_MODULES:
        checks.append(_import_check(name, required=True))
    checks.append(_import_check("rclpy", required=False, note=os.environ.get("ROS_DISTRO", "")))
    checks.append(_import_check("vla_ros.msg", required=False, note="(built interfaces)"))
    for name, use in OPTIONAL_ROS_MODULES.items():
        present = importlib.util.find_spec(name) is not None
        checks.append(Check(name, present, use if present else f"missing: {use}", False))
    try:
        import torch

        cuda = torch.cuda.is_available()
        detail = torch.cuda.get_device_name(0) if cuda else "none (device cpu)"
        checks.append(Check("cuda", cuda, detail, False))
    except ImportError:
        pass
    try:
        checks.append(Check("config", True, str(config_dir()), True))
    except ConfigError as error:
        checks.append(Check("config", False, str(error), True))
    return checks


def run(args: argparse.Namespace) -> int:
    """Print the report; exit code 1 when a required part (or ROS, with --require-ros) is missing."""
    checks = run_checks()
    if args.json:
        print(json.dumps([asdict(check) for check in checks], indent=2))
    else:
        for check in checks:
            mark = "ok  " if check.ok else ("FAIL" if check.required else "--  ")
            print(f"{mark} {check.name:<14} {check.detail}")
    required = {"rclpy", "vla_ros.msg"} if args.require_ros else set()
    failed = [c.name for c in checks if not c.ok and (c.required or c.name in required)]
    if failed:
        print(f"missing: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``doctor`` subcommand."""
    parser = subparsers.add_parser(
        "doctor",
        description="Report what this machine has for vla_ros. ROS parts that are missing here but "
        "present on a ROS install (cv_bridge, tf2_ros, launch_ros, ...) are listed with the "
        "fallback used instead.",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--require-ros", action="store_true", help="fail when rclpy or the built interfaces are missing"
    )
    parser.set_defaults(func=run)
