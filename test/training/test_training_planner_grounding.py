"""The grounding loss: targets over the patch grid, the head's loss, the tap on the vision tower."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vla_ros.training.planner.grounding import (
    GroundingConfig,
    GroundingHead,
    ImageTokenTap,
    ReferenceHead,
    colour_word_ids,
    grounding_targets,
    landmark_colour,
    reference_targets,
)
from vla_ros.training.planner.samples import Landmark
from vla_ros.training.planner.tiny_vlm import TinyVlmSpec, build_model, train_tokenizer

COLOURS = ("blue", "red")


def test_targets_peak_on_the_objects_patch() -> None:
    landmarks = [
        [Landmark("red cube", np.array([0.30, 0.80])), Landmark("pink bowl", np.array([0.5, 0.5]))],
        [],
    ]
    targets = grounding_targets(landmarks, COLOURS, grid=4, sigma_patches=0.5)
    assert targets.shape == (2, 2, 16)
    assert landmark_colour(landmarks[0][0]) == "red"
    red = targets[0, 1].reshape(4, 4)
    assert float(red.sum()) == pytest.approx(1.0)
    assert divmod(int(red.argmax()), 4) == (3, 1)  # row 0.8 * 4 -> 3, column 0.3 * 4 -> 1
    assert float(targets[0, 0].sum()) == 0.0  # no blue object; pink is not a head colour
    assert float(targets[1].sum()) == 0.0


def test_head_loss_rewards_tokens_whose_direction_is_the_colour() -> None:
    head = GroundingHead(width=2, colours=COLOURS)
    with torch.no_grad():
        head.directions.copy_(torch.tensor([[0.0, 1.0], [1.0, 0.0]]))  # red: the first axis
    targets = grounding_targets([[Landmark("red cube", np.array([0.9, 0.1]))]], COLOURS, 4, 0.05)
    background = torch.tensor([0.0, 1.0]).repeat(1, 16, 1)
    on_object = background.clone()
    on_object[0, 3] = torch.tensor([1.0, 0.0])  # patch (0, 3): where the red cube is
    elsewhere = background.clone()
    elsewhere[0, 12] = torch.tensor([1.0, 0.0])
    faint = background.clone()
    faint[0, 3] = torch.tensor([0.1, 1.0])  # the right patch, but red is a small part of the token
    assert head.loss(on_object, targets) < head.loss(faint, targets) < head.loss(elsewhere, targets)
    # the scale of a token does not matter, only its direction
    assert torch.allclose(head.loss(on_object * 50.0, targets), head.loss(on_object, targets))
    assert float(head.loss(on_object, torch.zeros(1, 2, 16)).detach()) == 0.0
    with pytest.raises(ValueError, match="sigma_patches"):
        GroundingConfig(
            enabled=True, weight=1.0, sigma_patches=0.0, reference_weight=1.0, reference_sigma=0.02
        )


def test_tap_keeps_the_image_tokens_the_language_model_reads() -> None:
    spec = TinyVlmSpec(image_size=32, patch_size=8, vision_width=32, vision_layers=1)
    model = build_model(train_tokenizer(["a b c"], 270), spec)
    tap = ImageTokenTap(model.model.multi_modal_projector)
    with pytest.raises(RuntimeError, match="not run"):
        tap.patch_features()
    pixels = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        projected = model.model.get_image_features(pixel_values=pixels)
    projected = projected if isinstance(projected, torch.Tensor) else projected.pooler_output
    projected = torch.stack(list(projected)) if isinstance(projected, (list, tuple)) else projected
    features = tap.patch_features()
    assert features.shape == (2, 16, spec.text_width)  # the class token dropped
    assert torch.allclose(features, projected.reshape(2, 17, -1)[:, 1:])
    tap.remove()


def test_reference_targets_are_the_prompts_colour_words() -> None:
    tokenizer = train_tokenizer(["put the red cube in the blue bowl", "point to the red cube"], 300)
    colour_ids = colour_word_ids(tokenizer, ("blue", "red", "ultramarine"))
    assert sorted(colour_ids.values()) == ["blue", "red"]  # a colour the tokenizer splits is left out
    prompt = tokenizer("put the red cube in the blue bowl", add_special_tokens=False)["input_ids"]
    answer = tokenizer(" red", add_special_tokens=False)["input_ids"]  # learned tokens never count
    rows = [prompt + answer]
    learned = [[False] * len(prompt) + [True] * len(answer)]
    shown = [[Landmark("red cube", np.array([0.2, 0.3])), Landmark("green bowl", np.array([0.5, 0.5]))]]
    targets = reference_targets(rows, learned, shown, colour_ids)
    (row,) = targets.tolist()  # "blue" has no object in this scene, the answer's "red" is learned
    assert row[:2] == [0, prompt.index(tokenizer.convert_tokens_to_ids("Ġred"))]
    assert row[2:] == pytest.approx([0.2, 0.3])


def test_reference_head_loss_is_lowest_at_the_object() -> None:
    head = ReferenceHead(width=4, bins=11)
    targets = torch.tensor([[0.0, 1.0, 0.3, 0.7]])
    hidden = torch.zeros(1, 2, 4)
    with torch.no_grad():
        head.linear.weight.zero_()
        head.linear.bias.zero_()
        flat = head.loss(hidden, targets, sigma=0.05)
        head.linear.bias[3] = 6.0  # x = 0.3
        head.linear.bias[11 + 7] = 6.0  # y = 0.7
        right = head.loss(hidden, targets, sigma=0.05)
        head.linear.bias[3], head.linear.bias[9] = 0.0, 6.0  # x = 0.9
        wrong = head.loss(hidden, targets, sigma=0.05)
    assert right < flat and right < wrong
    assert float(head.loss(hidden, torch.zeros(0, 4), sigma=0.05)) == 0.0
