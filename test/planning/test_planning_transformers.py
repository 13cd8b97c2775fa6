"""The transformers backend end to end: a tiny random LLaVA, its processor, chat template and generate."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from vla_ros.planning.backends.transformers_local import TransformersBackend
from vla_ros.planning.errors import ModelLoadError, PathParseError, PlanningFailedError
from vla_ros.planning.hamster_format import build_prompt, format_answer, parse_answer
from vla_ros.planning.path import PlannedPath
from vla_ros.planning.planner import Planner
from vla_ros.planning.settings import PlannerConfig, TransformersBackendConfig, load_planner_config
from vla_ros.training.planner.tiny_vlm import build_tiny_llava

IMAGE = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def planner_config() -> PlannerConfig:
    return load_planner_config()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, planner_config: PlannerConfig) -> Path:
    rng = np.random.default_rng(1)
    answers = [format_answer(PlannedPath(rng.random((4, 2)), rng.random(4) > 0.5)) for _ in range(40)]
    return build_tiny_llava(tmp_path_factory.mktemp("tiny_llava"), [planner_config.prompt_template, *answers])


def _backend_config(model_dir: Path | str, **overrides: object) -> TransformersBackendConfig:
    values: dict[str, object] = {
        "model_dir": str(model_dir),
        "device": "cpu",
        "dtype": "float32",
        "max_new_tokens": 48,
        "do_sample": False,
        "temperature": 1.0,
        "retry_temperature": 0.0,
        "cpu_threads": 0,
    }
    values.update(overrides)
    return TransformersBackendConfig(**values)


def test_tiny_model_generates_through_the_chat_template(
    model_dir: Path, planner_config: PlannerConfig
) -> None:
    backend = TransformersBackend(_backend_config(model_dir))
    assert backend.description == f"transformers:{model_dir}"
    prompt = build_prompt(planner_config.prompt_template, "put the red cube in the bowl")
    answer = backend.plan(IMAGE, prompt)
    assert answer.backend_name == "transformers" and answer.latency_s > 0
    assert answer.text and "user:" not in answer.text and "<quest>" not in answer.text  # new tokens only
    assert backend.plan(IMAGE, prompt).text == answer.text  # greedy decoding is deterministic
    try:
        path = parse_answer(answer.text, planner_config.parser, IMAGE.shape[1], IMAGE.shape[0])
    except PathParseError:
        return  # random weights: a typed parse error is the expected outcome
    assert len(path) >= planner_config.parser.min_points


def test_sampling_and_bfloat16(model_dir: Path) -> None:
    config = _backend_config(model_dir, dtype="bfloat16", do_sample=True, temperature=0.7, max_new_tokens=8)
    backend = TransformersBackend(config)
    assert str(backend.model.dtype) == "torch.bfloat16"
    assert isinstance(backend.plan(IMAGE, "<quest>pick</quest>").text, str)


def test_greedy_decoding_retries_by_sampling(model_dir: Path) -> None:
    """Greedy decoding would repeat an answer that did not parse: plan_again samples instead."""
    assert TransformersBackend(_backend_config(model_dir)).deterministic
    backend = TransformersBackend(_backend_config(model_dir, retry_temperature=0.5, max_new_tokens=8))
    assert not backend.deterministic
    calls: list[dict] = []
    generate = backend.model.generate

    def recording_generate(**kwargs: object) -> object:
        calls.append({key: kwargs.get(key) for key in ("do_sample", "temperature")})
        return generate(**kwargs)

    backend.model.generate = recording_generate
    backend.plan(IMAGE, "<quest>pick</quest>")
    backend.plan_again(IMAGE, "<quest>pick</quest>")
    assert calls == [{"do_sample": False, "temperature": None}, {"do_sample": True, "temperature": 0.5}]
    with pytest.raises(ValueError, match="retry_temperature"):
        _backend_config(model_dir, retry_temperature=-0.1)


def test_cpu_threads_are_applied(model_dir: Path) -> None:
    before = torch.get_num_threads()
    try:
        TransformersBackend(_backend_config(model_dir, cpu_threads=1))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_planner_with_the_transformers_backend(model_dir: Path, planner_config: PlannerConfig) -> None:
    config = dataclasses.replace(
        planner_config,
        backend="transformers",
        max_attempts=2,
        transformers=_backend_config(model_dir, max_new_tokens=24),
    )
    planner = Planner.from_config(config)
    try:
        result = planner.plan(IMAGE, "stack the cubes")
    except PlanningFailedError as error:  # greedy decoding answers the same again: one attempt only
        assert len(error.errors) == 1 and isinstance(error.errors[0], PathParseError)
        assert "not retried" in str(error)
    else:
        assert result.answer.backend_name == "transformers"


def test_missing_or_broken_model_directories(model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"no config\.json"):
        TransformersBackend(_backend_config(tmp_path / "does-not-exist"))
    with pytest.raises(ModelLoadError, match=r"no config\.json"):
        TransformersBackend(_backend_config(""))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "no-such-model"}')
    with pytest.raises(ModelLoadError):
        TransformersBackend(_backend_config(broken))
    with pytest.raises(ValueError, match="cpu_threads"):
        _backend_config(model_dir, cpu_threads=-1)
    with pytest.raises(ModelLoadError, match="not a torch device"):
        TransformersBackend(_backend_config(model_dir, device="gpu0"))
    if not torch.cuda.is_available():
        with pytest.raises(ModelLoadError, match="cannot move the model"):
            TransformersBackend(_backend_config(model_dir, device="cuda"))
    no_template = tmp_path / "no_template"
    shutil.copytree(model_dir, no_template)
    (no_template / "chat_template.jinja").unlink()
    with pytest.raises(ModelLoadError, match="chat template"):
        TransformersBackend(_backend_config(no_template))


def test_a_relative_model_directory_is_found_in_the_package_share(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``model_dir: models/planner`` (the shipped model) loads from any working directory."""
    monkeypatch.chdir(tmp_path)
    backend = TransformersBackend(_backend_config("models/planner"))
    assert backend.model.config.model_type == "llava"
