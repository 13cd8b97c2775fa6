"""The package builds from scratch with colcon, and the lint is clean."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# What a clone has besides the package: build products, caches, the tests themselves.
NOT_SOURCES = (
    ".git",
    ".venv",
    "build",
    "install",
    "log",
    "outputs",
    "results",
    ".standin",
    "test",
    "__pycache__",
    "*cache",
)


def test_ruff_lint_is_clean():
    ruff = shutil.which("ruff") or pytest.fail("ruff not installed: run through `make test`")
    completed = subprocess.run([ruff, "check", str(ROOT)], capture_output=True, text=True, cwd=ROOT)
    assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.mark.ros
@pytest.mark.slow  # a colcon build from scratch (~40 s)
def test_package_builds_from_scratch_and_installs_interfaces_nodes_and_cli(tmp_path):
    colcon = shutil.which("colcon") or pytest.skip("colcon not installed: run through `make test`")
    source = tmp_path / "src" / "vla_ros"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCES))
    completed = subprocess.run(
        [
            colcon,
            "--log-base",
            "log",
            "build",
            "--base-paths",
            "src",
            "--event-handlers",
            "console_direct-",
            "--cmake-args",
            f"-DPython3_EXECUTABLE={sys.executable}",
            "-DBUILD_TESTING=OFF",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]

    prefix = tmp_path / "install" / "vla_ros"
    site = prefix / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    env = dict(os.environ, PYTHONPATH=f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    env["LD_LIBRARY_PATH"] = f"{prefix / 'lib'}{os.pathsep}{os.environ.get('LD_LIBRARY_PATH', '')}"
    probe = (
        "import vla_ros, vla_ros.config\n"
        "from vla_ros.msg import ActionChunk, KeyframeTarget, Path2D, PathPoint2D\n"
        "from vla_ros.action import ExecuteInstruction\n"
        "print(vla_ros.__file__)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert completed.returncode == 0, completed.stderr
    assert str(site) in completed.stdout, "the installed package was not the one imported"

    for node_module in sorted((ROOT / "vla_ros" / "nodes").glob("*_node.py")):
        assert os.access(prefix / "lib" / "vla_ros" / node_module.stem, os.X_OK), (
            f"{node_module.stem} not installed"
        )
    for name in ("launch", "config", "urdf"):
        assert (prefix / "share" / "vla_ros" / name).is_dir()
    assert (prefix / "share" / "vla_ros" / "msg" / "Path2D.msg").is_file()

    cli = prefix / "bin" / "vla-ros"
    completed = subprocess.run([sys.executable, str(cli), "--help"], env=env, capture_output=True, text=True)
    assert completed.returncode == 0 and "doctor" in completed.stdout, completed.stderr
