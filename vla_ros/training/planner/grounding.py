"""Grounding loss for training the planner VLM: each object's colour, found on the vision tower's patches.

A tiny VLM trained from scratch on path answers alone learns each task's typical path and ignores
the image (its answer loss does not change when the images of a batch are swapped): the objects
are a few pixels wide, and the gradient that reaches the vision tower through the answer tokens is
too weak to teach it to see them. This auxiliary loss gives the image tokens a direct target, as RVT
supervises its views with heatmaps: a head reads one logit per patch and colour from the image tokens
the language model receives (the projector's output), and for every object of the scene the softmax
over patches of its colour's logits is trained towards a Gaussian around the object's patch. The
logits are cosine similarities at a fixed scale, so they can only be peaked where the object's colour
dominates the token's direction: what the language model's normalised attention keys then see. (A
plain linear head reached 98 % of objects within a patch while the language model still ignored the
image: it amplified a colour signal a few percent of the token's norm.)

Seeing the objects is not enough: the language model must also look them up by the colour named in
the text, which takes two steps (the colour word finds its patches, the answer reads the colour
word), and a model trained from scratch sits on the plateau before it discovers them. The reference
loss trains the first step directly: at every colour word of the prompt (the instruction, the
pointing questions), a second linear head reads the object's position (x and y, each a
distribution over the answer's coordinate values) from the language model's last hidden state.
Both heads are training-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from vla_ros.training.planner.samples import Landmark


@dataclass(frozen=True)
class GroundingConfig:
    """Weight of the grounding loss beside the answer loss, and the target's width (in patches)."""

    enabled: bool
    weight: float
    sigma_patches: float
    reference_weight: float
    reference_sigma: float

    def __post_init__(self) -> None:
        if self.weight < 0 or self.sigma_patches <= 0:
            raise ValueError("grounding weight must not be negative and sigma_patches must be positive")
        if self.reference_weight < 0 or self.reference_sigma <= 0:
            raise ValueError("reference_weight must not be negative and reference_sigma must be positive")


def landmark_colour(landmark: Landmark) -> str:
    """The colour word of a landmark's description (``"red cube"`` -> ``"red"``)."""
    return landmark.description.split()[0]


def grounding_targets(
    landmarks: Sequence[Sequence[Landmark]], colours: Sequence[str], grid: int, sigma_patches: float
) -> torch.Tensor:
    """(B, colours, grid * grid) target distributions over the patches (row-major), one per sample and
    colour; all zeros for a colour the sample does not show (or one outside ``colours``)."""
    index = {colour: number for number, colour in enumerate(colours)}
    centres = (np.arange(grid) + 0.5) / grid
    targets = np.zeros((len(landmarks), len(colours), grid * grid), dtype=np.float32)
    for sample, items in enumerate(landmarks):
        for landmark in items:
            colour = index.get(landmark_colour(landmark))
            if colour is None:
                continue
            dx = (centres - landmark.point[0]) * grid
            dy = (centres - landmark.point[1]) * grid
            weights = np.exp(-(dy[:, None] ** 2 + dx[None, :] ** 2) / (2 * sigma_patches**2))
            targets[sample, colour] = (weights / weights.sum()).ravel()
    return torch.from_numpy(targets)


class GroundingHead(torch.nn.Module):
    """One logit per patch and colour, ``scale`` x the cosine between the token and the colour's
    direction, and the loss against :func:`grounding_targets`."""

    def __init__(self, width: int, colours: Sequence[str], scale: float = 16.0) -> None:
        super().__init__()
        self.colours = tuple(colours)
        self.directions = torch.nn.Parameter(torch.randn(len(self.colours), width) / width**0.5)
        self.scale = scale

    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, patches, colours) logits of (B, patches, width) image tokens."""
        unit = torch.nn.functional.normalize(tokens.float(), dim=-1)
        return self.scale * unit @ torch.nn.functional.normalize(self.directions, dim=-1).T

    def loss(self, patch_features: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Cross-entropy between each shown colour's softmax over patches and its target.

        ``patch_features``: (B, patches, width) without the class token; ``targets``: (B, colours,
        patches). Zero when no sample shows a colour of the head.
        """
        log_probs = torch.log_softmax(self.logits(patch_features).transpose(1, 2), dim=-1)
        targets = targets.to(log_probs.device)
        shown = targets.sum(dim=-1) > 0
        if not bool(shown.any()):
            return log_probs.sum() * 0.0
        return -(targets * log_probs).sum(dim=-1)[shown].mean()


class ImageTokenTap:
    """Keeps the image tokens of the latest forward pass: the output of LLaVA's projector (a forward
    hook), one token per patch after the class token, in the language model's embedding space."""

    def __init__(self, projector: torch.nn.Module) -> None:
        self.features: torch.Tensor | None = None
        self._handle = projector.register_forward_hook(self._keep)

    def _keep(self, module: torch.nn.Module, inputs: object, output: torch.Tensor) -> None:
        self.features = output

    def patch_features(self) -> torch.Tensor:
        """(B, patches, width) of the last forward pass, the class token dropped."""
        if self.features is None:
            raise RuntimeError("the projector has not run yet")
        return self.features[:, 1:]

    def remove(self) -> None:
        """Detach the hook."""
        self._handle.remove()


def colour_word_ids(tokenizer: object, colours: Sequence[str]) -> dict[int, str]:
    """Token id -> colour of every colour that the tokenizer writes as one token after a space."""
    ids = {}
    for colour in colours:
        encoded = tokenizer(f" {colour}", add_special_tokens=False)["input_ids"]  # type: ignore[operator]
        if len(encoded) == 1:
            ids[int(encoded[0])] = colour
    return ids


def reference_targets(
    rows: Sequence[Sequence[int]],
    learned: Sequence[Sequence[bool]],
    landmarks: Sequence[Sequence[Landmark]],
    colour_ids: dict[int, str],
) -> torch.Tensor:
    """(K, 4) rows of (sample, token position, x, y): every colour word of a sample's prompt text (its
    tokens that are not learned) whose colour the sample shows, with that object's point."""
    found = []
    for sample, (row, mask, items) in enumerate(zip(rows, learned, landmarks, strict=True)):
        points = {landmark_colour(item): item.point for item in items}
        for position, (token, is_learned) in enumerate(zip(row, mask, strict=True)):
            colour = colour_ids.get(int(token))
            if colour is not None and not is_learned and colour in points:
                found.append((sample, position, *points[colour]))
    return torch.tensor(found, dtype=torch.float32).reshape(-1, 4)


class ReferenceHead(torch.nn.Module):
    """Linear read-out of an object's x and y (``bins`` values from 0 to 1 each) at a colour word."""

    def __init__(self, width: int, bins: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(width, 2 * bins)
        self.values = torch.linspace(0.0, 1.0, bins)

    def loss(self, hidden: torch.Tensor, targets: torch.Tensor, sigma: float) -> torch.Tensor:
        """Cross-entropy of x and y against Gaussians of ``sigma`` around the target point.

        ``hidden``: (B, T, width) language-model states; ``targets``: (K, 4) of :func:`reference_targets`.
        """
        if targets.shape[0] == 0:
            return hidden.sum() * 0.0
        targets = targets.to(hidden.device)
        states = hidden[targets[:, 0].long(), targets[:, 1].long()]
        logits = self.linear(states).float().reshape(len(states), 2, -1)
        values = self.values.to(hidden.device)
        wanted = torch.softmax(-((values - targets[:, 2:, None]) ** 2) / (2 * sigma**2), dim=-1)
        return -(wanted * torch.log_softmax(logits, dim=-1)).sum(dim=-1).mean()
