"""Run a trained keyframe policy: observation -> next keyframe (pose, gripper, flags) and what it saw.

:class:`KeyframePolicy` loads a checkpoint (checking that it matches the configuration), builds the
cloud and runs both stages (:mod:`vla_ros.policy.stages`). :func:`decode` turns their outputs into
keyframes and is shared with validation during training.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vla_ros.config import resolve_package_path
from vla_ros.policy.errors import PolicyCheckpointError, PolicyInputError
from vla_ros.policy.language import InstructionEncoder
from vla_ros.policy.model import BINARY_HEADS, KeyframeNetwork
from vla_ros.policy.observation import PolicyObservation, proprioception
from vla_ros.policy.pointcloud import FEATURE_CHANNELS, denormalise, normalise, scene_cloud
from vla_ros.policy.rotation import bins_to_matrix
from vla_ros.policy.settings import PolicyConfig
from vla_ros.policy.stages import TwoStageOutput, from_fine, heatmap_probabilities, run_stages

CHECKPOINT_FORMAT = "vla_ros.keyframe_policy"
CHECKPOINT_VERSION = 2  # 2: two stages and the autoregressive rotation head (issue 17)


# The synthetic input of KeyframePolicy.warm_up.
WARM_UP_POINTS = 2000
WARM_UP_INSTRUCTION = "pick up the block"
# The cloud is thinned to scene.max_points with the same draw at every prediction, so the same
# observation gives the same keyframe whatever was predicted before it (in the graph, in lock-step
# evaluation, on a replay of a recorded frame).
THINNING_SEED = 0


@dataclass(frozen=True)
class DecodedKeyframe:
    """A decoded prediction: TCP pose (4x4, base frame), flags, and the translation heatmaps' agreement
    (``confidence``: geometric mean over views of the lifted point's pixel probability, relative to each
    view's peak, in [0, 1])."""

    pose: np.ndarray
    gripper_open: bool
    ignore_collisions: bool
    done: bool
    confidence: float


@dataclass(frozen=True)
class KeyframePrediction:
    """A prediction with what the policy saw: per-view heatmaps (V, S, S) and rendered RGB (V, S, S, 3)
    of the coarse stage and of the fine one (zoomed on the coarse point), the cropped cloud (base
    frame, m) with its colours, and the time of each step (s: cloud, coarse and fine stage, total)."""

    keyframe: DecodedKeyframe
    heatmaps: np.ndarray
    view_images: np.ndarray
    fine_heatmaps: np.ndarray
    fine_view_images: np.ndarray
    cloud_points: np.ndarray
    cloud_colors: np.ndarray
    timings: dict[str, float]


def decode(output: TwoStageOutput, config: PolicyConfig) -> list[DecodedKeyframe]:
    """Both stages' outputs (run without training's targets) -> one keyframe per batch element: the
    fine stage's lifted point, the rotation bins each axis was conditioned on, and the flags."""
    probabilities = heatmap_probabilities(output.fine.heatmap_logits)
    peak = probabilities.flatten(2).max(dim=-1).values.log().sum(dim=1)
    confidence = torch.exp((output.fine_scores - peak) / len(config.model.views)).clamp(0.0, 1.0)
    heads = output.heads
    bins = heads.rotation_logits.argmax(dim=-1).cpu().numpy()
    flags = {name: heads.binary_logits[name].argmax(dim=-1).cpu().numpy() for name in BINARY_HEADS}
    points = from_fine(output.fine_points, output.fine_centres, config.model.fine_zoom)
    positions = denormalise(points.detach().cpu().numpy(), config.scene)
    keyframes = []
    for index in range(len(positions)):
        pose = np.eye(4)
        pose[:3, :3] = bins_to_matrix(bins[index], config.model.rotation_bins)
        pose[:3, 3] = positions[index]
        keyframes.append(
            DecodedKeyframe(
                pose,
                bool(flags["gripper_open"][index]),
                bool(flags["ignore_collisions"][index]),
                bool(flags["done"][index]),
                float(confidence[index]),
            )
        )
    return keyframes


def load_checkpoint(path: Path, config: PolicyConfig, device: str) -> tuple[KeyframeNetwork, dict[str, Any]]:
    """The network of checkpoint ``path`` on ``device`` (eval mode) and the checkpoint's training record.

    Raises :class:`PolicyCheckpointError` when the file is missing or unreadable, or was trained with
    another scene, path-channel or model configuration than ``config`` (the differences are listed).
    """
    if not path.is_file():
        raise PolicyCheckpointError(
            f"policy checkpoint not found: {path} (train one with `vla-ros train-policy`, or set the "
            "checkpoint parameter)"
        )
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # torch raises many kinds on a corrupt or foreign file
        raise PolicyCheckpointError(f"cannot read policy checkpoint {path}: {error}") from error
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise PolicyCheckpointError(f"{path} is not a {CHECKPOINT_FORMAT} checkpoint")
    if state.get("version") != CHECKPOINT_VERSION:
        raise PolicyCheckpointError(
            f"{path}: checkpoint version {state.get('version')}, this code reads {CHECKPOINT_VERSION} "
            "(retrain it with `vla-ros train-policy`, see models/policy/README.md)"
        )
    expected = config.architecture()
    differences = [
        f"{section}.{key}: checkpoint {state['architecture'].get(section, {}).get(key)!r}, config {value!r}"
        for section, values in expected.items()
        for key, value in values.items()
        if state["architecture"].get(section, {}).get(key) != value
    ]
    if differences:
        raise PolicyCheckpointError(f"{path} does not match the configuration: " + "; ".join(differences))
    model = KeyframeNetwork(config.model, FEATURE_CHANNELS).to(device)
    model.load_state_dict(state["model"])
    return model.eval(), state.get("training", {})


class KeyframePolicy:
    """A trained policy on ``config.device``, ready to predict."""

    def __init__(self, config: PolicyConfig, encoder: InstructionEncoder | None = None) -> None:
        if config.device.startswith("cuda") and not torch.cuda.is_available():
            raise PolicyCheckpointError(f"device {config.device!r} requested but CUDA is not available")
        if config.cpu_threads:
            torch.set_num_threads(config.cpu_threads)
        self.config = config
        self.device = config.device
        self.model, self.training_record = load_checkpoint(
            resolve_package_path(config.checkpoint), config, self.device
        )
        self.encoder = encoder or InstructionEncoder(self.device)
        if self.encoder.dim != config.model.language_dim:
            raise PolicyCheckpointError(
                f"instruction embeddings have {self.encoder.dim} values, model.language_dim is "
                f"{config.model.language_dim}"
            )

    @torch.no_grad()
    def warm_up(self) -> float:
        """Run rendering, the network and lifting once on a synthetic cloud, untimed: torch's first calls
        take about a second, which a robot waiting for keyframe 0 should not pay. Returns the seconds."""
        started = time.perf_counter()
        generator = torch.Generator().manual_seed(0)
        points = torch.rand(WARM_UP_POINTS, 3, generator=generator).mul(2.0).sub(1.0).to(self.device)
        features = torch.rand(WARM_UP_POINTS, FEATURE_CHANNELS, generator=generator).to(self.device)
        proprio = torch.from_numpy(proprioception(True, 0, self.config.model))[None].to(self.device)
        language = torch.from_numpy(self.encoder(WARM_UP_INSTRUCTION))[None].to(self.device)
        decode(
            run_stages(self.model, [(points, features)], language, proprio, self.config.lifting), self.config
        )
        return time.perf_counter() - started

    @torch.no_grad()
    def predict(self, observation: PolicyObservation) -> KeyframePrediction:
        """The next keyframe for ``observation``; raises :class:`PolicyInputError` for unusable input."""
        if not observation.instruction.strip():
            raise PolicyInputError("empty instruction")
        config = self.config
        started = time.perf_counter()
        cloud = scene_cloud(
            observation.rgb,
            observation.depth,
            observation.intrinsics,
            observation.base_from_camera,
            observation.path,
            config.scene,
            config.path_channels,
            np.random.default_rng(THINNING_SEED),
        )
        cloud_done = time.perf_counter()
        points = torch.from_numpy(normalise(cloud.points, config.scene)).to(self.device)
        features = torch.from_numpy(cloud.features).to(self.device)
        language = torch.from_numpy(self.encoder(observation.instruction))[None].to(self.device)
        proprio = proprioception(observation.gripper_open, observation.keyframe_index, config.model)
        timings = {"cloud": cloud_done - started}
        output = run_stages(
            self.model,
            [(points, features)],
            language,
            torch.from_numpy(proprio)[None].to(self.device),
            config.lifting,
            timings=timings,
        )
        keyframe = decode(output, config)[0]
        finished = time.perf_counter()
        return KeyframePrediction(
            keyframe,
            heatmap_probabilities(output.coarse.heatmap_logits)[0].cpu().numpy(),
            output.coarse_views[0, :, :3].permute(0, 2, 3, 1).cpu().numpy(),
            heatmap_probabilities(output.fine.heatmap_logits)[0].cpu().numpy(),
            output.fine_views[0, :, :3].permute(0, 2, 3, 1).cpu().numpy(),
            cloud.points,
            cloud.features[:, :3],
            {**timings, "total": finished - started},
        )
