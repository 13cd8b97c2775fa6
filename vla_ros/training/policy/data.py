"""Training samples from the workcell's demonstrations (``vla-ros collect``): one per expert keyframe,
and one per recorded frame between keyframes.

Sample ``k`` of an episode observes the frame recorded on arrival at keyframe ``k - 1`` (the first
frame for ``k = 0``), with the episode's path and instruction, and targets keyframe ``k``: the
commanded TCP pose, the gripper state, ignore-collisions (a contact move: the gripper changes there or
the TCP ends below ``labels.contact_height``) and done (the last keyframe). With
``training.intermediate_every`` n > 0, every n-th frame recorded after that frame, in the first
``training.intermediate_fraction`` of the frames up to keyframe ``k``'s arrival, is a sample with the
same target (PerAct's and RVT's demo augmentation), observing its own measured gripper state. The
frames near the arrival are left out: they look like the arrival frame itself, which targets the
keyframe after (trained on them, the policy mixed up neighbouring keyframes).

The path is the episode's label, or with probability ``training.planner_paths`` the trained planner's
answer on the first frame where the dataset has one (``planner_paths.json``, ``vla-ros policy-paths``),
or the label moved by ``path_noise``.

A recovery demonstration (``vla-ros collect --recovery``) has no sample targeting a spoiled keyframe:
its samples start at the lift after the spoiled attempt, observing the scene that attempt left. Its
path label draws the spoiled attempt, so every sample of it takes the planner's path.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from vla_ros.data.dataset import DatasetError, EpisodeReader, list_episodes
from vla_ros.data.geometry import quaternion_to_matrix
from vla_ros.planning.path import PlannedPath
from vla_ros.policy.errors import PolicyInputError
from vla_ros.policy.observation import PolicyObservation, proprioception
from vla_ros.policy.pointcloud import scene_cloud
from vla_ros.policy.settings import PathNoiseConfig, PolicyConfig
from vla_ros.training.policy.planner_paths import PLANNER_PATHS_FILE, read_planner_paths


@dataclass(frozen=True)
class KeyframeSample:
    """One training sample; ``points`` (N, 3) in the base frame (m) and ``features`` stored as float16."""

    points: np.ndarray
    features: np.ndarray
    language: np.ndarray
    proprio: np.ndarray
    target_position: np.ndarray
    target_rotation: np.ndarray
    gripper_open: bool
    ignore_collisions: bool
    done: bool
    episode: str
    keyframe_index: int
    intermediate: bool
    path_source: str  # label, noisy or planner


def episode_path(reader: EpisodeReader) -> PlannedPath:
    """The HAMSTER path label of an episode."""
    label = reader.meta["path"]
    return PlannedPath(label["points"], label["gripper_open"], label["initial_gripper_open"])


def perturb_path(path: PlannedPath, noise: PathNoiseConfig, rng: np.random.Generator) -> PlannedPath:
    """``path`` moved as a planner might get it wrong (see :class:`PathNoiseConfig`); the start point
    (the gripper, which planners find) stays, the points stay inside the image."""
    if rng.random() >= noise.probability:
        return path
    moved = path.points.copy()
    offset = rng.normal(0.0, noise.offset, 2)
    moved[1:] += offset + rng.normal(0.0, noise.jitter, (len(moved) - 1, 2))
    return PlannedPath(np.clip(moved, 0.0, 1.0), path.gripper_open, path.initial_gripper_open)


def episode_observation(
    reader: EpisodeReader, frame: int, gripper_open: bool, keyframe_index: int
) -> PolicyObservation:
    """What the policy would observe at ``frame`` of a recorded episode (with its path label)."""
    return PolicyObservation(
        reader.arrays["rgb"][frame],
        reader.depth_metres()[frame],
        reader.intrinsics_matrix,
        reader.camera_pose,
        episode_path(reader),
        reader.instruction,
        gripper_open,
        keyframe_index,
    )


def sample_frames(
    keyframe_frames: list[int], intermediate_every: int, intermediate_fraction: float
) -> list[tuple[int, int, bool]]:
    """(frame, keyframe index it targets, intermediate?) of every sample of an episode whose keyframes
    arrive at ``keyframe_frames``: the arrival frame of the previous keyframe (0 for the first), then
    every ``intermediate_every``-th frame after it in the first ``intermediate_fraction`` of the frames
    up to the keyframe's own arrival frame (excluded)."""
    samples = []
    for index, arrival in enumerate(keyframe_frames):
        start = 0 if index == 0 else keyframe_frames[index - 1]
        samples.append((start, index, False))
        if intermediate_every > 0:
            end = min(arrival - 1, start + int(intermediate_fraction * (arrival - start)))
            samples.extend(
                (frame, index, True)
                for frame in range(start + intermediate_every, end + 1, intermediate_every)
            )
    return samples


