"""Training the planner VLM: a tiny model on three synthetic episodes, loaded back by the planner."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from planner_dataset import EPISODES, synthetic_label, write_synthetic_dataset
from transformers import AutoModelForImageTextToText, AutoProcessor

from vla_ros.planning.backends.transformers_local import TransformersBackend
from vla_ros.planning.hamster_format import build_prompt, format_answer
from vla_ros.planning.settings import PlannerConfig, load_planner_config
from vla_ros.training.planner.config import (
    AugmentationConfig,
    PointingConfig,
    TrainingConfig,
    TrainingConfigError,
    TrainingError,
    load_training_config,
)
from vla_ros.training.planner.examples import IGNORE_INDEX, ExampleEncoder, augment, split_validation
from vla_ros.training.planner.samples import PlannerSample, load_samples
from vla_ros.training.planner.tiny_vlm import (
    TinyVlmSpec,
    WeightTransferError,
    build_processor,
    train_tokenizer,
)
from vla_ros.training.planner.train import (
    CHECKPOINT_DIR,
    LOG_FILE,
    RUN_FILE,
    AnswerLoss,
    PlannerTrainer,
    TrainingRun,
    learning_rate_factor,
    train_planner,
)


@pytest.fixture(scope="module")
def planner_config() -> PlannerConfig:
    return load_planner_config()


@pytest.fixture(scope="module")
def synthetic_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_dataset(tmp_path_factory.mktemp("planner_dataset"))


def _tiny_config(max_steps: int, **overrides: object) -> TrainingConfig:
    config = load_training_config()
    model = TinyVlmSpec(
        image_size=32,
        patch_size=8,
        vision_width=32,
        vision_layers=1,
        text_width=64,
        text_layers=2,
        attention_heads=2,
        vocab_size=300,
        max_positions=512,
        coordinate_decimals=2,
    )
    values = {
        "model": model,
        "batch_size": 3,
        "learning_rate": 5e-3,
        "warmup_steps": 5,
        "max_steps": max_steps,
        "checkpoint_every": 20,
        "validation": dataclasses.replace(config.validation, every=0, max_episodes=3),
    }
    values.update(overrides)
    return dataclasses.replace(config, **values)


def test_default_training_config_loads_and_is_validated(planner_config: PlannerConfig) -> None:
    config = load_training_config()
    assert config.model.coordinate_decimals == planner_config.answer_decimals
    assert config.model.image_size % config.model.patch_size == 0
    with pytest.raises(ValueError, match="warmup_steps"):
        dataclasses.replace(config, warmup_steps=config.max_steps)
    with pytest.raises(ValueError, match="max_shift"):
        AugmentationConfig(0.6, 0.0, 0.0, 0.0)


def test_bad_training_file_is_a_typed_error(tmp_path: Path) -> None:
    path = tmp_path / "training.yaml"
    path.write_text("/**/planner_training:\n  ros__parameters:\n    batch_size: 4\n")
    with pytest.raises(TrainingConfigError, match="missing keys"):
        load_training_config(str(path))


def test_learning_rate_schedule_and_split() -> None:
    assert learning_rate_factor(0, 10, 100) == pytest.approx(0.1)
    assert learning_rate_factor(10, 10, 100) == pytest.approx(1.0)
    assert learning_rate_factor(55, 10, 100) == pytest.approx(0.5)
    assert learning_rate_factor(100, 10, 100) == pytest.approx(0.0, abs=1e-12)
    label = synthetic_label((0.5, 0.5))
    samples = [PlannerSample(str(i), "t", "i", np.zeros((2, 2, 3), np.uint8), label) for i in range(30)]
    train, val = split_validation(samples[:20], 0.2, seed=3)
    assert 1 <= len(val) < 20 and len(train) + len(val) == 20
    assert not {s.name for s in val} & {s.name for s in train}
    _, more_val = split_validation(samples, 0.2, seed=3)  # more episodes: the held ones stay held
    assert {s.name for s in more_val if int(s.name) < 20} == {s.name for s in val}
    with pytest.raises(TrainingError, match="two episodes"):
        split_validation(samples[:1], 0.1, seed=3)


def test_augmentation_moves_the_label_with_the_image(
    synthetic_dataset: Path, planner_config: PlannerConfig
) -> None:
    sample = load_samples([synthetic_dataset], planner_config.parser)[0]
    config = AugmentationConfig(max_shift=0.1, max_zoom=0.2, brightness_jitter=0.0, contrast_jitter=0.0)
    rng = np.random.default_rng(0)
    for _ in range(5):
        image, label, landmarks = augment(sample, config, rng, decimals=2)
        pixels = np.asarray(image)
        assert pixels.shape == sample.image.shape
        cube = label.points[1]  # the label's second point is the cube's centre
        red = np.argwhere((pixels[..., 0] > 150) & (pixels[..., 2] < 100))
        centre = (red.mean(axis=0)[::-1] + 0.5) / np.array([pixels.shape[1], pixels.shape[0]])
        assert np.allclose(centre, cube, atol=0.03)
        (landmark,) = landmarks  # the pointing target moves with the image too
        assert np.allclose(landmark.point, centre, atol=0.03)


def test_pointing_turns_follow_the_path_answer(
    synthetic_dataset: Path, planner_config: PlannerConfig
) -> None:
    samples = load_samples([synthetic_dataset], planner_config.parser)
    tokenizer = train_tokenizer(["point to the red cube", "lift the red block"], 300)
    processor = build_processor(tokenizer, TinyVlmSpec())
    pointing = PointingConfig(enabled=True, prompt="point to the {object}")
    rng = np.random.default_rng(0)
    batch = ExampleEncoder(processor, planner_config, pointing).batch(samples, None, rng)
    plain = ExampleEncoder(processor, planner_config).batch(samples, None, rng)
    for row, labels, sample in zip(batch["input_ids"], batch["labels"], samples, strict=True):
        text = tokenizer.decode(row[row != tokenizer.pad_token_id])
        learned = tokenizer.decode(labels[labels != IGNORE_INDEX])
        x, y = sample.landmarks[0].point
        path_answer = format_answer(sample.label)
        # the path answer comes first (as at run time), then the question, masked, and the point, learned
        question = f"point to the {sample.landmarks[0].description}"
        assert text.index(path_answer) < text.index(question)
        assert learned == f"{path_answer}</s>({x:.2f}, {y:.2f})</s>"
    # without pointing the example ends at the path answer
    assert plain["input_ids"].shape[1] < batch["input_ids"].shape[1]
    with pytest.raises(ValueError, match="object"):
        PointingConfig(enabled=True, prompt="point to it")


def test_training_lowers_the_loss_and_the_planner_loads_the_model(
    synthetic_dataset: Path, planner_config: PlannerConfig, tmp_path: Path
) -> None:
    torch.set_num_threads(1)
    out = tmp_path / "model"
    run = TrainingRun(data=(synthetic_dataset,), out=out, val_data=(synthetic_dataset,), progress=False)
    final = train_planner(run, _tiny_config(max_steps=60), planner_config)
    log = [json.loads(line) for line in (out / LOG_FILE).read_text().splitlines()]
    assert [record["step"] for record in log] == [20, 40, 60]
    assert log[-1]["train_loss"] < 0.6 * log[0]["train_loss"]
    assert final["step"] == 60 and final["val_episodes"] == 3 and 0.0 <= final["val_parse_rate"] <= 1.0
    assert json.loads((out / RUN_FILE).read_text())["finished"]
    assert not (out / CHECKPOINT_DIR).exists()  # the optimiser state is dropped at the end
    backend = TransformersBackend(
        dataclasses.replace(planner_config.transformers, model_dir=str(out), max_new_tokens=64)
    )
    sample = load_samples([synthetic_dataset], planner_config.parser)[0]
    answer = backend.plan(sample.image, build_prompt(planner_config.prompt_template, sample.instruction))
    assert answer.text.startswith("<ans>[(")  # the answer format is learned within a few steps


def test_training_memorises_one_answer_as_the_backend_asks(
    synthetic_dataset: Path, planner_config: PlannerConfig, tmp_path: Path
) -> None:
    """Training text == run-time text: an overfitted model answers its label through the backend."""
    torch.set_num_threads(1)
    out = tmp_path / "model"
    config = _tiny_config(max_steps=150, checkpoint_every=150, learning_rate=1e-2)
    config = dataclasses.replace(config, augmentation=AugmentationConfig(0.0, 0.0, 0.0, 0.0))
    run = TrainingRun(data=(synthetic_dataset,), out=out, val_data=(synthetic_dataset,), progress=False)
    final = train_planner(run, config, planner_config)
    assert final["val_parse_rate"] == 1.0 and final["val_mean_path_distance"] < 0.02
    backend = TransformersBackend(dataclasses.replace(planner_config.transformers, model_dir=str(out)))
    _, instruction, _, centre = EPISODES[1]
    sample = next(
        s for s in load_samples([synthetic_dataset], planner_config.parser) if s.instruction == instruction
    )
    answer = backend.plan(sample.image, build_prompt(planner_config.prompt_template, instruction))
    assert answer.text == format_answer(synthetic_label(centre))


def test_resume_goes_on_from_the_checkpoint(
    synthetic_dataset: Path, planner_config: PlannerConfig, tmp_path: Path
) -> None:
    torch.set_num_threads(1)
    out = tmp_path / "model"
    config = _tiny_config(max_steps=6, warmup_steps=1, checkpoint_every=2)
    run = TrainingRun(data=(synthetic_dataset,), out=out, progress=False)
    with pytest.raises(TrainingError, match="nothing to resume"):
        train_planner(dataclasses.replace(run, resume=True), config, planner_config)
    train_planner(dataclasses.replace(run, stop_after=4), config, planner_config)
    assert (out / CHECKPOINT_DIR).is_dir() and not json.loads((out / RUN_FILE).read_text())["finished"]
    train_planner(dataclasses.replace(run, resume=True), config, planner_config)
    steps = [json.loads(line)["step"] for line in (out / LOG_FILE).read_text().splitlines()]
    assert steps == [2, 4, 6]
    record = json.loads((out / RUN_FILE).read_text())
    assert record["finished"] and record["steps"] == 6 and not (out / CHECKPOINT_DIR).exists()


def test_answer_loss_spreads_coordinate_targets() -> None:
    tokenizer = train_tokenizer(["(0.50, 0.25) lift"], vocab_size=280)
    labels = torch.tensor([[IGNORE_INDEX, *tokenizer.convert_tokens_to_ids(["0.50", "lift"])]])
    logits = torch.randn(1, 3, len(tokenizer))
    exact = AnswerLoss(tokenizer, decimals=2, sigma=0.0)(logits, labels)
    assert exact == pytest.approx(float(torch.nn.functional.cross_entropy(logits[0, :-1], labels[0, 1:])))

    def peaked_on(token: str) -> torch.Tensor:
        peaked = torch.zeros(1, 3, len(tokenizer))
        peaked[0, 0, tokenizer.convert_tokens_to_ids(token)] = 10.0  # logits at t predict token t + 1
        return peaked

    soft = AnswerLoss(tokenizer, decimals=2, sigma=0.02)
    assert soft(peaked_on("0.51"), labels) < soft(peaked_on("0.60"), labels) < soft(peaked_on("0.90"), labels)


def test_init_from_a_trained_model_keeps_its_weights_at_a_new_image_size_or_depth(
    synthetic_dataset: Path, planner_config: PlannerConfig, tmp_path: Path
) -> None:
    torch.set_num_threads(1)
    base = tmp_path / "base"
    config = _tiny_config(max_steps=2, warmup_steps=1, checkpoint_every=2)
    train_planner(TrainingRun(data=(synthetic_dataset,), out=base, progress=False), config, planner_config)
    larger = dataclasses.replace(config, model=dataclasses.replace(config.model, image_size=48))
    out = tmp_path / "larger"
    run = TrainingRun(data=(synthetic_dataset,), out=out, init_from=base, progress=False)
    trainer = PlannerTrainer(run, larger, planner_config)
    source = AutoModelForImageTextToText.from_pretrained(base, local_files_only=True)
    base_tokenizer = AutoProcessor.from_pretrained(base, local_files_only=True).tokenizer
    assert trainer.processor.tokenizer.get_vocab() == base_tokenizer.get_vocab()
    text_weights = "model.language_model.layers.0.self_attn.q_proj.weight"
    assert torch.equal(trainer.model.state_dict()[text_weights], source.state_dict()[text_weights])
    position = trainer.model.model.vision_tower.embeddings.position_embedding.weight
    old = source.model.vision_tower.embeddings.position_embedding.weight
    assert position.shape[0] == 1 + 6 * 6 and torch.equal(position[0], old[0])
    assert torch.allclose(position[1:].mean(0), old[1:].mean(0), atol=0.05)  # resized, not redrawn
    trainer.run()
    assert json.loads((out / RUN_FILE).read_text())["init_from"] == str(base)
    # twice the pixels per patch on the same grid: on a twice-enlarged image the model answers as before
    finer = dataclasses.replace(config, model=dataclasses.replace(config.model, image_size=64, patch_size=16))
    finer_trainer = PlannerTrainer(dataclasses.replace(run, out=tmp_path / "finer"), finer, planner_config)
    pixels = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        before = source.model.vision_tower(pixels).last_hidden_state
        after = finer_trainer.model.model.vision_tower(
            pixels.repeat_interleave(2, 2).repeat_interleave(2, 3)
        ).last_hidden_state
    assert torch.allclose(before, after, atol=1e-4)
    wider = dataclasses.replace(config, model=dataclasses.replace(config.model, text_width=32))
    with pytest.raises(WeightTransferError, match="does not fit"):
        PlannerTrainer(dataclasses.replace(run, out=tmp_path / "wider"), wider, planner_config)
    # two text layers more: they start adding nothing, so the deeper model answers as the trained one
    layers = config.model.text_layers
    deeper = dataclasses.replace(config, model=dataclasses.replace(config.model, text_layers=layers + 2))
    deeper_model = PlannerTrainer(
        dataclasses.replace(run, out=tmp_path / "deeper"), deeper, planner_config
    ).model
    added = deeper_model.model.language_model.layers[layers + 1]
    assert not added.self_attn.o_proj.weight.any() and not added.mlp.down_proj.weight.any()
    last = source.model.language_model.layers[layers - 1]
    assert torch.equal(added.mlp.up_proj.weight, last.mlp.up_proj.weight)
    embeddings = torch.randn(1, 5, config.model.text_width)
    with torch.no_grad():
        before = source.model.language_model(inputs_embeds=embeddings).last_hidden_state
        after = deeper_model.model.language_model(inputs_embeds=embeddings).last_hidden_state
    assert torch.allclose(before, after, atol=1e-5)
    shallower = dataclasses.replace(config, model=dataclasses.replace(config.model, text_layers=layers - 1))
    with pytest.raises(WeightTransferError, match="parameters differ"):
        PlannerTrainer(dataclasses.replace(run, out=tmp_path / "shallower"), shallower, planner_config)
