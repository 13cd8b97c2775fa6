"""A small synthetic dataset in the recorder's episode format, for the planner training tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from vla_ros.data.dataset import FORMAT_NAME, FORMAT_VERSION, FRAMES_FILE, META_FILE
from vla_ros.planning.hamster_format import format_answer
from vla_ros.planning.path import PlannedPath

IMAGE_SIZE = (60, 80)  # height, width
# (task, instruction, colour, cube centre (x, y) normalised)
EPISODES = (
    ("lift_block", "lift the red block", (230, 30, 30), (0.30, 0.60)),
    ("lift_block", "lift the blue block", (30, 30, 230), (0.70, 0.55)),
    ("press_button", "press the green button", (30, 200, 30), (0.50, 0.75)),
)


def synthetic_label(centre: tuple[float, float]) -> PlannedPath:
    """From a fixed start down to the cube, close the gripper, lift."""
    x, y = centre
    return PlannedPath([(0.50, 0.15), (x, y), (x, y - 0.20)], [True, False, False])


FOCAL_PX = 100.0


def synthetic_camera_and_object(
    centre: tuple[float, float], colour_name: str
) -> tuple[dict[str, object], dict[str, object]]:
    """A camera at the base origin looking along +z and one cube whose centre (at the landmark
    height, 2 cm) projects to ``centre`` (normalised) in an image of IMAGE_SIZE."""
    height, width = IMAGE_SIZE
    u, v = centre[0] * width - 0.5, centre[1] * height - 0.5
    camera = {
        "width": width,
        "height": height,
        "K": [[FOCAL_PX, 0.0, 0.0], [0.0, FOCAL_PX, 0.0], [0.0, 0.0, 1.0]],
        "base_from_camera": np.eye(4).tolist(),
    }
    cube = {"kind": "cube", "colour": colour_name, "x": u * 0.02 / FOCAL_PX, "y": v * 0.02 / FOCAL_PX}
    return camera, {"objects": [cube]}


def write_episode(
    directory: Path,
    task: str,
    instruction: str,
    image: np.ndarray,
    answer: str,
    scene: tuple[dict[str, object], dict[str, object]] | None = None,
) -> None:
    """One episode as :class:`vla_ros.data.dataset.EpisodeReader` reads it (meta + first frame,
    with ``scene`` = (camera, scene) when given)."""
    directory.mkdir(parents=True)
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "task": task,
        "split": "train",
        "instruction": instruction,
        "path": {"answer": answer},
    }
    if scene is not None:
        meta["camera"], meta["scene"] = scene
    (directory / META_FILE).write_text(json.dumps(meta))
    np.savez_compressed(directory / FRAMES_FILE, rgb=image[None])


def write_synthetic_dataset(root: Path) -> Path:
    """Three episodes under ``root``: a coloured square on a grey table, the path going to it."""
    height, width = IMAGE_SIZE
    for index, (task, instruction, colour, centre) in enumerate(EPISODES):
        image = np.full((height, width, 3), 90, dtype=np.uint8)
        column, row = int(centre[0] * width), int(centre[1] * height)
        image[row - 4 : row + 4, column - 4 : column + 4] = colour
        answer = format_answer(synthetic_label(centre))
        scene = synthetic_camera_and_object(centre, instruction.split()[-2])
        write_episode(root / f"{task}_{index:03d}", task, instruction, image, answer, scene)
    return root
