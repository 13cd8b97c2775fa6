"""The two-stage multi-view transformer (RVT-2 style): rendered views + instruction + proprioception ->
per-view heatmaps, and at the predicted point rotation / gripper / collision / done logits.

A stage is a :class:`MultiViewTransformer`: patches of every view attend within their view first, then
across all views and the instruction token; token features are upsampled back to the view resolution
and fused with a convolution of the rendered input (a skip connection) to score every pixel. The coarse
stage sees the whole workspace; the fine stage sees the cloud re-centred on the coarse point and zoomed
(``model.fine_zoom``), and gives the translation. :class:`KeyframeHeads` read the fine stage's features
at the point (bilinearly, in every view) and its per-view maxima, with the instruction token and the
proprioception, and predict the Euler bins autoregressively (x, then y given x, then z given both) and
the binary flags.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional

from vla_ros.policy.rendering import VIEWS, project, rendered_channels
from vla_ros.policy.settings import ModelConfig

PROPRIO_DIM = 2  # gripper open (0/1), progress (keyframe index / max_keyframes)
BINARY_HEADS = ("gripper_open", "ignore_collisions", "done")
_HIDDEN = 256


@dataclass
class StageOutput:
    """One stage's heatmap logits (B, V, S, S), decoder features (B, V, D, S, S) and instruction token
    (B, width)."""

    heatmap_logits: torch.Tensor
    features: torch.Tensor
    instruction: torch.Tensor


@dataclass
class HeadOutput:
    """Rotation logits (B, 3, bins) and (B, 2) logits of every binary head (class 1 = true)."""

    rotation_logits: torch.Tensor
    binary_logits: dict[str, torch.Tensor]


def _encoder_layer(config: ModelConfig) -> nn.TransformerEncoderLayer:
    return nn.TransformerEncoderLayer(
        config.width,
        config.heads,
        4 * config.width,
        dropout=0.0,
        activation="gelu",
        batch_first=True,
        norm_first=True,
    )


class MultiViewTransformer(nn.Module):
    """One stage (see the module docstring); ``feature_channels`` are the per-point features of the cloud."""

    def __init__(self, config: ModelConfig, feature_channels: int) -> None:
        super().__init__()
        channels = rendered_channels(feature_channels)
        width, decoder = config.width, config.decoder_channels
        grid = config.image_size // config.patch_size
        self.patch_embedding = nn.Conv2d(channels, width, config.patch_size, config.patch_size)
        self.position_embedding = nn.Parameter(torch.randn(1, 1, grid * grid, width) * 0.02)
        self.view_embedding = nn.Parameter(torch.randn(1, len(config.views), 1, width) * 0.02)
        self.proprio_embedding = nn.Linear(PROPRIO_DIM, width)
        self.language_embedding = nn.Linear(config.language_dim, width)
        self.view_layers = nn.ModuleList(_encoder_layer(config) for _ in range(config.view_layers))
        self.cross_layers = nn.ModuleList(_encoder_layer(config) for _ in range(config.cross_layers))
        self.norm = nn.LayerNorm(width)
        self.upsample = nn.ConvTranspose2d(width, decoder, config.patch_size, config.patch_size)
        self.skip = nn.Sequential(nn.Conv2d(channels, decoder, 3, padding=1), nn.GELU())
        self.decoder = nn.Sequential(
            nn.Conv2d(2 * decoder, decoder, 3, padding=1),
            nn.GELU(),
            nn.Conv2d(decoder, decoder, 3, padding=1),
            nn.GELU(),
        )
        self.heatmap = nn.Conv2d(decoder, 1, 1)

    def forward(self, views: torch.Tensor, language: torch.Tensor, proprio: torch.Tensor) -> StageOutput:
        """``views`` (B, V, C, S, S), ``language`` (B, language_dim), ``proprio`` (B, 2)."""
        batch, view_count, channels, size, _ = views.shape
        flat_views = views.reshape(batch * view_count, channels, size, size)
        tokens = self.patch_embedding(flat_views)
        grid = tokens.shape[-1]
        tokens = tokens.flatten(2).transpose(1, 2).reshape(batch, view_count, grid * grid, -1)
        tokens = tokens + self.position_embedding + self.view_embedding
        tokens = tokens + self.proprio_embedding(proprio)[:, None, None]
        width = tokens.shape[-1]
        tokens = tokens.reshape(batch * view_count, grid * grid, width)
        for layer in self.view_layers:
            tokens = layer(tokens)
        sequence = torch.cat(
            [
                self.language_embedding(language)[:, None],
                tokens.reshape(batch, view_count * grid * grid, width),
            ],
            dim=1,
        )
        for layer in self.cross_layers:
            sequence = layer(sequence)
        sequence = self.norm(sequence)
        instruction, tokens = sequence[:, 0], sequence[:, 1:]
        feature_map = tokens.reshape(batch * view_count, grid, grid, width).permute(0, 3, 1, 2)
        features = self.decoder(torch.cat([self.upsample(feature_map), self.skip(flat_views)], dim=1))
        heatmap_logits = self.heatmap(features).reshape(batch, view_count, size, size)
        return StageOutput(heatmap_logits, features.reshape(batch, view_count, -1, size, size), instruction)


def point_features(features: torch.Tensor, views: tuple[str, ...], points: torch.Tensor) -> torch.Tensor:
    """Features (B, V * D) bilinearly sampled at the projection of ``points`` (B, 3) in every view of
    ``features`` (B, V, D, S, S)."""
    sampled = []
    for index, name in enumerate(views):
        u, v, _ = project(points, VIEWS[name])
        grid = torch.stack([u, v], dim=-1)[:, None, None]  # (B, 1, 1, 2)
        value = functional.grid_sample(
            features[:, index], grid, mode="bilinear", padding_mode="border", align_corners=False
        )
        sampled.append(value[:, :, 0, 0])
    return torch.cat(sampled, dim=1)


class KeyframeHeads(nn.Module):
    """Rotation (Euler bins x -> y -> z, each conditioned on the ones before) and the binary flags,
    from a stage's features at a point (see the module docstring)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.views = config.views
        self.bins = config.rotation_bins
        inputs = 2 * len(config.views) * config.decoder_channels + config.width + PROPRIO_DIM
        self.trunk = nn.Sequential(
            nn.Linear(inputs, _HIDDEN), nn.GELU(), nn.Linear(_HIDDEN, _HIDDEN), nn.GELU()
        )
        self.rotation = nn.ModuleList(
            nn.Sequential(
                nn.Linear(_HIDDEN + axis * self.bins, _HIDDEN), nn.GELU(), nn.Linear(_HIDDEN, self.bins)
            )
            for axis in range(3)
        )
        self.binary = nn.Linear(_HIDDEN, 2 * len(BINARY_HEADS))

    def forward(
        self,
        stage: StageOutput,
        points: torch.Tensor,
        proprio: torch.Tensor,
        rotation_bins: torch.Tensor | None = None,
    ) -> HeadOutput:
        """Heads at ``points`` (B, 3), in the stage's normalised cube. ``rotation_bins`` (B, 3): the
        target bins to condition each axis on (teacher forcing); None conditions each axis on the
        previous axes' most likely bins (inference)."""
        local = point_features(stage.features, self.views, points)
        pooled = stage.features.flatten(3).amax(dim=-1).flatten(1)
        hidden = self.trunk(torch.cat([local, pooled, stage.instruction, proprio], dim=1))
        logits, previous = [], []
        for axis, head in enumerate(self.rotation):
            axis_logits = head(torch.cat([hidden, *previous], dim=1))
            logits.append(axis_logits)
            chosen = axis_logits.argmax(dim=-1) if rotation_bins is None else rotation_bins[:, axis]
            previous.append(functional.one_hot(chosen, self.bins).to(hidden.dtype))
        binary = self.binary(hidden).reshape(len(hidden), len(BINARY_HEADS), 2)
        return HeadOutput(
            torch.stack(logits, dim=1), {name: binary[:, i] for i, name in enumerate(BINARY_HEADS)}
        )


class KeyframeNetwork(nn.Module):
    """The coarse and fine stages and the heads; the steps between them (lifting, re-centring and
    re-rendering) are in :mod:`vla_ros.policy.stages`."""

    def __init__(self, config: ModelConfig, feature_channels: int) -> None:
        super().__init__()
        self.config = config
        self.coarse = MultiViewTransformer(config, feature_channels)
        self.fine = MultiViewTransformer(config, feature_channels)
        self.heads = KeyframeHeads(config)
