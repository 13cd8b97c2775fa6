"""The multi-view transformer (RVT style): rendered views + instruction + proprioception -> one heatmap
per view, and rotation / gripper / collision / done logits.

Patches of every view attend within their view first, then across all views and the instruction
token. Token features are upsampled back to the view resolution and fused with a convolution of the
rendered input (a skip connection) to score every pixel. The discrete heads read the decoder features
pooled under a location distribution per view (the predicted heatmap at inference, the target's
Gaussian in training, as RVT-2 reads features at the predicted point) and the instruction token.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vla_ros.policy.rendering import rendered_channels
from vla_ros.policy.settings import ModelConfig

PROPRIO_DIM = 2  # gripper open (0/1), progress (keyframe index / max_keyframes)
BINARY_HEADS = ("gripper_open", "ignore_collisions", "done")


@dataclass
class PolicyOutput:
    """Raw network outputs: heatmap logits (B, V, S, S), rotation logits (B, 3, bins), and (B, 2)
    logits of every binary head (class 1 = true)."""

    heatmap_logits: torch.Tensor
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
    """See the module docstring; ``feature_channels`` are the per-point features of the cloud."""

    def __init__(self, config: ModelConfig, feature_channels: int) -> None:
        super().__init__()
        self.config = config
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
        outputs = 3 * config.rotation_bins + 2 * len(BINARY_HEADS)
        self.heads = nn.Sequential(
            nn.Linear(len(config.views) * decoder + width + PROPRIO_DIM, 256),
            nn.GELU(),
            nn.Linear(256, outputs),
        )

    def forward(
        self,
        views: torch.Tensor,
        language: torch.Tensor,
        proprio: torch.Tensor,
        location: torch.Tensor | None = None,
    ) -> PolicyOutput:
        """``views`` (B, V, C, S, S), ``language`` (B, language_dim), ``proprio`` (B, 2); ``location``
        (B, V, S, S) distributions to pool head features under (default: the predicted heatmaps)."""
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
        instruction_token, tokens = sequence[:, 0], sequence[:, 1:]
        feature_map = tokens.reshape(batch * view_count, grid, grid, width).permute(0, 3, 1, 2)
        features = self.decoder(torch.cat([self.upsample(feature_map), self.skip(flat_views)], dim=1))
        heatmap_logits = self.heatmap(features).reshape(batch, view_count, size, size)
        if location is None:
            location = torch.softmax(heatmap_logits.flatten(2), dim=-1).reshape_as(heatmap_logits)
        features = features.reshape(batch, view_count, -1, size * size)
        pooled = torch.einsum("bvp,bvcp->bvc", location.flatten(2), features).flatten(1)
        logits = self.heads(torch.cat([pooled, instruction_token, proprio], dim=1))
        bins = self.config.rotation_bins
        rotation = logits[:, : 3 * bins].reshape(batch, 3, bins)
        binary = logits[:, 3 * bins :].reshape(batch, len(BINARY_HEADS), 2)
        return PolicyOutput(
            heatmap_logits, rotation, {name: binary[:, i] for i, name in enumerate(BINARY_HEADS)}
        )
