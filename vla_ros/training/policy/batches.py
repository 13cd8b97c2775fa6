"""Training batches of the keyframe policy: samples to tensors, with training's augmentation (a random
translation and yaw of cloud and target together, colour jitter) and each target orientation's
equivalents under the gripper's yaw symmetry."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vla_ros.data.geometry import rpy_to_matrix
from vla_ros.policy.model import BINARY_HEADS
from vla_ros.policy.rotation import matrix_to_bins
from vla_ros.policy.settings import PolicyConfig
from vla_ros.policy.stages import Cloud
from vla_ros.training.policy.data import KeyframeSample

_TARGET_MARGIN = 0.98  # an augmentation that moves the target this close to the cube's faces is undone


@dataclass
class Batch:
    """Network inputs and targets of a batch (tensors on the training device); clouds and targets are
    normalised to the workspace cube."""

    clouds: list[Cloud]
    language: torch.Tensor
    proprio: torch.Tensor
    targets: torch.Tensor  # (B, 3)
    rotation_bins: torch.Tensor  # (B, E, 3): the target's and its E - 1 equivalents' Euler bins
    binary: dict[str, torch.Tensor]
    target_positions: np.ndarray  # (B, 3) base frame, m
    target_rotations: np.ndarray  # (B, E, 3, 3): the target orientation and its equivalents
    tasks: list[str]


def make_batch(
    samples: list[KeyframeSample],
    config: PolicyConfig,
    device: str,
    rng: np.random.Generator | None,
    equivalent_yaws: tuple[float, ...] = (0.0,),
) -> Batch:
    """``samples`` as a batch; with ``rng``, each is augmented by a random translation and yaw, and its
    colours by a random brightness offset and per-channel gain. Each target orientation comes with its
    turns by ``equivalent_yaws`` (rad, 0 first) about the TCP z axis."""
    scene, training = config.scene, config.training
    centre, reach = np.asarray(scene.centre), np.asarray(training.augment_translation)
    clouds, targets, rotations, positions = [], [], [], []
    for sample in samples:
        yaw, shift = 0.0, np.zeros(3)
        if rng is not None:
            yaw = float(rng.uniform(-training.augment_yaw, training.augment_yaw))
            shift = rng.uniform(-reach, reach)
        turn = rpy_to_matrix(0.0, 0.0, yaw)
        target = turn @ (sample.target_position - centre) + shift
        if np.max(np.abs(target)) > _TARGET_MARGIN * scene.half_size:
            turn, shift, target = np.eye(3), np.zeros(3), sample.target_position - centre
        points = (sample.points.astype(np.float64) - centre) @ turn.T + shift
        features = sample.features.astype(np.float32)
        if rng is not None and training.colour_jitter > 0:
            jitter = training.colour_jitter
            gain = 1.0 + rng.uniform(-jitter, jitter, 3) + rng.uniform(-jitter, jitter)
            features[:, :3] = np.clip(features[:, :3] * gain.astype(np.float32), 0.0, 1.0)
        clouds.append(
            (
                torch.from_numpy((points / scene.half_size).astype(np.float32)).to(device),
                torch.from_numpy(features).to(device),
            )
        )
        targets.append(target / scene.half_size)
        rotations.append(
            [turn @ sample.target_rotation @ rpy_to_matrix(0.0, 0.0, twin) for twin in equivalent_yaws]
        )
        positions.append(target + centre)
    target_tensor = torch.tensor(np.array(targets), dtype=torch.float32, device=device)
    binary = {
        name: torch.tensor([bool(getattr(s, name)) for s in samples], dtype=torch.long, device=device)
        for name in BINARY_HEADS
    }
    return Batch(
        clouds,
        torch.tensor(np.array([s.language for s in samples]), dtype=torch.float32, device=device),
        torch.tensor(np.array([s.proprio for s in samples]), dtype=torch.float32, device=device),
        target_tensor,
        torch.tensor(
            np.array([[matrix_to_bins(r, config.model.rotation_bins) for r in twins] for twins in rotations]),
            device=device,
        ),
        binary,
        np.array(positions),
        np.array(rotations),
        [sample_task(s.episode) for s in samples],
    )


def sample_task(episode: str) -> str:
    """The task of an episode directory name (``<task>_<split>_<seed>``)."""
    return episode.rsplit("_", 2)[0]
