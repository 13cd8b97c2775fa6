"""The package's metadata, configuration loader and command line (no ROS graph needed)."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import vla_ros
from vla_ros import cli, config

ROOT = Path(__file__).resolve().parents[1]


def test_version_is_the_same_in_package_xml_and_python():
    declared = ET.parse(ROOT / "package.xml").getroot().findtext("version")
    assert declared == vla_ros.__version__


def test_package_xml_has_a_maintainer_address_catkin_pkg_accepts():
    maintainer = ET.parse(ROOT / "package.xml").getroot().find("maintainer")
    assert re.fullmatch(r"[\w.+-]+@[\w-]+(\.[\w-]+)*\.[a-z]{2,}", maintainer.get("email"))


def test_every_interface_file_is_generated_and_every_field_has_a_comment():
    cmake = (ROOT / "CMakeLists.txt").read_text()
    files = [path for kind in ("msg", "srv", "action") for path in sorted((ROOT / kind).glob(f"*.{kind}"))]
    assert files
    for path in files:
        assert f'"{path.parent.name}/{path.name}"' in cmake, f"{path.name} missing from CMakeLists.txt"
        lines = path.read_text().splitlines()
        for index, line in enumerate(lines):
            if not line.strip() or line.startswith("#") or line.strip() == "---":
                continue
            previous = lines[index - 1] if index else ""
            is_constant = re.match(r"\w+ [A-Z0-9_]+ *=", line)
            assert previous.startswith("#") or is_constant, f"{path.name}: field without a comment: {line!r}"


def write_parameter_file(tmp_path: Path) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(
        "/**:\n  ros__parameters:\n    rate: 10.0\n    camera: {width: 320, height: 240}\n"
        "/**/planner:\n  ros__parameters:\n    rate: 2.0\n    camera: {height: 200}\n"
        "/ns/policy:\n  ros__parameters:\n    device: cpu\n"
    )
    return path


def test_load_parameters_applies_wildcard_then_node_section(tmp_path):
    path = write_parameter_file(tmp_path)
    assert config.load_parameters(str(path), "planner") == {
        "rate": 2.0,
        "camera": {"width": 320, "height": 200},
    }
    assert config.load_parameters(str(path), "policy")["device"] == "cpu"
    nested = {"camera": {"width": 320, "size": {"h": 2}}, "rate": 2.0}
    assert config.flatten(nested) == {"camera.width": 320, "camera.size.h": 2, "rate": 2.0}
    assert config.unflatten(config.flatten(nested)) == nested


def test_several_parameter_files_apply_in_order(tmp_path):
    shared = tmp_path / "shared.yaml"
    shared.write_text("/**:\n  ros__parameters:\n    robot: {base: link0, joints: [a, b]}\n    rate: 1.0\n")
    path = write_parameter_file(tmp_path)
    merged = config.load_parameters([str(shared), str(path)], "planner")
    assert merged["robot"] == {"base": "link0", "joints": ["a", "b"]}
    assert merged["rate"] == 2.0, "the later file wins"


def test_load_parameters_reports_missing_and_malformed_files(tmp_path):
    with pytest.raises(config.ConfigError, match="not found"):
        config.load_parameters(str(tmp_path / "absent.yaml"), "planner")
    bad = tmp_path / "bad.yaml"
    bad.write_text("planner: [1, 2\n")
    with pytest.raises(config.ConfigError, match="not valid YAML"):
        config.load_parameters(str(bad), "planner")
    no_section = tmp_path / "other.yaml"
    no_section.write_text("other:\n  ros__parameters: {a: 1}\n")
    with pytest.raises(config.ConfigError, match="no parameters for node 'planner'"):
        config.load_parameters(str(no_section), "planner")
    flat = tmp_path / "flat.yaml"
    flat.write_text("planner: {a: 1}\n")
    with pytest.raises(config.ConfigError, match="ros__parameters"):
        config.load_parameters(str(flat), "planner")


def test_config_dir_is_the_repository_config():
    assert config.config_dir() == ROOT / "config"


def test_every_config_file_names_its_nodes_for_any_namespace():
    for path in sorted((ROOT / "config").glob("*.yaml")):
        for key in config.load_yaml(str(path)):
            assert key == "/**" or str(key).startswith("/**/"), (
                f"{path.name}: section {key!r} is not /**/<node>"
            )


def test_cli_help_lists_every_subcommand_with_a_description(capsys):
    import argparse

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for name, command in cli.COMMANDS.items():
        assert command.summary and name in text and command.summary[:40] in " ".join(text.split())
    for name in cli.COMMANDS:  # each module registers the command it is listed for, and only that
        parser = cli.build_parser([name])
        (subcommands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        assert list(subcommands.choices) == [name]


def test_cli_runs_as_a_program():
    completed = subprocess.run(
        [sys.executable, "-m", "vla_ros.cli", "doctor", "--json"], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    assert '"name": "torch"' in completed.stdout
