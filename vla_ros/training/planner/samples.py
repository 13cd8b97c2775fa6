"""The planner's training and evaluation samples: each recorded episode's first frame, instruction and
path label, with the scene's objects as image landmarks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vla_ros.data.camera import CameraIntrinsics
from vla_ros.data.dataset import DatasetError, EpisodeReader, list_episodes
from vla_ros.data.path_labels import normalised_image_points
from vla_ros.planning.errors import PathParseError
from vla_ros.planning.hamster_format import ParseOptions, parse_answer
from vla_ros.planning.path import PlannedPath

# Height (m) above the table at which an object's landmark point is taken: a cube's centre.
LANDMARK_HEIGHT_M = 0.02


class PlannerDataError(ValueError):
    """A dataset holds no usable episodes, or an episode's path label is unreadable."""


@dataclass(frozen=True, eq=False)
class Landmark:
    """An object in the first frame: how it is named (``"red cube"``) and where it is in the image
    (normalised x, y of its centre at :data:`LANDMARK_HEIGHT_M`)."""

    description: str
    point: np.ndarray


@dataclass(frozen=True, eq=False)
class PlannerSample:
    """One episode as the planner sees it: first colour frame, instruction and the path label,
    with the scene's objects as landmarks (for pointing examples in training)."""

    name: str
    task: str
    instruction: str
    image: np.ndarray
    label: PlannedPath
    landmarks: tuple[Landmark, ...] = ()


def episode_landmarks(episode: EpisodeReader) -> tuple[Landmark, ...]:
    """Every object of the episode's scene, named by colour and kind, projected into the first frame
    (none when the episode records no scene)."""
    objects = episode.meta.get("scene", {}).get("objects", [])
    if not objects:
        return ()
    camera = episode.meta["camera"]
    intrinsics = CameraIntrinsics.from_matrix(camera["width"], camera["height"], episode.intrinsics_matrix)
    centres = np.array([[item["x"], item["y"], LANDMARK_HEIGHT_M] for item in objects], dtype=float)
    points = normalised_image_points(intrinsics, episode.camera_pose, centres)
    return tuple(
        Landmark(f"{item['colour']} {item['kind']}", point)
        for item, point in zip(objects, points, strict=True)
    )


def load_samples(datasets: Sequence[Path], options: ParseOptions) -> list[PlannerSample]:
    """Read every episode of the dataset directories (as written by ``vla-ros collect``)."""
    samples = []
    for dataset in datasets:
        for directory in list_episodes(dataset):
            episode = EpisodeReader(directory)
            image = episode.arrays["rgb"][0]
            try:
                label = parse_answer(episode.planner_label(), options, image.shape[1], image.shape[0])
            except (KeyError, PathParseError, DatasetError) as error:
                raise PlannerDataError(f"{directory}: no readable path label: {error}") from error
            try:
                landmarks = episode_landmarks(episode)
            except (KeyError, TypeError, ValueError) as error:
                raise PlannerDataError(f"{directory}: unreadable scene objects or camera: {error}") from error
            samples.append(
                PlannerSample(
                    directory.name, str(episode.meta["task"]), episode.instruction, image, label, landmarks
                )
            )
    if not samples:
        raise PlannerDataError(f"no episodes in {', '.join(str(d) for d in datasets)}")
    return samples
