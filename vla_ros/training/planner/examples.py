"""Training examples for the planner: augmentation (labels follow the image) and the tokenised chat
turns with their answer masks."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageEnhance

from vla_ros.planning.hamster_format import build_prompt, format_answer
from vla_ros.planning.path import PlannedPath
from vla_ros.planning.settings import PlannerConfig
from vla_ros.training.planner.config import AugmentationConfig, PointingConfig, TrainingError
from vla_ros.training.planner.grounding import (
    colour_word_ids,
    grounding_targets,
    reference_targets,
)
from vla_ros.training.planner.samples import Landmark, PlannerSample

IGNORE_INDEX = -100
_AUGMENT_TRIES = 5


def chat_text(processor: Any, prompt: str, image: bool = True) -> str:
    """The text the transformers backend feeds the model: image then prompt, with the generation prompt."""
    content = [{"type": "image"}] if image else []
    messages = [{"role": "user", "content": [*content, {"type": "text", "text": prompt}]}]
    return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def format_point(point: np.ndarray, decimals: int) -> str:
    """A pointing answer: ``(x, y)`` with the coordinates written as in a path answer."""
    return f"({point[0]:.{decimals}f}, {point[1]:.{decimals}f})"


def augment(
    sample: PlannerSample, config: AugmentationConfig, rng: np.random.Generator, decimals: int
) -> tuple[Image.Image, PlannedPath, tuple[Landmark, ...]]:
    """A randomly cropped, rescaled and jittered image with the label path and landmarks moved with it.

    The crop (which may reach past the border, filled black) is drawn until every label point stays
    inside it; after a few misses the whole image is used. Landmarks the crop cuts off are dropped.
    """
    image = Image.fromarray(sample.image)
    width, height = image.size
    points = sample.label.points
    landmarks = sample.landmarks
    for _ in range(_AUGMENT_TRIES):
        zoom = rng.uniform(1 - config.max_zoom, 1 + config.max_zoom)
        shift = rng.uniform(-config.max_shift, config.max_shift, 2)
        left, top = 0.5 + shift - 0.5 / zoom
        corner = np.array([left, top])
        moved = (points - corner) * zoom
        if moved.min() >= 0 and moved.max() <= 1:
            box = (left * width, top * height, (left + 1 / zoom) * width, (top + 1 / zoom) * height)
            image = image.transform(image.size, Image.Transform.EXTENT, box, Image.Resampling.BILINEAR)
            points = moved
            shifted = (Landmark(item.description, (item.point - corner) * zoom) for item in landmarks)
            landmarks = tuple(item for item in shifted if item.point.min() >= 0 and item.point.max() <= 1)
            break
    image = ImageEnhance.Brightness(image).enhance(
        rng.uniform(1 - config.brightness_jitter, 1 + config.brightness_jitter)
    )
    image = ImageEnhance.Contrast(image).enhance(
        rng.uniform(1 - config.contrast_jitter, 1 + config.contrast_jitter)
    )
    label = PlannedPath(
        np.round(points, decimals), sample.label.gripper_open, sample.label.initial_gripper_open
    )
    return image, label, landmarks


class ExampleEncoder:
    """Turns samples into padded training batches: prompt tokens masked, answer + EOS learned.

    With ``pointing`` enabled, each example goes on after the path answer with one pointing turn per
    landmark in random order (question masked, ``(x, y)`` + EOS learned), HAMSTER's co-training on
    pointing data: every object of the scene, distractors included, is named and located, which
    teaches the model to find objects by colour and kind. At run time generation stops at the path
    answer's EOS, so the planner never sees these turns.
    """

    def __init__(
        self,
        processor: Any,
        planner_config: PlannerConfig,
        pointing: PointingConfig | None = None,
        grounding: tuple[Sequence[str], int, float] | None = None,
    ) -> None:
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.template = planner_config.prompt_template
        self.decimals = planner_config.answer_decimals
        self.pointing = pointing if pointing is not None and pointing.enabled else None
        # (colours, patch grid size, sigma in patches) of the grounding targets, when trained
        self.grounding = grounding
        self.colour_ids = {} if grounding is None else colour_word_ids(self.tokenizer, grounding[0])
        self._prompt_ids: dict[str, list[int]] = {}
        self._question_ids: dict[str, list[int]] = {}

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def pointing_turns(
        self, landmarks: Sequence[Landmark], rng: np.random.Generator
    ) -> tuple[list[int], list[int]]:
        """Token ids and labels of the pointing turns for ``landmarks`` (shuffled)."""
        ids: list[int] = []
        labels: list[int] = []
        if self.pointing is None:
            return ids, labels
        for index in rng.permutation(len(landmarks)):
            landmark = landmarks[int(index)]
            if landmark.description not in self._question_ids:
                question = self.pointing.prompt.replace("{object}", landmark.description)
                self._question_ids[landmark.description] = self._ids(
                    chat_text(self.processor, question, image=False)
                )
            question_ids = self._question_ids[landmark.description]
            answer_ids = [
                *self._ids(format_point(landmark.point, self.decimals)),
                self.tokenizer.eos_token_id,
            ]
            ids += question_ids + answer_ids
            labels += [IGNORE_INDEX] * len(question_ids) + answer_ids
        return ids, labels

    def prompt_ids(self, sample: PlannerSample) -> list[int]:
        """The prompt's token ids with the image tokens expanded, as the processor gives them."""
        if sample.instruction not in self._prompt_ids:
            text = chat_text(self.processor, build_prompt(self.template, sample.instruction))
            inputs = self.processor(images=[Image.fromarray(sample.image)], text=[text])
            self._prompt_ids[sample.instruction] = list(inputs["input_ids"][0])
        return self._prompt_ids[sample.instruction]

    def batch(
        self,
        samples: Sequence[PlannerSample],
        augmentation: AugmentationConfig | None,
        rng: np.random.Generator,
    ) -> dict[str, torch.Tensor]:
        """input_ids, attention_mask, labels and pixel_values of the samples (augmented if asked), and
        grounding_targets when the encoder has grounding colours."""
        images, rows, labels, shown = [], [], [], []
        for sample in samples:
            if augmentation is None:
                image, label, landmarks = Image.fromarray(sample.image), sample.label, sample.landmarks
            else:
                image, label, landmarks = augment(sample, augmentation, rng, self.decimals)
            prompt = self.prompt_ids(sample)
            answer_ids = [*self._ids(format_answer(label, self.decimals)), self.tokenizer.eos_token_id]
            turn_ids, turn_labels = self.pointing_turns(landmarks, rng)
            images.append(image)
            shown.append(landmarks)
            rows.append(prompt + answer_ids + turn_ids)
            labels.append([IGNORE_INDEX] * len(prompt) + answer_ids + turn_labels)
        length = max(len(row) for row in rows)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.full((len(rows), length), pad, dtype=torch.long)
        label_ids = torch.full((len(rows), length), IGNORE_INDEX, dtype=torch.long)
        attention = torch.zeros((len(rows), length), dtype=torch.long)
        for index, (row, label) in enumerate(zip(rows, labels, strict=True)):
            input_ids[index, : len(row)] = torch.tensor(row)
            label_ids[index, : len(row)] = torch.tensor(label)
            attention[index, : len(row)] = 1
        pixel_values = self.processor.image_processor(images, return_tensors="pt")["pixel_values"]
        batch = {
            "input_ids": input_ids,
            "attention_mask": attention,
            "labels": label_ids,
            "pixel_values": pixel_values,
        }
        if self.grounding is not None:
            batch["grounding_targets"] = grounding_targets(shown, *self.grounding)
            batch["reference_targets"] = reference_targets(
                rows, [[label != IGNORE_INDEX for label in row] for row in labels], shown, self.colour_ids
            )
        return batch


def split_validation(
    samples: list[PlannerSample], fraction: float, seed: int
) -> tuple[list[PlannerSample], list[PlannerSample]]:
    """Hold back about ``fraction`` of the episodes (at least one), chosen by name and ``seed``.

    Each episode's side depends only on its name and the seed, so adding episodes (a resumed run
    with more data) never moves a validation episode into training.
    """
    if len(samples) < 2:
        raise TrainingError("at least two episodes are needed to hold one back for validation")
    draws = [zlib.crc32(f"{seed}:{sample.name}".encode()) / 2**32 for sample in samples]
    held = {index for index, draw in enumerate(draws) if draw < fraction}
    if not held or len(held) == len(samples):
        held = {int(np.argmin(draws))}
    return [s for i, s in enumerate(samples) if i not in held], [
        s for i, s in enumerate(samples) if i in held
    ]
