"""The Planner (prompt, retries, stats), the oracle and file backends, the factory and the configuration."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from vla_ros.config import load_parameters
from vla_ros.planning.backends import OracleBackend, PlannerAnswer, PlannerBackend, make_backend
from vla_ros.planning.backends.file import FileBackend
from vla_ros.planning.backends.openai_chat import OpenAIChatBackend
from vla_ros.planning.errors import (
    BackendError,
    EmptyInstructionError,
    InvalidImageError,
    PlanningFailedError,
    TooFewPointsError,
)
from vla_ros.planning.hamster_format import ParseOptions
from vla_ros.planning.path import PlannedPath
from vla_ros.planning.planner import Planner
from vla_ros.planning.settings import PlannerConfig, PlannerConfigError, load_planner_config
from vla_ros.sim.settings import load_sim_config

IMAGE = np.zeros((48, 64, 3), dtype=np.uint8)
GOOD = "<ans>[(0.25, 0.32), <action>Close Gripper</action>, (0.74, 0.21)]</ans>"
TEMPLATE = "Do <quest>{instruction}</quest>; answer in <ans></ans>."


class ScriptedBackend(PlannerBackend):
    """Answers the given texts in turn and records the prompts it got."""

    name = "scripted"

    def __init__(self, texts: list[str]) -> None:
        self.texts = list(texts)
        self.prompts: list[str] = []

    def plan(self, image_rgb: np.ndarray, prompt: str) -> PlannerAnswer:
        self.prompts.append(prompt)
        return PlannerAnswer(self.texts.pop(0), 0.5, self.name)


class GreedyBackend(ScriptedBackend):
    """Answers its first text to every plan and the next ones only when asked again (a sampled retry)."""

    def plan(self, image_rgb: np.ndarray, prompt: str) -> PlannerAnswer:
        self.prompts.append(prompt)
        return PlannerAnswer(self.texts[0], 0.5, "greedy")

    def plan_again(self, image_rgb: np.ndarray, prompt: str) -> PlannerAnswer:
        self.texts.pop(0)
        return PlannerAnswer(self.texts[0], 0.5, "sampled")


def test_planner_retries_until_an_answer_parses() -> None:
    backend = ScriptedBackend(["I am not sure.", "<ans>[(0.1, 0.2)]</ans>", GOOD])
    result = Planner(backend, TEMPLATE, ParseOptions(), max_attempts=3).plan(IMAGE, " pick the cube ")
    assert backend.prompts == ["Do <quest>pick the cube</quest>; answer in <ans></ans>."] * 3
    np.testing.assert_allclose(result.path.points, [(0.25, 0.32), (0.74, 0.21)])
    assert result.answer.text == GOOD
    assert result.stats.attempts == 3 and result.stats.backend_latency_s == pytest.approx(1.5)
    assert len(result.stats.failures) == 2 and "0 point(s)" in result.stats.failures[0]
    assert result.stats.latency_s > 0


def test_planner_fails_clearly_after_the_last_attempt() -> None:
    backend = ScriptedBackend(["garbage", "<ans></ans>", GOOD])
    with pytest.raises(PlanningFailedError, match="after 2 attempt") as caught:
        Planner(backend, TEMPLATE, ParseOptions(), max_attempts=2).plan(IMAGE, "pick")
    assert isinstance(caught.value.errors[0], TooFewPointsError) and len(caught.value.errors) == 2
    assert backend.texts == [GOOD]  # no third call


def test_retries_ask_the_backend_again() -> None:
    backend = GreedyBackend(["<ans>[(0.1, <action>Open Gripper</action>)]</ans>", "garbage", GOOD])
    result = Planner(backend, TEMPLATE, ParseOptions(), max_attempts=3).plan(IMAGE, "pick")
    assert result.answer.backend_name == "sampled" and result.stats.attempts == 3
    assert len(backend.prompts) == 1  # plan once, then plan_again


def test_deterministic_backends_are_not_retried(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_text("no path here")
    with pytest.raises(PlanningFailedError, match=r"after 1 attempt\(s\) \(deterministic: not retried\)"):
        Planner(FileBackend(tmp_path / "bad.txt"), TEMPLATE, ParseOptions(), max_attempts=3).plan(IMAGE, "x")


def test_pixel_answers_use_the_image_size() -> None:
    backend = ScriptedBackend(["<ans>[(16, 12), (48, 36)]</ans>"])
    result = Planner(backend, TEMPLATE, ParseOptions(), 1).plan(IMAGE, "pick")
    np.testing.assert_allclose(result.path.points, [(0.25, 0.25), (0.75, 0.75)])


def test_planner_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="placeholder"):
        Planner(ScriptedBackend([]), "no placeholder", ParseOptions(), 1)
    with pytest.raises(ValueError, match="max_attempts"):
        Planner(ScriptedBackend([]), TEMPLATE, ParseOptions(), 0)
    planner = Planner(ScriptedBackend([GOOD]), TEMPLATE, ParseOptions(), 1)
    with pytest.raises(EmptyInstructionError):
        planner.plan(IMAGE, " \n")
    with pytest.raises(InvalidImageError):
        planner.plan(np.zeros((4, 4), np.uint8), "pick")


def test_oracle_backend_answers_its_path_in_the_canonical_format() -> None:
    path = PlannedPath([(0.2, 0.3), (0.6, 0.7)], [False, True])
    planner = Planner(OracleBackend(), TEMPLATE, ParseOptions(), 1)
    assert planner.backend.description == "oracle"
    with pytest.raises(BackendError, match="no path"):
        planner.plan(IMAGE, "pick")
    planner.backend.set_source(path)
    assert planner.plan(IMAGE, "pick").path == path
    planner.backend.set_source(lambda: PlannedPath([(0.5, 0.5), (0.9, 0.9)], [True, True]))
    assert planner.plan(IMAGE, "pick").answer.text == "<ans>[(0.50, 0.50), (0.90, 0.90)]</ans>"
    planner.backend.set_source(lambda: "not a path")
    with pytest.raises(BackendError, match="not a PlannedPath"):
        planner.plan(IMAGE, "pick")


def test_file_backend_replays_text_and_json(tmp_path: Path) -> None:
    (tmp_path / "answer.txt").write_text(GOOD)
    (tmp_path / "answer.json").write_text(json.dumps({"answer": GOOD}))
    (tmp_path / "path.json").write_text(
        json.dumps({"points": [[0.25, 0.32], [0.74, 0.21]], "gripper_open": [0, 0]})
    )
    assert FileBackend(tmp_path / "answer.txt").description == f"file:{tmp_path / 'answer.txt'}"
    for name in ("answer.txt", "answer.json", "path.json"):
        answer = FileBackend(tmp_path / name).plan(IMAGE, "ignored")
        assert answer.text == GOOD and answer.backend_name == "file"
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "ragged.json").write_text(json.dumps({"points": [[0.1], [0.2, 0.3]]}))
    (tmp_path / "outside.json").write_text(json.dumps({"points": [[1.5, 0.3]]}))
    for name, message in [
        ("bad.json", "not valid JSON"),
        ("ragged.json", "invalid path"),
        ("outside.json", "0, 1"),
    ]:
        with pytest.raises(BackendError, match=message):
            FileBackend(tmp_path / name)
    with pytest.raises(BackendError, match="does not exist"):
        FileBackend(tmp_path / "missing.txt")


def test_shipped_config_loads_and_the_factory_makes_each_light_backend(tmp_path: Path) -> None:
    config = load_planner_config()
    assert config.backend in ("transformers", "openai", "oracle", "file")
    assert "{instruction}" in config.prompt_template and "<quest>" in config.prompt_template
    assert isinstance(make_backend(dataclasses.replace(config, backend="oracle")), OracleBackend)
    assert isinstance(make_backend(dataclasses.replace(config, backend="openai")), OpenAIChatBackend)
    (tmp_path / "a.txt").write_text(GOOD)
    file_config = dataclasses.replace(
        config, backend="file", file=dataclasses.replace(config.file, path=str(tmp_path / "a.txt"))
    )
    assert Planner.from_config(file_config).plan(IMAGE, "x").answer.backend_name == "file"


def _parameters() -> dict:
    """The planner node's parameters: the default robot's file, then planner.yaml."""
    return copy.deepcopy(load_parameters(["robots/panda.yaml", "planner"], "planner"))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: p.pop("max_attempts"), r"missing keys \['max_attempts'\]"),
        (lambda p: p["parser"].update(typo=1), r"unknown keys \['typo'\]"),
        (lambda p: p.update(backend="magic"), "backend must be one of"),
        (lambda p: p.update(max_attempts=True), "expected int"),
        (lambda p: p.update(max_attempts="3"), "expected int"),
        (lambda p: p["parser"].update(out_of_bounds="wrap"), r"planner\.parser\.out_of_bounds must be"),
        (lambda p: p["drawing"].update(start_color=[1, 2]), "expected 3 items"),
        (lambda p: p["openai"].update(jpeg_quality=0), "jpeg_quality"),
        (lambda p: p["transformers"].update(dtype="int8"), "dtype"),
        (lambda p: p.update(prompt_template="no placeholder"), "placeholder"),
        (lambda p: p.update(parser="auto"), "expected a mapping"),
    ],
)
def test_bad_configuration_is_rejected_with_a_clear_message(edit: object, message: str) -> None:
    parameters = _parameters()
    edit(parameters)
    with pytest.raises(PlannerConfigError, match=message):
        PlannerConfig.from_parameters(parameters)


def test_floats_accept_integers() -> None:
    parameters = _parameters()
    parameters["openai"]["timeout_s"] = 5
    assert PlannerConfig.from_parameters(parameters).openai.timeout_s == 5.0


def test_an_empty_model_dir_is_the_robots_planner_model() -> None:
    xarm = load_sim_config(robot="xarm6").robot
    assert load_planner_config(robot="xarm6").transformers.model_dir == xarm.planner_model
    parameters = _parameters()
    assert parameters["transformers"]["model_dir"] == "", "the shipped file leaves it to the robot"
    parameters["transformers"]["model_dir"] = "/models/mine"
    assert PlannerConfig.from_parameters(parameters).transformers.model_dir == "/models/mine"
    parameters = _parameters()
    del parameters["robot"]
    parameters["backend"] = "transformers"
    with pytest.raises(PlannerConfigError, match="the robot file names no planner_model"):
        PlannerConfig.from_parameters(parameters)
    parameters["backend"] = "oracle"
    assert PlannerConfig.from_parameters(parameters).backend == "oracle"
