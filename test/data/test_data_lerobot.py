"""Our episodes as a LeRobotDataset v3.0 and back: the layout LeRobot reads (info, tasks, episodes,
stats, data parquet, one mp4 per video key), and a round trip that keeps frames, joints, gripper,
keyframes, instruction and the episode's labels."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vla_ros.data.camera import CameraIntrinsics
from vla_ros.data.dataset import EpisodeReader, camera_meta, list_episodes, write_episode
from vla_ros.data.lerobot import LeRobotFormatError, export_lerobot, import_lerobot, keyframe_actions

RATE, WIDTH, HEIGHT = 10.0, 32, 24
JOINTS = ["j1", "j2", "f1", "f2"]


def make_episode(
    directory, frames: int, instruction: str, keyframes: list[int], seed: int, times=None
) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / RATE + 3.0 if times is None else times
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    rgb = np.stack([np.stack([xx * 6 + i, yy * 8 + 2 * i, (xx + yy) * 3], -1) for i in range(frames)])
    pose = np.tile([0.4, 0.0, 0.3, 0.0, 1.0, 0.0, 0.0], (frames, 1)) + rng.normal(0, 0.01, (frames, 7))
    opened = np.array([i < keyframes[0] for i in range(frames)])
    arrays = {
        "time": t,
        "rgb": np.clip(rgb, 0, 255).astype(np.uint8),
        "depth": rng.integers(300, 1200, (frames, HEIGHT, WIDTH)).astype(np.uint16),
        "joint_positions": rng.normal(0, 1, (frames, 4)),
        "joint_velocities": rng.normal(0, 1, (frames, 4)),
        "joint_efforts": rng.normal(0, 1, (frames, 4)),
        "arm_targets": np.full((frames, 2), np.nan),
        "tcp_pose": pose,
        "gripper_width": np.where(opened, 0.08, 0.03),
        "gripper_command": np.where(opened, 0.08, 0.0),
        "gripper_open": opened,
    }
    intrinsics = CameraIntrinsics.from_vertical_fov(WIDTH, HEIGHT, 1.0)
    meta = {
        "task": "lift_block",
        "split": "train",
        "seed": seed,
        "instruction": instruction,
        "camera_rate_hz": RATE,
        "camera": camera_meta(intrinsics, np.eye(4), 0.001),
        "joint_names": JOINTS,
        "arm_joint_names": JOINTS[:2],
        "keyframes": keyframes,
        "expert_keyframes": [
            {"tick": k, "frame": k, "tcp_pose": pose[k].tolist(), "gripper_open": bool(opened[k])}
            for k in keyframes
        ],
        "path": {
            "points": [[0.1, 0.2], [0.5, 0.6]],
            "gripper_open": [True, False],
            "initial_gripper_open": True,
        },
    }
    write_episode(directory, arrays, meta)


@pytest.fixture
def dataset(tmp_path):
    make_episode(tmp_path / "ours" / "a", 15, "lift the red block", [5, 14], 1)
    make_episode(tmp_path / "ours" / "b", 12, "lift the blue block", [4, 8, 11], 2)
    return tmp_path / "ours"


def test_the_export_has_lerobots_v3_layout(dataset, tmp_path):
    out = tmp_path / "lerobot"
    info = export_lerobot(dataset, out)
    assert json.loads((out / "meta/info.json").read_text()) == info
    assert info["codebase_version"] == "v3.0" and info["fps"] == 10
    assert info["total_episodes"] == 2 and info["total_frames"] == 27 and info["total_tasks"] == 2
    for name in ("timestamp", "frame_index", "episode_index", "index", "task_index"):
        assert info["features"][name]["shape"] == [1]
    assert info["features"]["action"]["names"] == ["x", "y", "z", "qx", "qy", "qz", "qw", "gripper_open"]
    data = pq.read_table(out / "data/chunk-000/file-000.parquet")
    video_features = {k for k, f in info["features"].items() if f["dtype"] == "video"}
    assert set(data.column_names) == set(info["features"]) - video_features  # exactly the features
    state = data.schema.field("observation.state").type  # as datasets' Sequence(length=4, float32)
    assert pa.types.is_fixed_size_list(state) and state.list_size == 4 and state.value_type == pa.float32()
    assert data.column("index").to_pylist() == list(range(27))
    assert data.column("timestamp").to_pylist()[15] == 0.0  # per episode, from 0
    tasks = pq.read_table(out / "meta/tasks.parquet")
    assert tasks.column("task").to_pylist() == ["lift the red block", "lift the blue block"]
    assert json.loads(tasks.schema.metadata[b"pandas"])["index_columns"] == ["task"]
    episodes = pq.read_table(out / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [(e["dataset_from_index"], e["dataset_to_index"], e["length"]) for e in episodes] == [
        (0, 15, 15),
        (15, 27, 12),
    ]
    key = "videos/observation.images.front"
    assert episodes[1][f"{key}/from_timestamp"] == pytest.approx(1.5)
    assert episodes[1][f"{key}/to_timestamp"] == pytest.approx(2.7)
    assert (out / "videos/observation.images.front/chunk-000/file-000.mp4").is_file()
    stats = json.loads((out / "meta/stats.json").read_text())
    assert np.shape(stats["observation.images.front"]["mean"]) == (3, 1, 1)
    assert (
        0.0
        <= np.min(stats["observation.images.front"]["min"])
        <= np.max(stats["observation.images.front"]["max"])
        <= 1.0
    )
    depth = stats["observation.depth.front"]  # millimetres, valid pixels only
    assert (
        np.shape(depth["mean"]) == (1, 1, 1) and 300 <= depth["min"][0][0][0] <= depth["max"][0][0][0] < 1200
    )
    assert stats["observation.state"]["count"] == [27] and len(stats["observation.state"]["q50"]) == 4


def test_the_action_is_the_next_keyframes_pose(dataset):
    reader = EpisodeReader(dataset / "b")
    actions = keyframe_actions(reader)
    poses = [k["tcp_pose"] for k in reader.meta["expert_keyframes"]]
    assert actions[0, :7] == pytest.approx(poses[0]) and actions[3, :7] == pytest.approx(poses[0])
    assert actions[4, :7] == pytest.approx(poses[1]) and actions[11, :7] == pytest.approx(poses[2])
    assert actions[0, 7] == 0.0  # the first keyframe closes the gripper


def test_a_round_trip_keeps_the_episodes(dataset, tmp_path):
    export_lerobot(dataset, tmp_path / "lerobot")
    names = import_lerobot(tmp_path / "lerobot", tmp_path / "back")
    assert names == ["a", "b"] and [p.name for p in list_episodes(tmp_path / "back")] == ["a", "b"]
    for name in names:
        before, after = EpisodeReader(dataset / name), EpisodeReader(tmp_path / "back" / name)
        assert after.instruction == before.instruction
        assert after.meta["expert_keyframes"] == before.meta["expert_keyframes"]
        assert after.meta["path"] == before.meta["path"] and after.meta["camera"] == before.meta["camera"]
        a, b = before.arrays, after.arrays
        assert len(b["rgb"]) == len(a["rgb"])
        assert np.abs(b["rgb"].astype(int) - a["rgb"]).mean() < 3.0  # H.264 4:2:0, lossy on colour edges
        assert np.array_equal(b["depth"], a["depth"])  # 16-bit PNG, lossless
        assert np.array_equal(b["gripper_open"], a["gripper_open"])
        for key in ("joint_positions", "joint_velocities", "tcp_pose", "gripper_width", "gripper_command"):
            assert b[key] == pytest.approx(a[key], rel=1e-6, abs=1e-6)  # float32
        assert np.isnan(b["arm_targets"]).all()
        assert b["time"] == pytest.approx(a["time"] - a["time"][0], abs=1e-6)


def test_a_dataset_of_keyframes_only_is_refused(tmp_path):
    make_episode(tmp_path / "sparse" / "a", 4, "lift", [2, 3], 1, times=np.array([0.0, 1.3, 2.9, 3.1]))
    with pytest.raises(LeRobotFormatError, match=r"not every camera frame.*--frames camera"):
        export_lerobot(tmp_path / "sparse", tmp_path / "out")


def test_a_recovery_demonstration_is_refused(dataset, tmp_path):
    meta_file = dataset / "b" / "meta.json"
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps({**meta, "recovery": True}))
    with pytest.raises(LeRobotFormatError, match="b: a recovery demonstration; its spoiled attempt"):
        export_lerobot(dataset, tmp_path / "out")