def episode_samples(
    reader: EpisodeReader,
    config: PolicyConfig,
    embed: Callable[[str], np.ndarray],
    rng: np.random.Generator,
    path_noise: PathNoiseConfig | None = None,
    planner_path: PlannedPath | None = None,
    intermediate_every: int = 0,
    intermediate_fraction: float = 1.0,
) -> list[KeyframeSample]:
    """Every sample of one episode (see the module docstring); each draws its own path."""
    keyframes = reader.meta.get("expert_keyframes")
    if not keyframes:
        raise DatasetError(f"{reader.directory}: no expert_keyframes (recorded by an older collect?)")
    arrays = reader.arrays
    depth = reader.depth_metres()
    label = episode_path(reader)
    language = embed(reader.instruction)
    planner_share = config.training.planner_paths if planner_path is not None else 0.0
    if reader.recovery:
        if planner_path is None:
            raise DatasetError(
                f"{reader.directory}: a recovery demonstration trains on the planner's path, and its "
                "dataset has none for it (run vla-ros policy-paths)"
            )
        planner_share = 1.0
    samples = []
    for frame, index, intermediate in sample_frames(
        [k["frame"] for k in keyframes], intermediate_every, intermediate_fraction
    ):
        keyframe = keyframes[index]
        if keyframe.get("spoiled", False):
            continue
        observed_open = bool(arrays["gripper_open"][frame])
        if rng.random() < planner_share:
            path, source = planner_path, "planner"
        elif path_noise is not None:
            path = perturb_path(label, path_noise, rng)
            source = "label" if path is label else "noisy"
        else:
            path, source = label, "label"
        cloud = scene_cloud(
            arrays["rgb"][frame],
            depth[frame],
            reader.intrinsics_matrix,
            reader.camera_pose,
            path,
            config.scene,
            config.path_channels,
            rng,
        )
        position = np.array(keyframe["tcp_pose"][:3])
        samples.append(
            KeyframeSample(
                cloud.points.astype(np.float16),
                cloud.features.astype(np.float16),
                language,
                proprioception(observed_open, index, config.model),
                position,
                quaternion_to_matrix(keyframe["tcp_pose"][3:]),
                bool(keyframe["gripper_open"]),
                bool(keyframe["gripper_open"]) != observed_open or position[2] < config.labels.contact_height,
                index == len(keyframes) - 1,
                reader.directory.name,
                index,
                intermediate,
                source,
            )
        )
    return samples


def load_samples(
    datasets: list[Path],
    config: PolicyConfig,
    embed: Callable[[str], np.ndarray],
    seed: int,
    progress: bool = True,
    path_noise: PathNoiseConfig | None = None,
    augmented: bool = True,
) -> list[KeyframeSample]:
    """The samples of every episode of ``datasets`` (episodes whose frames give no cloud are reported).
    ``augmented`` (training data): intermediate frames and planner paths as ``config.training`` says,
    and paths perturbed by ``path_noise`` when given; otherwise keyframe samples on the path labels
    (validation).

    Each dataset's samples are cached in the dataset directory (``.policy_samples_<key>.pt``, the key
    a hash of everything that shapes them), so a second training run starts at once.
    """
    samples: list[KeyframeSample] = []
    for dataset in datasets:
        episodes = list_episodes(dataset)
        if not episodes:
            raise DatasetError(f"no episodes in {dataset}")
        training = config.training
        planner_paths = read_planner_paths(Path(dataset) / PLANNER_PATHS_FILE)
        key = {
            "episodes": [episode.name for episode in episodes],
            "seed": seed,
            "inputs": config.architecture(),
            "labels": asdict(config.labels),
            **({} if path_noise is None or not augmented else {"path_noise": asdict(path_noise)}),
            **(
                {
                    "intermediate_every": training.intermediate_every,
                    "intermediate_fraction": training.intermediate_fraction,
                    "planner_paths": training.planner_paths,
                    "planner_answers": {name: path.points.tolist() for name, path in planner_paths.items()},
                }
                if augmented
                else {}
            ),
        }
        digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        cache = Path(dataset) / f".policy_samples_{digest}.pt"
        if cache.is_file():
            samples.extend(KeyframeSample(**fields) for fields in torch.load(cache, weights_only=False))
            continue
        rng = np.random.default_rng(seed)
        loaded: list[KeyframeSample] = []
        for directory in tqdm(episodes, desc=f"load {Path(dataset).name}", disable=not progress):
            try:
                loaded.extend(
                    episode_samples(
                        EpisodeReader(directory),
                        config,
                        embed,
                        rng,
                        path_noise if augmented else None,
                        planner_paths.get(directory.name) if augmented else None,
                        training.intermediate_every if augmented else 0,
                        training.intermediate_fraction,
                    )
                )
            except PolicyInputError as error:
                print(f"skipping {directory.name}: {error}")
        torch.save([asdict(sample) for sample in loaded], cache)
        samples.extend(loaded)
    return samples
