"""Recording: collect one demonstration, read it back, and export the VLM fine-tuning record."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vla_ros.data.dataset import DatasetError, EpisodeReader, list_episodes
from vla_ros.data.geometry import pose_to_vector
from vla_ros.sim.collect import collect, episode_name
from vla_ros.sim.export_vlm import JSONL_FILE, export_vlm


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demos")
    collect(["press_button"], episodes=1, split="train", seed=0, out=out, progress=False)
    return out


def test_collected_episode_is_self_describing(dataset: Path) -> None:
    index = json.loads((dataset / "dataset.json").read_text())
    assert index["episodes"] == [episode_name("press_button", "train", 0)]
    assert index["collections"][0]["demos_per_minute"] > 0
    [directory] = list_episodes(dataset)
    episode = EpisodeReader(directory)
    meta, arrays = episode.meta, episode.arrays
    frames = meta["num_frames"]
    assert meta["success"] and meta["instruction"] and meta["frames"]["base"] == "panda_link0"
    for name, description in meta["arrays"].items():
        assert list(arrays[name].shape) == description["shape"]
        assert arrays[name].shape[0] == frames
    assert arrays["rgb"].dtype == np.uint8 and arrays["rgb"].shape[1:] == (
        meta["camera"]["height"],
        meta["camera"]["width"],
        3,
    )
    # camera-rate frames: uniform spacing of 1 / rate
    np.testing.assert_allclose(np.diff(arrays["time"]), 1.0 / meta["camera_rate_hz"], atol=1e-6)
    depth = episode.depth_metres()
    assert depth.dtype == np.float32 and 0.3 < np.nanmedian(depth) < 2.0
    assert episode.intrinsics_matrix.shape == (3, 3) and episode.camera_pose.shape == (4, 4)
    # the press: gripper closes once, the labels exist and end at the last frame
    assert not arrays["gripper_open"][-1]
    assert meta["keyframes"][-1] == frames - 1
    assert meta["path"]["answer"].startswith("<ans>[(") and "Close Gripper" in meta["path"]["answer"]
    assert (directory / "preview.png").is_file()


def test_tcp_pose_rows_are_unit_quaternion_poses(dataset: Path) -> None:
    episode = EpisodeReader(list_episodes(dataset)[0])
    tcp = episode.arrays["tcp_pose"]
    np.testing.assert_allclose(np.linalg.norm(tcp[:, 3:], axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(pose_to_vector(np.eye(4)), [0, 0, 0, 0, 0, 0, 1])


def test_export_vlm_writes_hamster_records(dataset: Path, tmp_path: Path) -> None:
    assert export_vlm(dataset, tmp_path) == 1
    [line] = (tmp_path / JSONL_FILE).read_text().splitlines()
    record = json.loads(line)
    assert (tmp_path / record["image"]).is_file()
    human, answer = record["conversations"]
    assert f"<quest>{record['instruction']}</quest>" in human["value"]
    assert human["value"].startswith("<image>\n")
    assert answer["value"].startswith("<ans>[") and answer["value"].endswith("]</ans>")


def test_reader_rejects_other_directories(tmp_path: Path) -> None:
    with pytest.raises(DatasetError):
        EpisodeReader(tmp_path)
    (tmp_path / "meta.json").write_text(json.dumps({"format": "something", "format_version": 1}))
    with pytest.raises(DatasetError, match="format"):
        EpisodeReader(tmp_path)


def test_keyframe_recording_keeps_the_expert_keyframes_and_the_same_path_label(
    dataset: Path, tmp_path: Path
) -> None:
    collect(["press_button"], 1, "train", 0, tmp_path, progress=False, frames="keyframes")
    sparse = EpisodeReader(list_episodes(tmp_path)[0])
    dense = EpisodeReader(list_episodes(dataset)[0])
    assert sparse.meta["frames_recorded"] == "keyframes" and dense.meta["frames_recorded"] == "camera"
    assert sparse.meta["path"] == dense.meta["path"], "the label comes from the control-rate trace in both"
    keyframes = sparse.meta["expert_keyframes"]
    same = [(k["tick"], k["tcp_pose"], k["gripper_open"]) for k in keyframes]
    assert same == [(k["tick"], k["tcp_pose"], k["gripper_open"]) for k in dense.meta["expert_keyframes"]]
    # press: close at the start pose, above the button, press, back up
    assert [k["gripper_open"] for k in keyframes] == [False] * 4
    assert keyframes[2]["tcp_pose"][2] < keyframes[1]["tcp_pose"][2]
    frames = sparse.meta["num_frames"]
    assert frames < 10 and [k["frame"] for k in keyframes] == sparse.meta["keyframes"]
    assert all(0 < k["frame"] < frames for k in keyframes)
    # a keyframe's frame shows the arm arrived: the measured TCP is at the commanded keypose
    for keyframe in keyframes:
        measured = sparse.arrays["tcp_pose"][keyframe["frame"], :3]
        assert np.linalg.norm(measured - np.array(keyframe["tcp_pose"][:3])) < 0.01


def test_camera_perturbation_moves_the_camera_within_its_range_and_keeps_the_scene(
    dataset: Path, tmp_path: Path
) -> None:
    collect(
        ["press_button"],
        1,
        "train",
        0,
        tmp_path,
        progress=False,
        frames="keyframes",
        camera_perturbation=(0.015, 0.025),
    )
    moved, fixed = (EpisodeReader(list_episodes(d)[0]).meta for d in (tmp_path, dataset))
    offset = np.array(moved["scene"]["camera_offset"])
    assert np.all(np.abs(offset[:3]) <= 0.015) and np.all(np.abs(offset[3:]) <= 0.025)
    assert np.abs(offset).max() > 0.001 and not np.any(fixed["scene"]["camera_offset"])
    assert moved["scene"]["objects"] == fixed["scene"]["objects"], "the same seed places the same objects"
    assert (
        np.abs(
            np.array(moved["camera"]["base_from_camera"]) - np.array(fixed["camera"]["base_from_camera"])
        ).max()
        > 0.001
    )
    index = json.loads((tmp_path / "dataset.json").read_text())
    assert index["collections"][0]["camera_perturbation"] == {"translation": 0.015, "rotation": 0.025}
