"""docs/reference.md: generated from the graph, the parameter files and the running graph, and up to date."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vla_ros.app.graph import NODES
from vla_ros.tools import reference

DOC = Path(__file__).resolve().parents[1] / "docs" / "reference.md"
REGENERATE = "regenerate it: vla-ros reference --out docs/reference.md"


def test_parameter_comments_come_from_the_line_or_the_lines_above(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(
        "# file header\n"
        "/**/planner:\n"
        "  ros__parameters:\n"
        "    # the backend,\n"
        "    # in two lines\n"
        "    backend: oracle\n"
        "    prompt: >-\n"
        "      not: a key\n"
        "    camera:\n"
        "      width: 320   # pixels\n"
        "      height: 240\n"
        "/**:\n"
        "  ros__parameters:\n"
        "    rate: 2.0 # Hz\n"
    )
    assert reference.parameter_comments(path) == {
        ("/**/planner", "backend"): "the backend, in two lines",
        ("/**/planner", "prompt"): "",
        ("/**/planner", "camera"): "",
        ("/**/planner", "camera.width"): "pixels",
        ("/**/planner", "camera.height"): "",
        ("/**", "rate"): "Hz",
    }


def test_node_parameters_have_the_defaults_of_the_parameter_files():
    simulator = next(node for node in reference.NODES if node.name == "simulator")
    parameters = {parameter.name: parameter for parameter in reference.node_parameters(simulator)}
    assert parameters["camera.width"].default == 320
    assert parameters["camera.rate"].description == "Hz"
    assert parameters["robot.base_frame"].default == "panda_link0", "robot.yaml applies too"


def test_reference_of_nodes_arguments_and_parameters_is_up_to_date():
    assert DOC.is_file(), REGENERATE
    assert reference.render_static() in DOC.read_text(), REGENERATE


@pytest.mark.ros
@pytest.mark.slow
def test_reference_of_topics_matches_the_running_graph():
    assert reference.render_topics(reference.query_graph()) in DOC.read_text(), REGENERATE


def test_the_reference_says_which_parameters_change_at_run_time():
    text = reference.render_static()
    assert re.search(r"\| `safety\.velocity_scale` \| [^|]+ \| run time \|", text)
    assert re.search(r"\| `robot\.base_frame` \| [^|]+ \| read-only \|", text)
    simulator = next(node for node in NODES if node.name == "simulator")
    assert reference.runtime_parameters(simulator) == {"faults.joint_states_paused", "faults.depth_blind"}
